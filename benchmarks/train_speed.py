"""LoRA SFT throughput on a Qwen2.5-0.5B-shaped model: plain TRL defaults against the settings
SFT Studio's trainer chooses, side by side in one run, on the same synthetic chat data.

Rows: "plain TRL defaults" (SFTConfig with only output_dir, max_length, the batch, bf16,
report_to and max_steps: padding to the longest, no packing, TRL's default activation
checkpointing); "studio settings" (`trainer.defaults.resolve` on this machine's
`Hardware.probe()`, then `trainer.train.sft_args`, `load_model` and `lora_config`: packing and
padding-free with flash attention, liger when installed, no checkpointing under 1B parameters);
then options the trainer does not choose yet, each guarded so a failure lands in the table:
"studio + torch_compile", and, when flash_attn is missing, "studio + packing on sdpa".
Both use LoRA r=16, alpha=32 on all linear layers, the same rows and the same number of timed
optimizer steps after warm-up. The model has random weights (no download); the tokenizer is a
byte-level BPE trained here (tests/tiny_model.py), ids well under the model's vocabulary.

Measured per row, over the timed steps only: non-padding tokens a second (TRL's `num_tokens`:
the attention-mask sum, or the packed length), seconds per optimizer step, peak GPU memory, and
MFU = (6 N + 12 L d s) x tokens/s / peak bf16 FLOP/s (N parameters, L layers, d hidden, s the
token-weighted mean example length).

On a GPU box with torch, transformers, peft and accelerate but without trl and datasets, from the
repository root, with the wheels of trl, datasets and those of their dependencies the box lacks
(pyarrow, dill, multiprocess, xxhash, pandas, fsspec) in WHEELS:

    pip install --no-index --find-links WHEELS trl==1.16.0 datasets==5.2.0
    python benchmarks/train_speed.py --env         # what is installed, what the trainer sees
    python benchmarks/train_speed.py               # about 5 minutes on an H100; writes the doc

Flags: --steps N (timed), --warmup N, --out FILE (default docs/benchmarks.md), --no-write,
--tiny (a 2-layer model on CPU at max_length 256: a plumbing check, not a benchmark).
Without CUDA and without --tiny it says so and exits 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import math
import platform
import random
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
import report  # noqa: E402

from trainer import data as D  # noqa: E402
from trainer.config import TrainConfig  # noqa: E402
from trainer.defaults import DataStats, Hardware, ModelShape, resolve  # noqa: E402

QWEN_05B = dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                tie_word_embeddings=True, rope_theta=1e6)
TINY = dict(vocab_size=1024, hidden_size=64, intermediate_size=256, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
            tie_word_embeddings=True, rope_theta=1e6)
# Dense bf16 peak FLOP/s by GPU name, first match wins.
PEAK_FLOPS = [("H100 PCIe", 756e12), ("H100", 989e12), ("H200", 989e12), ("H20", 148e12),
              ("A100", 312e12), ("L40S", 362e12), ("A10G", 70e12), ("L4", 121e12)]
SYLLABLES = ("ka lo mi ten ra sto ve qui an der pol ny shu ex or ith mar cen tal bu in "
             "the of is al re co de on ly ment ing tion").split()


def version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> list[tuple[str, str]]:
    import torch

    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        device = (f"{p.name}, {p.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}, "
                  f"{torch.cuda.device_count()} visible")
    else:
        device = f"no CUDA; CPU {platform.machine()}"
    hw = Hardware.probe()
    return [("device", device), ("torch", torch.__version__),
            *[(n, version(n)) for n in ("transformers", "trl", "peft", "accelerate", "datasets",
                                        "flash_attn", "liger_kernel")],
            ("trainer sees", f"{hw.device}, bf16 {hw.bf16}, flash_attn {hw.flash_attn}, "
                             f"liger {hw.liger}, {hw.memory_bytes / 2**30:.0f} GiB free")]


def peak_flops() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(0)
    return next((f for key, f in PEAK_FLOPS if key in name), None)


# --- data -------------------------------------------------------------------------------------

def corpus(rng: random.Random, n_words: int = 6000):
    """(pool, cumulative Zipf weights): pseudo-words a BPE learns like a small language."""
    pool = sorted({"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))
                   for _ in range(n_words)})
    rng.shuffle(pool)
    weights, total = [], 0.0
    for rank in range(len(pool)):
        total += 1 / (rank + 1)
        weights.append(total)
    return pool, weights


def text(rng: random.Random, words, n: int) -> str:
    pool, cum = words
    out = rng.choices(pool, cum_weights=cum, k=max(1, n))
    for i in range(11, len(out), 12):
        out[i] += "."
    return " ".join(out)


def make_tokenizer(rng: random.Random, words, vocab: int, max_length: int):
    from tiny_model import _train_tokenizer  # byte-level BPE, ChatML with {% generation %}

    return _train_tokenizer([text(rng, words, 200) for _ in range(1500)], vocab, max_length)


def make_rows(rng: random.Random, words, tokenizer, n: int, max_length: int) -> list[dict]:
    """Conversations of 100-2000 tokens (mean about 600) at max_length 2048, scaled with it."""
    scale = max_length / 2048
    sample = text(rng, words, 2000)
    per_word = len(tokenizer.backend_tokenizer.encode(sample).ids) / 2000
    rows = []
    for _ in range(n):
        target = min(2000, max(100, rng.lognormvariate(math.log(510), 0.6))) * scale
        budget = max(6, target - 15) / per_word  # 15 tokens of template
        system = max(3, int(budget * rng.uniform(0.03, 0.1)))
        user = max(3, int((budget - system) * rng.uniform(0.2, 0.7)))
        rows.append({"messages": [
            {"role": "system", "content": text(rng, words, system)},
            {"role": "user", "content": text(rng, words, user)},
            {"role": "assistant", "content": text(rng, words, int(budget) - system - user)}]})
    return rows


# --- model ------------------------------------------------------------------------------------

def build_model(folder: Path, shape: dict, tokenizer, device: str) -> int:
    """Save a randomly initialised Qwen2 and the tokenizer into `folder`; return N parameters."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(**shape, pad_token_id=tokenizer.pad_token_id,
                      bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM(cfg)
    model.to(torch.bfloat16 if device == "cuda" else torch.float32).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    n = model.num_parameters()
    del model
    return n


