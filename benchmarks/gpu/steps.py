"""The GPU benchmark's steps and their runner (benchmarks/gpu/run.sh starts it; see there).

    python benchmarks/gpu/steps.py run OUT_DIR      every step, in order, within the budget
    python benchmarks/gpu/steps.py STEP WORK_DIR    one step (the runner starts each this way)

Steps, each in a process of its own under a timeout, so one failure or hang still records the
others (a step that needs an earlier one's output is skipped when that is missing):
  train_speed  benchmarks/train_speed.py on its Qwen2.5-0.5B shape (random weights): plain TRL
               against the studio's settings (rows plain, studio and, without flash_attn, the
               two packing-on-sdpa rows)
  train        a studio LoRA run of a Qwen2.5-0.5B-shaped model (random weights) through
               `python -m trainer` on a synthetic copy task, then its evaluation
  export       that run's merge and GGUF f16 and q8_0 exports (trainer.export.model), and the
               first answer of the served model (llama.cpp on the q8_0 GGUF when llama_cpp is
               importable, and transformers on the adapter)
  curve        the learning curve of the same model and task at 5 points (nested subsets, one
               seed), `python -m trainer CONFIG.toml --curve`
  compile      train_speed's torch_compile row, only when the budget has time left for it
The runner prints the plan (each step's budget), gives each step min(its budget, the time left
before the deadline), skips a step when less than its minimum is left, and writes OUT_DIR/
results.json after every step. SFT_GPU_SMOKE=1: the same steps with a tiny model on CPU (a
plumbing check of this script, not a benchmark).
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SMOKE = os.environ.get("SFT_GPU_SMOKE", "") not in ("", "0")
PY = sys.executable

# seconds: (budget, minimum to start it). The deadline is LIMIT after run.sh started
# (SFT_GPU_T0: the wheels' install counts); a step gets min(its budget, the time left less
# STOP_S). On the GPU the four main budgets add up to 420 s, leaving 40 s for the install and
# the environment probe; compile runs only on what is left over (8 minutes in all).
if SMOKE:
    LIMIT, SHAPE = 330, "tiny-qwen2"
    # compile: a cold inductor compile of the tiny model takes about 45 s on 2 cores
    BUDGETS = {"train_speed": (110, 40), "train": (60, 30), "export": (60, 20),
               "curve": (90, 30), "compile": (90, 20)}
    TRAIN = dict(n_train=96, n_val=16, n_test=16, max_steps=10)
    CURVE = dict(n_train=60, epochs=1)
    SPEED_ARGS = ["--tiny", "--steps", "2", "--warmup", "1", "--rows",
                  "plain,studio,pack-sdpa-b1,pack-sdpa"]
else:
    LIMIT, SHAPE = 460, "qwen2.5-0.5b"
    BUDGETS = {"train_speed": (140, 60), "train": (90, 45), "export": (70, 30),
               "curve": (120, 50), "compile": (120, 90)}
    TRAIN = dict(n_train=400, n_val=32, n_test=32, max_steps=60)
    CURVE = dict(n_train=400, epochs=2)
    SPEED_ARGS = ["--steps", "12", "--warmup", "3", "--rows",
                  "plain,studio,pack-sdpa-b1,pack-sdpa"]
STEPS = list(BUDGETS)
STOP_S = 15  # ending a step cut short takes up to this long (SIGTERM, then SIGKILL)
if SMOKE:  # a small shared CPU: more threads than free cores makes every op crawl
    os.environ.setdefault("OMP_NUM_THREADS", "1")
FRACTIONS = [0.2, 0.4, 0.6, 0.8, 1.0]


def version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict:
    import torch

    env = {"python": platform.python_version(), "cpu_cores": os.cpu_count(),
           "cpu": platform.processor() or platform.machine(), "smoke": SMOKE}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                env["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        env.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1),
                   cuda=torch.version.cuda)
    else:
        env["gpu"] = None
    env["packages"] = {n: version(n) for n in (
        "torch", "transformers", "trl", "peft", "accelerate", "datasets", "pyarrow", "fsspec",
        "huggingface-hub", "gguf", "llama_cpp_python", "flash_attn", "liger_kernel")}
    return env


# -- the steps (each runs in its own process: python steps.py STEP WORK) -----------------------


def step_env(work: Path) -> dict:
    return environment()


def step_train_speed(work: Path) -> dict:
    return _train_speed(work, SPEED_ARGS, "train_speed")


def step_compile(work: Path) -> dict:
    return _train_speed(work, [*SPEED_ARGS[:SPEED_ARGS.index("--rows")], "--rows", "compile"],
                        "compile")


def _train_speed(work: Path, args: list[str], name: str) -> dict:
    """benchmarks/train_speed.py writing its section into a file of its own; returns the
    section's body and the rows it printed (kept when it is cut short)."""
    doc = work / f"{name}.md"
    doc.unlink(missing_ok=True)
    cmd = [PY, str(ROOT / "benchmarks" / "train_speed.py"), *args, "--out", str(doc)]
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=ROOT)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:  # echoed as it comes, so a timeout still leaves the rows done
        print(line, end="", flush=True)
        lines.append(line)
        (work / f"{name}.out").write_text("".join(lines))
    code = proc.wait()
    out = {"exit": code, "rows": _speed_rows("".join(lines))}
    if doc.exists():
        text = doc.read_text()
        m = re.search(r"<!-- train_speed:start -->\n## [^\n]*\n\n_[^\n]*_\n\n(.*?)\n"
                      r"<!-- train_speed:end -->", text, re.S)
        out["body"] = m.group(1).strip() if m else None
    if code != 0:
        raise RuntimeError(f"train_speed.py exited with {code}: " + "".join(lines[-5:])[-600:])
    return out


