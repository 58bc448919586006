"""Is the tuned model better? Paired statistics for a small test split (often 10-100 rows).

Pure functions, seeded and deterministic. Every comparison is paired (base and tuned answer the
same rows), which removes the row-difficulty variance that dominates at these sizes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from statistics import NormalDist

import numpy as np

from trainer.metrics import INVALID

EXACT_MAX = 16  # up to 2^16 sign patterns are enumerated; beyond that, Monte Carlo
TERCILES = ("short", "medium", "long")


def _pair(base_scores, tuned_scores) -> tuple[np.ndarray, np.ndarray]:
    base, tuned = np.asarray(base_scores), np.asarray(tuned_scores)
    if len(base) != len(tuned):
        raise ValueError(f"{len(base)} base scores for {len(tuned)} tuned scores")
    return base, tuned


def bootstrap_delta(base_scores: Sequence, tuned_scores: Sequence, *, n_boot: int = 2000,
                    seed: int = 0, level: float = 0.95,
                    statistic: Callable | None = None) -> dict:
    """Tuned minus base, with a paired bootstrap interval: each resample draws row indices with
    replacement and uses the same rows for both models.

    Without `statistic` the delta is the mean per-row difference. A corpus-level metric
    (macro-F1) is not a mean of row scores: pass `statistic(base_rows, tuned_rows) -> delta`,
    called on `base_scores[idx]` and `tuned_scores[idx]` for each resample. Pass row indices as
    the scores and close over the labels, e.g. with `macro_f1`::

        rows, fb, ft = np.arange(n), macro_f1(refs, base), macro_f1(refs, tuned)
        bootstrap_delta(rows, rows, statistic=lambda b, t: ft(t) - fb(b))

    Percentile interval, not BCa: BCa's jackknife acceleration is erratic at n = 10-40 with 0/1
    scores (most leave-one-out values coincide) and with corpus statistics, while the percentile
    interval respects the metric's range and is only slightly narrow at these sizes (about a
    factor sqrt((n-1)/n)); tests/test_stats.py checks its coverage.
    """
    base, tuned = _pair(base_scores, tuned_scores)
    n = len(base)
    if n == 0:
        return {"delta": None, "ci": [None, None], "n": 0}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    if statistic is None:
        diff = tuned.astype(float) - base.astype(float)
        delta, boot = float(diff.mean()), diff[idx].mean(axis=1)
    else:
        delta = float(statistic(base, tuned))
        boot = np.array([statistic(base[i], tuned[i]) for i in idx], dtype=float)
    alpha = 1 - level
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return {"delta": delta, "ci": [float(lo), float(hi)], "n": n}


def macro_f1(refs: Sequence[str], preds: Sequence[str]) -> Callable[[np.ndarray], float]:
    """A closure `f(idx) -> macro-F1 of rows idx` (idx may repeat rows), for `bootstrap_delta`.

    Scored as trainer.metrics.summarize does: over the labels present in the rows' references
    and predictions, an invalid prediction (no label named) being wrong and never a class.
    """
    if len(refs) != len(preds):
        raise ValueError(f"{len(preds)} predictions for {len(refs)} references")
    names, codes = np.unique(np.asarray([*refs, *preds], dtype=object).astype(str),
                             return_inverse=True)
    ref, pred = codes[:len(refs)], codes[len(refs):]
    k, bad = len(names), np.flatnonzero(names == INVALID)

    def score(idx) -> float:
        r, p = ref[np.asarray(idx, dtype=int)], pred[np.asarray(idx, dtype=int)]
        tp = np.bincount(r[r == p], minlength=k)
        total = np.bincount(r, minlength=k) + np.bincount(p, minlength=k)
        present = total > 0
        present[bad] = False
        if not present.any():
            return 0.0
        return float(np.mean(2 * tp[present] / total[present]))
    return score


def paired_test(base_scores: Sequence[float], tuned_scores: Sequence[float], *, seed: int = 0,
                n_perm: int = 10000, exact: bool | None = None) -> dict:
    """Two-sided paired sign-flip permutation test of "no difference" on the per-row
    differences (statistic: |sum of differences|).

    Why this test: under the null each difference is as likely negative as positive, which
    needs no normality (a t-test's assumption fails for ROUGE-L bounded in [0, 1] and for 0/1
    correctness at n = 10-40) and uses the sizes of the differences. Wilcoxon ranks them and
    must special-case zeros and ties, which are most rows with 0/1 scores; sign flips just
    ignore zero differences. Exact (all 2^m sign patterns of the m nonzero differences) when
    m <= 16 or `exact=True`; else `n_perm` random patterns, p = (1 + hits) / (1 + n_perm).
    """
    base, tuned = _pair(base_scores, tuned_scores)
    n = len(base)
    if n == 0:
        return {"test": "sign-flip permutation", "p_value": None, "n": 0}
    diff = tuned.astype(float) - base.astype(float)
    d = diff[diff != 0]
    m = len(d)
    exact = m <= EXACT_MAX if exact is None else exact
    name = "sign-flip permutation (exact)" if exact else \
        f"sign-flip permutation (Monte Carlo, {n_perm})"
    if m == 0:
        return {"test": name, "p_value": 1.0, "n": n}
    observed = abs(d.sum()) - 1e-9 * max(1.0, float(np.abs(d).sum()))
    if exact:
        patterns = np.arange(2 ** m, dtype=np.int64)[:, None] >> np.arange(m) & 1
        hits = int((np.abs((2 * patterns - 1) @ d) >= observed).sum())
        return {"test": name, "p_value": hits / 2 ** m, "n": n}
    rng, hits, step = np.random.default_rng(seed), 0, max(1, 2_000_000 // m)
    for start in range(0, n_perm, step):
        signs = rng.choice((-1.0, 1.0), size=(min(step, n_perm - start), m))
        hits += int((np.abs(signs @ d) >= observed).sum())
    return {"test": name, "p_value": (1 + hits) / (1 + n_perm), "n": n}


def win_rate(wins: int, ties: int, losses: int, *, level: float = 0.95) -> dict:
    """The judge's win rate, a tie counting as half a win, with a Wilson score interval on
    (wins + ties / 2) / n.

    Wilson rather than Wald: it stays inside [0, 1] and stays sensible at 0 or n wins. Ties
    only shrink the per-row variance below a win/loss coin's, so treating each row as a
    Bernoulli trial makes the interval conservative (a little wide), never too narrow.
    """
    n = wins + ties + losses
    counts = {"wins": wins, "ties": ties, "losses": losses, "n": n}
    if n == 0:
        return {"win_rate": None, "win_rate_ci": [None, None], **counts}
    p = (wins + ties / 2) / n
    z = NormalDist().inv_cdf(1 - (1 - level) / 2)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return {"win_rate": p, "win_rate_ci": [max(0.0, centre - half), min(1.0, centre + half)],
            **counts}


def slices(rows: Sequence, key_fn: Callable, summary: Callable[[list], dict], *,
           min_rows: int = 10) -> dict:
    """`{key: {"n": k, **summary(group_rows)}}` per group, in order of first appearance; a group
    with fewer than `min_rows` rows gives `{"n": k, "too_few": True}` (numbers on a handful of
    rows read as findings when they are noise)."""
    groups: dict = {}
    for row in rows:
        groups.setdefault(key_fn(row), []).append(row)
    return {key: {"n": len(g), "too_few": True} if len(g) < min_rows
            else {"n": len(g), **summary(g)} for key, g in groups.items()}


def terciles(values: Sequence) -> list[str]:
    """"short" / "medium" / "long" per value by length terciles (a string counts its length).

    Cut at the values of the rows a third and two thirds of the way up the sorted list; equal
    lengths always share a label (so a row's slice never depends on row order), which can make
    the groups uneven when many lengths tie (all equal: all "short").
    """
    lengths = [len(v) if isinstance(v, str | Sequence) else v for v in values]
    if not lengths:
        return []
    ordered, n = sorted(lengths), len(lengths)
    lo, hi = ordered[math.ceil(n / 3) - 1], ordered[math.ceil(2 * n / 3) - 1]
    return [TERCILES[0] if v <= lo else TERCILES[1] if v <= hi else TERCILES[2]
            for v in lengths]
