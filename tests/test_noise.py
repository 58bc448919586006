"""The corrupter's operators, profiles, fitting and realism report (no store involved)."""

import json
import re
from pathlib import Path

import pytest

from generators.noise import (BUILTIN_PROFILES, Corrupter, NoiseProfile, ProfileError, align,
                              corrupt, corrupt_many, detect, fit_profile, load_profile, realism_report)
from generators.noise.detect import classify_change, classify_token
from generators.noise.lexicon import shipped
from generators.noise.text import ENTITY_RES, pieces, stretched

PAIRS = [json.loads(line) for line in
         (Path(__file__).parent.parent / "sample_data" / "tweet_pairs.jsonl").open()]
CLEAN = [p["clean"] for p in PAIRS]
ENTITY_TEXT = ("Thanks @metro_alerts for the update about tomorrow, see https://example.com/a?b=1 "
               "#RushHour 😭 and please don't be late because I'm going to the meeting.")
ZERO = NoiseProfile(name="zero")


def only(**rates) -> NoiseProfile:
    return NoiseProfile(name="one-op", **rates)


def entities(text):
    return sorted(m.group() for rx in ENTITY_RES.values() for m in rx.finditer(text))


def run(profile, texts=CLEAN, seed=0):
    c = Corrupter(profile)
    return [c(t, seed) for t in texts]


def test_pieces_join_back_and_keep_entities_whole():
    for t in CLEAN + [ENTITY_TEXT]:
        assert "".join(p for _, p in pieces(t)) == t
    kinds = dict((p, k) for k, p in pieces(ENTITY_TEXT))
    assert kinds["@metro_alerts"] == "mention" and kinds["#RushHour"] == "hashtag"
    assert kinds["https://example.com/a?b=1"] == "url" and kinds["😭"] == "emoji"


@pytest.mark.parametrize("op, rate, check", [
    ("abbrev", 10, lambda a, b: any(shipped().reverse.get(w.lower(), ("", ""))[1] == "abbrev"
                                    for w in b.split())),
    ("slang", 10, lambda a, b: re.search(r"gonna|gunna|I.?ma\b|imma|tho\b", b, re.I)),
    ("apostrophe", 1, lambda a, b: "dont" in b.replace("’", "") and "Im" in b),
    ("g_drop", 1, lambda a, b: "goin " in b and "meetin" in b),
    ("typo", 1, lambda a, b: len(b.split()) == len(a.split()) and b != a),
    ("lower", 1, lambda a, b: b == b.lower() or "@metro_alerts" in b),
    ("shout", 1, lambda a, b: "THANKS" in b and "MEETING" in b),
    ("elongation", 1, lambda a, b: re.search(r"([a-z])\1\1", b)),
    ("vowel_drop", 1, lambda a, b: "tmrrw" in b.lower() or "mtng" in b.lower()),
])
def test_each_operator_changes_words_but_never_entities(op, rate, check):
    changed = 0
    for seed in range(20):
        out = corrupt(ENTITY_TEXT, only(**{op: rate}), seed)
        assert entities(out.text) == entities(ENTITY_TEXT), out.text
        if out.text != ENTITY_TEXT:
            changed += 1
            assert set(out.ops) <= {op}, out.ops
            assert check(ENTITY_TEXT, out.text), out.text
    assert changed >= 15


def test_entity_operators_add_entities_only_where_missing():
    bare = "Running late again, the bus never came this morning."
    for kind, rx in ENTITY_RES.items():
        outs = [corrupt(bare, only(**{kind: 1.0}), s).text for s in range(10)]
        assert all(rx.search(o) for o in outs), (kind, outs)
        assert all(o.replace(rx.search(o).group(), "").strip() in bare.rstrip() or
                   bare.rstrip(".") in o for o in outs)
    c = Corrupter.calibrated(only(emoji=0.2), ["a 😭 text"] * 10)  # 100% have one already
    assert c.add["emoji"] == 0


