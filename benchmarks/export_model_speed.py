"""Model export and serving on CPU: how long `trainer.export.model.export_model` takes for each
target and quantization, and how long a served model takes to get ready and give its first
answer, for three models side by side in one run:

  tiny demo     the Train tab's tiny demo model (trainer/tiny.py: a 2-layer Llama, hidden 64)
                trained for a few steps through the trainer on a copy task, as a run
  qwen2-small   a Qwen2.5-shaped model (tied head, GQA, qkv bias) of ~39M parameters
  llama-small   a Llama 3.2-shaped model (untied head, GQA) of ~34M parameters
The last two are built from a config with random weights (benchmarks/gpu/synth.py: nothing is
downloaded) and given an untrained LoRA adapter (r=16 on all linear layers, random B) saved as
a run folder the way the trainer saves one.

Stages per model: merge (to="merged"), GGUF at f32, f16, q8_0 and q4_k_m (q4_k_m only when
llama_cpp is importable; it quantizes an f16 GGUF with llama.cpp), the Ollama folder (q8_0 GGUF
+ Modelfile), then each engine serving it (`trainer.serve_engines.Served`): llama.cpp on the
q8_0 GGUF, transformers on the adapter (base + PEFT adapter). Each export is a fresh call
(every GGUF export merges again); "seconds" is the whole call. For a server: the time to ready
(`startup_s`: process start until GET /v1/models answers) and the time of the first chat
completion (a greedy answer of at most 16 tokens). Writes docs/benchmarks.md.

Usage: .venv/bin/python benchmarks/export_model_speed.py [--no-write]   (about 3 minutes on 2
cores)
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "gpu"))
import report  # noqa: E402
import synth  # noqa: E402

# One thread everywhere (this process, the servers it starts through the environment; llama.cpp's
# server takes half the cores, 1 on 2): on a small shared CPU, more threads than free cores
# makes every op crawl and the timings scatter by 10x.
os.environ["OMP_NUM_THREADS"] = "1"
QUANTS = ["f32", "f16", "q8_0"] + (["q4_k_m"] if importlib.util.find_spec("llama_cpp") else [])
TRAIN_STEPS = 10


def tiny_run(folder: Path) -> tuple[Path, int, float]:
    """The tiny demo model trained TRAIN_STEPS steps through the trainer: (run, params, s)."""
    from trainer.__main__ import run
    from trainer.progress import NullLog, StopFlag
    from trainer.tiny import build_tiny_model

    texts = [m["content"] for r in synth.copy_rows(48, 1) for m in r["messages"]]
    model = build_tiny_model(folder / "model", texts)
    path = synth.write_run(folder, model, max_steps=TRAIN_STEPS, batch_size=8, grad_accum=1,
                           learning_rate=2e-2, eval_steps=TRAIN_STEPS, save_steps=TRAIN_STEPS,
                           logging_steps=1, evaluate=False)
    t = time.perf_counter()
    result = run(path, "train", NullLog(), StopFlag())
    seconds = time.perf_counter() - t
    assert result["status"] == "completed", result
    return folder, params(model), seconds


def params(folder: Path) -> int:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder).num_parameters()


def median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def spread(xs: list[float]) -> str:
    return f"{median(xs):.2f}" + (f" ({min(xs):.2f}-{max(xs):.2f})" if len(xs) > 1 else "")


def exports(run_dir: Path, out: Path, repeat: int) -> tuple[list[list], Path | None]:
    """One row per export (median of `repeat` fresh calls); returns the rows and a q8_0 GGUF
    to serve."""
    from trainer.export.model import export_model

    rows, q8 = [], None
    jobs = [("merged", None)] + [("gguf", q) for q in QUANTS] + [("ollama", "q8_0")]
    for to, quant in jobs:
        stage = {"merged": "merge (to=merged)", "gguf": f"GGUF {quant}",
                 "ollama": "Ollama folder (q8_0 GGUF + Modelfile)"}[to]
        seconds, timings = [], {}
        try:
            for k in range(repeat):
                dest = out / f"{to}-{quant or 'hf'}-{k}"
                r = export_model(run_dir, dest, to=to, quant=quant or "f16")
                seconds.append(r["seconds"])
                for key, v in r["timings"].items():
                    timings.setdefault(key, []).append(v)
                size = synth.folder_bytes(r["gguf"]) if r["gguf"] else r["bytes"]
                if to == "gguf" and quant == "q8_0" and q8 is None:
                    q8 = Path(r["gguf"])
                else:
                    shutil.rmtree(dest, ignore_errors=True)
        except Exception as e:  # a failed stage is a result too
            rows.append([stage, f"failed: {type(e).__name__}: {str(e)[:120]}", "", ""])
            continue
        parts = ", ".join(f"{k} {median(v):.2f}" for k, v in timings.items()
                          if k != "card" and median(v) >= (0.05 if k == "plan" else 0.005))
        rows.append([stage, spread(seconds), f"{size / 1e6:.1f}", parts])
    return rows, q8


def serve(target: Path, engine: str, repeat: int) -> list[list]:
    """Start the engine `repeat` times: time to ready, the first answer and a second one."""
    from trainer.serve_engines import Served

    what = {"llama.cpp": "llama.cpp on the q8_0 GGUF",
            "transformers": "transformers on base + adapter"}[engine]
    ready, first, second, tokens = [], [], [], set()
    try:
        for _ in range(repeat):
            with Served(target, engine=engine) as served:
                ready.append(served.startup_s)
                s, text, n = synth.first_answer(served.url, served.model)
                first.append(s)
                s, _, _ = synth.first_answer(served.url, served.model)
                second.append(s)
                tokens.add(n)
    except Exception as e:
        return [[f"serve: {what}", f"failed: {type(e).__name__}: {str(e)[:120]}", "", ""]]
    print(f"    {engine} answered {text[:60]!r}", flush=True)
    n = "/".join(str(t) for t in sorted(tokens))
    return [[f"serve: {what}: ready", spread(ready), "", "process start to GET /v1/models"],
            [f"serve: {what}: first answer", spread(first), "",
             f"{n} token(s); the second answer: {median(second):.2f}"]]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-write", action="store_true", help="print the table only")
    ap.add_argument("--repeat", type=int, default=3, help="calls per export and server starts "
                    "per engine; the median is shown, with the range (default 3)")
    a = ap.parse_args()
    import torch
    import transformers

    torch.set_num_threads(1)
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    started, load = time.perf_counter(), os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        print("--- tiny demo: train", flush=True)
        run_dir, n, train_s = tiny_run(d / "run-tiny")
        models = [("tiny demo, trained", run_dir, n,
                   [[f"train {TRAIN_STEPS} steps: the trainer's run (load, train, save)",
                     f"{train_s:.2f}", "", "batch 8, fp32"]])]
        tok = synth.make_tokenizer()
        for shape, label in (("qwen2-small", "Qwen2.5-shaped + LoRA"),
                             ("llama-small", "Llama 3.2-shaped + LoRA")):
            n = synth.build_model(d / shape, shape, tok)
            models.append((label, synth.adapter_run(d / f"run-{shape}", d / shape), n, []))
        for label, run_dir, n, first in models:
            print(f"--- {label}", flush=True)
            out = []
            ex, q8 = exports(run_dir, d / "exports" / run_dir.name, a.repeat)
            out += first + ex
            if q8 is not None and importlib.util.find_spec("llama_cpp"):
                out += serve(q8, "llama.cpp", a.repeat)
            out += serve(run_dir / "adapter", "transformers", a.repeat)
            for r in out:
                print("    " + " | ".join(r), flush=True)
            rows += [[label if k == 0 else "", f"{n / 1e6:.1f}M" if k == 0 else "", *r]
                     for k, r in enumerate(out)]
            shutil.rmtree(d / "exports", ignore_errors=True)
    total = time.perf_counter() - started
    body = (
        "`trainer.export.model.export_model` and `trainer.serve_engines.Served` on CPU, three "
        "models side by side in one run: the tiny demo model (trainer/tiny.py: a 2-layer "
        f"Llama, hidden 64) trained for {TRAIN_STEPS} steps through the trainer on a copy "
        "task; a Qwen2.5-shaped model (8 layers, hidden 512, MLP 2560, 8 heads / 2 KV heads, "
        "tied head, qkv bias) and a Llama 3.2-shaped one (10 layers, hidden 512, MLP 1536, 8 "
        "heads / 2 KV heads, untied head), both built from a config with random weights and a "
        "~3.7k-token BPE trained here (no download), each with an untrained LoRA adapter (r=16, "
        "all linear layers, random B) saved as a run folder. fp32 weights throughout; torch on "
        "one thread, here and in the transformers server (llama.cpp's server takes half the "
        f"cores: {max(1, (os.cpu_count() or 2) // 2)}).\n\n"
        f"Seconds: the median of {a.repeat} fresh calls (range in brackets). Each export is one "
        "whole `export_model` call, so every GGUF row includes its own merge; `parts` gives its "
        "per-stage `timings` (medians, seconds). File MB: the GGUF, or the whole export folder "
        "for the merge. q4_k_m converts to f16, then quantizes with llama.cpp (llama-cpp-python). "
        f"The whole script took {total:.0f} s; the machine is shared (load average {load:.1f} "
        "when it started), so single calls scatter: compare medians.\n\n"
        + report.table(["model", "params", "stage", "seconds", "file MB", "parts"], rows)
        + "\n\nServing: llama.cpp is llama-cpp-python's server on the q8_0 GGUF; transformers "
          "is `python -m trainer.serve` loading the base and the PEFT adapter (fp32, CPU). Ready: "
          "from the process start until GET /v1/models answers. First answer: one greedy chat "
          "completion (at most 16 tokens, a copy-task prompt) right after ready; the second "
          "answer repeats it on the warm server (`parts`, with the answer's length in tokens). "
          "The first answer includes each engine's warm-up; llama.cpp's second is the steady "
          "speed. Random weights rarely stop early, so most answers run to 16 tokens.")
    print(body)
    if not a.no_write:
        report.write_section("export_model_speed", "Model export and serving (CPU)", body)


if __name__ == "__main__":
    main()
