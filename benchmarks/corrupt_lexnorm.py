"""Corrupter realism on real annotated tweets (LexNorm 1.2, fetched at run time; see lexnorm.py).

Scored on half 1 of the corpus (`lexnorm.half`; half 0 set the lexicon's commonest rates): each
of SPLITS random splits takes 50 tweets to fit on (their raw side alone, or raw + gold clean
side) and corrupts the clean side of the other 225 or so. Judged against those tweets' real raw
side, all lower-cased (the corpus is lower case): a classifier's ROC-AUC (0.5 = it cannot tell
them apart), the unchanged share, the mean CER and the KS distance between the per-text CER
distributions. Downstream: a word-level normalizer (each noisy word -> its most frequent clean
word) learnt from 5 corrupted copies of the clean side of half of those, scored by its error
reduction rate (ERR) on the real raw tweets of the other half. Beside the fitted profiles: the
identity, the built-in `tweet` profile and nlpaug's KeyboardAug; and, for ERR, normalizers learnt
from real pairs. Writes the `corrupt-lexnorm` section of docs/benchmarks.md."""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from difflib import SequenceMatcher
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corrupt_realism import keyboard_aug  # noqa: E402
from lexnorm import Tweet, half, load  # noqa: E402
from report import table, write_section  # noqa: E402

from generators.noise import BUILTIN_PROFILES, Corrupter, cer, fit_profile  # noqa: E402
from generators.noise.realism import group_ids, two_sample_auc  # noqa: E402

SPLITS = 10
FIT = 50
COPIES = 5  # corrupted copies of each clean text the normalizer learns from
TARGETS = {"auc": 0.60, "unchanged": 0.05, "ks": 0.10, "err": 0.50}


