"""Fitting a noise profile to a sample of the user's real messy texts.

With clean counterparts, every change is seen directly (`align`) and each rate is changes over
chances in the clean text. Without them, the noise is found in the messy texts alone (`detect`),
the clean text is estimated by undoing it, and the same ratios are taken. Either way `unchanged`
is the share of texts with no change, and every other rate is measured on the changed texts only,
which is how the corrupter applies them. Respellings seen in pairs that the lexicon lacks are
learnt into the profile's own lexicon.
"""

from __future__ import annotations

import re
from collections import Counter

from generators.noise.corrupt import (
    G_DROP_KEEP,
    STRETCHY,
    STRETCHY_WEIGHT,
    _ends_with_ellipsis,
    _ends_with_stop,
)
from generators.noise.detect import align, detect
from generators.noise.lexicon import Lexicon, load_lexicon
from generators.noise.profile import NoiseProfile
from generators.noise.text import ENTITY_KINDS, ENTITY_RES, casing_style, entity_kinds, pieces

MIN_TEXTS = 10
LEXICAL = ("abbrev", "slang", "phonetic", "misspell")
# Of the words detect() takes for a slip in real tweets, this share are one: the rest are names,
# slang and words the vocabulary lacks (measured on LexNorm 1.2, the half the realism benchmark
# does not score). Without clean versions, a slip counts for this much.
PRECISION = {"typo": 0.6, "spelling": 0.4}
TOKEN_CHANCES = ("apostrophe", "g_drop", "vowel_drop", "elongation", "typo", "spelling")
# A text's final mark, allowing for emoji after it (entities are appended after the mark).
TAIL = re.compile(r"([.!?…]+)[^\w#@/]*$")
PRONOUN_I = re.compile(r"(?<![\w'’])[iI](?=['’][a-z]+\b|\b)")
LAST_WORD = re.compile(r"[A-Za-z0-9'’]\W*$")
MARKS = {"punct_repeat": re.compile(r"([!?])\1+"), "dots": re.compile(r"(?<!\.)\.\.(?!\.)"),
         "spacing": re.compile(r"(?<=\w\w)[,.](?=[A-Za-z]{2})")}
INNER_STOP = re.compile(r"\w\s?\.\s+\w")  # a full stop between two sentences


class FitError(ValueError):
    pass


def _chances(clean_texts: list[str], lex: Lexicon) -> Counter:
    """How many chances each operator had in these clean texts (lexicon ones weighted by p)."""
    c: Counter = Counter()
    for text in clean_texts:
        if lex.phrase_re is not None:
            for m in lex.phrase_re.finditer(text):
                for e in lex.lookup(m.group()):
                    c[e.section] += e.p
        for kind, w in pieces(text):
            if kind == "punct":
                c["comma_drop"] += w == ","
                c["punct_repeat"] += w in "!?"
                c["dots"] += w == "."
                c["spacing"] += w in ",."
                continue
            if kind != "word":
                continue
            low = w.lower()
            for e in lex.lookup(low):
                c[e.section] += e.p
            c["words"] += 1
            c["apostrophe"] += "'" in w or "’" in w
            c["g_drop"] += len(w) >= 5 and low.endswith("ing") and low not in G_DROP_KEEP
            c["vowel_drop"] += len(w) >= 4
            c["elongation"] += (len(w) <= 8) * (STRETCHY_WEIGHT if low in STRETCHY else 1.0)
            c["typo"] += len(w) >= 3
            c["spelling"] += len(w) >= 4
            c["caps_words"] += len(w) > 1
    return c


def _count_i(messy: str, seen: Counter, chances: Counter) -> None:
    """The pronoun I written i, where the text otherwise keeps its capitals."""
    if _style(messy) not in ("lower", "shout"):
        mine = PRONOUN_I.findall(messy)
        chances["i_lower"] += len(mine)
        seen["i_lower"] += sum(x == "i" for x in mine)


PRIOR_CHANCES = 3  # how many chances the base profile's rate is worth against the data
PRIOR_EXPECTED = 3  # the same for lexicon scales, in expected respellings


def _rate(seen: float, chances: float, default: float, prior: float = PRIOR_CHANCES) -> float:
    """The observed rate, pulled towards the base profile's when chances are few (a Beta
    prior): 50 texts give few chances for the rarer operators."""
    return (seen + prior * default) / (max(chances, 0) + prior)