def test_punctuation_truncation_and_zero_profile():
    t = "Wait, what? That is great! See you there, ok."
    outs = [corrupt(t, only(punct_repeat=1, comma_drop=1), s).text for s in range(5)]
    assert all("," not in o and ("??" in o or "!!" in o) for o in outs)
    long = "This is a fairly long sentence that will be cut somewhere in the middle of it."
    cut = corrupt(long, only(truncate=1), 1).text
    assert cut.endswith(("…", "...")) and len(cut) < len(long)
    assert all(c.text == t and not c.ops for c in [corrupt(t, ZERO, s) for s in range(5)])
    assert corrupt(t, only(unchanged=1, typo=1, lower=1), 3).text == t


def test_same_text_profile_and_seed_give_the_same_output_in_any_order():
    p = BUILTIN_PROFILES["tweet"]
    a = run(p, CLEAN[:50], seed=7)
    b = list(reversed(run(p, list(reversed(CLEAN[:50])), seed=7)))
    assert [x.text for x in a] == [x.text for x in b]
    assert [x.ops for x in a] == [x.ops for x in b]
    assert [x.text for x in run(p, CLEAN[:50], seed=8)] != [x.text for x in a]
    twice = corrupt_many(CLEAN[:20], p, seed=7, variants=2)  # variant k uses seed + k
    calibrated = Corrupter.calibrated(p, CLEAN[:20])
    assert [v[1].text for v in twice] == [calibrated(t, 8).text for t in CLEAN[:20]]
    assert [v[0].seed for v in twice] == [7] * 20 and any(a.text != b.text for a, b in twice)


def test_rates_are_honoured_within_tolerance():
    texts = CLEAN * 3
    for name, check in (("unchanged", lambda outs: sum(not o.ops for o in outs) / len(outs)),
                        ("lower", lambda outs: sum("lower" in o.ops or o.text == o.text.lower()
                                                   for o in outs) / len(outs))):
        for rate in (0.2, 0.6):
            extra = {"typo": 1.0} if name == "unchanged" else {}  # so every other text changes
            outs = [Corrupter(only(**{name: rate}, **extra))(t, i) for i, t in enumerate(texts)]
            assert check(outs) == pytest.approx(rate, abs=0.07), (name, rate)
    # A text meant to change comes out changed (its words are drawn again until one is), so
    # a text of n words gets n p / (1 - (1 - p)^n) typos on average, as changed real texts do.
    # (Texts of 15 words or more: a shorter one may well miss all 8 draws, CHANGE_TRIES;
    # one of 15 words misses them with a chance of 0.95 ** 120, about 0.2%.)
    sizes = [sum(1 for k, w in pieces(t) if k == "word" and len(w) >= 3) for t in texts]
    texts = [t for t, n in zip(texts, sizes) if n >= 15]
    sizes = [n for n in sizes if n >= 15]
    assert len(texts) >= 20
    outs = [Corrupter(only(typo=0.05))(t, i) for i, t in enumerate(texts)]
    assert sum(not o.ops for o in outs) <= 0.01 * len(outs)
    expected = sum(n * 0.05 / (1 - 0.95 ** n) for n in sizes)
    assert sum(o.ops.get("typo", 0) for o in outs) == pytest.approx(expected, rel=0.2)


def test_a_fitted_profile_recovers_the_rates_that_made_the_text():
    truth = NoiseProfile(name="truth", unchanged=0.3, abbrev=2.0, apostrophe=0.5, g_drop=0.4,
                         typo=0.03, lower=0.5, shout=0.05, sentence=0.3, emoji=0.4,
                         mention=0.2, punct_repeat=0.3)
    clean = CLEAN * 3
    c = Corrupter.calibrated(truth, clean)  # a fifth of the clean texts have an emoji already
    messy = [c(t, i).text for i, t in enumerate(clean)]
    with_pairs = fit_profile(messy, clean, name="fit")
    alone = fit_profile(messy, name="fit-alone")
    for k in ("unchanged", "lower", "emoji", "mention", "apostrophe"):
        assert getattr(with_pairs, k) == pytest.approx(getattr(truth, k), abs=0.08), k
    for k in ("lower", "emoji", "mention"):  # without pairs, acronyms and names blur it a bit
        assert getattr(alone, k) == pytest.approx(getattr(truth, k), abs=0.15), k
    # the fitted profile respells about as many words as the truth did (the common words by
    # rates of their own, the rest by the section's scale)
    refit = Corrupter.calibrated(with_pairs, clean)
    made = sum(c(t, i).ops.get("abbrev", 0) for i, t in enumerate(clean))
    again = sum(refit(t, i).ops.get("abbrev", 0) for i, t in enumerate(clean))
    assert again == pytest.approx(made, rel=0.35)
    assert with_pairs.g_drop == pytest.approx(0.4, abs=0.15)
    assert with_pairs.typo == pytest.approx(0.03, abs=0.02)
    assert alone.unchanged == pytest.approx(0.3, abs=0.15)


