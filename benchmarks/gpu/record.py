"""Turn the GPU benchmark's results (benchmarks/gpu/run.sh's results.json) into the `GPU`
section of docs/benchmarks.md, through benchmarks/report.py like every benchmark.

    .venv/bin/python benchmarks/gpu/record.py RESULTS.json [--out FILE] [--no-write]
    .venv/bin/python benchmarks/gpu/record.py --pending "WHY"   # the figures are still open

The section's stamp names the machine the results came from (not this one) and the time they
are recorded; the run's own start time is in the section's first line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))
import report  # noqa: E402

NAME = "gpu"
STEP_TITLES = {"env": "environment", "train_speed": "(a) plain TRL against the studio",
               "train": "(b) studio LoRA run", "export": "(c) export and serving",
               "curve": "(d) learning curve, 5 points",
               "compile": "(e) train_speed's torch_compile row"}


def _f(x, spec: str = ".2f", none: str = "") -> str:
    return none if x is None else format(x, spec)


def _mb(n) -> str:
    return "" if n is None else f"{n / 1e6:,.1f}"


def machine_of(env: dict) -> str:
    cpu = f"{env.get('cpu', '?')}, {env.get('cpu_cores', '?')} cores, Python {env.get('python')}"
    if env.get("gpu"):
        return f"{env['gpu']} ({env.get('gpu_memory_gib')} GiB, CUDA {env.get('cuda')}); {cpu}"
    return f"no GPU; {cpu}"


def overview(r: dict) -> str:
    rows = []
    for name, s in r["steps"].items():
        note = s.get("reason") or s.get("error") or ""
        lines = [x.strip() for x in (s.get("log_tail") or "").splitlines() if x.strip()]
        if s["status"] in ("failed", "timeout") and lines:
            note += f"; its log ends: {lines[-1][:160]}"
        if s.get("result", {}).get("partial"):
            note += "; the rows it finished are below"
        rows.append([STEP_TITLES.get(name, name), s.get("budget_s", ""),
                     _f(s.get("wall_s"), ".0f"), s["status"], note.replace("|", "/")[:200]])
    return report.table(["step", "budget s", "wall s", "status", "note"], rows)


def speed(step: dict, compile_step: dict | None) -> str:
    res = step.get("result") or {}
    if res.get("body") and not res.get("partial"):
        text = res["body"]
    elif res.get("rows"):
        text = "Cut short; the rows it finished:\n\n" + _speed_table(res["rows"])
    else:
        return f"Not measured: {step.get('reason') or step.get('error')}."
    c = (compile_step or {}).get("result") or {}
    if c.get("rows"):
        text += ("\n\nThen the torch_compile row in a run of its own (the same settings, a "
                 "cold compile; step (e)):\n\n" + _speed_table(c["rows"]))
    elif compile_step and compile_step.get("status") != "skipped":
        text += (f"\n\nThe torch_compile row: {compile_step['status']} "
                 f"({compile_step.get('error', '')}).")
    return text


def _speed_table(rows: list[dict]) -> str:
    out = []
    for r in rows:
        if "error" in r:
            out.append([r["row"], r["error"].replace("|", "/")[:160], "", "", ""])
        else:
            out.append([r["row"], f"{r['tokens_step']:,.0f}", f"{r['s_step']:.3f}",
                        f"{r['tok_s']:,.0f}", _f(r.get("peak_gib"), ".1f", "n/a")])
    return report.table(["", "tokens/step", "s/step", "tokens/s", "peak GPU GiB"], out)


def train(step: dict) -> str:
    t = step.get("result")
    if not t:
        return f"Not measured: {step.get('reason') or step.get('error')}."
    c, e = t.get("resolved", {}), t.get("eval", {})
    settings = (f"batch {c.get('batch_size')} x {c.get('grad_accum')}, max_length "
                f"{c.get('max_length')}, {c.get('precision')}, {c.get('attn_implementation')}, "
                f"{'packing' if c.get('packing') else 'no packing'}, lr {c.get('learning_rate')}")
    row = [f"{t['shape']} ({t['params'] / 1e6:.0f}M, random weights)",
           f"{t['n_train']} / {t['n_val']} / {t['n_test']}", t.get("steps"), settings,
           _f(t.get("build_s"), ".1f"), _f(t.get("wall_s"), ".1f"),
           _f(t.get("runtime_s"), ".1f"), _f(t.get("tokens_per_s"), ",.0f"),
           f"{_f(t.get('first_loss'))} → {_f(t.get('train_loss'))}", _f(t.get("eval_loss")),
           f"{_f(e.get('base'), '.3f')} → {_f(e.get('tuned'), '.3f')} (n {e.get('n')})"]
    return ("`python -m trainer CONFIG.toml` on a synthetic copy task (the answer is the first "
            "three of 5-9 pseudo-words; benchmarks/gpu/synth.py), LoRA r=16 on all linear "
            "layers, the other settings resolved by the trainer; then its evaluation (greedy "
            "answers of base and tuned on the test rows).\n\n"
            + report.table(["model", "train / val / test rows", "steps", "resolved settings",
                            "build s", "process s", "train s", "tokens/s", "loss first → last",
                            "eval loss", f"{e.get('metric') or 'score'} base → tuned"], [row])
            + "\n\nbuild: the random model and tokenizer made and saved; process: the whole "
              "`python -m trainer` (imports, load, train, save, evaluate); train: the trainer's "
              "own runtime; tokens/s: the last logged rate.")


def export(step: dict) -> str:
    x = step.get("result")
    if not x:
        return f"Not measured: {step.get('reason') or step.get('error')}."
    rows = []
    for e in x["exports"]:
        stage = "merge (to=merged)" if e["to"] == "merged" else f"GGUF {e['quant']}"
        parts = ", ".join(f"{k} {v:.2f}" for k, v in e["timings"].items()
                          if k != "card" and (k != "plan" or v >= 0.05))
        rows.append([stage, f"{e['seconds']:.2f}", _mb(e["bytes"]), parts])
    for s in x["serving"]:
        what = {"llama.cpp": "serve: llama.cpp on the q8_0 GGUF",
                "transformers": "serve: transformers on base + adapter"}.get(s["engine"],
                                                                              s["engine"])
        if "error" in s:
            rows.append([what, s["error"].replace("|", "/")[:160], "", ""])
            continue
        rows.append([f"{what}: ready", f"{s['ready_s']:.2f}", "",
                     "process start to GET /v1/models"])
        rows.append([f"{what}: first answer", f"{s['first_answer_s']:.2f}", "",
                     f"{s['tokens']} token(s); the second answer: {s['second_answer_s']:.2f}"])
    return ("`trainer.export.model.export_model` on the run of (b), each export a fresh call "
            "(so each includes its merge); then `trainer.serve_engines.Served` and one greedy "
            "chat completion of at most 16 tokens, then a second.\n\n"
            + report.table(["stage", "seconds", "file MB", "parts (s)"], rows))


def curve(step: dict) -> str:
    c = step.get("result")
    if not c:
        return f"Not measured: {step.get('reason') or step.get('error')}."
    rows = [[f"{p['fraction']:.0%}", p.get("n_train"), p.get("steps"), _f(p.get("wall_s"), ".1f"),
             _f(p.get("train_loss")), _f(p.get("eval_loss")), _f(p.get("value"), ".3f")]
            for p in c["points"]]
    r = c.get("resolved", {})
    settings = ", ".join(f"{k} = {v}" for k, v in (c.get("settings") or {}).items())
    answer = f" The curve's answer: \"{c['answer']}\"" if c.get("answer") else ""
    return (f"`{c['command']}` ({settings} in the config): the same model and task, "
            f"{c['n_train']} train rows, {c['epochs']} epoch(s) a point (batch "
            f"{r.get('batch_size')} x {r.get('grad_accum')}), nested subsets, each point scored "
            f"on the same {c.get('n')} test rows (base {_f(c.get('base'), '.3f')}). "
            f"{_f(c.get('wall_s'), '.0f')} s for the whole curve (one process); a point's wall "
            "time runs from its first logged event to the next point's." + answer + "\n\n"
            + report.table(["share", "train rows", "steps", "wall s", "train loss",
                            "eval loss", c.get("metric") or "score"], rows))


def render(r: dict) -> str:
    env = r.get("env", {})
    pk = env.get("packages", {})
    steps = r["steps"]
    head = ("**Smoke run (SFT_GPU_SMOKE=1): a tiny model on CPU, a plumbing check of the script, "
            "not a benchmark.** " if r.get("smoke") else "")
    return (
        head + f"`bash benchmarks/gpu/run.sh`, started {r['started']}: {r.get('total_s')} s of "
        f"its {r['limit_s']} s budget, on {machine_of(env)}. Model: {r['shape']}, built from a "
        "config with random weights (no download). Packages: "
        + ", ".join(f"{k} {v}" for k, v in pk.items()) + ".\n\n"
        + overview(r)
        + "\n\n### (a) LoRA SFT throughput: plain TRL against the studio's settings\n\n"
        + speed(steps.get("train_speed", {}), steps.get("compile"))
        + "\n\n### (b) A studio LoRA run\n\n" + train(steps.get("train", {}))
        + "\n\n### (c) Export and serving\n\n" + export(steps.get("export", {}))
        + "\n\n### (d) Learning curve\n\n" + curve(steps.get("curve", {})))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", help="results.json from benchmarks/gpu/run.sh")
    ap.add_argument("--pending", help="write the section as still open, saying why")
    ap.add_argument("--out", default=str(report.DOC), help="the benchmarks document")
    ap.add_argument("--no-write", action="store_true", help="print the section only")
    a = ap.parse_args()
    report.DOC = Path(a.out).resolve()
    if a.pending:
        body = (f"The GPU figures are still open: {a.pending}. To fill them in: "
                "`bash benchmarks/gpu/wheels.sh` here (trl, datasets and the rest into .whl/), "
                "then `bash benchmarks/gpu/run.sh OUT_DIR` on a GPU machine (H100/H200; under 8 "
                "minutes), then `.venv/bin/python benchmarks/gpu/record.py "
                "OUT_DIR/results.json` here. It measures plain TRL against the studio's settings "
                "on a Qwen2.5-0.5B-shaped model (benchmarks/train_speed.py), a studio LoRA run "
                "through `python -m trainer`, its merge and GGUF f16 / q8_0 exports and the "
                "served model's first answer, and a 5-point learning curve.")
        title = "GPU: training, export and serving (open)"
    else:
        if not a.results:
            ap.error("give RESULTS.json, or --pending WHY")
        r = json.loads(Path(a.results).read_text())
        body = render(r)
        env = r.get("env", {})
        title = ("GPU benchmark (smoke run: tiny model on CPU)" if r.get("smoke") else
                 f"GPU: training, export and serving on {env.get('gpu') or 'no GPU'}")
        # the stamp names the machine the results came from, not the one recording them
        report.machine = lambda: machine_of(env)
    print(body)
    if not a.no_write:
        report.write_section(NAME, title, body)


if __name__ == "__main__":
    main()