def fit_profile(messy_texts: list[str], clean_texts: list[str] | None = None,
                name: str = "fitted", base: NoiseProfile | None = None) -> NoiseProfile:
    """A profile whose rates reproduce the noise in `messy_texts` (about 50 texts is enough).

    `clean_texts`, when given, are the same texts written cleanly, in the same order. What the
    data cannot show is not added: dropped commas and final ? or ! are zero without pairs, and
    every token operator shrinks towards zero when its chances are few; OCR confusions keep
    `base`'s value (zero in the built-in profiles but `scan`)."""
    messy = [t for t in messy_texts if t and t.strip()]
    if clean_texts is not None and len(clean_texts) != len(messy_texts):
        raise FitError(f"{len(messy_texts)} messy texts but {len(clean_texts)} clean ones; "
                       "they must pair up one to one")
    if len(messy) < MIN_TEXTS:
        raise FitError(f"fitting needs at least {MIN_TEXTS} messy texts, got {len(messy)}")
    from generators.noise.profile import TWEET
    base = base or TWEET
    lex = load_lexicon()
    seen: Counter = Counter()
    chances: Counter = Counter()
    learnt: dict[str, Counter] = {}
    taken: list[str] = []  # the clean words and phrases the lexicon respelled
    used: dict[str, Counter] = {}  # lexicon key -> the forms this writer used for it
    apos: Counter = Counter()  # contraction -> how often this writer dropped its apostrophe
    noisy_messy, noisy_clean = [], []
    if clean_texts is not None:
        pairs = [(c, m) for c, m in zip(clean_texts, messy_texts) if m and m.strip()]
        for c, m in pairs:
            if c == m:
                continue
            noisy_messy.append(m)
            noisy_clean.append(c)
            shouting = casing_style(m) == "shout"  # its CAPS are the style, not emphasis
            _count_i(m, seen, chances)
            for x, y, cat in align(c, m, lex):
                if cat == "casing":
                    seen["caps_words"] += y.isupper() and len(y) > 1 and not x.isupper() \
                        and not shouting
                    continue
                known = lex.lookup(x)
                if (cat == "other" or cat in LEXICAL and not known) and x and y and " " not in y:
                    # a respelling of a word the lexicon lacks: learnt below with a rate of
                    # its own, not evidence for the section's scale (whose chances are the
                    # lexicon's words alone)
                    learnt.setdefault(x.lower(), Counter())[y.lower()] += 1
                    continue
                seen[cat] += 1
                if cat == "apostrophe":
                    apos[x.lower()] += 1
                if cat in LEXICAL:
                    used.setdefault(x.lower(), Counter())[y.lower()] += 1
                    taken.append(x)
            end = TAIL.search(c)
            if end and end.group(1) == ".":
                chances["end_punct"] += 1
                seen["end_punct"] += not TAIL.search(m)
            elif end and end.group(1) in ("?", "!"):
                chances["end_mark"] += 1
                seen["end_mark"] += not re.search(r"[?!][^\w#@/]*$", m)
            seen["comma_drop"] += max(0, c.count(",") - m.count(","))
            seen["truncate"] += _ends_with_ellipsis(m) and not _ends_with_ellipsis(c)
        n = len(pairs)
    else:
        for m in messy:
            d = detect(m, lex)
            if d.clean_looking:  # (words detect can't place, names say, don't count)
                continue
            noisy_messy.append(m)
            noisy_clean.append(d.normalized)
            for cat, k in d.counts.items():
                seen[cat] += k * PRECISION.get(cat, 1.0)
            for key, form in d.respelled:
                if lex.lookup(key):
                    used.setdefault(key, Counter())[form] += 1
                elif "'" in key:
                    apos[key] += 1
                if form in lex.reverse:
                    taken.append(key)
            seen["caps_words"] += d.caps_words
            _count_i(m, seen, chances)
            # Which messy texts lost a final stop can't be told from those that never had one.
            # A writer who ends sentences inside the text with full stops shows they write
            # them: only their texts are chances, and those ending in a word the drops.
            if INNER_STOP.search(m):
                chances["end_punct"] += 1
                seen["end_punct"] += bool(LAST_WORD.search(m))
            seen["truncate"] += _ends_with_ellipsis(m)
        n = len(messy)
    k = max(len(noisy_messy), 1)
    chances.update(_chances(noisy_clean, lex))
    # A word the lexicon respelled had no chance of a token operator: "lol" is not a chance to
    # drop the g of "laughing", nor "cant" one to drop an apostrophe twice.
    took = _chances([" ".join(taken)], lex)
    chances.subtract({op: took[op] for op in TOKEN_CHANCES})
    occurrences = _occurrences(noisy_clean, lex)
    _leave_out_personal(seen, chances, used, occurrences, lex)
    # Marks: with clean versions only what the messy text has more of is noise (a clean "a.m."
    # or "!!" is not); without, the messy text's own, a tight "a.m" or "u.s" left out.
    for m, c in zip(noisy_messy, noisy_clean if clean_texts is not None else [""] * k):
        m, c = _without_entities(m), _without_entities(c)  # the dots of bit.ly/x are not marks
        for op, rx in MARKS.items():
            seen[op] += max(0, len(rx.findall(m)) - len(rx.findall(c)))
    styles = Counter(_style(m) for m in noisy_messy)
    has = Counter(kind for m in noisy_messy for kind in entity_kinds(m))
    shout_words = sum(len([w for kind, w in pieces(m) if kind == "word"])
                      for m in noisy_messy if casing_style(m) == "shout")
    rates = dict(
        unchanged=1 - len(noisy_messy) / n,
        **{cat: min(20.0, _rate(seen[cat], chances[cat], getattr(base, cat), PRIOR_EXPECTED))
           for cat in LEXICAL},
        # token operators: what the sample shows, shrunk towards zero when chances are few
        # (an operator the sample gives no evidence for never fires)
        **{op: min(1.0, _rate(seen[op], chances[op], 0.0)) for op in (
            "apostrophe", "g_drop", "vowel_drop", "elongation", "typo", "spelling", "punct_repeat",
            "i_lower", "dots", "spacing")},
        # what only clean versions can show (a comma or a final ? or ! that was there) is zero
        # without them: never added without evidence
        comma_drop=(min(1.0, _rate(seen["comma_drop"], chances["comma_drop"], 0.0))
                    if clean_texts is not None else 0.0),
        caps_words=min(1.0, _rate(seen["caps_words"], chances["caps_words"] - shout_words, 0.0)),
        lower=styles["lower"] / k, shout=styles["shout"] / k, sentence=styles["sentence"] / k,
        end_punct=min(1.0, _rate(seen["end_punct"], chances["end_punct"],
                                 base.end_punct if clean_texts is None else 0.0)),
        end_mark=(min(1.0, _rate(seen["end_mark"], chances["end_mark"], 0.0))
                  if clean_texts is not None else 0.0),
        truncate=seen["truncate"] / k,
        **{kind: has[kind] / k for kind in ENTITY_KINDS},
        ocr=base.ocr,
    )
    extra = _learnt_entries(learnt, occurrences, lex)
    for section, table in _personal_rates(used, occurrences, lex, rates).items():
        extra.setdefault(section, {}).update(table)
    contractions = _personal_apostrophes(apos, occurrences, lex, rates)
    if contractions:
        extra.setdefault("slang", {}).update(contractions)
    fitted = {"texts": n, "changed": len(noisy_messy),
              "with_clean": clean_texts is not None, "learnt_words": len(extra.get("slang", {}))}
    if clean_texts is None:  # the share to match against a clean batch (Corrupter.calibrated)
        fitted["ends_with_stop"] = round(sum(_ends_with_stop(m) for m in noisy_messy) / k, 4)
        fitted["end_punct"] = round(rates["end_punct"], 4)  # as fitted: a hand edit wins
        fitted["truncated"] = round(rates["truncate"], 4)  # the same for texts cut off…
    return NoiseProfile(name=name, lexicon=extra, fitted=fitted,
                        **{k: round(v, 4) for k, v in rates.items()})