def _speed_rows(text: str) -> list[dict]:
    """The `--- name` / `    {result}` pairs train_speed.py prints per row."""
    import ast

    rows, name = [], None
    for line in text.splitlines():
        if line.startswith("--- "):
            name = line[4:].strip()
        elif name and line.startswith("    {"):
            try:
                rows.append({"row": name, **ast.literal_eval(line.strip())})
            except (ValueError, SyntaxError):
                pass
            name = None
    return rows


def _base(work: Path) -> tuple[Path, int]:
    """The 0.5B-shaped base (tiny in smoke mode) and its parameter count, built once."""
    import synth
    import torch

    folder = work / "base"
    info = folder / "params.json"
    if not info.exists():
        cuda = torch.cuda.is_available()
        t = time.perf_counter()
        n = synth.build_model(folder, SHAPE, synth.make_tokenizer(),
                              dtype="bfloat16" if cuda else "float32",
                              device="cuda" if cuda else "cpu")
        info.write_text(json.dumps({"params": n, "shape": SHAPE,
                                    "build_s": round(time.perf_counter() - t, 2)}))
    return folder, json.loads(info.read_text())["params"]


def _trainer(config: Path, *extra: str) -> float:
    """`python -m trainer CONFIG` (output to this step's log); its wall seconds."""
    t = time.perf_counter()
    cmd = [PY, "-m", "trainer", str(config), *extra]
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)
    return round(time.perf_counter() - t, 2)


def _resolved(run: Path) -> dict:
    path = run / "resolved.toml"
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text())
    keep = ("batch_size", "grad_accum", "max_length", "packing", "attn_implementation",
            "precision", "gradient_checkpointing", "learning_rate", "epochs", "max_steps",
            "lora_r")
    return {k: data.get(k) for k in keep}


def _events(run: Path) -> list[dict]:
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def step_train(work: Path) -> dict:
    import synth

    t = time.perf_counter()
    base, n = _base(work)
    build_s = round(time.perf_counter() - t, 2)
    run = work / "run"
    split = {k: TRAIN[k] for k in ("n_train", "n_val", "n_test")}
    config = synth.write_run(run, base, **split, max_steps=TRAIN["max_steps"],
                             learning_rate=1e-3, lora_r=16)
    wall = _trainer(config)
    summary = json.loads((run / "summary.json").read_text())
    evaluation = json.loads((run / "eval.json").read_text()) if (run / "eval.json").exists() \
        else {}
    logs = [e for e in _events(run) if e.get("event") == "log"]
    speeds = [e["tokens_per_s"] for e in logs if e.get("tokens_per_s")]
    return {"shape": SHAPE, "params": n, "build_s": build_s, **split, "wall_s": wall,
            "runtime_s": summary.get("runtime_s"), "steps": summary.get("step"),
            "train_loss": summary.get("train_loss"), "eval_loss": summary.get("eval_loss"),
            "tokens_per_s": speeds[-1] if speeds else None,
            "first_loss": next((e["loss"] for e in logs if e.get("loss") is not None), None),
            "eval": {k: evaluation.get(k) for k in ("metric", "base", "tuned", "delta", "n")},
            "resolved": _resolved(run)}


