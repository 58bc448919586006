"""The learning curve: train on 25%, 50% and 100% of the train split (nested subsets), score each
tuned model on the same held-out rows, and write `curve.json`: "how much data do I need?"."""

from __future__ import annotations

import json
from pathlib import Path

from trainer.config import TrainConfig
from trainer.progress import NullLog


class PartLog:
    """Tags every event of one curve point with its part name."""

    def __init__(self, log, part: str):
        self.log, self.part = log, part

    def write(self, event: str, **data) -> None:
        self.log.write(event, part=self.part, **data)


def learning_curve(config: TrainConfig, root: Path, *, log=None, stop=None) -> dict:
    from trainer.evaluate import evaluate
    from trainer.train import train

    log = log or NullLog()
    out = config.path("output_dir", root)
    points, base, base_predictions, last = [], None, None, None
    for fraction in sorted(set(config.curve_fractions)):
        part = f"p{round(fraction * 100):03d}"
        sub = config.replace(train_fraction=float(fraction), output_dir=str(out / "curve" / part),
                             data_dir=str(config.path("data_dir", root)), merge=False)
        plog = PartLog(log, part)
        summary = train(sub, root, log=plog, stop=stop)
        if summary["status"] != "completed":
            return {"status": "stopped", "points": points, **summary}
        last = evaluate(sub, root, log=plog, stop=stop, base_predictions=base_predictions)
        base_predictions, base = last.pop("base_predictions"), last["base"]
        points.append({"fraction": float(fraction), "n_train": summary["n_train"],
                       "value": last["tuned"], "train_loss": summary["train_loss"],
                       "eval_loss": summary["eval_loss"], "steps": summary["step"]})
    curve = {"metric": last["metric"] if last else None, "base": base,
             "n": last["n"] if last else 0, "points": points}
    (out / "curve.json").write_text(json.dumps(curve, indent=1), encoding="utf-8")
    log.write("curve", **curve)
    return {"status": "completed", **curve}