def _without_entities(text: str) -> str:
    for rx in ENTITY_RES.values():
        text = rx.sub(" ", text)
    return text


def _style(text: str) -> str:
    """The casing style the corrupter would have chosen: entities (#MondayBlues, @SkyHighAir)
    and words in CAPS for emphasis don't make an all-lower-case text anything else."""
    style = casing_style(text)
    if style in ("shout", "lower"):
        return style
    words = [w for kind, w in pieces(text) if kind == "word" and not (len(w) > 1 and w.isupper())]
    if words and not any(c.isupper() for w in words for c in w):
        return "lower"
    return style


def _occurrences(clean_texts: list[str], lex: Lexicon) -> Counter:
    """How often each word, and each lexicon phrase, occurs in the clean texts (lower case)."""
    seen: Counter = Counter()
    for t in clean_texts:
        seen.update(w.lower() for kind, w in pieces(t) if kind == "word")
        if lex.phrase_re is not None:
            seen.update(m.group().lower() for m in lex.phrase_re.finditer(t))
    return seen


LEARNT_PRIOR, LEARNT_RATE = 10, 0.03  # a respelling the lexicon lacks: 10 sightings' worth of 3%


def _learnt_entries(learnt: dict[str, Counter], occurrences: Counter, lex: Lexicon) -> dict:
    """Respellings the lexicon lacks, as `slang` entries with their observed frequency (`own`:
    the section's scale does not apply)."""
    table = {}
    for word, forms in sorted(learnt.items()):
        if lex.lookup(word) or " " in word or not word.isalpha():
            continue
        total = sum(forms.values())
        # a form seen once in 50 texts is weak evidence: pulled towards a low rate
        p = (total + LEARNT_PRIOR * LEARNT_RATE) / (max(occurrences[word], total) + LEARNT_PRIOR)
        table[word] = {"p": round(min(1.0, p), 4), "own": True,
                       "forms": {f: n / total for f, n in forms.items()}}
    return {"slang": table} if table else {}


