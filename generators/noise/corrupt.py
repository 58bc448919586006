"""The corrupter: clean text in, messy text out, the same every time for the same text, profile and
seed.

One pass over the text's pieces applies the word operators (lexicon, apostrophes, g-dropping,
vowel dropping, elongation, keyboard typos, OCR confusions, casing) and the punctuation
operators; then the text-level ones run (truncation, entities, the final full stop). Entities
(URLs, @mentions, #hashtags, emoji) are pieces of their own and pass through untouched.
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from dataclasses import dataclass, field

from generators.noise.lexicon import Lexicon, load_lexicon
from generators.noise.profile import NoiseProfile
from generators.noise.text import (
    ENTITY_KINDS,
    KEY_NEIGHBOURS,
    SPLIT,
    entity_kinds,
    kind_of,
    pieces,
    skeleton,
)

EMOJI = ("😂", "😭", "🙏", "❤️", "😍", "🔥", "💀", "🥲", "😅", "🙃", "👀", "✨", "😤", "👍",
         "🎉", "😩", "🥺", "💯", "😊", "🤦‍♀️", "🙄", "😴", "🤞", "😬")
HASHTAGS = ("mood", "fail", "blessed", "MondayMotivation", "tbt", "life", "smh", "winning",
            "help", "facts", "FridayFeeling", "relatable", "nofilter", "weekend")
HANDLE_PARTS = ("jess", "mike", "the_real", "sam", "alex", "k8", "dan", "nina", "jo", "chris",
                "official", "daily", "news", "fan", "tay", "bex", "marcus", "lee", "priya")
OCR_SWAPS = (("rn", "m"), ("m", "rn"), ("cl", "d"), ("l", "1"), ("I", "l"), ("O", "0"),
             ("o", "0"), ("e", "c"), ("h", "b"), ("S", "5"), ("B", "8"), ("fi", "f1"),
             ("a", "o"), ("t", "f"))
G_DROP_KEEP = frozenset({"during", "ceiling", "bring", "thing", "sing", "king", "ring", "wing",
                         "spring", "string", "sting", "swing", "sling", "cling", "fling"})
# Words held for emphasis (sooo, nooo, heyyy, byeee) twelve times as often as any other word,
# which are all stretched alike, the small ones too (theee, himm): measured on real tweets
# (LexNorm 1.2, the half the benchmark does not score).
STRETCHY = frozenset("so no yes oh ah hey bye all love please really sorry sure yeah yay hi ok "
                     "okay omg damn man girl now too well what why me you good".split())
STRETCHY_WEIGHT = 12.0
# Words people put in CAPS for emphasis: these get twice the base chance, others 0.6 of it.
EMPHASIS = frozenset("so very really never always no not again all every still literally "
                     "actually too much more most best worst new love hate need want can't "
                     "don't won't omg yes stop done finally gone real huge whole entire "
                     "nothing everything everyone only one first last this".split())
# Emphasis comes in runs ("EIGHTY FOUR", "CANT BREATHE"): after a word in CAPS the next word of
# the same clause stays in CAPS with this chance. The start rate is scaled down to match, so
# `caps_words` stays the share of words in CAPS.
CAPS_RUN = 0.5
# How many times a repeated mark is written: "??" nearly always stays at two, "!" runs longer.
REPEATS = {"?": (2, 2, 2, 2, 2, 2, 2, 3, 3, 4), "!": (2, 2, 2, 3, 3, 3, 3, 4, 4, 5)}
# Letters added to a stretched one, as on the same real tweets: other words mostly get one
# (youu, himm), emphatic ones as often two to five (sooo, nooooo); the last letter is the one
# held 70% of the time, else the last vowel before it.
STRETCH_EXTRA = (1, 1, 1, 1, 1, 1, 2, 2, 3, 3, 4)
STRETCHY_EXTRA = (1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5)
STRETCH_LAST = 0.7
CHANGE_TRIES = 8  # draws for a text meant to change before it is left as it is


@dataclass
class Corruption:
    text: str
    ops: dict[str, int] = field(default_factory=dict)
    seed: int = 0


def text_seed(text: str, seed: int) -> int:
    """Each text's own random stream: independent of batch order, fixed by (text, seed)."""
    return (seed & 0xFFFFFFFF) << 32 | zlib.crc32(text.encode("utf-8"))


