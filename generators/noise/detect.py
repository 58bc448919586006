"""Finding noise: what changed in a messy text, with or without its clean counterpart.

`detect(text)` looks at a messy text alone: a word that is a known informal form, a contraction
without its apostrophe, a dropped g, a vowel-less skeleton of a word, a stretched word or a word
one keystroke from a dictionary word. Its `normalized` text is the best guess at the clean text.
`align(clean, messy)` compares a pair word by word and names each change. Fitting and the realism
report are built on these two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache

from generators.noise.lexicon import SECTIONS, Lexicon, shipped
from generators.noise.text import (
    ELONGATED_RE,
    ENTITY_KINDS,
    KEY_NEIGHBOURS,
    casing_style,
    is_caps_word,
    near_word,
    pieces,
    skeleton,
    squeeze,
    stretched,
    vocabulary,
)

CATEGORIES = ("abbrev", "slang", "apostrophe", "misspell", "spelling", "typo", "phonetic",
              "elongation", "g_drop", "vowel_drop", "other")
# Contractions whose apostrophe-less spelling is not also an everyday word (its, well, were, ill,
# id, hell, shell, wed, lets and hed are left out: a dropped apostrophe there can't be told).
CONTRACTIONS = (
    "don't can't won't i'm i've i'd i'll didn't doesn't isn't wasn't aren't weren't couldn't "
    "wouldn't shouldn't haven't hasn't hadn't that's what's there's here's you're they're "
    "you've they've we've you'll they'll you'd they'd she's he's who's where's how's it'll "
    "that'll should've could've would've mustn't ain't y'all let's we're").split()
NO_APOSTROPHE = {c.replace("'", ""): c for c in CONTRACTIONS
                 if c.replace("'", "") not in {"its", "well", "were", "ill", "id", "hell", "shell",
                                               "wed", "lets", "hed", "shed", "whos", "hows"}}


@lru_cache(maxsize=1)
def _skeletons() -> dict[str, str]:
    vocab = vocabulary()
    out: dict[str, str] = {}
    for w in sorted(vocab):
        if len(w) >= 4:
            s = skeleton(w)
            if len(s) >= 3 and s != w and s not in vocab:
                out.setdefault(s, w)
    return out


def classify_token(token: str, lex: Lexicon) -> tuple[str | None, str | None]:
    """(category, likely standard word) for one messy word; (None, None) when it looks clean."""
    low = token.lower().replace("’", "'")
    if low in SOUNDS or squeeze(low, 1) in SOUNDS or squeeze(low, 2) in SOUNDS:
        return None, None  # hmmm, aww: written so in the cleanest text
    if ELONGATED_RE.search(low):
        two = squeeze(low, 2)  # goood -> good, but soooo -> so, not soo
        for s in ((two,) if two[-1] != two[-2:-1] else ()) + (squeeze(low, 1), two):
            if s in vocabulary():
                return "elongation", s
            if s in lex.reverse:  # lmaooo: the respelling, held (the corrupter holds words)
                key, section = lex.reverse[s]
                return section, key
        return "elongation", squeeze(low, 1)
    if low in lex.reverse:
        key, section = lex.reverse[low]
        return section, key
    if low in NO_APOSTROPHE:
        return "apostrophe", NO_APOSTROPHE[low]
    if low in vocabulary() or "'" in low or len(low) < 2:
        return None, None
    for i in range(1, len(low)):  # a doubled letter held for emphasis: youu, himm, whaat
        if low[i] == low[i - 1]:
            s = low[:i] + low[i + 1:]
            if (s in vocabulary() or s in lex.reverse) and stretched(s, low):
                return "elongation", lex.reverse[s][0] if s in lex.reverse else s
    if low.endswith("in") and low + "g" in vocabulary():
        return "g_drop", low + "g"
    if low in _skeletons():
        return "vowel_drop", _skeletons()[low]
    if any(ch.isdigit() for ch in low) or inflected(low) or low in INTERNET_WORDS:
        return None, None  # 9pm, 5th; vibes, baked; lol: words, not slips
    near = near_word(low) if not token[:1].isupper() else None  # Title case: a name, mostly
    if near:
        return ("typo" if keyboard_slip(near, low) else "spelling"), near
    return "other", None


# Sounds that are written stretched as they are (hmmm, awww, ummm), never a word held.
SOUNDS = frozenset("aw aww hm hmm um umm uh uhh eh ehh mm mmm mhm ew eww sh shh ugh ha haha hehe "
                   "argh grr zz zzz wo woo ooh".split())
# Words of the internet that neither the vocabulary nor the lexicon's forms (lol, smh, idk, ...)
# hold: written as they are, never a slip of another word.
INTERNET_WORDS = frozenset("omfg fomo haha hahaha hehe lulz meme memes selfie selfies emoji emojis "
                           "vlog blog blogs app apps wifi hashtag retweet gif gifs".split())
SUFFIXES = (("s", ""), ("es", ""), ("ed", ""), ("ed", "e"), ("d", ""), ("er", ""), ("er", "e"),
            ("ers", ""), ("y", ""), ("ly", ""), ("ing", ""), ("ing", "e"), ("ies", "y"),
            ("ied", "y"), ("est", ""), ("ness", ""), ("ful", ""))


def inflected(word: str) -> bool:
    """Whether `word` is a vocabulary word with a common ending (vibes, baked, plumbers,
    leaky): the vocabulary holds mostly base forms, and those are real words, not slips."""
    vocab = vocabulary()
    for end, add in SUFFIXES:
        if word.endswith(end) and len(word) > len(end) + 2:
            stem = word[:-len(end)] + add
            if stem in vocab or (len(stem) > 2 and stem[-1] == stem[-2] and stem[:-1] in vocab):
                return True
    return False


@dataclass
class Detected:
    counts: dict[str, int] = field(default_factory=dict)   # category -> changed words
    words: int = 0
    oov: int = 0
    caps_words: int = 0
    style: str = "other"
    normalized: str = ""
    repeats: int = 0        # runs of !! or ??
    tight: int = 0          # a comma or full stop with no space after it
    # (word, form): lexicon forms, dropped apostrophes
    respelled: list = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(self.counts.values())

    @property
    def clean_looking(self) -> bool:
        return not self.changed and not self.caps_words and not self.repeats and not self.tight \
            and self.style in ("sentence", "other")


def detect(text: str, lex: Lexicon | None = None) -> Detected:
    lex = lex or shipped()
    d = Detected(style=casing_style(text))
    out = []
    ps = pieces(text)
    vocab = vocabulary()
    skip = 0
    for i, (kind, piece) in enumerate(ps):
        if skip:
            skip -= 1
            continue
        form, span = _slash_form(ps, i)
        if span and form.lower() in lex.reverse:
            key, section = lex.reverse[form.lower()]
            d.words += 1
            d.counts[section] = d.counts.get(section, 0) + 1
            d.respelled.append((key, form.lower()))
            out.append(key)
            skip = span - 1
            continue
        if kind == "word":
            d.words += 1
            low = piece.lower()
            if low not in vocab and "'" not in low and "’" not in low:
                d.oov += 1
            if d.style != "shout" and is_caps_word(piece):
                d.caps_words += 1
            cat, std = classify_token(piece, lex)
            if cat and cat != "other":  # an unknown word is as often a name as a respelling
                d.counts[cat] = d.counts.get(cat, 0) + 1
                if (cat in SECTIONS or cat == "apostrophe") and std:
                    d.respelled.append((std, low))
                if std:
                    piece = std
        elif kind == "punct":
            if piece in "!?" and i and ps[i - 1][1] == piece and (i < 2 or ps[i - 2][1] != piece):
                d.repeats += 1
            if piece in ",." and i + 1 < len(ps) and ps[i + 1][0] == "word" \
                    and (i == 0 or ps[i - 1][0] == "word"):
                d.tight += 1
        out.append(piece)
    d.normalized = "".join(out)
    return d


def _slash_form(ps: list[tuple[str, str]], i: int) -> tuple[str, int]:
    """A slash abbreviation starting at piece i (w/, w/o, w/e) and how many pieces it spans;
    ("", 0) when there is none."""
    if ps[i][0] != "word" or len(ps[i][1]) != 1 or i + 1 >= len(ps) or ps[i + 1][1] != "/":
        return "", 0
    if i + 2 < len(ps) and ps[i + 2][0] == "word" and len(ps[i + 2][1]) == 1:
        return ps[i][1] + "/" + ps[i + 2][1], 3
    return ps[i][1] + "/", 2


def _word_tokens(text: str) -> list[str]:
    ps, out, i = pieces(text), [], 0
    while i < len(ps):
        form, span = _slash_form(ps, i)
        if span:
            out.append(form)
            i += span
            continue
        if ps[i][0] in ("word", "number"):
            out.append(ps[i][1])
        i += 1
    return out


def classify_change(clean: str, messy: str, lex: Lexicon) -> str | None:
    """The category of one change from a clean word (or phrase) to a messy one."""
    if clean == messy:
        return None
    c, m = clean.lower().replace("’", "'"), messy.lower().replace("’", "'")
    if c == m:
        return "casing"
    if c.replace("'", "") == m:
        return "apostrophe"
    section = lexicon_section(lex, c, m)
    if section:
        return section
    if m in lex.reverse and lex.reverse[m][0] == c:
        return lex.reverse[m][1]
    if c.endswith("ing") and m in (c[:-1], c[:-1] + "'"):
        return "g_drop"
    if stretched(c, m):
        return "elongation"
    if len(c) >= 4 and skeleton(c) == m:
        return "vowel_drop"
    if any(ch.isdigit() for ch in m) and not any(ch.isdigit() for ch in c):
        return "phonetic"
    if keyboard_slip(c, m):
        return "typo"
    d = levenshtein(c, m)
    if d <= 2 and min(len(c), len(m)) >= 3:
        return "spelling"
    return "abbrev" if len(m) < len(c) and m[:1] == c[:1] and len(m) <= 4 else "slang"


def align(clean: str, messy: str, lex: Lexicon | None = None) -> list[tuple[str, str, str]]:
    """(clean words, messy words, category) for every change between the two texts."""
    lex = lex or shipped()
    a, b = _word_tokens(clean), _word_tokens(messy)
    sm = SequenceMatcher(None, [t.lower() for t in a], [t.lower() for t in b], autojunk=False)
    out = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            for x, y in zip(a[i1:i2], b[j1:j2]):
                if x != y:
                    out.append((x, y, "casing"))
        elif op == "replace" and i2 - i1 == j2 - j1:
            for x, y in zip(a[i1:i2], b[j1:j2]):
                out.append((x, y, classify_change(x, y, lex) or "casing"))
        elif op == "replace":
            out += _align_span(a[i1:i2], b[j1:j2], lex)
        else:
            out.append((" ".join(a[i1:i2]), " ".join(b[j1:j2]), "other"))
    return out


def lexicon_section(lex: Lexicon, clean: str, messy: str) -> str | None:
    """The lexicon section that lists `messy` as a form of `clean`, or None."""
    m = messy.lower()
    for e in lex.lookup(clean):
        if m in (f.lower() for f in e.forms):
            return e.section
    return None


def _align_span(a: list[str], b: list[str], lex: Lexicon) -> list[tuple[str, str, str]]:
    """Pair up a replaced stretch whose lengths differ: a phrase the lexicon knows as one
    messy word ("going to" -> gonna) first, else word by word; what is left over is other."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        for n in (4, 3, 2):
            phrase = " ".join(a[i:i + n])
            section = lexicon_section(lex, phrase, b[j]) if i + n <= len(a) else None
            if section:
                out.append((phrase, b[j], section))
                i, j = i + n, j + 1
                break
        else:
            out.append((a[i], b[j], classify_change(a[i], b[j], lex) or "casing"))
            i, j = i + 1, j + 1
    if i < len(a) or j < len(b):
        out.append((" ".join(a[i:]), " ".join(b[j:]), "other"))
    return out


