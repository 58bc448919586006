"""How far a judge's ratings agree with people's decisions: Cohen's kappa and the confusion table.

A rating at or above `cut` counts as "approve". Kappa corrects the share of agreement for what
chance alone would give: 1 is perfect, 0 is no better than chance, below 0 is worse.
"""

from __future__ import annotations

MIN_DECISIONS = 20  # below this, a kappa (and an agreement share) mostly says how few there are
# Landis & Koch (1977): the usual words for kappa ranges.
BANDS = ((0.8, "almost perfect"), (0.6, "substantial"), (0.4, "moderate"), (0.2, "fair"),
         (0.0, "slight"), (float("-inf"), "worse than chance"))


def cohen_kappa(table: list[list[int]]) -> float | None:
    """Kappa of a square confusion table (rows: one rater, columns: the other); None when
    chance agreement is total (every answer in one category), where kappa is undefined."""
    n = sum(map(sum, table))
    if n == 0:
        return None
    k = len(table)
    observed = sum(table[i][i] for i in range(k)) / n
    rows = [sum(r) / n for r in table]
    cols = [sum(table[i][j] for i in range(k)) / n for j in range(k)]
    expected = sum(r * c for r, c in zip(rows, cols))
    if expected >= 1.0 - 1e-12:
        return None
    return (observed - expected) / (1.0 - expected)


def band(kappa: float | None) -> str:
    if kappa is None:
        return "undefined (every decision or every rating falls on one side)"
    return next(word for floor, word in BANDS if kappa >= floor)


def agreement(pairs: list[tuple[int, str]], cut: int = 4) -> dict:
    """pairs: (judge rating 1-5, human decision approved|rejected). The confusion of ratings
    against decisions, kappa at `cut` and at every other cut, and the agreement share."""
    confusion = {r: {"approved": 0, "rejected": 0} for r in range(1, 6)}
    for rating, decision in pairs:
        confusion[rating][decision] += 1

    def at(c: int) -> dict:
        # rows: human approved / rejected; columns: judge approves / rejects
        t = [[0, 0], [0, 0]]
        for rating, decision in pairs:
            t[0 if decision == "approved" else 1][0 if rating >= c else 1] += 1
        k = cohen_kappa(t)
        n = len(pairs)
        return {"cut": c, "kappa": None if k is None else round(k, 4),
                "agreement": round((t[0][0] + t[1][1]) / n, 4) if n else None,
                "table": {"approved": {"judge_approves": t[0][0], "judge_rejects": t[0][1]},
                          "rejected": {"judge_approves": t[1][0], "judge_rejects": t[1][1]}}}

    main = at(cut)
    enough = len(pairs) >= MIN_DECISIONS
    verdict = band(main["kappa"]) if enough else (
        f"too few decisions ({len(pairs)}; about {MIN_DECISIONS} are needed before the figures "
        "mean much)")
    return {"n": len(pairs), "cut": cut, "kappa": main["kappa"], "agreement": main["agreement"],
            "enough": enough, "verdict": verdict, "table": main["table"],
            "confusion": {str(r): v for r, v in confusion.items()},
            "by_cut": [at(c) for c in range(2, 6)]}
