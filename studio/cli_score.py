"""Scoring subcommands: `score`, `auto`, `agreement` (arguments only)."""

from __future__ import annotations

from pathlib import Path

from studio.cli_curate import _bar
from studio.errors import BadInput
from studio.records import Agreement, AutoResult, AutoUndone, ScoreResult
from studio.teacher_args import STRUCTURED_CHOICES, STRUCTURED_HELP


def add_parsers(cmd) -> None:
    sp = cmd("score", "score the task's rows: heuristics, faithfulness, novelty, quality "
             "(--judge adds the LLM judge's 1-5 rating)", task=True)
    sp.add_argument("--judge", action="store_true", help="ask the teacher to rate each complete "
                    "row against the task's rubric (cached: a repeated question costs nothing)")
    sp.add_argument("--rubric", metavar="FILE", help="a text file with the task's rubric "
                    "(kept for the task; default: the built-in rubric)")
    sp.add_argument("--model", help="judge model (default $OPENAI_MODEL)")
    sp.add_argument("--base-url", dest="base_urls", action="append", metavar="URL",
                    help="judge endpoint (default $OPENAI_BASE_URL or OpenAI); repeatable")
    sp.add_argument("--concurrency", type=int, help="requests in flight at most (default 16)")
    sp.add_argument("--timeout", type=float, help="seconds per request (default 60)")
    sp.add_argument("--structured", choices=STRUCTURED_CHOICES, help=STRUCTURED_HELP)
    sp.add_argument("--refresh", action="store_true", help="ask the judge again instead of "
                    "reusing stored answers (they are replaced)")
    sp.add_argument("--embed-model", help="embedding model (default: the store's)")

    sp = cmd("auto", "approve pending rows whose quality is at or above X and reject those "
             "below Y, as one batch (--undo reverts the last one)", task=True)
    sp.add_argument("--approve-above", type=float, metavar="X")
    sp.add_argument("--reject-below", type=float, metavar="Y")
    sp.add_argument("--dry-run", action="store_true", help="count, change nothing")
    sp.add_argument("--undo", action="store_true", help="revert the task's last auto batch")

    sp = cmd("agreement", "how the judge's ratings agree with people's approve/reject "
             "decisions: Cohen's kappa and the confusion table", task=True)
    sp.add_argument("--cut", type=int, default=4,
                    help="lowest rating that counts as approve (default 4)")


def _score(s, a) -> tuple[ScoreResult, str]:
    teacher = None
    if a.judge:
        teacher = s.teacher_config(model=a.model, base_urls=a.base_urls,
                                   concurrency=a.concurrency, timeout=a.timeout,
                                   structured=a.structured)
    rubric = None
    if a.rubric:
        try:
            rubric = Path(a.rubric).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise BadInput(f"cannot read the rubric {a.rubric}: {e}") from None
    with _bar("scoring", "row") as progress:
        r = s.score(task=a.task, model=a.embed_model, judge=a.judge, teacher=teacher,
                    rubric=rubric, on_progress=progress, refresh=a.refresh)
    means = ", ".join(f"{k} {v:.3f}" for k, v in r["means"].items())
    flags = ", ".join(f"{k} {v}" for k, v in sorted(r["flagged"].items())) or "none"
    lines = [f"{r['task']}: scored {r['scored']} complete rows of {r['rows']} in "
             f"{r['seconds']:.1f}s; means: {means}", f"flagged: {flags}"]
    j = r["judge"]
    if j:
        formats = ", ".join(sorted(set(j.get("structured", {}).values()))) or "none"
        lines.append(f"judge {j['model']}: {j['judged']} rated, {j['failed']} failed, "
                     f"{j['cached']} from the cache, {j['requests']} requests; structured "
                     f"output: {formats}")
        lines += [f"  dropped {url}: {why}" for url, why in j.get("dropped", {}).items()]
        lines += [f"  #{f['example_id']}: {f['detail']}" for f in j["failures"]]
    return r, "\n".join(lines)


def _auto(s, a) -> tuple[AutoResult | AutoUndone, str]:
    if a.undo:
        r = s.undo_auto(task=a.task)
        return r, f"reverted auto batch {r['batch_id']}: {len(r['example_ids'])} rows pending again"
    r = s.auto(task=a.task, approve_above=a.approve_above, reject_below=a.reject_below,
               dry_run=a.dry_run)
    verb = "would approve" if a.dry_run else "approved"
    verb2 = "would reject" if a.dry_run else "rejected"
    text = (f"{r['task']}: {verb} {r['approve']}, {verb2} {r['reject']}, "
            f"{r['left_for_review']} left for review; {r['unscored_pending']} pending rows have "
            "no quality score (run score)")
    if r["batch_id"] is not None:
        text += f"\nbatch {r['batch_id']}: sft-studio auto --undo reverts it"
    return r, text


def _agreement(s, a) -> tuple[Agreement, str]:
    r = s.agreement(task=a.task, cut=a.cut)
    j = r["judge"]
    kappa = "n/a" if j["kappa"] is None else f"{j['kappa']:.3f}"
    lines = [f"{r['task']}: {r['decided']} rows decided by people, {j['n']} of them rated by the "
             f"judge", f"kappa at rating >= {j['cut']}: {kappa} ({j['verdict']}), "
             f"agreement {'n/a' if j['agreement'] is None else format(j['agreement'], '.0%')}"
             if j["enough"] else j["verdict"],
             "rating  approved  rejected"]
    lines += [f"  {k}     {v['approved']:>8}  {v['rejected']:>8}"
              for k, v in j["confusion"].items()]
    q = r["quality"]
    if q["n"]:
        qk = "n/a" if q["kappa"] is None else f"{q['kappa']:.3f}"
        lines.append(f"quality >= {q['approve_above']} vs people: kappa {qk} ({q['verdict']})")
    return r, "\n".join(lines)


COMMANDS = {"score": _score, "auto": _auto, "agreement": _agreement}