def test_fit_refuses_too_few_or_unpaired_texts():
    from generators.noise import FitError

    with pytest.raises(FitError, match="at least 10"):
        fit_profile(["omg u r late"] * 3)
    with pytest.raises(FitError, match="pair up"):
        fit_profile(["a"] * 12, ["b"] * 11)


def test_profiles_round_trip_through_toml_and_refuse_bad_values(tmp_path):
    p = fit_profile([x["text"] for x in PAIRS[:60]], CLEAN[:60], name="mine")
    f = tmp_path / "mine.toml"
    f.write_text(p.to_toml())
    assert load_profile(f) == p
    assert load_profile("sms").name == "sms"
    f.write_text("typo = 3\n")
    with pytest.raises(ProfileError, match="typo must be between 0 and 1"):
        load_profile(f)
    f.write_text("tpyo = 0.1\n")
    with pytest.raises(ProfileError, match="unknown key"):
        load_profile(f)
    with pytest.raises(ProfileError, match="neither a built-in"):
        load_profile(tmp_path / "missing.toml")


def test_detect_and_align_name_the_changes():
    d = detect("idk why ur late, im goin b4 the stoer tmrw soooo")
    for cat in ("abbrev", "apostrophe", "g_drop", "phonetic", "elongation"):
        assert d.counts.get(cat), (cat, d.counts)
    assert "going before" in d.normalized and "i'm" in d.normalized and "the store tomorrow so" in d.normalized
    changes = align("I'm going to the store tomorrow, I think.", "im gonna teh store tmrw i thnik")
    assert [c for _, _, c in changes] == ["apostrophe", "slang", "typo", "abbrev", "casing",
                                          "typo"]


def test_realism_report_tells_heavy_noise_and_not_identical_sets():
    same = realism_report(CLEAN[:120], CLEAN[:120])
    assert abs(same["auc"]["cased"] - 0.5) < 0.08
    heavy = NoiseProfile(name="heavy", abbrev=5, slang=5, typo=0.3, elongation=0.2,
                         shout=0.5, lower=0.5, emoji=1, punct_repeat=1)
    messy = [corrupt(t, heavy, i).text for i, t in enumerate(CLEAN[:120])]
    far = realism_report(CLEAN[:120], messy, CLEAN[:120], CLEAN[:120])
    assert far["auc"]["cased"] > 0.95 and far["auc"]["lowercased"] > 0.95
    assert far["synthetic"]["cer_mean"] > far["real"]["cer_mean"] == 0
    assert far["synthetic"]["unchanged"] == 0 and far["real"]["unchanged"] == 1


def test_a_kind_of_noise_the_sample_lacks_fits_at_zero():
    """Text made with abbreviations and lower case alone: the fit finds no typos, slips,
    stretched words or dropped g's, with its clean versions or without."""
    truth = NoiseProfile(name="truth", unchanged=0.2, abbrev=2.0, lower=0.6)
    clean = CLEAN * 2
    c = Corrupter.calibrated(truth, clean)
    messy = [c(t, i).text for i, t in enumerate(clean)]
    for fitted in (fit_profile(messy, clean), fit_profile(messy)):
        for k in ("typo", "elongation", "g_drop", "vowel_drop", "punct_repeat", "comma_drop",
                  "end_mark"):
            assert getattr(fitted, k) < 0.005, (k, getattr(fitted, k), fitted.fitted)
    # with clean versions that kept every final stop, none is dropped (not the base's 0.98)
    assert fit_profile(messy, clean).end_punct < 0.005