class Corrupter:
    """Applies one profile. `baseline` is the share of clean texts that already carry each entity
    kind, so that entity rates land on the profile's targets (see `calibrated`)."""

    def __init__(self, profile: NoiseProfile, lexicon: Lexicon | None = None,
                 baseline: dict[str, float] | None = None):
        self.profile = p = profile
        self.lexicon = lex = lexicon or load_lexicon(extra=profile.lexicon)
        scale = {s: getattr(p, s) for s in ("abbrev", "slang", "phonetic", "misspell")}

        def table(src):
            out = {}
            for key, entries in src.items():
                chances = [(e.p if e.own else min(1.0, e.p * scale[e.section]), e)
                           for e in entries]
                chances = [c for c in chances if c[0] > 0]
                if chances:
                    out[key] = chances
            return out
        self.words = table(lex.words)
        # Phrases ("going to", "i don't know") by their first word, longest first, matched in
        # the same pass as the words (a big regex alternation costs more than the whole pass).
        self.phrases: dict[str, list[tuple[tuple[str, ...], list]]] = {}
        for key, chances in table(lex.phrases).items():
            parts = tuple(key.split())
            self.phrases.setdefault(parts[0], []).append((parts, chances))
        for options in self.phrases.values():
            options.sort(key=lambda o: -len(o[0]))
        self.second = {first: {o[0][1] for o in options} for first, options in self.phrases.items()}
        baseline = baseline or {}
        self.add = {k: _top_up(getattr(p, k), baseline.get(k, 0.0)) for k in ENTITY_KINDS}
        # A profile fitted on messy texts alone knows how many of them end with a full stop,
        # not how many lost one: against a clean batch, drop just enough stops to match (unless
        # end_punct was set by hand since the fit).
        self.end_punct = p.end_punct
        target = p.fitted.get("ends_with_stop")
        if target is not None and "ends_with_stop" in baseline \
                and _as_fitted(p.end_punct, p.fitted.get("end_punct")):
            have = baseline["ends_with_stop"]
            self.end_punct = max(0.0, 1 - target / have) if have > 0 else 0.0
        # Likewise for texts cut off with an ellipsis: a raw fit saw how many end with one, so
        # only texts beyond the clean batch's own share are cut.
        self.truncate = p.truncate
        shown = p.fitted.get("truncated")
        if shown is not None and "truncated" in baseline and _as_fitted(p.truncate, shown):
            self.truncate = _top_up(shown, baseline["truncated"])
        self.word_ops = any(getattr(p, k) > 0 for k in (
            "apostrophe", "g_drop", "vowel_drop", "elongation", "spelling", "typo", "ocr"))

    @classmethod
    def calibrated(cls, profile: NoiseProfile, clean_texts: list[str], **kw) -> Corrupter:
        """A corrupter whose entity rates account for the entities the clean texts already
        have: with `emoji = 0.2` and a fifth of the clean texts carrying one, none are added."""
        n = max(len(clean_texts), 1)
        counts = Counter(k for t in clean_texts for k in entity_kinds(t))
        stops = sum(_ends_with_stop(t) for t in clean_texts)
        cut = sum(_ends_with_ellipsis(t) for t in clean_texts)
        return cls(profile, baseline={**{k: counts[k] / n for k in ENTITY_KINDS},
                                      "ends_with_stop": stops / n, "truncated": cut / n}, **kw)

    def __call__(self, text: str, seed: int = 0) -> Corruption:
        """`unchanged` of the texts stay as they are; every other one comes out changed: when
        the text-level choices (casing, ending, entities, drawn once) change nothing and every
        word's draws missed, the words are drawn again (the rates were fitted on changed texts,
        so a text meant to change has at least one change, as the real ones do)."""
        rng = random.Random(text_seed(text, seed))
        if rng.random() < self.profile.unchanged or not text.strip():
            return Corruption(text, {}, seed)
        plan = [rng.random() for _ in range(3 + len(ENTITY_KINDS))]
        for _ in range(CHANGE_TRIES):
            ops: Counter = Counter()
            out = self._corrupt(text, rng, ops, plan)
            if out != text:
                break
        return Corruption(out, dict(ops), seed)

    def _corrupt(self, text: str, rng: random.Random, ops: Counter, plan: list[float]) -> str:
        """One pass; `plan` holds the text-level draws: style, truncation, ending, entities."""
        p = self.profile
        u = plan[0]
        style = ("lower" if u < p.lower else "shout" if u < p.lower + p.shout
                 else "sentence" if u < p.lower + p.shout + p.sentence else "keep")
        if (style == "lower" and text != text.lower()) or (
                style == "shout" and text != text.upper()) or (
                style == "sentence" and text[:1].islower()):
            ops[style] += 1
        parts = SPLIT.findall(text)
        out: list[str] = []
        start = True
        shouting = False
        caps_start = p.caps_words * (1 - CAPS_RUN)
        i, n = 0, len(parts)
        have = set()
        while i < n:
            piece = parts[i]
            i += 1
            if piece[0].isspace():  # half the pieces: settle them before anything else
                if out and out[-1][-1:] in ",." and rng.random() < p.spacing:
                    piece = ""
                    ops["spacing"] += 1
                out.append(piece)
                continue
            c = piece[0]
            kind = ("word" if c.isascii() and c.isalpha() and not (
                c in "hw" and (":" in piece or "." in piece)) else kind_of(piece))
            if kind == "word":
                low = piece.lower()
                if low in self.phrases and i + 1 < n and parts[i] == " " \
                        and parts[i + 1].lower().replace("’", "'") in self.second[low]:
                    piece, i = self._phrase(parts, i, piece, rng, ops)
                else:
                    piece = self._word(piece, low, rng, ops)
                if style == "lower":
                    piece = piece.lower()
                elif style == "shout":
                    piece = piece.upper()
                else:
                    if style == "sentence" and (start or piece in ("i", "i'm", "im")):
                        piece = piece[:1].upper() + piece[1:]
                    elif style == "keep" and p.i_lower and piece[:1] == "I" and (
                            len(piece) == 1 or piece[1] in "'’") and rng.random() < p.i_lower:
                        piece = "i" + piece[1:]
                        ops["i_lower"] += 1
                    if p.caps_words and (len(piece) > 1 or shouting) and rng.random() < (
                            CAPS_RUN if shouting else caps_start * (
                                2.0 if piece.lower() in EMPHASIS else 0.6)):
                        piece = piece.upper()
                        ops["caps_words"] += 1
                        shouting = True
                    else:
                        shouting = False
                start = False
            elif kind == "punct":
                shouting = shouting and piece in "'’-"
                piece = self._punct(piece, rng, ops)
                start = start or piece[:1] in ".!?"
            else:  # a number ends a sentence start too: "Patch 4.2 for" keeps its "for"
                start = False
                if kind != "number":
                    have.add(kind)
            out.append(piece)
        text = "".join(out)
        if self.truncate and len(text) >= 60 and plan[1] < self.truncate:
            text = _truncate(text, rng)
            ops["truncate"] += 1
            have = entity_kinds(text)
        elif self.end_punct and text.endswith(".") and not text.endswith("..") \
                and plan[2] < self.end_punct:
            text = text[:-1]
            ops["end_punct"] += 1
        elif p.end_mark and text[-1:] in "?!" and plan[2] < p.end_mark:
            text = text.rstrip("?!").rstrip()  # a repeated mark goes too: "??" or nothing
            ops["end_mark"] += 1
        for k, kind in enumerate(ENTITY_KINDS):
            if kind not in have and self.add[kind] and plan[3 + k] < self.add[kind]:
                text = ADDERS[kind](text, rng)
                ops[kind] += 1
        return text

    def _phrase(self, parts: list[str], i: int, first: str, rng, ops) -> tuple[str, int]:
        """The lexicon's phrase starting with word `first` (parts[i] is the piece after it),
        maybe respelled; returns the text to write and the index after what it consumed."""
        for words, chances in self.phrases[first.lower()]:
            end = i + 2 * (len(words) - 1)  # word, space, word, ...
            if end > len(parts) or any(
                    parts[j] != " " or parts[j + 1].lower().replace("’", "'") != w
                    for j, w in zip(range(i, end, 2), words[1:])):
                continue
            for chance, e in chances:
                if rng.random() < chance:
                    ops[e.section] += 1
                    return _case_like(e.pick(rng.random()), first), end
            break
        return self._word(first, first.lower(), rng, ops), i

    def _word(self, w: str, low: str, rng: random.Random, ops: Counter) -> str:
        p = self.profile
        own = False
        for chance, e in self.words.get(low.replace("’", "'") if "’" in low else low, ()):
            if rng.random() < chance:
                ops[e.section] += 1
                return _case_like(e.pick(rng.random()), w)
            own = own or e.own
        if not self.word_ops:
            return w
        # a contraction with the writer's own rate has had its chance above
        if ("'" in w or "’" in w) and not own and rng.random() < p.apostrophe:
            ops["apostrophe"] += 1
            return w.replace("'", "").replace("’", "")
        n = len(w)
        if p.g_drop and n >= 5 and low.endswith("ing") and low not in G_DROP_KEEP \
                and any(c in "aeiouy" for c in low[:-3]) and rng.random() < p.g_drop:
            ops["g_drop"] += 1
            return w[:-1]
        if p.vowel_drop and n >= 4 and rng.random() < p.vowel_drop:
            sk = skeleton(w)  # frm, wrk, yrs, tmrrw
            if 3 <= len(sk) < n:
                ops["vowel_drop"] += 1
                return sk
        if p.elongation and n <= 8 and rng.random() < p.elongation * (
                STRETCHY_WEIGHT if (emphatic := low in STRETCHY) else 1.0):
            i, k = n - 1, rng.choice(STRETCHY_EXTRA if emphatic else STRETCH_EXTRA)
            if rng.random() >= STRETCH_LAST:
                i = max((j for j, c in enumerate(low[:-1]) if c in "aeiouy"), default=i)
                if i < n - 1 and low[i] not in "aiu":  # whaat, but yooou: yoou reads as a slip
                    k = max(k, 2)
            if w[i].isalpha():  # not the 4 of b4 nor the ' of an elision
                ops["elongation"] += 1
                return w[:i + 1] + w[i] * k + w[i + 1:]  # youu, whaat, sooo
        if p.spelling and n >= 4 and rng.random() < p.spelling:
            slip = _spelling(w, rng)
            if slip != w:
                ops["spelling"] += 1
                return slip
        if p.typo and n >= 3 and rng.random() < p.typo:
            ops["typo"] += 1
            return _typo(w, rng)
        if p.ocr and rng.random() < p.ocr:
            for a, b in rng.sample(OCR_SWAPS, len(OCR_SWAPS)):
                if a in w:
                    ops["ocr"] += 1
                    i = w.index(a)
                    return w[:i] + b + w[i + len(a):]
        return w

    def _punct(self, mark: str, rng: random.Random, ops: Counter) -> str:
        p = self.profile
        if mark in "!?" and p.punct_repeat and rng.random() < p.punct_repeat:
            ops["punct_repeat"] += 1
            return mark * rng.choice(REPEATS[mark])
        if mark == "." and p.dots and rng.random() < p.dots:
            ops["dots"] += 1
            return ".."
        if mark == "," and p.comma_drop and rng.random() < p.comma_drop:
            ops["comma_drop"] += 1
            return ""
        return mark


