"""The learning curve: "how much data do I need?".

Trains on nested subsets of the train split (`curve_points` sizes spaced geometrically from 8
rows up to the whole split, by curve_fit.plan_points; older configs list `curve_fractions`
instead), `curve_seeds` times over (seed k draws its own nested subsets and trains with
config.seed + k), scores every tuned model on the same held-out rows (the base model's answers
are generated once), fits a saturating power law to the scores and writes `curve.json`:

    metric, base, n          the task's metric, the base model's score, the held-out rows
    points                   [{fraction, n_train, value, train_loss, eval_loss, steps, seed}]
    fit                      curve_fit.fit_curve's result without its bootstrap lists
    target                   curve_target, or curve_fit.default_target(the score at the top)
    needed_for_target        {n, ci, reachable}: training rows to reach the target
    doubling                 {delta, ci}: the expected gain from doubling the largest size
    flat                     doubling adds less than one point
    answer                   the answer in one plain sentence
    complete                 false when the curve was stopped (the points so far are kept)

Each point trains in curve/<part>/ (part: n0048-s1, size and seed; p025 for a share); a run
started again reuses the points already trained.
"""

from __future__ import annotations

import json
from pathlib import Path

from trainer import curve_fit
from trainer.config import TrainConfig
from trainer.progress import NullLog

METRIC_NAMES = {"rougeL": "ROUGE-L", "macro_f1": "macro-F1"}


class PartLog:
    """Tags every event of one curve point with its part name."""

    def __init__(self, log, part: str):
        self.log, self.part = log, part

    def write(self, event: str, **data) -> None:
        self.log.write(event, part=self.part, **data)


def plan(config: TrainConfig, n_train: int) -> list[dict]:
    """The curve's points in training order, seed by seed (so a stopped curve has whole
    curves first): [{part, fraction, seed}]."""
    seeds = config.curve_seed_count(n_train)
    if config.curve_fractions:  # an older config: its shares, one seed unless it asks for more
        seeds = 1 if config.curve_seeds == "auto" else seeds
        shares = sorted({float(f) for f in config.curve_fractions})
        return [{"part": f"p{round(f * 100):03d}" + (f"-s{k}" if k else ""), "fraction": f,
                 "seed": k} for k in range(seeds) for f in shares]
    sizes = curve_fit.plan_points(n_train, config.curve_points)
    return [{"part": f"n{n:04d}-s{k}", "fraction": n / n_train, "seed": k}
            for k in range(seeds) for n in sizes]


def summarize(points: list[dict], metric: str | None, target_setting) -> dict:
    """What the points say: the fit, the target, the data needed for it, the gain from doubling,
    flat or not, and the plain answer."""
    fit = curve_fit.fit_curve(points)
    scored = [p for p in points if p["value"] is not None]
    top = max((p["n_train"] for p in scored), default=None)
    at_top = [p["value"] for p in scored if p["n_train"] == top]
    target = (float(target_setting) if target_setting != "auto"
              else curve_fit.default_target(sum(at_top) / len(at_top)) if at_top else None)
    name = METRIC_NAMES.get(metric or "", metric or "score")
    # a fit needs 3 scored sizes, so with a fit there is always a top size and a target
    return {"fit": {k: v for k, v in fit.items() if k != "boot"}, "target": target,
            "needed_for_target": curve_fit.needed_for(fit, target) if target is not None
            else {"n": None, "ci": [None, None], "reachable": False},
            "doubling": curve_fit.gain_from_doubling(fit, top or 1),
            "flat": curve_fit.flat(fit, top or 1),
            "answer": curve_fit.answer(fit, int(top or 0), target or 0.0, name)}


def learning_curve(config: TrainConfig, root: Path, *, log=None, stop=None) -> dict:
    """Train and score every point of the plan, then write curve.json. A stop signal ends the
    curve cleanly: curve.json keeps the points so far (`complete`: false) and the result's
    status is "stopped"."""
    from trainer import data as D
    from trainer.evaluate import Stopped, evaluate
    from trainer.train import train

    log = log or NullLog()
    out = config.path("output_dir", root)
    data_dir = config.path("data_dir", root)
    n_all = len(D.load_splits(data_dir)["train"])
    seeds = config.curve_seed_count(n_all)
    points, base, base_predictions, last, ended = [], None, None, None, None
    for step in plan(config, n_all):
        part = step["part"]
        sub = config.replace(train_fraction=min(1.0, step["fraction"]), output_dir=str(
            out / "curve" / part), data_dir=str(data_dir), merge=False,
            seed=config.seed + step["seed"], curve_seeds=seeds)
        plog = PartLog(log, part)
        summary = train(sub, root, log=plog, stop=stop, logs=out / "logs" / part)
        if summary["status"] != "completed":
            ended = summary
            break
        try:
            last = evaluate(sub, root, log=plog, stop=stop, base_predictions=base_predictions)
        except Stopped as e:
            ended = {"status": "stopped", "signal": str(e) or getattr(stop, "signal", None)}
            break
        base_predictions, base = last.pop("base_predictions"), last["base"]
        points.append({"fraction": step["fraction"], "n_train": summary["n_train"],
                       "value": last["tuned"], "train_loss": summary["train_loss"],
                       "eval_loss": summary["eval_loss"], "steps": summary["step"],
                       "seed": step["seed"]})
    metric = last["metric"] if last else None
    curve = {"metric": metric, "base": base, "n": last["n"] if last else 0, "points": points,
             **summarize(points, metric, config.curve_target), "complete": ended is None}
    (out / "curve.json").write_text(json.dumps(curve, indent=1), encoding="utf-8")
    log.write("curve", **curve)
    if ended is not None:
        return {**ended, **curve, "status": "stopped"}
    return {"status": "completed", **curve}