# --- timing -----------------------------------------------------------------------------------

def step_timer(warmup: int, cuda: bool):
    import torch
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        """Clock at each optimizer step's end (after a device sync) and TRL's running count of
        non-padding tokens from each step's log."""

        def __init__(self):
            self.times, self.tokens = {}, {}

        def on_train_begin(self, args, state, control, **kw):
            if cuda:
                torch.cuda.reset_peak_memory_stats()

        def on_step_end(self, args, state, control, **kw):
            if cuda:
                torch.cuda.synchronize()
            self.times[state.global_step] = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "num_tokens" in logs:
                self.tokens[state.global_step] = logs["num_tokens"]

        def result(self, steps: int) -> dict:
            a, b = warmup, warmup + steps
            seconds = self.times[b] - self.times[a]
            tokens = self.tokens[b] - self.tokens[a]
            return {"s_step": seconds / steps, "tokens_step": tokens / steps,
                    "tok_s": tokens / seconds,
                    "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None}

    return StepTimer()


def run_row(model, args, tokenizer, dataset, peft_config, warmup: int, steps: int) -> dict:
    import torch
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import SFTTrainer

    timer = step_timer(warmup, torch.cuda.is_available())
    t = time.perf_counter()
    trainer = SFTTrainer(model=model, args=args, processing_class=tokenizer,
                         train_dataset=dataset, peft_config=peft_config, callbacks=[timer])
    setup = time.perf_counter() - t
    for cb in (PrinterCallback, ProgressCallback):  # quiet: one line a row is printed instead
        trainer.remove_callback(cb)
    try:
        trainer.train()
        return {**timer.result(steps), "setup_s": setup}
    finally:
        del trainer
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


# --- the rows ---------------------------------------------------------------------------------

def plain(folder: Path, out: Path, c: TrainConfig, cuda: bool, total: int):
    """Only what is needed; the batch holds as many sequences per optimizer step as the
    studio's batch x accumulation."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig

    model = AutoModelForCausalLM.from_pretrained(
        folder, dtype=torch.bfloat16 if cuda else torch.float32)
    args = SFTConfig(output_dir=str(out), max_length=c.max_length,
                     per_device_train_batch_size=c.batch_size * c.grad_accum, bf16=cuda,
                     report_to=[], max_steps=total, logging_steps=1)
    lora = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
    return model, args, lora


def studio(out: Path, c: TrainConfig, hw: Hardware, **changes):
    from trainer.train import load_model, lora_config, sft_args

    args = sft_args(c, out, hw, has_validation=False)
    if changes:
        args = dataclasses.replace(args, **changes)
    return load_model(c, hw), args, lora_config(c)


def describe(args, c: TrainConfig | None) -> str:
    attn = c.attn_implementation if c else "sdpa"
    parts = [f"batch {args.per_device_train_batch_size} x {args.gradient_accumulation_steps}",
             "packing bfd + padding-free" if args.packing else "pad to longest",
             attn, "checkpointing" if args.activation_checkpointing else "no checkpointing",
             "bf16" if args.bf16 else "fp32"]
    if args.use_liger_kernel:
        parts.append("liger")
    if args.torch_compile:
        parts.append("torch_compile")
    return ", ".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="2-layer model on CPU: plumbing only")
    ap.add_argument("--steps", type=int, help="timed optimizer steps (default 20; tiny 3)")
    ap.add_argument("--warmup", type=int, help="untimed steps first (default 5; tiny 1)")
    ap.add_argument("--out", default=str(report.DOC), help="the benchmarks document")
    ap.add_argument("--no-write", action="store_true", help="print the table only")
    ap.add_argument("--env", action="store_true", help="print the environment and exit")
    a = ap.parse_args()
    env = environment()
    if a.env:
        print("\n".join(f"{k}: {v}" for k, v in env))
        return
    import torch

    cuda = torch.cuda.is_available()
    if not cuda and not a.tiny:
        print("train_speed: no CUDA GPU here. This benchmark needs one; run it with --tiny for "
              "a CPU plumbing check of the script (not a benchmark).", file=sys.stderr)
        sys.exit(2)
    steps, warmup = a.steps or (3 if a.tiny else 20), a.warmup or (1 if a.tiny else 5)
    total, shape = warmup + steps, TINY if a.tiny else QWEN_05B
    max_length = 256 if a.tiny else 2048
    hw = Hardware.probe()
    rng = random.Random(0)
    words = corpus(rng)
    tokenizer = make_tokenizer(rng, words, 1024 if a.tiny else 8192, max_length)
    tmp = tempfile.TemporaryDirectory()
    root = Path(tmp.name)
    folder = root / "model"
    n_params = build_model(folder, shape, tokenizer, "cuda" if cuda else "cpu")
    model_shape = ModelShape(n_params, shape["hidden_size"], shape["num_hidden_layers"],
                             shape["vocab_size"], shape["max_position_embeddings"])

    config = TrainConfig(base_model=str(folder), output_dir=str(root / "studio"), lora_r=16,
                         max_length=max_length, max_steps=total, logging_steps=1,
                         eval_steps=10**9, save_steps=10**9, evaluate=False)
    # Size the data for the biggest step the studio could choose (packed sequences).
    first, _ = resolve(config, DataStats(1000, 0, (600 * max_length // 2048,)), hw, model_shape)
    per_step = first.batch_size * first.grad_accum * max_length
    n_rows = max(64, math.ceil(1.2 * total * per_step / (600 * max_length / 2048)))
    rows = make_rows(rng, words, tokenizer, n_rows, max_length)
    lengths = D.token_lengths(tokenizer, rows, None)
    c, notes = resolve(config, DataStats(len(rows), 0, tuple(lengths)), hw, model_shape)

    from datasets import Dataset

    dataset = Dataset.from_list(rows)
    rows_to_run = [("plain TRL defaults", None, lambda: plain(folder, root / "plain", c, cuda,
                                                               total)),
                   ("studio settings", c, lambda: studio(root / "studio", c, hw)),
                   ("studio + torch_compile", c,
                    lambda: studio(root / "compile", c, hw, torch_compile=True))]
    if not c.packing:
        packed = c.replace(packing=True)
        rows_to_run.append(("studio + packing on sdpa (no flash_attn)", packed,
                            lambda: studio(root / "packed", packed, hw)))
    results = []
    for name, cfg, make in rows_to_run:
        print(f"--- {name}", flush=True)
        what = ""
        try:
            model, args, lora = make()
            what = describe(args, cfg)
            results.append((name, what, run_row(model, args, tokenizer, dataset, lora,
                                                 warmup, steps)))
        except Exception as e:  # a failed option is a result too
            msg = " ".join(str(e).split())[:160]
            results.append((name, what, {"error": f"{type(e).__name__}: {msg}"}))
        model = args = lora = None
        gc.collect()
        print(f"    {results[-1][2]}", flush=True)

    ordered = sorted(lengths)
    s_eff = sum(x * x for x in lengths) / sum(lengths)
    flops_token = 6 * n_params + 12 * shape["num_hidden_layers"] * shape["hidden_size"] * s_eff
    peak = peak_flops()
    base = results[0][2].get("tok_s")
    table_rows = []
    for name, what, r in results:
        if "error" in r:
            table_rows.append([name, what, f"failed: {r['error']}", "", "", "", "", ""])
            continue
        table_rows.append([
            name, what, f"{r['tokens_step']:,.0f}", f"{r['s_step']:.3f}", f"{r['tok_s']:,.0f}",
            f"{r['tok_s'] / base:.2f}x" if base else "",
            f"{r['peak_gib']:.1f}" if r["peak_gib"] is not None else "n/a (CPU)",
            f"{100 * flops_token * r['tok_s'] / peak:.1f}%" if peak else "n/a"])
    title = "LoRA SFT throughput: plain TRL against SFT Studio's settings"
    head = (f"Qwen2.5-0.5B shape ({n_params / 1e6:.0f}M parameters, random weights)"
            if not a.tiny else
            f"**Plumbing check, not a benchmark**: `--tiny`, a {shape['num_hidden_layers']}-"
            f"layer {n_params / 1e6:.1f}M-parameter Qwen2 on CPU")
    body = (f"{head}; LoRA r=16, alpha=32, all linear layers; max_length {max_length}; "
            f"{len(rows):,} synthetic system/user/assistant rows of {ordered[0]}-{ordered[-1]} "
            f"tokens (mean {sum(lengths) / len(lengths):.0f}, median "
            f"{ordered[len(ordered) // 2]}); {steps} optimizer steps timed after {warmup} "
            "warm-up steps.\n\n"
            + report.table(["", "settings", "tokens/step", "s/step", "tokens/s", "vs plain",
                            "peak GPU GiB", "MFU"], table_rows)
            + "\n\nTokens are the non-padding tokens each step trains on (TRL's `num_tokens`: "
              "the attention-mask sum, or the packed length), prompt included. MFU = (6 N + "
              f"12 L d s) x tokens/s / peak, with N = {n_params:,} parameters, L layers, d "
              f"hidden, s = {s_eff:.0f} (token-weighted mean example length), peak = "
              + (f"{peak / 1e12:.0f} TFLOP/s dense bf16" if peak else "unknown here")
              + "; with the base frozen, LoRA skips the weight gradients, so about 4 N of the "
                "6 N is done and the MFU reads high by up to 1.5x. The plain batch holds the "
                "studio's batch x accumulation in one step, so both have the same sequence "
                "slots per optimizer step. Studio settings come from `trainer.defaults.resolve`"
                " on this machine: "
              + "; ".join(f"{k}: {notes[k]}" for k in ("batch_size", "attn_implementation",
                                                       "packing", "liger_kernel",
                                                       "gradient_checkpointing") if k in notes)
              + ".\n\nEnvironment: " + "; ".join(f"{k} {v}" for k, v in env) + ".")
    print(body)
    tmp.cleanup()
    if any("error" in r for _, _, r in results[:2]):
        sys.exit("train_speed: a main row failed; the document was not written")
    if not a.no_write:
        report.DOC = Path(a.out).resolve()
        report.write_section("train_speed", title + (" (plumbing check)" if a.tiny else ""),
                             body)


if __name__ == "__main__":
    main()
