"""Test helper: a run folder for `python -m trainer` with a learnable toy task and a tiny model.

The task is copying: the answer is the first three words of the input, so a 2-layer model's
loss falls within a few dozen steps. `make_run(folder, **config)` writes dataset/data/*.jsonl,
builds the tiny model (trainer/tiny.py) into folder/model and saves folder/config.toml.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from trainer.tiny import build_tiny_model

WORDS = ("cat dog sun rain bus train late happy sad coffee tea good bad cold warm red blue "
         "green early night").split()
SYSTEM = "Copy the first three words."


def rows(n: int, seed: int, start: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(5, 9))]
        out.append({"id": start + i, "source": "teacher", "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": " ".join(words)},
            {"role": "assistant", "content": " ".join(words[:3])}]})
    return out


def write_split(folder: Path, split: str, records: list[dict]) -> None:
    data = folder / "dataset" / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records),
                                         encoding="utf-8")


def make_run(folder: Path, *, n_train: int = 48, n_val: int = 8, n_test: int = 8,
             template: str | None = None, **config) -> Path:
    """Write a run folder; returns the path of its config.toml."""
    from trainer.config import TrainConfig

    folder = Path(folder)
    splits = {"train": rows(n_train, 1), "validation": rows(n_val, 2, 1000),
              "test": rows(n_test, 3, 2000)}
    for split, records in splits.items():
        write_split(folder, split, records)
    texts = [m["content"] for r in splits["train"] for m in r["messages"]]
    model = build_tiny_model(folder / "model", texts)
    if template is not None:
        (model / "chat_template.jinja").write_text(template, encoding="utf-8")
    defaults = {"learning_rate": 2e-2, "eval_steps": 5, "logging_steps": 1, "batch_size": 8,
                "grad_accum": 1, "task": {"name": "copy", "instruction": SYSTEM}}
    cfg = TrainConfig(base_model=str(model), **{**defaults, **config})
    return cfg.save(folder / "config.toml")
