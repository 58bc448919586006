"""Generation subcommands: `generate`, `teacher-check`, `jobs`, `cancel` (arguments only)."""

from __future__ import annotations

import argparse
import sys

from studio.display import shorten
from studio.errors import BadInput, TeacherFailed
from studio.records import HeldJobList, Job, JobCancelRequested, JobFailures, JobList, TeacherCheck
from studio.teacher_args import add_endpoint_args


def add_parsers(cmd) -> None:
    sp = cmd("generate", "make examples with a teacher LLM (any OpenAI-compatible endpoint)",
             task=True)
    sp.add_argument("--mode", choices=["outputs", "inputs", "both"], default="outputs",
                    help="outputs: write outputs for input-only rows; inputs: new examples from "
                    "seeds; both: the first, then new ones up to --n (default outputs)")
    sp.add_argument("--n", type=int, help="how many examples (outputs mode: at most; default all)")
    sp.add_argument("--resume", type=int, metavar="JOB", help="go on with a stopped job")
    add_endpoint_args(sp)
    sp.add_argument("--concurrency", type=int, help="requests in flight at most (default 16): "
                    "the ceiling of the adaptive limit")
    sp.add_argument("--adaptive", action=argparse.BooleanOptionalAction, default=None,
                    help="find the concurrency each endpoint can take (default on); "
                    "--no-adaptive keeps --concurrency in flight")
    sp.add_argument("--max-attempts", type=int, help="tries per request (default 6)")
    sp.add_argument("--refresh", action="store_true", help="ask every question again instead "
                    "of reusing stored answers (they are replaced)")
    sp.add_argument("--budget-tokens", type=int, help="stop cleanly before this many tokens")
    sp.add_argument("--budget-usd", type=float, help="stop cleanly before this many dollars")
    sp.add_argument("--price-in", type=float, help="USD per million prompt tokens, for the cost")
    sp.add_argument("--price-out", type=float, help="USD per million answer tokens")
    sp.add_argument("--seed-ids", help="comma-separated ids of the seed examples (default: up "
                    "to 50 complete examples of the task, approved first)")
    sp.add_argument("--seed", type=int, help="sampling seed; the same seed asks the same "
                    "questions again, so their stored answers are reused (default: the job id)")
    sp.add_argument("--recipe", help="a TOML or YAML recipe file (default: the task's built-in)")
    sp.add_argument("--import-file", metavar="NAME", help="outputs mode: only the input-only rows "
                    "imported from this file (its name, as `list` shows it; default: every "
                    "input-only row of the task)")

    sp = cmd("teacher-check", "test a teacher endpoint as the app's Test connection does: "
             "does it answer, which model answers, which structured output it takes")
    add_endpoint_args(sp)

    sp = cmd("jobs", "list generation jobs (newest first)")
    sp.add_argument("--failures", type=int, metavar="JOB", help="show why a job's items failed")
    sp = cmd("cancel", "stop a running job (it can be resumed)")
    sp.add_argument("job", type=int)