def learn_normalizer(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """noisy word -> its most frequent clean word, from (messy, clean) texts aligned word by
    word (a stretch replaced by one of the same length pairs up; other stretches are skipped)."""
    seen: dict[str, Counter] = defaultdict(Counter)
    for messy, clean in pairs:
        a, b = messy.lower().split(), clean.lower().split()
        for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
            if op == "equal" or (op == "replace" and i2 - i1 == j2 - j1):
                for x, y in zip(a[i1:i2], b[j1:j2]):
                    seen[x][y] += 1
    return {x: ys.most_common(1)[0][0] for x, ys in seen.items()}


def err(normalizer: dict[str, str], tweets: list[Tweet]) -> float:
    """Error reduction rate over leaving every token as it is: 1 = all normalization errors
    fixed, 0 = none, below 0 = new errors made."""
    before = after = 0
    for t in tweets:
        for raw, gold in zip(t.raw, t.gold):
            before += raw != gold
            after += normalizer.get(raw, raw) != gold
    return (before - after) / max(before, 1)


def ks(xs: list[float], ys: list[float]) -> float:
    from scipy.stats import ks_2samp

    return float(ks_2samp(xs, ys).statistic)


def main():
    started = time.time()
    tweets = [t for t in load() if half(t) == 1]  # half 0 set the lexicon's commonest rates
    aug = keyboard_aug()
    methods = ["fitted on 50 raw tweets", "fitted on 50 raw + clean pairs",
               "built-in `tweet` profile", "nlpaug KeyboardAug (defaults)",
               "identity (clean text unchanged)"]
    res = {m: defaultdict(list) for m in methods}
    ref = defaultdict(list)
    for split in range(SPLITS):
        ts = tweets[:]
        random.Random(split).shuffle(ts)
        fit, rest = ts[:FIT], ts[FIT:]
        learn, score = rest[:len(rest) // 2], rest[len(rest) // 2:]
        raw, clean = [t.text for t in rest], [t.clean for t in rest]
        real_cer = [cer(c, r) for c, r in zip(clean, raw)]
        ref["unchanged"].append(sum(r == c for r, c in zip(raw, clean)) / len(raw))
        ref["cer"].append(statistics.fmean(real_cer))
        ref["err 50 real pairs"].append(err(learn_normalizer(
            [(t.text, t.clean) for t in fit]), score))
        ref["err all real pairs of the learning half"].append(err(learn_normalizer(
            [(t.text, t.clean) for t in learn]), score))
        groups = group_ids(clean * 2)  # a clean text's real and synthetic versions together
        profiles = {methods[0]: fit_profile([t.text for t in fit]),
                    methods[1]: fit_profile([t.text for t in fit], [t.clean for t in fit]),
                    methods[2]: BUILTIN_PROFILES["tweet"]}
        for name in methods:
            if name in profiles:
                c = Corrupter.calibrated(profiles[name], clean)
                make = lambda texts, seed: [c(x, seed).text for x in texts]  # noqa: E731
            elif name.startswith("nlpaug"):
                make = aug
            else:
                make = lambda texts, seed: list(texts)  # noqa: E731
            syn = [s.lower() for s in make(clean, split)]
            r = res[name]
            r["auc"].append(two_sample_auc(raw, syn, groups, lowercase=True, seed=split))
            r["unchanged"].append(sum(s == c for s, c in zip(syn, clean)) / len(clean))
            syn_cer = [cer(c, s) for c, s in zip(clean, syn)]
            r["cer"].append(statistics.fmean(syn_cer))
            r["ks"].append(ks(real_cer, syn_cer))
            copies = [(s.lower(), t.clean) for k in range(COPIES)
                      for s, t in zip(make([t.clean for t in learn], 100 * split + k), learn)]
            r["err"].append(err(learn_normalizer(copies), score))
        print(f"split {split}: " + "; ".join(
            f"{m[:14]} auc {res[m]['auc'][-1]:.3f} err {res[m]['err'][-1]:.2f}" for m in methods),
            flush=True)

    def ms(xs):
        return f"{statistics.fmean(xs):.3f} ± {statistics.stdev(xs):.3f}"

    real_unchanged = statistics.fmean(ref["unchanged"])
    rows = [[m, ms(r["auc"]), f"{statistics.fmean(r['unchanged']):.2f}",
             f"{statistics.fmean(r['cer']):.3f}", f"{statistics.fmean(r['ks']):.2f}",
             f"{statistics.fmean(r['err']):.2f}"] for m, r in res.items()]
    rows.append(["real raw tweets (reference)", "", f"{real_unchanged:.2f}",
                 f"{statistics.fmean(ref['cer']):.3f}", "", ""])
    for k in ("err 50 real pairs", "err all real pairs of the learning half"):
        rows.append([f"normalizer learnt from {k[4:]} (reference)", "", "", "", "",
                     f"{statistics.fmean(ref[k]):.2f}"])
    for row in rows:
        print(" | ".join(row))
    fitted = [res[m] for m in methods[:2]]
    met = {
        "auc": all(statistics.fmean(r["auc"]) <= TARGETS["auc"] for r in fitted),
        "unchanged": all(abs(statistics.fmean(r["unchanged"]) - real_unchanged)
                         <= TARGETS["unchanged"] for r in fitted),
        "ks": all(statistics.fmean(r["ks"]) <= TARGETS["ks"] for r in fitted),
        "err": all(statistics.fmean(r["err"]) >= TARGETS["err"] for r in fitted)}
    verdict = ", ".join(f"{k} {'met' if v else 'not met'}" for k, v in met.items())
    body = (f"LexNorm 1.2: real English tweets with gold normalizations (Han and Baldwin 2011; "
            f"Yang and Eisenstein 2013; CC BY 3.0), fetched at run time from the PyPI wheel "
            f"`textcleanser==0.0.1`, never stored here. Scored on its half 1 ({len(tweets)} "
            f"tweets; half 0 is where the shipped lexicon's commonest rates were measured, "
            f"`lexnorm_rates.py`). Each of {SPLITS} random splits "
            f"fits on {FIT} tweets and corrupts the gold clean side of the other "
            f"{len(tweets) - FIT}; everything is compared lower-cased, tokens joined by single "
            f"spaces on both sides. AUC: character 1-4-gram TF-IDF + logistic regression, 5-fold "
            f"cross-validation grouped by clean text, real raw vs corrupted. KS: the distance "
            f"between the per-text CER distributions (real vs corrupted). ERR: a word-level "
            f"normalizer learnt from {COPIES} corrupted copies of the clean side of half the "
            f"held-out tweets, scored on the real raw tweets of the other half. Mean (± standard "
            f"deviation for the AUC) over the splits.\n\n"
            + table(["corruption", "AUC lower-cased", "unchanged", "mean CER", "KS of CER",
                     "ERR"], rows)
            + f"\n\nTargets for both fitted profiles: AUC <= {TARGETS['auc']}, unchanged within "
            f"{TARGETS['unchanged']} of the real share, KS <= {TARGETS['ks']}, ERR >= "
            f"{TARGETS['err']}. This run: {verdict}. {time.time() - started:.0f} s in all.")
    write_section("corrupt-lexnorm", "Corrupter realism on real tweets (LexNorm 1.2)", body)


if __name__ == "__main__":
    main()