def test_stretched_words_are_told_from_spelling_slips():
    lex = shipped()
    for word, form in (("you", "youu"), ("what", "whaat"), ("so", "soooo"), ("him", "himm"),
                       ("good", "goood")):
        assert stretched(word, form) and classify_change(word, form, lex) == "elongation"
        assert classify_token(form, lex) == ("elongation", word), form
    for word, form in (("until", "untill"), ("across", "accross"), ("you", "yuo"), ("so", "so"),
                       ("so", "sp")):
        assert not stretched(word, form), form
    assert classify_token("untill", lex)[0] != "elongation"
    assert classify_token("juss", lex) == ("elongation", "just")  # jus, held


def test_emphatic_words_are_stretched_most_and_mostly_by_one_letter():
    text = "so i told you that the park was so nice"
    held = {"so": 0, "told": 0, "park": 0, "nice": 0}
    added = []
    for seed in range(600):
        out = corrupt(text, only(elongation=0.02), seed).text
        for word, form in zip(text.split(), out.split()):
            if word != form:
                assert stretched(word, form), (word, form)
                added.append(len(form) - len(word))
                if word in held:
                    held[word] += 1
    assert held["so"] > 4 * max(held["told"], held["park"], held["nice"], 1), held
    assert min(held["told"], held["park"], held["nice"]) > 0, held  # other words too
    assert added.count(1) > added.count(2) and added.count(1) > 0.3 * len(added)


def test_entities_already_there_are_not_added_and_replies_keep_their_mention_first():
    plain = [t for t in CLEAN if "@" not in t][:60]
    replies = [f"@user{i} {t}" for i, t in enumerate(plain)]
    c = Corrupter.calibrated(NoiseProfile(name="m", mention=0.8, abbrev=1.0), replies + plain)
    for i, t in enumerate(replies):
        out = c(t, i).text
        assert out.startswith(f"@user{i} ") and out.count("@") == 1, out
    added = [c(t, i).text for i, t in enumerate(plain)]
    with_mention = [a for a in added if "@" in a]
    assert len(with_mention) >= 0.4 * len(plain)  # 0.8 of all texts: 0.5 already, 0.6 of the rest
    assert all(a.startswith(("@", "RT @")) for a in with_mention), with_mention


def test_a_fit_with_pairs_and_one_without_agree_on_the_same_sample():
    truth = NoiseProfile(name="truth", unchanged=0.3, abbrev=1.5, apostrophe=0.5, g_drop=0.4,
                         lower=0.5, sentence=0.3, emoji=0.3, mention=0.2)
    clean = CLEAN * 3
    c = Corrupter.calibrated(truth, clean)
    messy = [c(t, i).text for i, t in enumerate(clean)]
    with_pairs, alone = fit_profile(messy, clean), fit_profile(messy)
    for k in ("unchanged", "lower", "emoji", "mention", "apostrophe", "g_drop"):
        a, b = getattr(with_pairs, k), getattr(alone, k)
        assert abs(a - b) <= max(0.05, 0.25 * max(a, b)), (k, a, b)


def test_a_word_the_lexicon_respelled_is_no_chance_for_another_operator():
    """Half the -ing words lose their g; "lol" stays as it is on both sides. Without clean
    versions, lol reads as "laughing out loud", whose "laughing" never had a g to drop: the
    fit without pairs still finds half, as the fit with pairs does."""
    verbs = ("walking", "talking", "cooking", "reading", "running", "singing", "driving")
    clean = [f"lol i was {verbs[i % 7]} home and {verbs[(i + 3) % 7]} to mom about day {i}"
             for i in range(60)]
    messy = [c.replace(verbs[(i + 3 * (i % 2)) % 7], verbs[(i + 3 * (i % 2)) % 7][:-1])
             for i, c in enumerate(clean)]
    with_pairs, alone = fit_profile(messy, clean), fit_profile(messy)
    assert with_pairs.g_drop == pytest.approx(0.5, abs=0.03)
    assert alone.g_drop == pytest.approx(0.5, abs=0.03), alone.g_drop


def test_a_respelling_the_lexicon_lacks_is_learnt_without_scaling_its_section():
    clean = [f"i rode my bicycle to see people because it was day {i}" for i in range(50)]
    messy = [c.replace("bicycle", "bikey") for c in clean]
    fitted = fit_profile(messy, clean)
    assert fitted.lexicon["slang"]["bicycle"]["forms"] == {"bikey": 1.0}
    assert fitted.lexicon["slang"]["bicycle"]["p"] > 0.8
    # no respelling of a lexicon word seen: the scales stay at the base profile's (1.0)
    assert fitted.slang <= 1.0 and fitted.abbrev <= 1.0, (fitted.slang, fitted.abbrev)