def _ends_with_stop(text: str) -> bool:
    """Whether the text's last sentence ends with one full stop, entities after it allowed
    ("late again. 😭 #fail")."""
    ps = pieces(text)
    while ps and (ps[-1][0] in ENTITY_KINDS or ps[-1][0] == "space"):
        ps.pop()
    return bool(ps) and ps[-1][1] == "." and not (len(ps) > 1 and ps[-2][1] == ".")


def _as_fitted(rate: float, fitted: float | None) -> bool:
    """Whether a rate is still what the fit gave it (a slider rounds: 5e-4 is no edit)."""
    return fitted is not None and abs(rate - fitted) < 5e-4


def _ends_with_ellipsis(text: str) -> bool:
    return text.rstrip().endswith(("…", "..."))


def _top_up(target: float, already: float) -> float:
    """The chance of adding an entity to a text without one so that `target` of texts have one."""
    if already >= 1:
        return 0.0
    return max(0.0, min(1.0, (target - already) / (1 - already)))


def _case_like(form: str, like: str) -> str:
    if len(like) > 1 and like.isupper():
        return form.upper()
    if like[:1].isupper() and form[:1].islower() and len(form) > 2:
        return form[:1].upper() + form[1:]
    return form


def _typo(w: str, rng: random.Random) -> str:
    """One slip of the fingers. Swapped neighbours (teh, jsut, adn) are the commonest in typed
    tweets, then dropped letters, then a neighbouring key hit instead or as well."""
    kind = rng.random()
    if kind < 0.4 and len(w) > 2:  # transposition, the first letter included (hte)
        i = rng.randrange(0, len(w) - 1)
        if w[i].isalpha() and w[i + 1].isalpha() and w[i].lower() != w[i + 1].lower():
            return w[:i] + w[i + 1] + w[i] + w[i + 2:]
    i = rng.randrange(1, len(w)) if len(w) > 1 else 0
    c = w[i]
    near = KEY_NEIGHBOURS.get(c.lower(), "")
    if kind < 0.65 and near:  # substitution
        r = rng.choice(near)
        return w[:i] + (r.upper() if c.isupper() else r) + w[i + 1:]
    if kind < 0.8 and near:  # insertion of a neighbouring key
        return w[:i] + rng.choice(near) + w[i:]
    return w[:i] + w[i + 1:]  # deletion


