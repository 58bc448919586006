"""Training subcommands: `train`, `cancel-run`, `runs`, `eval`, `learning-curve`."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from studio.errors import TrainFailed
from studio.records import CurveResult, Evaluation, ModelPush, Run, RunList
from studio.teacher_args import add_endpoint_args


def _run_options(sp) -> None:
    sp.add_argument("--model", help="base model: a Hub id, a local folder, or tiny-demo (a tiny "
                    "model with random weights built here: no download; the whole path runs "
                    "on any machine) (default Qwen/Qwen2.5-0.5B-Instruct)")
    sp.add_argument("--epochs", type=float, help="passes over the train split (default: from "
                    "the set size)")
    sp.add_argument("--lora-r", type=int, help="LoRA rank (default 16)")
    sp.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    sp.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                    help="any trainer setting, e.g. --set learning_rate=1e-4 --set merge=true "
                    "(see python -m trainer's config.toml for the list)")
    sp.add_argument("--detach", action="store_true", help="start the run and return; follow "
                    "it with `runs`")
    sp.add_argument("--test-from", choices=["real", "any"], help="which rows the test split "
                    "may hold: real (imported, the default: the score says how the model does "
                    "on your own data) or any (teacher-written and corrupted rows too, so the "
                    "evaluation can slice by source and corruption)")


def add_parsers(cmd) -> None:
    sp = cmd("train", "fine-tune a model on the approved rows (LoRA; exports the splits into "
             "a new run folder, trains in a subprocess, then scores base vs tuned)", task=True)
    _run_options(sp)
    sp.add_argument("--resume", type=int, metavar="RUN", help="go on with a cancelled, "
                    "interrupted or failed run from its last checkpoint (--max-steps or "
                    "--epochs change where it ends)")
    sp = cmd("cancel-run", "stop a training run after saving a checkpoint (resumable)")
    sp.add_argument("run", type=int, metavar="RUN")
    sp = cmd("runs", "training runs, newest first", task=True)
    sp.add_argument("--all-tasks", action="store_true")
    sp = cmd("eval", "base vs tuned on the test split for a run: the metric and the worst "
             "outputs side by side")
    sp.add_argument("run", type=int, metavar="RUN")
    sp.add_argument("--again", action="store_true", help="recompute even if already scored")
    sp.add_argument("--rows", type=int, default=5, help="outputs to show, worst first "
                    "(default 5)")
    sp.add_argument("--judge", action="store_true", help="also ask an LLM judge which answer "
                    "is better on every row, in both orders (position bias cancelled): the "
                    "tuned model's win rate with its 95%% interval; answers are cached")
    sp.add_argument("--refresh", action="store_true", help="with --judge: ask again instead "
                    "of using cached answers")
    sp.add_argument("--concurrency", type=int, help="with --judge: requests at once")
    add_endpoint_args(sp)
    sp = cmd("push-model", "push a run's LoRA adapter (or merged model, or GGUF export) to a "
             "Hugging Face model repo (token: $HF_TOKEN)")
    sp.add_argument("run", type=int, metavar="RUN")
    sp.add_argument("repo_id", metavar="REPO_ID", help="OWNER/NAME")
    sp.add_argument("--merged", action="store_true", help="push merged/ instead of adapter/")
    sp.add_argument("--gguf", action="store_true", help="push the run's newest GGUF export "
                    "(see export-model) with its Modelfile and a card that lists the formats "
                    "and the commands")
    sp.add_argument("--public", action="store_true", help="make a new repo public "
                    "(default private)")
    sp.add_argument("--dry-run", action="store_true", help="list what would be pushed")
    sp = cmd("learning-curve", "train on nested, seeded subsets of the train split and score "
             "each, fit a saturating power law and say how many examples a target needs: how "
             "much data does the task need?", task=True)
    _run_options(sp)
    sp.add_argument("--points", type=int, help="subset sizes, spaced geometrically up to the "
                    "whole train split (default 5)")
    sp.add_argument("--seeds", type=int, help="seeds per size, each drawing its own subsets "
                    "(default: 3 under 200 train rows, else 1)")
    sp.add_argument("--target", type=float, help="the score to reach (default: the tuned "
                    "score plus 10%% of the distance to the metric's maximum)")


def _settings(pairs: list[str]) -> dict:
    import tomllib

    from studio.errors import BadInput

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise BadInput(f"--set wants KEY=VALUE, not {pair!r}")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value.strip()
    return out


@contextmanager
def _progress(desc: str):
    from tqdm import tqdm

    bar = tqdm(total=0, desc=desc, unit="step", file=sys.stderr, disable=None, mininterval=0.5)

    def update(run):
        bar.total, bar.n = run["max_steps"] or 0, run["step"] or 0
        post = {k: f"{run[k]:.4g}" for k in ("train_loss", "eval_loss") if run[k] is not None}
        if run.get("tokens_per_s"):
            post["tok/s"] = f"{run['tokens_per_s']:.0f}"
        bar.set_postfix(post, refresh=False)
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


def _follow(s, start, desc: str) -> dict:
    """Run `start(on_progress)`; Ctrl-C cancels the run (it stays resumable)."""
    run = None

    def progress(r):
        nonlocal run
        run = r
        bar(r)

    with _progress(desc) as bar:
        try:
            run = start(progress)
        except KeyboardInterrupt:
            if run is None:
                raise
            print(f"\ncancelling run {run['id']} (saving a checkpoint)...", file=sys.stderr)
            run = s.cancel_run(run["id"])
    if run["status"] == "failed":
        raise TrainFailed(f"run {run['id']} failed: {run['error']}")
    return run


def _describe(run: dict) -> str:
    lines = [f"run {run['id']}: {run['status']} ({run['model']})", f"  folder: {run['run_dir']}"]
    if run["step"] is not None:
        loss = ", ".join(f"{k.replace('_', ' ')} {run[k]:.4f}" for k in ("train_loss",
                         "eval_loss") if run[k] is not None)
        lines.append(f"  step {run['step']}/{run['max_steps']}" + (f", {loss}" if loss else ""))
    if run["adapter_path"]:
        lines.append(f"  adapter: {run['adapter_path']}")
    if run["eval"]:
        lines.append("  " + _eval_line(run["eval"]))
    if run["status"] in ("cancelled", "interrupted"):
        lines.append(f"  resume with: sft-studio train --resume {run['id']}")
    return "\n".join(lines)


def _score(x) -> str:
    """A score to 3 places, or - when there was nothing to score."""
    return "-" if x is None else f"{x:.3f}"


def _eval_line(e: dict) -> str:
    f = _score
    return (f"{e['metric']} on {e['n']} held-out rows: base {f(e['base'])}, tuned "
            f"{f(e['tuned'])} ({'+' if (e['delta'] or 0) >= 0 else ''}{f(e['delta'])})")


def _train(s, a) -> tuple[Run, str]:
    from studio.training.service import public

    if a.resume:
        run = _follow(s, lambda p: s.resume_run(a.resume, max_steps=a.max_steps,
                                                epochs=a.epochs, detach=a.detach,
                                                on_progress=p), f"run {a.resume}")
    else:
        run = _follow(s, lambda p: s.train(
            model=a.model, task=a.task, epochs=a.epochs, lora_r=a.lora_r,
            max_steps=a.max_steps, settings=_settings(a.settings), detach=a.detach,
            test_from=a.test_from,
            on_progress=p), "training")
    return public(run), _describe(run)


def _cancel_run(s, a) -> tuple[Run, str]:
    from studio.training.service import public

    run = s.cancel_run(a.run)
    return public(run), _describe(run)


def _runs(s, a) -> tuple[RunList, str]:
    from studio.training.service import public

    runs = s.runs(None if a.all_tasks else s.task(a.task).name)
    lines = []
    for r in runs:
        loss = "" if r["train_loss"] is None else f" loss {r['train_loss']:.4f}"
        ev = f"  {_eval_line(r['eval'])}" if r["eval"] else ""
        lines.append(f"#{r['id']} {r['status']:<11} {r['kind']:<5} step {r['step'] or 0}/"
                     f"{r['max_steps'] or '?'}{loss} {r['model']}{ev}")
    return {"runs": [public(r) for r in runs]}, "\n".join(lines) or "no runs yet"


def _eval(s, a) -> tuple[Evaluation, str]:
    result = s.evaluate_run(a.run, again=a.again)
    if a.judge:
        from studio.cli_curate import _bar

        teacher = s.teacher_config(model=a.model, base_urls=a.base_urls,
                                   concurrency=a.concurrency, timeout=a.timeout,
                                   structured=a.structured)
        with _bar("judging", "row") as progress:
            result = s.judge_run(a.run, teacher, refresh=a.refresh, on_progress=progress)
    lines = [_eval_line(result), "worst first:"]
    for row in result["rows"][:a.rows]:
        lines += [f"  #{row['id']} tuned {row['tuned_score']:.3f} base {row['base_score']:.3f}",
                  f"    input:     {row['input'][:100]}",
                  f"    reference: {row['reference'][:100]}",
                  f"    base:      {row['base'][:100]}", f"    tuned:     {row['tuned'][:100]}"]
    return result, "\n".join(lines)


def _push_model(s, a) -> tuple[ModelPush, str]:
    r = s.push_model(a.run, a.repo_id, merged=a.merged, gguf=a.gguf, private=not a.public,
                     dry_run=a.dry_run)
    what = "private" if r["private"] else "public"
    head = (f"would push {len(r['files'])} files to {what} model {r['repo_id']}"
            if r.get("dry_run") else f"pushed {len(r['files'])} files to {r['url']} ({what})")
    return r, "\n".join([head] + [f"  {f['path']}  {f['bytes']:,} bytes" for f in r["files"]])


def _learning_curve(s, a) -> tuple[CurveResult, str]:
    settings = _settings(a.settings)
    for key, value in (("curve_points", a.points), ("curve_seeds", a.seeds),
                       ("curve_target", a.target)):
        if value is not None:
            settings[key] = value
    run = _follow(s, lambda p: s.learning_curve(
        model=a.model, task=a.task, epochs=a.epochs, lora_r=a.lora_r, max_steps=a.max_steps,
        settings=settings, detach=a.detach, test_from=a.test_from, on_progress=p),
        "learning curve")
    curve = s.run_curve(run["id"])
    if curve is None:
        return {"run": run["id"], "status": run["status"], "curve": None}, _describe(run)
    f = _score
    lines = [f"run {run['id']}: {curve['metric']} on {curve['n']} held-out rows",
             f"  {'base model':>14}: {f(curve['base'])}"]
    lines += [f"  {p['n_train']:>5} examples ({p['fraction']:.0%}"
              + (f", seed {p['seed']}" if p.get("seed") is not None else "")
              + f"): {f(p['value'])}" for p in curve["points"]]
    if curve.get("answer"):
        lines.append(curve["answer"])
    return {"run": run["id"], "status": run["status"], "curve": curve}, "\n".join(lines)


COMMANDS = {"train": _train, "cancel-run": _cancel_run, "runs": _runs, "eval": _eval,
            "push-model": _push_model, "learning-curve": _learning_curve}