def keyboard_slip(word: str, typed: str) -> bool:
    """Whether `typed` is `word` with one keyboard slip: a neighbouring key hit instead or as
    well, two letters swapped, or a letter left out (other than one of a doubled pair)."""
    if len(typed) == len(word):
        diff = [i for i in range(len(word)) if word[i] != typed[i]]
        if len(diff) == 1:
            return typed[diff[0]] in KEY_NEIGHBOURS.get(word[diff[0]], "")
        return len(diff) == 2 and diff[1] == diff[0] + 1 and word[diff[0]] == typed[diff[1]] \
            and word[diff[1]] == typed[diff[0]]
    if len(typed) == len(word) + 1:  # an extra key, next to the letter before or after it
        i = next((j for j in range(len(word)) if word[j] != typed[j]), len(word))
        if typed[:i] + typed[i + 1:] != word:
            return False
        near = KEY_NEIGHBOURS.get(word[i - 1], "") if i else ""
        return typed[i] in near + KEY_NEIGHBOURS.get(word[i] if i < len(word) else "", "")
    if len(typed) == len(word) - 1:
        i = next((j for j in range(len(typed)) if word[j] != typed[j]), len(typed))
        if word[:i] + word[i + 1:] != typed:
            return False
        return not ((i and word[i - 1] == word[i])
                    or (i + 1 < len(word) and word[i + 1] == word[i]))
    return False


