"""The realism report: does a corrupted sample look like the user's real messy sample?

Each sample is described by the same measures (character error rate, unchanged share, the mix of
change types, casing, elongation, entities, out-of-vocabulary words), and a classifier two-sample
test asks whether the two can be told apart at all: character 1-4-gram TF-IDF and logistic
regression, ROC-AUC from grouped cross-validation (0.5: indistinguishable, 1.0: always told apart).
"""

from __future__ import annotations

import statistics
from collections import Counter

from generators.noise.detect import CATEGORIES, align, cer, detect
from generators.noise.lexicon import load_lexicon
from generators.noise.text import ELONGATED_RE, ENTITY_KINDS, entity_kinds

MEASURES = (("unchanged", "unchanged texts"), ("cer_mean", "mean CER"),
            ("cer_median", "median CER"), ("cer_p90", "90th pct CER"),
            ("changes_per_100_words", "changed words / 100"), ("oov_rate", "out-of-vocab words"),
            ("lower", "all lower case"), ("shout", "ALL CAPS texts"),
            ("sentence", "sentence case"), ("caps_word_rate", "CAPS words"),
            ("elongated", "texts with elongation"),
            *((k, f"texts with {k}") for k in ENTITY_KINDS))


def describe(texts: list[str], clean: list[str] | None = None) -> dict:
    """The measures of one sample. With `clean` (same order), CER and changes are exact; without,
    they are estimated against each text's detected clean form."""
    lex = load_lexicon()
    cers, mix, unchanged, words, oov, caps = [], Counter(), 0, 0, 0, 0
    styles_seen = []
    for i, t in enumerate(texts):
        d = detect(t, lex)
        styles_seen.append(d.style)
        words += d.words
        oov += d.oov
        caps += d.caps_words
        if clean is not None:
            ref = clean[i]
            unchanged += ref == t
            for _, _, cat in align(ref, t, lex):
                if cat != "casing":
                    mix[cat] += 1
        else:
            ref = d.normalized
            unchanged += d.clean_looking
            mix.update(d.counts)
        cers.append(cer(ref, t))
    n = max(len(texts), 1)
    styles = Counter(styles_seen)
    ents = Counter(k for t in texts for k in entity_kinds(t))
    total = sum(mix.values()) or 1
    return {
        "n": len(texts), "cer_exact": clean is not None, "cer": cers,
        "unchanged": unchanged / n,
        "cer_mean": statistics.fmean(cers) if cers else 0.0,
        "cer_median": statistics.median(cers) if cers else 0.0,
        "cer_p90": _quantile(cers, 0.9),
        "changes_per_100_words": 100 * sum(mix.values()) / max(words, 1),
        "mix": {c: mix[c] / total for c in CATEGORIES if mix[c]},
        "oov_rate": oov / max(words, 1),
        **{s: styles[s] / n for s in ("lower", "shout", "sentence")},
        "caps_word_rate": caps / max(words, 1),
        "elongated": sum(bool(ELONGATED_RE.search(t)) for t in texts) / n,
        **{k: ents[k] / n for k in ENTITY_KINDS},
    }


def _quantile(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def group_ids(keys: list) -> list[int]:
    """One group number per key, equal keys sharing one."""
    ids: dict = {}
    return [ids.setdefault(k, len(ids)) for k in keys]


def _detected_groups(texts: list[str]) -> list[int]:
    """Texts grouped by their detected clean form, so two versions of one text share a fold."""
    lex = load_lexicon()
    return group_ids([detect(t, lex).normalized.lower() for t in texts])


def two_sample_auc(a: list[str], b: list[str], groups: list | None = None,
                   lowercase: bool = False, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated ROC-AUC of a classifier telling `a` from `b`. `groups` (one per text of a,
    then of b) keeps the texts of one group in one fold: the real and the corrupted version of
    the same clean text, say. Without groups, texts are grouped by their detected clean form."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline

    texts = list(a) + list(b)
    y = np.array([0] * len(a) + [1] * len(b))
    if min(len(a), len(b)) < folds:
        raise ValueError(f"the classifier test needs at least {folds} texts on each side")
    if groups is None:
        groups = _detected_groups(texts)
    scores = np.zeros(len(texts))
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in cv.split(texts, y, groups):
        model = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=(1, 4), lowercase=lowercase,
                            sublinear_tf=True, min_df=2),
            LogisticRegression(C=1.0, max_iter=2000))
        model.fit([texts[i] for i in train], y[train])
        scores[test] = model.predict_proba([texts[i] for i in test])[:, 1]
    return float(roc_auc_score(y, scores))


