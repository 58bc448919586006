"""Settings for a run before it starts, and a playground for one that finished.

`suggest` runs the trainer's own default rules (trainer.defaults.resolve) on the rows that
would be exported and this machine's hardware, so the Train tab shows the values the run will
use, each with its reason. `Playground` keeps one run's base model and adapter loaded and
answers a typed input with both.
"""

from __future__ import annotations

from pathlib import Path

SHOWN = ("method", "epochs", "max_steps", "learning_rate", "lora_r", "lora_alpha",
         "batch_size", "grad_accum", "max_length", "eval_steps", "early_stopping_patience",
         "packing", "precision", "merge")


def suggest(rows: list[dict], instruction: str, model: str, given: dict) -> dict:
    """{"settings": resolved values of SHOWN, "why": field -> reason, "tokens": how lengths
    were measured}. Rows are the task's exportable rows (input, output)."""
    from trainer.config import TrainConfig
    from trainer.defaults import DataStats, Hardware, resolve

    messages = [[{"role": "system", "content": instruction},
                 {"role": "user", "content": r["input"]},
                 {"role": "assistant", "content": r["output"]}] for r in rows]
    lengths, how, shape = _lengths(model, messages)
    n_train = max(1, round(len(rows) * 0.8))
    stats = DataStats(n_train, max(0, round(len(rows) * 0.1)), tuple(lengths[:n_train]),
                      tuple(len(r["output"]) // 4 + 1 for r in rows[:50]))
    config, why = resolve(TrainConfig(base_model=model, **given), stats, Hardware.probe(), shape)
    return {"settings": {k: getattr(config, k) for k in SHOWN}, "why": why, "tokens": how,
            "n_train": n_train}


def _lengths(model: str, messages: list[list[dict]]):
    """Token lengths with the model's tokenizer when it can be loaded here (a local folder or
    the Hub cache), else about 4 characters a token."""
    try:
        from transformers import AutoConfig, AutoTokenizer

        from trainer.data import token_lengths
        from trainer.defaults import ModelShape

        # never a download here: a model not on this machine is measured by characters
        tok = AutoTokenizer.from_pretrained(model, local_files_only=True)
        shape = ModelShape.from_config(AutoConfig.from_pretrained(model, local_files_only=True))
        lengths = token_lengths(tok, [{"messages": m} for m in messages], None)
        return lengths, f"measured with {Path(model).name}'s tokenizer", shape
    except Exception:  # not downloadable here: estimate, and say so
        lengths = [sum(len(x["content"]) for x in m) // 4 + 16 for m in messages]
        return lengths, "estimated at 4 characters a token (the tokenizer is not available)", None


class Playground:
    """One run's base model with its adapter, loaded once, answering typed inputs."""

    def __init__(self, run_dir: str):
        from trainer.config import TrainConfig
        from trainer.evaluate import resolved

        root = Path(run_dir)
        self.config = resolved(TrainConfig.load(root / "config.toml"), root)
        self.run_dir = run_dir
        self._model = self._tok = None

    def _load(self):
        from trainer.evaluate import load_base, load_tuned

        adapter = self.config.path("output_dir", Path(self.run_dir)) / "adapter"
        self._tok, base = load_base(self.config, adapter)
        self._model = load_tuned(self.config, adapter, base)
        self._base = base if self.config.method == "full" else None  # else: adapter off

    def answer(self, text: str, max_new_tokens: int | None = None) -> dict:
        from trainer.evaluate import generate

        if self._model is None:
            self._load()
        instruction = self.config.task.get("instruction") or ""
        prompt = ([{"role": "system", "content": instruction}] if instruction else []) + [
            {"role": "user", "content": text}]
        kw = {"max_new_tokens": max_new_tokens or self.config.eval_max_new_tokens or 128,
              "batch_size": 1}
        if self._base is not None:
            base = generate(self._base, self._tok, [prompt], **kw)[0]
        else:
            with self._model.disable_adapter():
                base = generate(self._model, self._tok, [prompt], **kw)[0]
        tuned = generate(self._model, self._tok, [prompt], **kw)[0]
        return {"base": base, "tuned": tuned}
