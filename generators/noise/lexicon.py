"""The informal-spelling lexicon: standard words and phrases, how often people respell them, and as
what.

The shipped lexicon (`lexicon.toml`, written for this project) has four sections, one per
operator: `abbrev` (you -> u, because -> cuz), `slang` (going to -> gonna, though -> tho),
`phonetic` (to -> 2, before -> b4) and `misspell` (definitely -> definately). An entry is
`word = { p = 0.3, forms = { u = 0.85, ya = 0.15 } }`: `p` is how often an average writer of
tweets respells the word, `forms` the relative frequency of each respelling. A user's entries,
from a TOML file of the same shape or from a noise profile's `[lexicon.*]` tables, are added on
top and win over shipped ones.
"""

from __future__ import annotations

import bisect
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

SECTIONS = ("abbrev", "slang", "phonetic", "misspell")
# Forms that are also everyday words: a corrupter may write them, but finding one in a text says
# nothing about noise ("there" is usually just "there"), so they never map back to a word.
EVERYDAY = frozenset("your their there then to too loose weather awhile bye wit thou min snap "
                     "info ye acc sargent b c o q v".split())
SHIPPED = Path(__file__).with_name("lexicon.toml")


class LexiconError(ValueError):
    pass


@dataclass(frozen=True)
class Entry:
    key: str
    section: str
    p: float
    forms: tuple[str, ...]
    cum: tuple[float, ...]  # cumulative weights, for one bisect per draw
    own: bool = False  # a writer's own measured rate: the section's scale does not apply

    def weights(self) -> dict[str, float]:
        """Each form's relative weight, as the file gave it."""
        return {f: b - a for f, a, b in zip(self.forms, (0.0,) + self.cum, self.cum)}

    def pick(self, u: float) -> str:
        return self.forms[min(bisect.bisect_right(self.cum, u * self.cum[-1]), len(self.forms) - 1)]


def _entry(section: str, key: str, spec, where: str) -> Entry:
    if not isinstance(spec, dict) or "forms" not in spec:
        raise LexiconError(f"{where}: [{section}] {key!r} needs {{ p = ..., forms = {{...}} }}")
    forms = spec["forms"]
    if isinstance(forms, list):
        forms = {f: 1.0 for f in forms}
    if not forms or not all(isinstance(w, (int, float)) and w > 0 for w in forms.values()):
        raise LexiconError(f"{where}: [{section}] {key!r} forms need positive weights")
    p = spec.get("p", 0.1)
    if not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise LexiconError(f"{where}: [{section}] {key!r} p must be between 0 and 1, got {p!r}")
    own = spec.get("own", False)
    if not isinstance(own, bool):
        raise LexiconError(f"{where}: [{section}] {key!r} own must be true or false")
    return Entry(key.lower(), section, float(p), tuple(f for f in forms),
                 tuple(accumulate(float(w) for w in forms.values())), own)


class Lexicon:
    """Entries by key, phrases (keys of several words) in one regex, and the reverse map from an
    informal form back to its standard word."""

    def __init__(self, tables: dict[str, dict], where: str = "lexicon"):
        self.entries: dict[str, list[Entry]] = {}
        for section, table in tables.items():
            if section not in SECTIONS:
                raise LexiconError(f"{where}: unknown section [{section}]; "
                                   f"sections are {', '.join(SECTIONS)}")
            for key, spec in table.items():
                e = _entry(section, key, spec, where)
                same = [x for x in self.entries.get(e.key, []) if x.section != section]
                self.entries[e.key] = same + [e]
        self.words = {k: v for k, v in self.entries.items() if " " not in k}
        self.phrases = {k: v for k, v in self.entries.items() if " " in k}
        alts = sorted(self.phrases, key=len, reverse=True)
        self.phrase_re = re.compile(
            r"(?<![\w'’])(" + "|".join(re.escape(k).replace("'", "['’]") for k in alts)
            + r")(?![\w'’])", re.IGNORECASE) if alts else None
        self.reverse: dict[str, tuple[str, str]] = {}
        for key, entries in self.entries.items():
            for e in entries:
                for f in e.forms:
                    if f.lower() not in EVERYDAY:
                        self.reverse.setdefault(f.lower(), (key, e.section))

    def merged(self, tables: dict[str, dict], where: str) -> Lexicon:
        """This lexicon with `tables` (same shape as the file) added on top."""
        base = {s: {} for s in SECTIONS}
        for key, entries in self.entries.items():
            for e in entries:
                base[e.section][key] = {"p": e.p, "forms": e.weights(), "own": e.own}
        for section, table in tables.items():
            if section not in SECTIONS:
                raise LexiconError(f"{where}: unknown section [{section}]; "
                                   f"sections are {', '.join(SECTIONS)}")
            base[section].update(table)
        return Lexicon(base, where)

    def lookup(self, text: str) -> list[Entry]:
        return self.entries.get(text.lower().replace("’", "'"), [])

    def __len__(self) -> int:
        return sum(len(v) for v in self.entries.values())


def read_tables(path: str | Path) -> dict[str, dict]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LexiconError(f"{path}: no such lexicon file") from None
    except tomllib.TOMLDecodeError as exc:
        raise LexiconError(f"{path}: not valid TOML ({exc})") from None
    return data


@lru_cache(maxsize=1)
def shipped() -> Lexicon:
    return Lexicon(read_tables(SHIPPED), str(SHIPPED.name))


def load_lexicon(*paths: str | Path, extra: dict[str, dict] | None = None) -> Lexicon:
    """The shipped lexicon with the user's files (and a profile's own tables) on top."""
    lex = shipped()
    for p in paths:
        lex = lex.merged(read_tables(p), str(p))
    if extra:
        lex = lex.merged(extra, "profile lexicon")
    return lex