def giveaways(real: list[str], synthetic: list[str], k: int = 10,
              lowercase: bool = True) -> dict[str, list[tuple[str, float]]]:
    """What tells the samples apart, in words a person can act on: the word 1-2-grams (and the
    marks, kept as words) with the largest weights in a logistic regression over both samples,
    `synthetic` (what gives the corrupted side away: turn it down) and `real` (what the real
    side has that the corrupted one lacks: turn it up). Weights are the model's coefficients."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    if min(len(real), len(synthetic)) < 5:
        return {"synthetic": [], "real": []}
    vec = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), lowercase=lowercase, min_df=2,
                          token_pattern=r"[^\s]+", sublinear_tf=True)
    try:
        x = vec.fit_transform(list(real) + list(synthetic))
    except ValueError:  # no word occurs twice: nothing to weigh
        return {"synthetic": [], "real": []}
    y = np.array([0] * len(real) + [1] * len(synthetic))
    coef = LogisticRegression(C=1.0, max_iter=2000).fit(x, y).coef_[0]
    names = vec.get_feature_names_out()
    order = np.argsort(coef)
    return {"synthetic": [(str(names[i]), round(float(coef[i]), 3)) for i in order[::-1][:k]
                          if coef[i] > 0],
            "real": [(str(names[i]), round(float(coef[i]), 3)) for i in order[:k]
                     if coef[i] < 0]}


def realism_report(real: list[str], synthetic: list[str], real_clean: list[str] | None = None,
                   synthetic_clean: list[str] | None = None, seed: int = 0) -> dict:
    """Both samples described side by side, and the classifier test, cased and lower-cased.
    CER is exact only when both samples come with clean texts; otherwise both are estimated, so
    the two columns always measure the same thing."""
    exact = real_clean is not None and synthetic_clean is not None
    groups = (group_ids(list(real_clean) + list(synthetic_clean)) if exact
              else _detected_groups(list(real) + list(synthetic)))
    report = {
        "real": describe(real, real_clean if exact else None),
        "synthetic": describe(synthetic, synthetic_clean if exact else None),
    }
    try:
        report["auc"] = {"cased": two_sample_auc(real, synthetic, groups, False, seed=seed),
                         "lowercased": two_sample_auc(real, synthetic, groups, True, seed=seed)}
    except ValueError as exc:
        report["auc"] = {"cased": None, "lowercased": None, "error": str(exc)}
    report["giveaways"] = giveaways(real, synthetic)
    return report


def giveaway_line(report: dict, k: int = 6) -> str:
    """The report's giveaways in one line: what to turn down, what to turn up."""
    g = report.get("giveaways") or {}
    parts = []
    if g.get("synthetic"):
        parts.append("gives the corrupted texts away: "
                     + ", ".join(f"'{w}'" for w, _ in g["synthetic"][:k]))
    if g.get("real"):
        parts.append("the real texts have more: " + ", ".join(f"'{w}'" for w, _ in g["real"][:k]))
    return "; ".join(parts)


def format_report(report: dict) -> str:
    """The report as a plain-text table, for the CLI."""
    r, s = report["real"], report["synthetic"]
    rows = [("measure", "real", "synthetic"), ("texts", str(r["n"]), str(s["n"]))]
    for key, label in MEASURES:
        rows.append((label, f"{r[key]:.3f}", f"{s[key]:.3f}"))
    for cat in CATEGORIES:
        if cat in r["mix"] or cat in s["mix"]:
            rows.append((f"changes: {cat}", f"{r['mix'].get(cat, 0):.0%}",
                         f"{s['mix'].get(cat, 0):.0%}"))
    auc = report["auc"]
    for k in ("cased", "lowercased"):
        rows.append((f"classifier AUC ({k})", "", "n/a" if auc.get(k) is None
                     else f"{auc[k]:.3f}"))
    width = max(len(x[0]) for x in rows)
    lines = [f"{a:<{width}}  {b:>9}  {c:>9}" for a, b, c in rows]
    lines.insert(1, "-" * len(lines[0]))
    note = ("CER measured against the clean texts" if r["cer_exact"]
            else "CER estimated against each text's detected clean form")
    tail = [note, "AUC 0.5: the classifier cannot tell the samples apart; 1.0: always can"]
    if auc.get("error"):
        tail.append(f"classifier test skipped: {auc['error']}")
    line = giveaway_line(report)
    if line:
        tail.append(f"words and marks that tell them apart (a word-level classifier): {line}")
    return "\n".join(lines + [""] + tail)