def _spelling(w: str, rng: random.Random) -> str:
    """One of the slips people make when they don't know the spelling (not the keyboard's):
    a doubled letter written once or a single one doubled, ie/ei swapped, a silent e lost."""
    low = w.lower()
    slips = []
    for i in range(1, len(w) - 1):
        if low[i] == low[i - 1] and low[i].isalpha():
            slips.append(w[:i] + w[i + 1:])  # actually -> actualy
        elif low[i] in "lstrcmnp" and low[i - 1] in "aeiou" and low[i + 1] in "aeiouy":
            slips.append(w[:i + 1] + w[i] + w[i + 1:])  # until -> untill, across -> accross
    for a, b in (("ie", "ei"), ("ei", "ie"), ("ely", "ly"), ("ance", "ence"), ("ence", "ance"),
                 ("able", "ible"), ("ible", "able"), ("ci", "si")):
        i = low.find(a, 1)
        if i > 0:
            slips.append(w[:i] + b + w[i + len(a):])
    return rng.choice(slips) if slips else w


def _truncate(text: str, rng: random.Random) -> str:
    cut = int(len(text) * rng.uniform(0.5, 0.9))
    space = text.rfind(" ", 0, cut)
    return text[:space if space > 20 else cut].rstrip(" ,.;:") + rng.choice(("…", "...", "…"))


