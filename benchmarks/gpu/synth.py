"""Synthetic models, data and run folders for benchmarks/export_model_speed.py and the GPU
benchmark (benchmarks/gpu/steps.py): nothing is downloaded.

Models are built from a config with seeded random weights and saved with `save_pretrained`,
beside a byte-level BPE tokenizer trained here (the tiny demo model's ChatML template with
`{% generation %}` markers, trainer/tiny.py). The task is copying: the answer is the first three
words of the input (pseudo-words from benchmarks/train_speed.py's corpus), learnable in a few
dozen LoRA steps. A run folder is what `python -m trainer` reads and writes: config.toml and
dataset/data/{train,validation,test}.jsonl; `adapter_run` adds an untrained LoRA adapter (random
B, so it changes the model) saved the way trainer/outputs.py saves a trained one.
"""

from __future__ import annotations

import functools
import json
import random
import sys
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
for p in (str(BENCH), str(ROOT)):
    if p not in sys.path:
        sys.path.insert(0, p)

from train_speed import QWEN_05B, corpus, text  # noqa: E402

SYSTEM = "Copy the first three words."
# (architecture, config fields; vocab_size None: the tokenizer's own size)
SHAPES = {
    # Qwen2.5-0.5B's own shape, vocabulary included (the tokenizer's ids stay well under it)
    "qwen2.5-0.5b": ("qwen2", QWEN_05B),
    # 34-39M parameters with make_tokenizer's ~3.7k-token vocabulary: the proportions of
    # Qwen2.5 (tied head, GQA, wide MLP, qkv bias) and Llama 3.2 (untied head, GQA 4:1) at
    # hidden 512 (k-quants need rows of 256)
    "qwen2-small": ("qwen2", dict(vocab_size=None, hidden_size=512, intermediate_size=2560,
                                  num_hidden_layers=8, num_attention_heads=8,
                                  num_key_value_heads=2, max_position_embeddings=4096,
                                  tie_word_embeddings=True, rope_theta=1e6)),
    "llama-small": ("llama", dict(vocab_size=None, hidden_size=512, intermediate_size=1536,
                                  num_hidden_layers=10, num_attention_heads=8,
                                  num_key_value_heads=2, max_position_embeddings=4096,
                                  tie_word_embeddings=False, rope_theta=5e5)),
    # the smoke run's stand-in for the 0.5B shape: its embedding too has more rows than the
    # tokenizer has tokens (the GGUF vocabulary is padded)
    "tiny-qwen2": ("qwen2", dict(vocab_size=8192, hidden_size=256, intermediate_size=512,
                                 num_hidden_layers=2, num_attention_heads=4,
                                 num_key_value_heads=2, max_position_embeddings=2048,
                                 tie_word_embeddings=True, rope_theta=1e6)),
}


@functools.cache
def words(seed: int = 0) -> tuple:
    pool, cum = corpus(random.Random(seed), 3000)
    return tuple(pool), tuple(cum)


def tokenizer_texts(seed: int = 0, n: int = 600) -> list[str]:
    rng, pool = random.Random(seed), words(seed)
    return [SYSTEM] + [text(rng, pool, 120) for _ in range(n)]


def make_tokenizer(vocab: int = 4096, max_length: int = 4096, seed: int = 0):
    from trainer.tiny import _train_tokenizer  # byte-level BPE, ChatML with {% generation %}

    return _train_tokenizer(tokenizer_texts(seed), vocab, max_length)


def build_model(folder: Path, shape: str, tokenizer, *, dtype: str = "float32",
                device: str = "cpu") -> int:
    """Save a seeded random model of `shape` (SHAPES) and the tokenizer; return N params."""
    import torch
    from transformers import (
        GenerationConfig,
        LlamaConfig,
        LlamaForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    arch, fields = SHAPES[shape]
    fields = {**fields, "vocab_size": fields["vocab_size"] or len(tokenizer)}
    ids = dict(pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
               eos_token_id=tokenizer.eos_token_id)
    config_cls, model_cls = ((Qwen2Config, Qwen2ForCausalLM) if arch == "qwen2"
                             else (LlamaConfig, LlamaForCausalLM))
    config = config_cls(**fields, **ids)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        with torch.device(device):
            model = model_cls(config)
    model.generation_config = GenerationConfig(**ids, max_new_tokens=16)
    model.to(getattr(torch, dtype)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    n = model.num_parameters()
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return n


def copy_rows(n: int, seed: int, start: int = 0) -> list[dict]:
    rng, pool = random.Random(seed), words()
    out = []
    for i in range(n):
        ws = rng.choices(pool[0][:400], k=rng.randint(5, 9))
        out.append({"id": start + i, "source": "teacher", "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": " ".join(ws)},
            {"role": "assistant", "content": " ".join(ws[:3])}]})
    return out


def write_run(folder: Path, base: Path, *, n_train: int = 48, n_val: int = 8, n_test: int = 8,
              **config) -> Path:
    """A run folder on the copy task for `base`; returns its config.toml."""
    from trainer.config import TrainConfig

    data = folder / "dataset" / "data"
    data.mkdir(parents=True, exist_ok=True)
    splits = (("train", copy_rows(n_train, 1)), ("validation", copy_rows(n_val, 2, 10**5)),
              ("test", copy_rows(n_test, 3, 2 * 10**5)))
    for split, rows in splits:
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows),
                                             encoding="utf-8")
    cfg = TrainConfig(base_model=str(Path(base).resolve()),
                      task={"name": "copy", "instruction": SYSTEM}, **config)
    return cfg.save(folder / "config.toml")


def adapter_run(folder: Path, base: Path, *, r: int = 16) -> Path:
    """A run folder whose adapter/ holds an untrained LoRA adapter (r, alpha 2r, all linear
    layers, random B) on `base`, with the tokenizer, summary.json and the model card."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.config import TrainConfig
    from trainer.outputs import write_card

    path = write_run(folder, base, lora_r=r)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                               LoraConfig(r=r, lora_alpha=2 * r, target_modules="all-linear",
                                          task_type="CAUSAL_LM", init_lora_weights=False))
    adapter = folder / "adapter"
    model.save_pretrained(adapter)
    AutoTokenizer.from_pretrained(base).save_pretrained(adapter)
    summary = {"step": 0, "train_loss": None, "eval_loss": None, "runtime_s": 0.0}
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    write_card(adapter, TrainConfig.load(path), summary)
    return folder


def first_answer(url: str, model: str, *, max_tokens: int = 16,
                 timeout: float = 300) -> tuple[float, str, int]:
    """(seconds, text, completion tokens) of one greedy chat completion on a copy-task
    prompt."""
    row = copy_rows(1, 9)[0]
    body = json.dumps({"model": model, "messages": row["messages"][:2],
                       "max_tokens": max_tokens, "temperature": 0}).encode()
    req = urllib.request.Request(f"{url}/chat/completions", data=body,
                                 headers={"Content-Type": "application/json"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        answer = json.load(resp)
    seconds = time.perf_counter() - t
    return (seconds, answer["choices"][0]["message"]["content"],
            int((answer.get("usage") or {}).get("completion_tokens") or 0))


def folder_bytes(path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