PRIOR_WEIGHT = 2  # how many sightings the lexicon's own rate is worth against the writer's
# how many sightings the lexicon's mix of forms is worth against the writer's: a "yu" seen once
# among eight "u" is as likely chance as habit
FORM_PRIOR = 4
PERSONAL_MIN = 2  # occurrences of a lexicon word before the writer gets a rate of their own


def _leave_out_personal(seen: Counter, chances: Counter, used: dict[str, Counter],
                        occurrences: Counter, lex: Lexicon) -> None:
    """Take the words that get a rate of their own out of their section's scale: otherwise a
    writer's "u" for "you" (the commonest respelling by far) would scale up every other entry
    of the section ("no" -> "nah") that the sample never respells. (The `apostrophe` rate stays
    pooled over every contraction: it is the prior of each one's own rate, and a contraction
    with a rate of its own is not touched by it.)"""
    for key, n in occurrences.items():
        entries = lex.lookup(key)
        if n < PERSONAL_MIN or not entries:
            continue
        e = entries[0]
        seen[e.section] = max(0.0, seen[e.section] - sum(used.get(key, Counter()).values()))
        chances[e.section] = max(0.0, chances[e.section] - n * e.p)


def _personal_apostrophes(apos: Counter, occurrences: Counter, lex: Lexicon,
                          rates: dict) -> dict:
    """The writer's own rate of dropping the apostrophe of each contraction seen twice or more
    (im for i'm far more often than its for it's), pulled towards the shared rate when
    sightings are few, as `own` slang entries: for those words the corrupter uses this rate
    instead of the `apostrophe` rate."""
    out = {}
    base = rates["apostrophe"]
    for word, n in occurrences.items():
        if "'" not in word or n < PERSONAL_MIN or lex.lookup(word):
            continue
        own = (apos[word] + PRIOR_WEIGHT * base) / (n + PRIOR_WEIGHT)
        out[word] = {"p": round(min(1.0, own), 4), "own": True,
                     "forms": {word.replace("'", ""): 1.0}}
    return out


def _personal_rates(used: dict[str, Counter], occurrences: Counter, lex: Lexicon,
                    rates: dict) -> dict:
    """This writer's own rate for each lexicon word seen at least twice in the pairs,
    pulled towards the (scaled) lexicon rate when sightings are few."""
    out: dict[str, dict] = {}
    for key, n in occurrences.items():
        entries = lex.lookup(key)
        if n < PERSONAL_MIN or not entries:
            continue
        e = entries[0]
        scale = rates[e.section] or 1.0
        prior = min(1.0, e.p * scale)
        forms = used.get(key, Counter())
        k = sum(forms.values())
        p = (k + PRIOR_WEIGHT * prior) / (n + PRIOR_WEIGHT)
        mix = Counter({f: FORM_PRIOR * w / e.cum[-1] for f, w in e.weights().items()})
        mix.update(forms)
        total = sum(mix.values())
        out.setdefault(e.section, {})[key] = {
            "p": round(min(1.0, p), 4), "own": True,
            "forms": {f: round(w / total, 4) for f, w in mix.items()}}
    return out