def _append(text: str, extra: str) -> str:
    return text.rstrip() + " " + extra


def _emoji(text, rng):
    e = rng.choice(EMOJI)
    e = e * rng.choice((1, 1, 1, 2, 3))
    return _append(text, e) if rng.random() < 0.85 else e + " " + text


def _hashtag(text, rng):
    long = [w for k, w in pieces(text) if k == "word" and len(w) >= 6 and w.isalpha()]
    tag = rng.choice(long).lower() if long and rng.random() < 0.5 else rng.choice(HASHTAGS)
    return _append(text, "#" + tag)


def _mention(text, rng):
    handle = "@" + rng.choice(HANDLE_PARTS) + rng.choice(("", "_", "")) + \
        rng.choice(HANDLE_PARTS[:6] + ("",) * 4) + (str(rng.randint(1, 99)) if rng.random() < 0.4
                                                     else "")
    # Real tweets carry mentions at the start: a reply, or a retweet's "RT @user:".
    return ("RT " + handle + ": " if rng.random() < 0.15 else handle + " ") + text


def _url(text, rng):
    slug = "".join(rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
                   for _ in range(10))
    return _append(text, "https://t.co/" + slug)


ADDERS = {"emoji": _emoji, "hashtag": _hashtag, "mention": _mention, "url": _url}


def corrupt(text: str, profile: NoiseProfile, seed: int = 0) -> Corruption:
    """One text through one profile (entity rates without calibration)."""
    return Corrupter(profile)(text, seed)


def corrupt_many(texts: list[str], profile: NoiseProfile, seed: int = 0,
                 variants: int = 1) -> list[list[Corruption]]:
    """`variants` corruptions of each text, calibrated on the batch; variant k uses seed + k."""
    c = Corrupter.calibrated(profile, texts)
    return [[c(t, seed + k) for k in range(variants)] for t in texts]
