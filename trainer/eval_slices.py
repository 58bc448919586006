"""Is the tuned model better, by how much, and on which rows? The statistics `eval.json` carries
beside the plain scores, computed from its rows (trainer/stats.py does the mathematics).

- `delta_ci`: tuned minus base on the task's metric with a paired bootstrap interval. ROUGE-L
  is a mean of row scores, so the rows' score differences are resampled; macro-F1 is a corpus
  statistic, so it is recomputed on each resample of rows.
- `test`: a paired sign-flip permutation test on the row scores (ROUGE-L per row, or 0/1
  correctness for a label task).
- `slices`: the same figures per data source and per input-length tercile; a slice under
  MIN_ROWS rows says `too_few` instead of numbers.

`slice_summary(rows, key_fn, labels)` slices eval.json's rows by any fact about them, so a caller
that knows more (the studio knows corruption operators and duplicate families) can slice further.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from trainer import stats
from trainer.metrics import INVALID, normalize_label

LEVEL = 0.95
N_BOOT = 2000
MIN_ROWS = 10
METHOD = f"paired bootstrap ({N_BOOT} resamples of the test rows)"
UNKNOWN_SOURCE = "unknown"


def _macro(rows: Sequence[dict], labels: list[str], which: str):
    truth = [normalize_label(r["reference"], labels) or (r["reference"] or "").strip()
             for r in rows]
    said = [normalize_label(r[which] or "", labels) or INVALID for r in rows]
    return stats.macro_f1(truth, said)


def compared(rows: Sequence[dict], labels: list[str] | None = None, *, seed: int = 0) -> dict:
    """`{"base", "tuned", "delta", "ci": [lo, hi], "n"}` on `rows` (eval.json rows: they carry
    `base_score` / `tuned_score`, and for a label task `reference`, `base`, `tuned` texts):
    mean ROUGE-L, or macro-F1 when `labels` are given, with the paired bootstrap interval."""
    n = len(rows)
    if labels:
        fb, ft = _macro(rows, labels, "base"), _macro(rows, labels, "tuned")
        idx = np.arange(n)
        boot = stats.bootstrap_delta(idx, idx, statistic=lambda b, t: ft(t) - fb(b),
                                     n_boot=N_BOOT, seed=seed, level=LEVEL)
        base, tuned = (fb(idx), ft(idx)) if n else (None, None)
    else:
        b = [r["base_score"] for r in rows]
        t = [r["tuned_score"] for r in rows]
        boot = stats.bootstrap_delta(b, t, n_boot=N_BOOT, seed=seed, level=LEVEL)
        base, tuned = (float(np.mean(b)), float(np.mean(t))) if n else (None, None)
    return {"base": base, "tuned": tuned, "delta": boot["delta"], "ci": boot["ci"], "n": n}


def slice_summary(rows: Sequence[dict], key_fn: Callable[[dict], object],
                  labels: list[str] | None = None, *, min_rows: int = MIN_ROWS,
                  seed: int = 0) -> dict:
    """eval.json's `rows` grouped by `key_fn(row)` (a JSON-friendly key, e.g. a string):
    `{key: {"n", "base", "tuned", "delta", "delta_ci": [lo, hi]}}` on the task's metric (mean
    ROUGE-L, or macro-F1 when `labels` are given, the run's config.labels), or
    `{key: {"n", "too_few": True}}` for a group under `min_rows` rows. Groups come largest
    first (then by key).

    For example, by corruption operator where the caller knows each row's::

        slice_summary(result["rows"], lambda r: operator.get(r["id"], "clean"), labels)
    """
    def summary(group: list) -> dict:
        c = compared(group, labels, seed=seed)
        return {"base": c["base"], "tuned": c["tuned"], "delta": c["delta"],
                "delta_ci": c["ci"]}

    out = stats.slices(rows, key_fn, summary, min_rows=min_rows)
    return dict(sorted(out.items(), key=lambda kv: (-kv[1]["n"], str(kv[0]))))


def annotate(result: dict, rows: Sequence[dict], inputs: Sequence[str],
             labels: list[str] | None) -> dict:
    """Complete metrics.compare's `result` in place: its rows were compared with their index as
    id; they get back the data's id and gain `source` and `length` (the input's characters),
    and the result gains `delta_ci`, `test` and `slices`."""
    for r in result["rows"]:
        i = r["id"]
        r["id"] = rows[i].get("id")
        r["source"] = rows[i].get("source")
        r["length"] = len(inputs[i])
    ordered = result["rows"]  # eval.json's order: its rows give back these very figures
    main = compared(ordered, labels)
    result["delta_ci"] = {"delta": main["delta"], "ci": main["ci"], "n": main["n"],
                          "level": LEVEL, "method": METHOD}
    result["test"] = stats.paired_test([r["base_score"] for r in ordered],
                                       [r["tuned_score"] for r in ordered])
    tercile = dict(zip((r["length"] for r in ordered),
                       stats.terciles([r["length"] for r in ordered])))
    by_length = slice_summary(ordered, lambda r: tercile[r["length"]], labels)
    result["slices"] = {
        "source": slice_summary(ordered, lambda r: r["source"] or UNKNOWN_SOURCE, labels),
        "length": {k: by_length[k] for k in stats.TERCILES if k in by_length}}
    return result
