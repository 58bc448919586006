"""Scores per example, and the one quality score that auto-review and the review order use.

    heuristics    product of (1 - penalty) over flagged checks (see heuristics.py)
    faithfulness  cosine between the input's and the output's vectors (free-text tasks only)
    novelty       1 - the highest cosine of the input to any other input of the task
    judge         the LLM judge's 1-5 rating (optional; a failed judgement has no value)
    quality       heuristics x the weighted mean of the faithfulness part (weight 1) and the
                  judge part (weight 2) that exist; heuristics alone when neither does

The faithfulness part ramps from 0 at cosine FAITH_LOW to 1 at FAITH_HIGH: with
all-MiniLM-L6-v2, real tweet/summary, question/answer and facts/description pairs of the sample
data sit at 0.54-0.89 and shuffled pairs at -0.1-0.33. Novelty is shown but not folded into
quality: both rows of a near-duplicate pair have low novelty, and deciding which one stays is
dedupe's job, not a reason to reject both.
"""

from __future__ import annotations

import numpy as np

from studio.records import ScoreLine
from studio.scoring.heuristics import EXPLAIN, TaskStats, check, heuristics_score

FAITH_LOW, FAITH_HIGH = 0.25, 0.55
WEIGHTS = {"faithfulness": 1.0, "judge": 2.0}
CHECKS = ("length", "ratio", "copy", "repetition", "encoding", "markers", "label")
COMPUTED = (*CHECKS, "heuristics", "faithfulness", "novelty")  # what `score` replaces
SCORES = ("quality", "heuristics", "faithfulness", "novelty", "judge")  # shown, in this order
DEFAULT_THRESHOLDS = (0.4, 0.8)  # reject below, approve above

DESCRIBE = dict(EXPLAIN, **{
    "faithfulness": "cosine between the input and the output: is the output about its input?",
    "novelty": "1 - cosine to the nearest other input of the task: how much new ground it covers",
    "judge": "the LLM judge's rating against the task's rubric (1-5)",
    "quality": "heuristics x weighted mean of faithfulness (1) and judge (2): what auto-review "
               "and the review order use",
})


def faith_part(cosine: float) -> float:
    return float(np.clip((cosine - FAITH_LOW) / (FAITH_HIGH - FAITH_LOW), 0.0, 1.0))


def judge_part(rating: float) -> float:
    return (rating - 1.0) / 4.0


def quality(heuristics: float | None, faithfulness: float | None,
            judge: float | None) -> float | None:
    """The combined score in [0, 1], or None for a row with no heuristics (input-only)."""
    if heuristics is None:
        return None
    parts = [(faith_part(faithfulness), WEIGHTS["faithfulness"]) if faithfulness is not None
             else None, (judge_part(judge), WEIGHTS["judge"]) if judge is not None else None]
    parts = [p for p in parts if p is not None]
    if not parts:
        return round(heuristics, 4)
    mean = sum(v * w for v, w in parts) / sum(w for _, w in parts)
    return round(heuristics * mean, 4)


def compute(rows: dict[str, list], labels: tuple[str, ...], vectors_in, vectors_out,
            novelty_of) -> list[tuple]:
    """Score rows as (example_id, name, value, detail). `vectors_in` / `vectors_out` are
    (ids, matrix) pairs; `novelty_of(matrix)` gives each row's nearest-other cosine."""
    complete = [(i, o) for i, o, d in zip(rows["input"], rows["output"], rows["duplicate"])
                if o is not None and not d]
    stats = TaskStats.of([i for i, _ in complete], [o for _, o in complete])
    out: list[tuple] = []
    for eid, inp, outp in zip(rows["id"], rows["input"], rows["output"]):
        checks = check(inp, outp, labels, stats)
        out += [(eid, c.name, c.value, c.why) for c in checks]
        if outp is not None:
            flags = "; ".join(c.why for c in checks if c.flag)
            out.append((eid, "heuristics", heuristics_score(checks), flags or None))
    if not labels:
        out += _faithfulness(vectors_in, vectors_out)
    ids, x = vectors_in
    if len(ids) > 1:
        nearest = novelty_of(x)
        out += [(int(i), "novelty", round(float(1.0 - s), 4), None)
                for i, s in zip(ids, nearest)]
    return out


def _faithfulness(vectors_in, vectors_out) -> list[tuple]:
    ids_in, x_in = vectors_in
    ids_out, x_out = vectors_out
    common, a, b = np.intersect1d(ids_in, ids_out, assume_unique=True, return_indices=True)
    if not len(common):
        return []
    cos = np.einsum("ij,ij->i", x_in[a], x_out[b])
    return [(int(i), "faithfulness", round(float(c), 4),
             "the output seems to be about something else" if c < FAITH_LOW else None)
            for i, c in zip(common, cos)]


def combine(scores: dict[int, dict[str, float | None]]) -> list[tuple]:
    """Quality rows from each example's heuristics, faithfulness and judge."""
    out = []
    for eid, s in scores.items():
        q = quality(s.get("heuristics"), s.get("faithfulness"), s.get("judge"))
        if q is not None:
            out.append((eid, "quality", q, None))
    return out


def explain(details: list[dict]) -> list[ScoreLine]:
    """Each stored score of one example with what it measures and, if flagged, what was found,
    in display order (the headline scores first, then the checks)."""
    order = {name: k for k, name in enumerate(SCORES + CHECKS)}
    rows = sorted(details, key=lambda d: (order.get(d["name"], 99), d["name"]))
    return [{"name": d["name"], "value": d["value"], "detail": d["detail"],
             "about": DESCRIBE.get(d["name"], "")} for d in rows]


def histogram(values: np.ndarray, lo: float = 0.0, hi: float = 1.0, bins: int = 20) -> dict:
    counts, edges = np.histogram(np.clip(values, lo, hi), bins=bins, range=(lo, hi))
    return {"edges": [round(float(e), 4) for e in edges], "counts": counts.tolist()}