def step_export(work: Path) -> dict:
    import importlib.util

    import synth

    from trainer.export.model import export_model
    from trainer.serve_engines import Served, llama_cpp_launcher

    run = work / "run"
    if not (run / "adapter" / "adapter_config.json").is_file():
        raise FileNotFoundError("no trained adapter from the train step")
    out, exports, q8 = work / "exports", [], None
    for to, quant in (("merged", None), ("gguf", "f16"), ("gguf", "q8_0")):
        r = export_model(run, out / f"{to}-{quant or 'hf'}", to=to, quant=quant or "f16")
        size = synth.folder_bytes(r["gguf"]) if r["gguf"] else r["bytes"]
        exports.append({"to": to, "quant": quant, "seconds": r["seconds"], "bytes": size,
                        "timings": r["timings"]})
        print(f"    {exports[-1]}", flush=True)
        if quant == "q8_0":
            q8 = Path(r["gguf"])
    serving = []
    engines = [("transformers", run / "adapter")]
    if q8 is not None and importlib.util.find_spec("llama_cpp") and llama_cpp_launcher():
        engines.insert(0, ("llama.cpp", q8))
    else:
        serving.append({"engine": "llama.cpp", "error": "skipped: llama_cpp (llama-cpp-python "
                        "with its server extra) is not importable here"})
    for engine, target in engines:
        try:
            with Served(target, engine=engine) as served:
                first, text, tokens = synth.first_answer(served.url, served.model)
                second, _, _ = synth.first_answer(served.url, served.model)
                serving.append({"engine": engine, "ready_s": round(served.startup_s, 3),
                                "first_answer_s": round(first, 3),
                                "second_answer_s": round(second, 3), "tokens": tokens,
                                "answer": text[:80]})
        except Exception as e:
            serving.append({"engine": engine, "error": f"{type(e).__name__}: {str(e)[:300]}"})
        print(f"    {serving[-1]}", flush=True)
    return {"exports": exports, "serving": serving}


def _curve_settings() -> dict:
    """5 points, one seed: `curve_points` where the trainer has it (sizes spaced geometrically
    from 8 rows to the whole split), else the older `curve_fractions` (nested shares)."""
    from dataclasses import fields

    from trainer.config import TrainConfig

    names = {f.name for f in fields(TrainConfig)}
    if "curve_points" in names:
        return {"curve_points": len(FRACTIONS),
                **({"curve_seeds": 1} if "curve_seeds" in names else {})}
    return {"curve_fractions": FRACTIONS}


def step_curve(work: Path) -> dict:
    import synth

    t = time.perf_counter()
    base, n = _base(work)
    build_s = round(time.perf_counter() - t, 2)
    run = work / "curve-run"
    settings = _curve_settings()
    config = synth.write_run(run, base, n_train=CURVE["n_train"], n_val=TRAIN["n_val"],
                             n_test=TRAIN["n_test"], epochs=CURVE["epochs"],
                             learning_rate=1e-3, lora_r=16, **settings)
    wall = _trainer(config, "--curve")
    curve = json.loads((run / "curve.json").read_text())
    # each point's wall time: from its first event to the next point's first (or the end)
    events = _events(run)
    starts: dict[str, float] = {}
    for e in events:
        if e.get("part") and e["part"] not in starts:
            starts[e["part"]] = e["time"]
    end = events[-1]["time"] if events else None
    order = sorted(starts, key=starts.get)
    wall_of = {p: round((starts[order[i + 1]] if i + 1 < len(order) else end) - starts[p], 2)
               for i, p in enumerate(order) if end is not None}
    points = [{**point, "part": part, "wall_s": wall_of.get(part)}
              for point, part in zip(curve["points"], order)]  # both in training order
    return {"shape": SHAPE, "params": n, "build_s": build_s, "wall_s": wall,
            "command": "python -m trainer CONFIG.toml --curve", "settings": settings,
            "metric": curve.get("metric"), "base": curve.get("base"), "n": curve.get("n"),
            "answer": curve.get("answer"), "complete": curve.get("complete", True),
            "epochs": CURVE["epochs"], "n_train": CURVE["n_train"], "points": points,
            "resolved": _resolved(run / "curve" / order[-1]) if order else {}}


