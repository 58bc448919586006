"""What a finished run leaves behind: adapter/ (or the whole model), merged/, and model cards."""

from __future__ import annotations

import json
from pathlib import Path

from trainer.config import TrainConfig

CARD_SETTINGS = ("method", "lora_r", "lora_alpha", "lora_dropout", "target_modules",
                 "learning_rate", "epochs", "max_steps", "batch_size", "grad_accum",
                 "max_length", "packing", "assistant_only_loss", "precision", "seed")


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as v

    try:
        return v("sft-studio")
    except PackageNotFoundError:
        return "dev"


def card_info(config: TrainConfig, summary: dict, evaluation: dict | None,
              merged: bool) -> dict:
    return {
        "base_model": config.base_model,
        "method": config.method,
        "merged": merged,
        "dataset": config.dataset or None,
        "task": {**{"name": "", "instruction": ""}, **config.task, "labels": list(config.labels)},
        "config": {k: getattr(config, k) for k in CARD_SETTINGS},
        "train": {"steps": summary.get("step"), "epochs": config.epochs,
                  "train_loss": summary.get("train_loss"), "eval_loss": summary.get("eval_loss"),
                  "runtime_s": summary.get("runtime_s"),
                  "tokens_per_s": summary.get("tokens_per_s")},
        "eval": {k: v for k, v in evaluation.items() if k != "rows"} if evaluation else None,
        "studio_version": version(),
    }


def write_card(folder: Path, config: TrainConfig, summary: dict,
               evaluation: dict | None = None) -> None:
    from trainer.card import render

    merged = folder.name == "merged"
    (folder / "README.md").write_text(render(card_info(config, summary, evaluation, merged)),
                                      encoding="utf-8")


def save(trainer, config: TrainConfig, out: Path, summary: dict) -> dict:
    """Save adapter + tokenizer (+ merged model) with cards; returns their paths."""
    adapter = out / "adapter"
    trainer.save_model(str(adapter))
    trainer.processing_class.save_pretrained(str(adapter))
    paths = {"adapter_path": str(adapter), "merged_path": None}
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    write_card(adapter, config, summary)
    if config.merge and config.method != "full":
        merged = out / "merged"
        model = trainer.model.merge_and_unload()
        model.save_pretrained(str(merged))
        trainer.processing_class.save_pretrained(str(merged))
        write_card(merged, config, summary)
        paths["merged_path"] = str(merged)
    return paths


def refresh_cards(config: TrainConfig, out: Path, evaluation: dict) -> None:
    """Add the evaluation to the cards of a finished run."""
    path = out / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for name in ("adapter", "merged"):
        if (out / name).is_dir():
            write_card(out / name, config, summary, evaluation)
