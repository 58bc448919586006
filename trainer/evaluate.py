"""Base model vs tuned model on the held-out split: greedy, batched generation with the chat
template, the task's metric for both, and the outputs side by side, worst first (`eval.json`)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from trainer import data as D
from trainer.config import TrainConfig
from trainer.eval_slices import slice_summary
from trainer.progress import NullLog

__all__ = ["evaluate", "slice_summary", "brief", "Stopped"]

# The evaluation in brief: what metrics.jsonl's eval event, the run's end event and the
# studio's `runs` carry (eval.json has these plus every row).
BRIEF = ("metric", "base", "tuned", "delta", "n")


def brief(result: dict) -> dict:
    return {k: result.get(k) for k in BRIEF}


class Stopped(Exception):
    """A signal arrived between generation batches."""


def resolved(config: TrainConfig, root: Path) -> TrainConfig:
    """The config the run trained with (resolved.toml), else `config` itself."""
    path = config.path("output_dir", root) / "resolved.toml"
    if not path.exists():
        return config
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return TrainConfig.from_dict(data, where=str(path))


def generate(model, tokenizer, prompts: list[list[dict]], *, max_new_tokens: int,
             batch_size: int, on_batch=None, stop=None) -> list[str]:
    """Greedy answers to chat prompts, batched with left padding."""
    import torch

    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    out: list[str] = []
    model.eval()
    for start in range(0, len(prompts), batch_size):
        if stop is not None and stop.signal:
            raise Stopped(stop.signal)
        chunk = prompts[start:start + batch_size]
        texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
                 for p in chunk]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(device) for k, v in enc.items()}
        with torch.inference_mode():
            # eos comes from the model's generation_config: some models end a turn on several
            # tokens, and the tokenizer's one eos would let them run on
            ids = model.generate(**enc, do_sample=False, max_new_tokens=max_new_tokens,
                                 pad_token_id=tokenizer.pad_token_id)
        new = ids[:, enc["input_ids"].shape[1]:]
        out += [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
        if on_batch:
            on_batch(len(out), len(prompts))
    return out


def held_out(config: TrainConfig, root: Path) -> tuple[str, list[dict]]:
    splits = D.load_splits(config.path("data_dir", root))
    for name in ("test", "validation"):
        if splits[name]:
            return name, splits[name]
    return "test", []


def _place(model):
    import torch

    return model.to("cuda") if torch.cuda.is_available() else model


def load_base(config: TrainConfig, adapter: Path):
    """(the tokenizer the run saved, the base model), on the GPU when there is one."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.train import _dtype

    if not adapter.is_dir():
        raise FileNotFoundError(f"no trained model at {adapter}: train the run first")
    tokenizer = AutoTokenizer.from_pretrained(str(adapter))
    return tokenizer, _place(AutoModelForCausalLM.from_pretrained(config.base_model,
                                                                  dtype=_dtype(config)))


def load_tuned(config: TrainConfig, adapter: Path, base):
    """The tuned model: the adapter put on `base` (which then answers as tuned, and as base
    only under `disable_adapter()`), or the saved whole model for method = full."""
    if config.method == "full":
        from transformers import AutoModelForCausalLM

        from trainer.train import _dtype

        return _place(AutoModelForCausalLM.from_pretrained(str(adapter), dtype=_dtype(config)))
    from peft import PeftModel

    return PeftModel.from_pretrained(base, str(adapter))


def evaluate(config: TrainConfig, root: Path, *, log=None, stop=None,
             base_predictions: list[str] | None = None) -> dict:
    """Score base and tuned on the test split (validation if there is no test split); write
    eval.json and add the result to the model cards.

    eval.json: metrics.compare's result (metric, base, tuned, delta, n, the summaries, rows worst
    first, each with its `source` and input `length` in characters), the split, the base model,
    max_new_tokens, and trainer.eval_slices' `delta_ci`, `test` and `slices`."""
    from trainer import metrics, outputs
    from trainer.eval_slices import annotate

    log = log or NullLog()
    config = resolved(config, root)
    out = config.path("output_dir", root)
    split, rows = held_out(config, root)
    tokenizer, base = load_base(config, out / "adapter")
    prompts = [D.prompt_messages(r) for r in rows]
    kw = {"max_new_tokens": config.eval_max_new_tokens or 128,
          "batch_size": config.eval_batch_size, "stop": stop}

    def progress(which):
        return lambda done, total: log.write("eval_progress", model=which, done=done,
                                             total=total)

    if base_predictions is None:
        base_predictions = generate(base, tokenizer, prompts, on_batch=progress("base"), **kw)
    tuned = load_tuned(config, out / "adapter", base)
    tuned_predictions = generate(tuned, tokenizer, prompts, on_batch=progress("tuned"), **kw)
    user = [next((m["content"] for m in reversed(p) if m["role"] == "user"), "") for p in prompts]
    labels = list(config.labels) or None
    result = metrics.compare(user, [D.answer(r) for r in rows], base_predictions,
                             tuned_predictions, labels, ids=list(range(len(rows))))
    annotate(result, rows, user, labels)
    result.update(split=split, base_model=config.base_model, max_new_tokens=kw["max_new_tokens"])
    (out / "eval.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    outputs.refresh_cards(config, out, result)
    log.write("eval", **brief(result))
    result["base_predictions"] = base_predictions
    return result