# -- the runner ----------------------------------------------------------------------------------


def run_all(out: Path) -> int:
    t0 = float(os.environ.get("SFT_GPU_T0") or time.time())
    deadline = t0 + LIMIT
    work = Path(os.environ.get("SFT_GPU_WORK") or "/tmp/sft-gpu-bench")
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    results = {"started": datetime.fromtimestamp(t0, UTC).isoformat(timespec="seconds"),
               "smoke": SMOKE, "limit_s": LIMIT, "shape": SHAPE,
               "plan": {s: {"budget_s": b, "min_s": m} for s, (b, m) in BUDGETS.items()},
               "steps": {}}
    print(f"plan ({'smoke: tiny model, CPU' if SMOKE else SHAPE}): {LIMIT} s in all, "
          f"{time.time() - t0:.0f} s spent before the steps", flush=True)
    for s, (b, m) in BUDGETS.items():
        print(f"  {s:12s} budget {b:4d} s, skipped with under {m} s left", flush=True)
    env = _run_step("env", work, 90)  # in a process of its own: the runner keeps no CUDA context
    results["env"] = env.get("result") or {"error": env.get("error")}
    needs = {"export": "train"}
    for name in STEPS:
        budget, minimum = BUDGETS[name]
        left = deadline - time.time() - STOP_S
        record = {"budget_s": budget}
        if name in needs and results["steps"].get(needs[name], {}).get("status") != "ok":
            record.update(status="skipped", reason=f"the {needs[name]} step did not finish")
        elif budget <= 0:
            record.update(status="skipped", reason="not run in this mode")
        elif left < minimum:
            record.update(status="skipped", reason=f"{left:.0f} s left, under its minimum of "
                          f"{minimum} s")
        else:
            record.update(_run_step(name, work, min(budget, left)))
        results["steps"][name] = record
        results["total_s"] = round(time.time() - t0, 1)
        (out / "results.json").write_text(json.dumps(results, indent=1))
        print(f"=== {name}: {record['status']}"
              + (f" in {record['wall_s']:.0f} s" if "wall_s" in record else "")
              + (f" ({record.get('reason') or record.get('error')})"
                 if record["status"] != "ok" else ""), flush=True)
    print(f"done in {time.time() - t0:.0f} s; results in {out / 'results.json'}", flush=True)
    return 0


def _run_step(name: str, work: Path, timeout: float) -> dict:
    result = work / f"{name}.json"
    result.unlink(missing_ok=True)
    log = work / f"{name}.log"
    print(f"=== {name} (up to {timeout:.0f} s)", flush=True)
    t = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen([PY, str(HERE / "steps.py"), name, str(work)], cwd=ROOT,
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            _end_group(proc)
    record = {"wall_s": round(time.perf_counter() - t, 1), "timeout_s": round(timeout)}
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    if result.exists():
        record.update(json.loads(result.read_text()))
    if code == 0 and "result" in record:
        record["status"] = "ok"
    else:
        record["status"] = "timeout" if code is None else "failed"
        record.setdefault("error", f"timed out after {timeout:.0f} s" if code is None
                          else f"exit {code}")
        record["log_tail"] = tail
        if name in ("train_speed", "compile") and "result" not in record:
            partial = work / f"{name}.out"  # the rows it finished before it was cut short
            if partial.exists():
                record["result"] = {"rows": _speed_rows(partial.read_text()), "partial": True}
    return record


def _end_group(proc: subprocess.Popen) -> None:
    """End the step's whole process group (a trainer or server it started too)."""
    from trainer.serve_engines import end_group

    end_group(proc, grace=10.0)


def run_one(name: str, work: Path) -> int:
    # the runner's SIGTERM at the timeout unwinds the step, so a server it started is stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    fn = globals()[f"step_{name}"]
    try:
        out = {"result": fn(work)}
        code = 0
    except Exception as e:
        import traceback

        traceback.print_exc()
        out = {"error": f"{type(e).__name__}: {str(e)[:600]}"}
        code = 1
    (work / f"{name}.json").write_text(json.dumps(out, indent=1, default=str))
    return code


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "run":
        return run_all(Path(argv[1]))
    if len(argv) == 2 and argv[0] in (*STEPS, "env"):
        return run_one(argv[0], Path(argv[1]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