def levenshtein(a: str, b: str) -> int:
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate: edits per character of the reference."""
    return levenshtein(reference, hypothesis) / max(len(reference), 1)


def highlight(clean: str, messy: str, lex: Lexicon | None = None) -> list[tuple[str, str | None]]:
    """The messy text in segments, each changed one labelled with its kind of change, for a
    clean-vs-messy view (gradio's HighlightedText takes this list as it is)."""
    lex = lex or shipped()
    a, b = pieces(clean), pieces(messy)
    sm = SequenceMatcher(None, [p for _, p in a], [p for _, p in b], autojunk=False)
    out: list[tuple[str, str | None]] = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        seg = "".join(p for _, p in b[j1:j2])
        if op == "equal" or not seg:
            if seg:
                out.append((seg, None))
            continue
        kinds = {k for k, _ in b[j1:j2]} - {"space"}
        if kinds & set(ENTITY_KINDS):
            label = "entity"
        elif kinds <= {"punct"}:
            label = "punctuation"
        elif not kinds:
            label = "spacing"
        else:
            old = " ".join(p for k, p in a[i1:i2] if k in ("word", "number"))
            new = " ".join(p for k, p in b[j1:j2] if k in ("word", "number"))
            label = (classify_change(old, new, lex) or "casing") if old else "other"
        out.append((seg, label))
    return out