def _generate(s, a) -> tuple[Job, str]:
    import signal
    import threading

    stop = threading.Event()
    teacher_args = dict(model=a.model, base_urls=a.base_urls, concurrency=a.concurrency,
                        adaptive=a.adaptive,
                        timeout=a.timeout, max_attempts=a.max_attempts, structured=a.structured,
                        price_in=a.price_in, price_out=a.price_out)
    if a.resume is not None:
        if a.n is not None or a.seed_ids or a.recipe or a.seed is not None or a.import_file:
            raise BadInput("--resume goes on with the job's own plan; drop --n, --seed-ids, "
                           "--seed, --recipe and --import-file")
        job = s.check_resumable(a.resume)
        teacher = s.teacher_config(job, **teacher_args)
    else:
        teacher = s.teacher_config(**teacher_args)
        seed_ids = _ids(a.seed_ids) if a.seed_ids else None
        job = s.start_job(teacher, task=a.task, mode=a.mode, n=a.n, seed_ids=seed_ids,
                          seed=a.seed, recipe=a.recipe, budget_tokens=a.budget_tokens,
                          budget_usd=a.budget_usd, import_file=a.import_file)
    print(f"job {job['id']}: {job['mode']} for {job['task']}, {job['requested']} examples, "
          f"model {teacher.model} at {', '.join(teacher.base_urls)} "
          f"(Ctrl-C cancels; sft-studio generate --resume {job['id']} goes on)", file=sys.stderr)
    bar = _progress_bar(job)
    old = {sig: signal.signal(sig, lambda *_: stop.set())
           for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        job = s.run_job(job["id"], teacher, stop=stop, on_progress=bar.update_from,
                        budget_tokens=a.budget_tokens if a.resume else None,
                        budget_usd=a.budget_usd if a.resume else None, refresh=a.refresh)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        bar.close()
    out, text = _job_out(job), _job_line(job) + _job_hint(job)
    if job["status"] == "failed" or (job["status"] == "completed" and job["requested"]
                                     and not job["done"]):
        raise TeacherFailed(text, data=out)
    return out, text


def _teacher_check(s, a) -> tuple[TeacherCheck, str]:
    teacher = s.teacher_config(model=a.model, base_urls=a.base_urls, timeout=a.timeout,
                               structured=a.structured)
    results = s.check_teacher(teacher)
    data = {"model": teacher.model, "endpoints": results}
    text = "\n".join(check_line(r) for r in results)
    if not all(r["ok"] for r in results):
        raise TeacherFailed(text, data=data)
    return data, text


def check_line(r: dict) -> str:
    """One endpoint's result of Test connection, as words."""
    if not r["ok"] and r.get("latency_ms") is None:
        return f"FAILED {r['base_url']}: {r['error']}"
    head = (f"ok {r['base_url']}: answered in {r['latency_ms']:.0f} ms as model "
            f"{r['model']}" if r["ok"] else f"FAILED {r['base_url']}: {r['error']}")
    if r.get("structured"):
        head += f"; structured output: {r['structured']}"
    if r.get("refused"):
        head += f" (refused: {'; '.join(r['refused'])})"
    return head


def _progress_bar(job):
    from tqdm import tqdm

    # Failed items are tried again on a resume, so the bar starts from the done ones (starting
    # from done + failed and then counting down made tqdm show a negative rate).
    bar = tqdm(total=job["requested"], initial=job["done"], unit="ex",
               file=sys.stderr, mininterval=0.5, dynamic_ncols=True, desc=f"job {job['id']}")

    def update_from(p):
        bar.n = p.done + p.failed
        bar.set_postfix_str(f"{p.tokens_in + p.tokens_out:,} tok, ${p.cost_usd:.4f}, "
                            f"{p.failed} failed" + (f", {p.note}" if p.note else ""),
                            refresh=False)
        bar.refresh()

    bar.update_from = update_from
    return bar


JOB_KEYS = ("id", "task", "mode", "status", "model", "base_urls", "requested", "done", "failed",
            "remaining", "tokens_in", "tokens_out", "cost_usd", "error", "requests", "cached",
            "items_per_s", "created_at", "finished_at")


def _job_out(job: dict) -> dict:
    return {k: job.get(k) for k in JOB_KEYS}


def _job_line(j: dict) -> str:
    return (f"job {j['id']} {j['status']}: {j['done']} done, {j['failed']} failed, "
            f"{j['remaining']} remaining · {j['tokens_in'] + j['tokens_out']:,} tokens, "
            f"${j['cost_usd']:.4f}" + (f" · {j['error']}" if j.get("error") else ""))


def _job_hint(j: dict) -> str:
    hints = []
    if j["failed"]:
        hints.append(f"why items failed: sft-studio jobs --failures {j['id']}")
    if j["status"] != "completed" or j["failed"]:
        hints.append(f"go on: sft-studio generate --resume {j['id']}")
    return "".join(f"\n  {h}" for h in hints)


def _jobs(s, a) -> tuple[JobList | HeldJobList | JobFailures, str]:
    if a.failures is not None:
        rows = s.job_failures(a.failures)
        return {"job": a.failures, "failures": rows}, "\n".join(
            f"item {r['idx']}: {r['error']}" + (f"\n    raw: {shorten(r['raw'], 100)}"
                                                 if r["raw"] else "") for r in rows) or "none"
    jobs = [_job_out(j) for j in s.jobs()]
    return {"jobs": jobs}, "\n".join(_job_line(j) for j in jobs) or "no jobs yet"


def _cancel(s, a) -> tuple[Job | JobCancelRequested, str]:
    job = s.cancel_job(a.job)
    return _job_out(job), f"job {a.job} cancelled (sft-studio generate --resume {a.job} goes on)"


def _ids(text: str) -> list[int]:
    try:
        return [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise BadInput(f"--seed-ids wants comma-separated numbers, not {text!r}") from None


COMMANDS = {"generate": _generate, "teacher-check": _teacher_check, "jobs": _jobs,
            "cancel": _cancel}
