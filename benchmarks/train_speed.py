"""LoRA SFT throughput on a Qwen2.5-0.5B-shaped model: plain TRL defaults against the settings
SFT Studio's trainer chooses, side by side in one run, on the same synthetic chat data.

Rows (`--rows` picks some; all by default):
  plain          TRL defaults: SFTConfig with only output_dir, max_length, the batch, bf16,
                 report_to and max_steps (pad to the longest, no packing, TRL's default
                 activation checkpointing: on); the model loaded in bf16.
  studio         `trainer.defaults.resolve` on this machine's `Hardware.probe()`, then
                 `trainer.train.sft_args`, `load_model` and `lora_config`: packing (bfd,
                 padding-free) with flash attention, liger when installed, no checkpointing
                 under 1B parameters, batch from free memory.
  compile        studio + torch_compile (skipped under --tiny unless asked for).
  pack-sdpa-b1   without flash_attn only: studio + packing on sdpa, one packed sequence a
                 micro-batch (the same sequences per step through accumulation).
  pack-sdpa      without flash_attn only: studio + packing on sdpa at the studio's batch (TRL
                 flattens the batch into one sequence: attention over all of it, masked).
The last three are options the trainer does not choose; a failure is reported in the table.
Every row: LoRA r=16, alpha=32 on all linear layers, the same rows, the same number of timed
optimizer steps after warm-up. The model has random weights (no download); the tokenizer is a
byte-level BPE trained here (tests/tiny_model.py), ids well under the model's vocabulary.

Measured per row, over the timed steps only: non-padding tokens a second (TRL's `num_tokens`:
the attention-mask sum, or the packed length), seconds per optimizer step, peak GPU memory
(`torch.cuda.max_memory_allocated`), and MFU = (6 N + 12 L d s) x tokens/s / peak dense bf16
FLOP/s (N parameters, L layers, d hidden, s the token-weighted mean example length).

On a GPU box that has torch, transformers, peft and accelerate but not trl and datasets: from
the repository root, with the wheels of trl, datasets and of the dependencies of theirs the box
lacks (pyarrow, dill, multiprocess, xxhash, pandas, fsspec, ...) in WHEELS,

    pip install --no-index --find-links WHEELS trl==1.16.0 datasets==5.2.0
    python benchmarks/train_speed.py --env     # versions, flash_attn/liger, what resolve sees
    python benchmarks/train_speed.py           # a few minutes on an H100; writes the doc

--steps N (timed, default 20) and --warmup N (default 5) shorten it; --no-write prints only;
--out FILE writes elsewhere. --tiny runs a 2-layer model on CPU at max_length 256, a plumbing
check of this script, not a benchmark. Without CUDA and without --tiny it says so and exits 2.
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


def make_tokenizer(rng: random.Random, words, vocab: int, max_positions: int):
    sys.path.insert(0, str(ROOT / "tests"))
    from trainer.tiny import _train_tokenizer  # byte-level BPE, ChatML with {% generation %}

    return _train_tokenizer([text(rng, words, 200) for _ in range(1500)], vocab, max_positions)


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
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
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
    trainer.train()
    return {**timer.result(steps), "setup_s": setup}


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


def setup(a, cuda: bool, root: Path):
    """Tokenizer, model folder, rows and the studio's resolved config for this machine."""
    shape, max_length = (TINY, 256) if a.tiny else (QWEN_05B, 2048)
    hw = Hardware.probe()
    rng = random.Random(0)
    words = corpus(rng)
    tokenizer = make_tokenizer(rng, words, 1024 if a.tiny else 8192,
                               shape["max_position_embeddings"])
    folder = root / "model"
    n_params = build_model(folder, shape, tokenizer, "cuda" if cuda else "cpu")
    model_shape = ModelShape(n_params, shape["hidden_size"], shape["num_hidden_layers"],
                             shape["vocab_size"], shape["max_position_embeddings"])
    total = a.warmup + a.steps
    config = TrainConfig(base_model=str(folder), output_dir=str(root / "studio"), lora_r=16,
                         max_length=max_length, max_steps=total, logging_steps=1,
                         eval_steps=10**9, save_steps=10**9, evaluate=False)
    # Enough rows for the biggest step the studio could choose: full packed sequences.
    first, _ = resolve(config, DataStats(1000, 0, (600 * max_length // 2048,)), hw, model_shape)
    per_step = first.batch_size * first.grad_accum * max_length
    n_rows = max(64, math.ceil(1.2 * total * per_step / (600 * max_length / 2048)))
    rows = make_rows(rng, words, tokenizer, n_rows, max_length)
    lengths = D.token_lengths(tokenizer, rows, None)
    c, notes = resolve(config, DataStats(len(rows), 0, tuple(lengths)), hw, model_shape)
    return dict(shape=shape, hw=hw, tokenizer=tokenizer, folder=folder, n_params=n_params,
                rows=rows, lengths=lengths, config=c, notes=notes)


def plan(s: dict, cuda: bool, root: Path, total: int) -> dict:
    """key -> (label, the studio config or None, a function giving (model, args, lora))."""
    c, hw = s["config"], s["hw"]
    out = {"plain": ("plain TRL defaults", None,
                     lambda: plain(s["folder"], root / "plain", c, cuda, total)),
           "studio": ("studio settings", c, lambda: studio(root / "studio", c, hw)),
           "compile": ("studio + torch_compile", c,
                       lambda: studio(root / "compile", c, hw, torch_compile=True))}
    if not c.packing:  # what the trainer leaves off without flash attention
        one = c.replace(packing=True, batch_size=1, grad_accum=c.batch_size * c.grad_accum)
        many = c.replace(packing=True)
        out["pack-sdpa-b1"] = ("studio + packing on sdpa, one sequence a micro-batch", one,
                               lambda: studio(root / "one", one, hw))
        out["pack-sdpa"] = ("studio + packing on sdpa, the studio's batch", many,
                            lambda: studio(root / "many", many, hw))
    return out


def render(a, s: dict, results: list, env: list) -> str:
    shape, n_params, lengths, notes = s["shape"], s["n_params"], s["lengths"], s["notes"]
    ordered = sorted(lengths)
    s_eff = sum(x * x for x in lengths) / sum(lengths)
    flops_token = 6 * n_params + 12 * shape["num_hidden_layers"] * shape["hidden_size"] * s_eff
    peak = peak_flops()
    base = next((r.get("tok_s") for key, _, _, r in results if key == "plain"), None)
    table_rows = []
    for _, name, what, r in results:
        if "error" in r:
            error = r["error"] if r["error"].startswith("skipped") else f"failed: {r['error']}"
            table_rows.append([name, what, error, "", "", "", "", ""])
            continue
        table_rows.append([
            name, what, f"{r['tokens_step']:,.0f}", f"{r['s_step']:.3f}", f"{r['tok_s']:,.0f}",
            f"{r['tok_s'] / base:.2f}x" if base else "",
            f"{r['peak_gib']:.1f}" if r["peak_gib"] is not None else "n/a (CPU)",
            f"{100 * flops_token * r['tok_s'] / peak:.1f}%" if peak else "n/a"])
    head = (f"Qwen2.5-0.5B shape ({n_params / 1e6:.0f}M parameters, random weights)"
            if not a.tiny else
            f"**Plumbing check, not a benchmark**: `--tiny`, a {shape['num_hidden_layers']}-"
            f"layer {n_params / 1e6:.1f}M-parameter Qwen2 on CPU, one thread")
    why = "; ".join(f"{k}: {notes[k]}" for k in ("batch_size", "attn_implementation", "packing",
                                                 "liger_kernel", "gradient_checkpointing")
                    if k in notes)
    return (
        f"{head}; LoRA r=16, alpha=32, all linear layers; max_length "
        f"{s['config'].max_length}; {len(lengths):,} synthetic system/user/assistant rows of "
        f"{ordered[0]}-{ordered[-1]} tokens (mean {sum(lengths) / len(lengths):.0f}, median "
        f"{ordered[len(ordered) // 2]}); {a.steps} optimizer steps timed after {a.warmup} "
        "warm-up steps.\n\n"
        + report.table(["", "settings", "tokens/step", "s/step", "tokens/s", "vs plain",
                        "peak GPU GiB", "MFU"], table_rows)
        + "\n\nTokens are the non-padding tokens each step trains on (TRL's `num_tokens`: the "
          "attention-mask sum, or the packed length), prompt included. MFU = (6 N + 12 L d s) x "
          f"tokens/s / peak, with N = {n_params:,} parameters, L layers, d hidden, s = "
          f"{s_eff:.0f} (token-weighted mean example length), peak = "
        + (f"{peak / 1e12:.0f} TFLOP/s dense bf16" if peak else "unknown here")
        + "; with the base frozen, LoRA skips the weight gradients, so about 4 N of the 6 N is "
          "done and the MFU reads high by up to 1.5x. The plain batch holds the studio's batch x "
          "accumulation in one step: the same sequence slots per optimizer step. The studio's "
          f"settings come from `trainer.defaults.resolve` on this machine: {why}."
        + "\n\nEnvironment: " + "; ".join(f"{k} {v}" for k, v in env) + ".")


def main():
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--tiny", action="store_true", help="2-layer model on CPU: plumbing only")
    ap.add_argument("--steps", type=int, help="timed optimizer steps (default 20; tiny 3)")
    ap.add_argument("--warmup", type=int, help="untimed steps first (default 5; tiny 1)")
    ap.add_argument("--out", default=str(report.DOC), help="the benchmarks document")
    ap.add_argument("--no-write", action="store_true", help="print the table only")
    ap.add_argument("--env", action="store_true", help="print the environment and exit")
    ap.add_argument("--rows", help="comma list of rows to run (default all): plain, studio, "
                    "compile, pack-sdpa-b1, pack-sdpa (the last two only without flash_attn)")
    a = ap.parse_args()
    env = environment()
    if a.env:
        print("\n".join(f"{k}: {v}" for k, v in env))
        return
    import datasets
    import torch
    import transformers

    cuda = torch.cuda.is_available()
    if not cuda and not a.tiny:
        print("train_speed: no CUDA GPU here. This benchmark needs one; run it with --tiny for "
              "a CPU plumbing check of the script (not a benchmark).", file=sys.stderr)
        sys.exit(2)
    if a.tiny:  # a shared small CPU: more threads than free cores makes every op crawl
        torch.set_num_threads(1)
    a.steps = a.steps if a.steps is not None else 3 if a.tiny else 20
    a.warmup = a.warmup if a.warmup is not None else 1 if a.tiny else 5
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    tmp = tempfile.TemporaryDirectory()
    root = Path(tmp.name)
    s = setup(a, cuda, root)
    dataset = datasets.Dataset.from_list(s["rows"])
    rows = plan(s, cuda, root, a.warmup + a.steps)
    results = []
    for key in (a.rows.split(",") if a.rows else list(rows)):
        if key not in rows:
            print(f"--- {key}: not a row here (choose from {', '.join(rows)})")
            continue
        name, cfg, make = rows[key]
        if a.tiny and key == "compile" and not a.rows:
            results.append((key, name, "", {"error": "skipped in --tiny: a cold inductor "
                                            "compile takes minutes on a small CPU (--rows "
                                            "compile runs it)"}))
            continue
        print(f"--- {name}", flush=True)
        what = ""
        try:
            model, args, lora = make()
            what = describe(args, cfg)
            r = run_row(model, args, s["tokenizer"], dataset, lora, a.warmup, a.steps)
        except Exception as e:  # a failed option is a result too
            msg = " ".join(str(e).split()).replace("|", "/")[:160]
            r = {"error": f"{type(e).__name__}: {msg}"}
        results.append((key, name, what, r))
        model = args = lora = None
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
        print(f"    {r}", flush=True)
    tmp.cleanup()
    body = render(a, s, results, env)
    print(body)
    if any("error" in r for key, _, _, r in results if key in ("plain", "studio")):
        sys.exit("train_speed: a main row failed; the document was not written")
    if not a.no_write:
        report.DOC = Path(a.out).resolve()
        report.write_section("train_speed", "LoRA SFT throughput: plain TRL against SFT "
                             "Studio's settings" + (" (plumbing check)" if a.tiny else ""), body)


if __name__ == "__main__":
    main()
