"""Tokens, entities, casing and the keyboard: the small facts every noise operator shares.

A text is split into pieces that join back into exactly the same string. Entities (URLs,
@mentions, #hashtags, emoji) are pieces of their own, so no operator ever edits one.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

URL = r"(?:https?://|www\.)\S+"
MENTION = r"@\w+"
HASHTAG = r"#\w+"
# Pictographs, dingbats, flags and the joiners and modifiers that glue them into one emoji.
EMOJI = (r"[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2190-\u21FF\u3297\u3299]"
         r"[\U0001F3FB-\U0001F3FF\uFE0F\u200D\U0001F000-\U0001FAFF\u2600-\u27BF]*")
WORD = r"(?:\d+[A-Za-z]|[A-Za-z])[A-Za-z0-9]*(?:['’][A-Za-z]+)*"  # b4, 2day and 9am are words
# One split for every text: findall returns plain strings (fast), and `kind_of` names each
# piece's kind from its first character.
SPLIT = re.compile(f"{URL}|{MENTION}|{HASHTAG}|{EMOJI}|{WORD}|\\s+|\\d+|.", re.S)
ENTITY_KINDS = ("url", "mention", "hashtag", "emoji")

MENTION_RE = re.compile(r"(?<!\w)" + MENTION)
HASHTAG_RE = re.compile(r"(?<![\w&])" + HASHTAG)
EMOJI_RE = re.compile(EMOJI)
ELONGATED_RE = re.compile(r"([A-Za-z])\1{2,}")
ENTITY_RES = {"url": re.compile(URL), "mention": MENTION_RE, "hashtag": HASHTAG_RE,
              "emoji": EMOJI_RE}

# Neighbours on a QWERTY keyboard: keys whose centres lie within about one key's width, with the
# rows staggered as on a real keyboard.
_ROWS = (("qwertyuiop", 0.0), ("asdfghjkl", 0.25), ("zxcvbnm", 0.75))
_POS = {ch: (r, c + off) for r, (row, off) in enumerate(_ROWS) for c, ch in enumerate(row)}
KEY_NEIGHBOURS = {
    a: "".join(b for b, (rb, xb) in _POS.items()
               if b != a and abs(rb - ra) <= 1 and abs(xb - xa) <= 1.0)
    for a, (ra, xa) in _POS.items()}


def pieces(text: str) -> list[tuple[str, str]]:
    """(kind, piece) pairs; joining the pieces gives the text back unchanged."""
    return [(kind_of(p), p) for p in SPLIT.findall(text)]


def kind_of(piece: str) -> str:
    """The kind of one piece of SPLIT.findall(text): url, mention, hashtag, emoji, word, space,
    number or punct."""
    c = piece[0]
    if c.isascii() and c.isalnum():
        if piece.isdigit():
            return "number"
        return "url" if ":" in piece or "." in piece else "word"
    if c in "@#" and len(piece) > 1:
        return "mention" if c == "@" else "hashtag"
    if c.isspace():
        return "space"
    if len(piece) == 1 and ord(c) < 0x2190:
        return "punct"
    return "emoji" if EMOJI_RE.match(piece) else "punct"


def words(text: str) -> list[str]:
    """The word pieces of a text, entities left out."""
    return [p for k, p in pieces(text) if k == "word"]


def entity_kinds(text: str) -> set[str]:
    return {k for k, rx in ENTITY_RES.items() if rx.search(text)}


def casing_style(text: str) -> str:
    """lower, shout (nearly all letters upper), sentence (starts upper) or other."""
    letters = [c for c in text if c.isalpha() and c.isascii()]
    if not letters:
        return "other"
    upper = sum(c.isupper() for c in letters)
    if upper == 0:
        return "lower"
    if upper / len(letters) >= 0.8 and len(letters) >= 4:
        return "shout"
    first = next((w for w in words(text)), "")
    return "sentence" if first[:1].isupper() else "other"


def is_caps_word(word: str) -> bool:
    return len(word) >= 2 and word.isupper()


def squeeze(word: str, keep: int = 1) -> str:
    """A word with every run of three or more equal letters cut to `keep`: 'soooo' -> 'so'."""
    return ELONGATED_RE.sub(lambda m: m.group(1) * keep, word)


def runs(word: str) -> list[list]:
    """The word's runs of one letter, as [letter, length] pairs: 'soooo' -> [['s', 1], ['o', 4]]."""
    out: list[list] = []
    for ch in word:
        if out and out[-1][0] == ch:
            out[-1][1] += 1
        else:
            out.append([ch, 1])
    return out


def stretched(word: str, form: str) -> bool:
    """Whether `form` is `word` with letters held for emphasis: a run of three or more (sooo),
    the last letter doubled (youu, himm) or a vowel doubled (whaat); not a consonant doubled
    inside the word (accross, untill: spelling slips), nor any other change."""
    a, b = runs(word.lower()), runs(form.lower())
    if len(form) <= len(word) or [r[0] for r in a] != [r[0] for r in b]:
        return False
    grown = [(i, x[0], y[1]) for i, (x, y) in enumerate(zip(a, b)) if y[1] != x[1]]
    if any(y[1] < x[1] for x, y in zip(a, b)):
        return False
    return any(n >= 3 or i == len(a) - 1 and not (ch == "l" and len(word) >= 5)
               or ch in "aiu" for i, ch, n in grown)


def skeleton(word: str) -> str:
    """The word without inner vowels and doubled letters, as 'tmrw' is of 'tomorrow'."""
    out = [word[0]]
    for prev, ch in zip(word, word[1:]):
        if ch.lower() not in "aeiou" and ch != prev:
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """About 21,000 common English words (lower case), for out-of-vocabulary counts and typos."""
    path = Path(__file__).with_name("words.txt")
    return frozenset(w for w in path.read_text().split() if not w.startswith("#"))


@lru_cache(maxsize=1)
def _deletions() -> dict[str, tuple[str, ...]]:
    """Each vocabulary word with one letter removed, mapped to the words it came from."""
    index: dict[str, list[str]] = {}
    for w in sorted(vocabulary()):
        if len(w) >= 3:
            for i in range(len(w)):
                index.setdefault(w[:i] + w[i + 1:], []).append(w)
    return {k: tuple(dict.fromkeys(v)) for k, v in index.items()}


def near_word(token: str) -> str | None:
    """A vocabulary word one keystroke from `token` (substitution, insertion, deletion or
    transposition), or None; the first in alphabetical order when several are."""
    vocab, dels = vocabulary(), _deletions()
    t = token.lower()
    if len(t) < 3:
        return None
    if t in dels:  # a letter was left out of the word
        return dels[t][0]
    swapped, replaced = [], []
    for i in range(len(t)):
        d = t[:i] + t[i + 1:]
        if d in vocab:  # a letter was added
            return d
        for w in dels.get(d, ()):  # a letter was replaced, or two were swapped
            if len(w) != len(t):
                continue
            diff = [j for j in range(len(t)) if w[j] != t[j]]
            if len(diff) == 1:
                replaced.append(w)
            elif len(diff) == 2 and diff[1] == diff[0] + 1 and w[diff[0]] == t[diff[1]] \
                    and w[diff[1]] == t[diff[0]]:
                swapped.append(w)
    best = sorted(swapped) or sorted(replaced)  # a swap explains a word better
    return best[0] if best else None
