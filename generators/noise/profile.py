"""Noise profiles: one rate per operator, the four built-in profiles, TOML in and out.

Rates come in three kinds (each field's metadata says which):
- `text`: a share of texts (for `unchanged`, the casing styles, entities and truncation);
- `token`: a chance per eligible word or mark (apostrophes, typos, g-dropping, ...);
- `scale`: a multiplier on the lexicon's own per-word frequencies (1.0 = an average tweeter).
Casing styles and entities are *targets*: `emoji = 0.2` means about a fifth of the messy texts
carry an emoji, counting those whose clean text had one already.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from generators.noise.lexicon import SECTIONS, LexiconError


class ProfileError(ValueError):
    pass


def _rate(kind: str, help: str, default: float = 0.0, top: float = 1.0):
    return field(default=default, metadata={"kind": kind, "help": help, "max": top})


@dataclass(frozen=True)
class NoiseProfile:
    name: str = "custom"
    unchanged: float = _rate("text", "share of texts left exactly as they are")
    # words
    abbrev: float = _rate("scale", "abbreviations: you -> u, please -> pls, because -> bc", 0, 20)
    slang: float = _rate("scale", "slang and respellings: going to -> gonna, though -> tho", 0, 20)
    phonetic: float = _rate("scale", "digits for sounds: to -> 2, before -> b4", 0, 20)
    misspell: float = _rate("scale", "common misspellings: definitely -> definately", 0, 20)
    spelling: float = _rate("token", "a spelling slip: a doubled letter lost or added, ie/ei")
    apostrophe: float = _rate("token", "contractions lose the apostrophe: don't -> dont")
    g_drop: float = _rate("token", "-ing words lose the g: going -> goin")
    vowel_drop: float = _rate("token", "long words lose inner vowels: tomorrow -> tmrw")
    elongation: float = _rate("token", "a letter stretched: so -> soooo")
    typo: float = _rate("token", "a QWERTY slip in a word: the -> teh, and -> abd")
    ocr: float = _rate("token", "OCR confusions per word: m -> rn, l -> 1, O -> 0")
    # casing
    lower: float = _rate("text", "share of messy texts written all lower case")
    shout: float = _rate("text", "share written ALL IN CAPS")
    sentence: float = _rate("text", "share put into sentence case (for lower-case clean text)")
    caps_words: float = _rate("token", "a word written in CAPS for emphasis")
    i_lower: float = _rate("token", "the pronoun I written i in a text that keeps its capitals")
    # punctuation and spacing
    end_punct: float = _rate("text", "the final full stop is left off")
    end_mark: float = _rate("text", "a final ? or ! is left off")
    punct_repeat: float = _rate("token", "! or ? repeated: ! -> !!")
    dots: float = _rate("token", "a full stop doubled: . -> ..")
    comma_drop: float = _rate("token", "a comma left out")
    spacing: float = _rate("token", "the space after a comma or full stop left out")
    # entities and length
    emoji: float = _rate("text", "share of messy texts with an emoji")
    hashtag: float = _rate("text", "share with a #hashtag")
    mention: float = _rate("text", "share with an @mention")
    url: float = _rate("text", "share with a URL")
    truncate: float = _rate("text", "share cut off with an ellipsis")
    lexicon: dict = field(default_factory=dict, metadata={"help": "extra lexicon entries"})
    fitted: dict = field(default_factory=dict, metadata={"help": "how the profile was fitted"})

    def __post_init__(self):
        for f in rate_fields():
            v = getattr(self, f.name)
            if not isinstance(v, (int, float)) or math.isnan(v) or not 0 <= v <= f.metadata["max"]:
                raise ProfileError(f"profile {self.name!r}: {f.name} must be between 0 and "
                                   f"{f.metadata['max']}, got {v!r}")
        styles = self.lower + self.shout + self.sentence
        if styles > 1 + 1e-9:
            raise ProfileError(f"profile {self.name!r}: lower + shout + sentence is {styles:.2f}; "
                               "they are shares of texts and must add up to at most 1")
        bad = set(self.lexicon) - set(SECTIONS)
        if bad:
            raise ProfileError(f"profile {self.name!r}: unknown lexicon section(s) "
                               f"{', '.join(sorted(bad))}; sections are {', '.join(SECTIONS)}")

    def rates(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in rate_fields()}

    def with_rates(self, **rates) -> NoiseProfile:
        return replace(self, **rates)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_toml(self) -> str:
        lines = ["# Noise profile for sft-studio; one rate per operator (see the README's "
                 "Corrupter section).", f"name = {json.dumps(self.name)}"]
        for f in rate_fields():
            lines.append(f"{f.name} = {round(getattr(self, f.name), 4)!r}"
                         f"  # {f.metadata['kind']}: {f.metadata['help']}")
        for section, table in self.lexicon.items():
            lines.append(f"\n[lexicon.{section}]")
            for key, spec in table.items():
                forms = ", ".join(f"{json.dumps(k)} = {round(w, 4)!r}"
                                  for k, w in spec["forms"].items())
                own = ", own = true" if spec.get("own") else ""
                lines.append(f"{json.dumps(key)} = {{ p = {round(spec['p'], 4)!r}{own}, "
                             f"forms = {{ {forms} }} }}")
        if self.fitted:
            lines.append("\n[fitted]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in self.fitted.items()]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_dict(cls, data: dict, where: str = "profile") -> NoiseProfile:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ProfileError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                               f"known: {', '.join(f.name for f in rate_fields())}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ProfileError(f"{where}: {exc}") from None


def rate_fields():
    return [f for f in fields(NoiseProfile) if "kind" in f.metadata]


TWEET = NoiseProfile(
    name="tweet", unchanged=0.35,
    # The lexicon's p is per tweet; the corrupter applies it to the 65% of texts it changes.
    abbrev=1.0, slang=1.0, phonetic=1.0, misspell=1.0, spelling=0.01, apostrophe=0.45, g_drop=0.09,
    vowel_drop=0.004, elongation=0.006, typo=0.012,
    lower=0.6, shout=0.02, sentence=0.2, caps_words=0.012, i_lower=0.25,
    end_punct=0.75, end_mark=0.35, punct_repeat=0.22, dots=0.03, comma_drop=0.12, spacing=0.02,
    emoji=0.2, hashtag=0.15, mention=0.15, url=0.05, truncate=0.01)

BUILTIN_PROFILES = {
    "tweet": TWEET,
    "sms": replace(TWEET, name="sms", unchanged=0.15, abbrev=2.0, slang=1.5, phonetic=3.0,
                   apostrophe=0.6, g_drop=0.3, vowel_drop=0.03, typo=0.02, lower=0.7,
                   shout=0.01, caps_words=0.01, end_punct=0.8, emoji=0.15, hashtag=0.0,
                   mention=0.0, url=0.0, truncate=0.0),
    "typo-light": NoiseProfile(name="typo-light", unchanged=0.5, typo=0.02, apostrophe=0.1,
                               misspell=0.5, comma_drop=0.05, spacing=0.01),
    "ocr": NoiseProfile(name="ocr", unchanged=0.1, ocr=0.08, spacing=0.05, comma_drop=0.05,
                        typo=0.005),
}


def load_profile(spec: str | Path) -> NoiseProfile:
    """A built-in profile by name, or a TOML or JSON file."""
    if str(spec) in BUILTIN_PROFILES:
        return BUILTIN_PROFILES[str(spec)]
    path = Path(spec)
    if not path.exists():
        raise ProfileError(f"{spec}: neither a built-in profile "
                           f"({', '.join(BUILTIN_PROFILES)}) nor a file")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'} "
                           f"({exc})") from None
    data.setdefault("name", path.stem)
    profile = NoiseProfile.from_dict(data, str(path))
    if profile.lexicon:
        from generators.noise.lexicon import load_lexicon
        try:
            load_lexicon(extra=profile.lexicon)
        except LexiconError as exc:
            raise ProfileError(f"{path}: {exc}") from None
    return profile