def test_a_raw_fit_matches_the_share_of_final_stops_unless_set_by_hand():
    """Fitted on messy texts alone, half of which end with a full stop: against clean texts that
    all end with one, about half lose it; against clean texts that end as the messy ones do,
    none are dropped; a hand-set end_punct is used as it is."""
    messy = [f"omg the bus {i} was late again" + ("." if i % 2 else "") for i in range(40)]
    fitted = fit_profile(messy)
    assert fitted.fitted["ends_with_stop"] == pytest.approx(0.5, abs=0.05)
    stops = [f"The bus {i} was late again." for i in range(200)]
    dropped = sum(not o.text.endswith(".") for o in (
        Corrupter.calibrated(fitted, stops)(t, 0) for t in stops))
    assert dropped / len(stops) == pytest.approx(0.5, abs=0.1)
    same = [t.replace("omg ", "") for t in messy]
    kept = [Corrupter.calibrated(fitted, same)(t, 0).text for t in same]
    assert all(k.endswith(".") for k, t in zip(kept, same) if t.endswith("."))
    by_hand = fitted.with_rates(end_punct=0.0)
    assert all(o.text.endswith(".") for o in (Corrupter.calibrated(by_hand, stops)(t, 0)
                                               for t in stops))


def test_a_raw_fit_cuts_off_only_texts_beyond_those_that_already_trail_off():
    """A fifth of the messy texts end with "...": clean texts that trail off as often are not
    cut again; clean texts that never do are cut about a fifth of the time."""
    messy = [f"omg the bus number {i} was late again and i missed the whole first half of it"
             + ("..." if i % 5 == 0 else "") for i in range(50)]
    fitted = fit_profile(messy)
    assert fitted.truncate == pytest.approx(0.2, abs=0.01)
    cut = [t.replace("omg ", "") for t in messy]
    same = Corrupter.calibrated(fitted, cut)
    assert sum(same(t, 0).ops.get("truncate", 0) for t in cut) == 0
    whole = [t.rstrip(".") + "." for t in cut for _ in range(4)]
    fresh = Corrupter.calibrated(fitted, whole)
    share = sum(fresh(t, k).ops.get("truncate", 0) for k, t in enumerate(whole)) / len(whole)
    assert share == pytest.approx(0.2, abs=0.08)


def test_a_writer_who_always_writes_u_gets_u_every_time():
    """A word's own rate is the writer's: not cut down by the section's scale, which the words
    with rates of their own are left out of."""
    clean = [t for t in CLEAN if " you " in f" {t.lower()} "][:30] * 2
    assert len(clean) >= 20
    messy = [" ".join("u" if w.lower() == "you" else w for w in t.split(" ")) for t in clean]
    fitted = fit_profile(messy, clean)
    assert fitted.lexicon["abbrev"]["you"]["own"] and fitted.lexicon["abbrev"]["you"]["p"] > 0.9
    c = Corrupter.calibrated(fitted, clean)
    outs = [c(t, i).text for i, t in enumerate(clean)]
    kept = sum(" you " in f" {o.lower()} " for o in outs)
    assert kept <= 0.1 * len(outs), kept
    toml = fitted.to_toml()
    assert "own = true" in toml


def test_a_final_stop_before_an_emoji_or_hashtag_is_a_stop():
    from generators.noise.corrupt import _ends_with_stop

    assert _ends_with_stop("late again. 😭") and _ends_with_stop("late again. #fail ")
    assert not _ends_with_stop("late again 😭") and not _ends_with_stop("late again..")
    messy = [f"the bus {i} was late again. 😭" for i in range(20)]
    assert fit_profile(messy).fitted["ends_with_stop"] == 1.0


def test_giveaways_of_samples_too_small_to_weigh_are_empty():
    from generators.noise.realism import giveaways

    assert giveaways(["a b", "c d", "e f", "g h", "i j"], ["k", "l", "m", "n", "o"]) == \
        {"synthetic": [], "real": []}
