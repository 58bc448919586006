"""`sft-studio`: one subcommand per verb, nothing but argument handling over studio.service.

JSON goes to stdout (with --json), progress and messages to stderr. Exit codes: 0 ok, 1 bad input
or usage, 3 the store is held by another process. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from studio import cli_curate, cli_deploy, cli_export, cli_generate, cli_noise, cli_score, cli_train
from studio.display import shorten
from studio.records import (
    BulkResult,
    Deleted,
    Example,
    ExampleDetail,
    ImportResult,
    InitResult,
    Nothing,
    Page,
    Stats,
    TaskList,
    TaskRecord,
    Undone,
)
from studio.vocabulary import SOURCES, STATUSES

EPILOG = """exit codes: 0 ok, 1 bad input or usage, 3 the store is held by another process,
4 the teacher refused or could not be reached, or a job did nothing, 5 the Hugging Face Hub
refused or could not be reached, 6 a training run failed (the message has the trainer's log
tail).
environment: SFT_STUDIO_DB (store file), SFT_STUDIO_TASK (default task),
SFT_STUDIO_REVIEWER (name in the audit log), OPENAI_API_KEY, OPENAI_BASE_URL and
OPENAI_MODEL (the teacher for generate; the key is never stored), SFT_STUDIO_STRUCTURED
(the teacher's structured output: auto, json_schema, json_object or off), SFT_STUDIO_PRICES
(a TOML price table: [models."NAME"] in = X, out = Y, USD per million tokens),
SFT_STUDIO_EMBED_MODEL (the embedding model for embed, dedupe and similar), HF_TOKEN (push;
never stored), HF_ENDPOINT (another Hub than huggingface.co) and SFT_STUDIO_RUNS (where
training runs get their folders; default runs/ beside the store)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 1, as bad input does
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="sft-studio", epilog=EPILOG,
                description="Curate a fine-tuning set from a handful of examples.",
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", help="store file (default ./studio.duckdb or $SFT_STUDIO_DB)")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def cmd(name, help, task=False):
        sp = sub.add_parser(name, help=help, description=help)
        sp.add_argument("--json", action="store_true", help="print JSON to stdout")
        if task:
            sp.add_argument("--task", help="task name (default: $SFT_STUDIO_TASK or tweet-summary)")
        return sp

    sp = cmd("init", "create the store (and its built-in tasks); --sample imports the sample data")
    sp.add_argument("--sample", action="store_true",
                    help="import sample_data/ too (rows imported before are never added again)")

    sp = cmd("import", "import examples from a file, all rows or none", task=True)
    sp.add_argument("path", help="JSONL, JSON array, CSV, Parquet, or a saved HF dataset folder")
    sp.add_argument("--format", default="auto",
                    choices=["auto", "jsonl", "json", "csv", "parquet", "hf"])
    sp.add_argument("--map", dest="mapping", metavar="input=COL,output=COL",
                    help="which columns hold the input and the output")
    sp.add_argument("--labels", metavar="A,B,C",
                    help="class names, in class order, for a label column of numbers (0 is A)")
    sp.add_argument("--input-style", choices=["auto", "messy", "clean"], default="auto",
                    help="what the inputs are: messy (real, as users write them: fitting reads "
                    "them, corrupt leaves them) or clean (corrupt starts from them); auto: "
                    "messy for input-only rows, clean for complete ones")

    sp = cmd("stats", "counts by status, source and task", task=True)

    sp = cmd("list", "list examples, ordered by id", task=True)
    sp.add_argument("--status", choices=STATUSES)
    sp.add_argument("--source", choices=SOURCES)
    sp.add_argument("--text", help="only rows whose input or output contains this text")
    sp.add_argument("--limit", type=int, default=50, help="rows to show (default 50)")
    sp.add_argument("--offset", type=int, default=0)

    sp = cmd("show", "one example with its review history")
    sp.add_argument("id", type=int)

    sp = cmd("review", "approve or reject one example (reset puts it back to pending)")
    sp.add_argument("id", type=int)
    sp.add_argument("action", choices=["approve", "reject", "reset"])

    sp = cmd("bulk", "approve, reject, reset or delete every example matching the filters, as "
             "one undoable batch", task=True)
    sp.add_argument("action", choices=["approve", "reject", "reset", "delete"])
    sp.add_argument("--status", choices=STATUSES)
    sp.add_argument("--source", choices=SOURCES)
    sp.add_argument("--text")
    sp.add_argument("--yes", action="store_true", help="do it (without it: print the count only)")

    sp = cmd("edit", "change an example's input and/or output in place (audited)")
    sp.add_argument("id", type=int)
    sp.add_argument("--input")
    sp.add_argument("--output", help="new output; an empty string makes the row input-only")

    sp = cmd("delete", "delete examples (undo puts them back)")
    sp.add_argument("ids", type=int, nargs="+")

    sp = cmd("undo", "undo the last action: a review, an edit, a delete, a bulk batch or a "
             "corrupt batch (repeat to go further back)")
    sp.add_argument("--batch", type=int, help="undo this batch (its id is in the --json output "
                    "of bulk, delete and corrupt) instead of the newest action")
    cmd("tasks", "list the tasks")

    sp = cmd("add-task", "add a task of your own")
    sp.add_argument("name")
    sp.add_argument("--instruction", required=True, help="the system prompt for the job")
    sp.add_argument("--input-meaning", default="the input text")
    sp.add_argument("--output-meaning", default="the output text")
    sp.add_argument("--labels", help="comma-separated label set, for classification")
    cli_generate.add_parsers(cmd)
    cli_noise.add_parsers(cmd)
    cli_curate.add_parsers(cmd)
    cli_score.add_parsers(cmd)
    cli_export.add_parsers(cmd)
    cli_train.add_parsers(cmd)
    cli_deploy.add_parsers(cmd)

    sp = cmd("ui", "start the Gradio app on this store (127.0.0.1 unless --host, with auth)",
             task=True)
    sp.add_argument("--host", help="address to bind (default 127.0.0.1 or $GRADIO_SERVER_NAME); "
                    "any non-loopback address needs authentication")
    sp.add_argument("--port", type=int, default=7860)
    sp.add_argument("--auth-file", help="file of user:password lines (or set SFT_STUDIO_AUTH)")
    return p


# -- commands: each returns (data for --json, text for people) -----------------------------

def _init(s, a) -> tuple[InitResult, str]:
    results = s.import_samples() if a.sample else []
    data = {"db": str(s.path), "tasks": [t.name for t in s.tasks()], "imported": results}
    text = f"store ready: {s.path}" + "".join(
        f"\n  {r['file']}: {r['imported']} imported"
        + (f", {r['already_imported']} imported before" if r["already_imported"] else "")
        for r in results)
    return data, text


def _import(s, a) -> tuple[ImportResult, str]:
    from studio.importing import describe_import, parse_map

    labels = [x.strip() for x in a.labels.split(",")] if a.labels else None
    r = s.import_file(a.path, task=a.task, fmt=a.format, mapping=parse_map(a.mapping),
                      labels=labels, input_style=a.input_style)
    return r, describe_import(r)


def _stats(s, a) -> tuple[Stats, str]:
    st = s.stats(a.task)
    lines = [f"total {st['total']}  (input-only {st['input_only']}, duplicates {st['duplicates']})"]
    for key in ("by_status", "by_source", "by_task"):
        lines.append(f"{key[3:]:>7}: " + ", ".join(f"{k} {v}" for k, v in st[key].items()))
    return st, "\n".join(lines)


def _list(s, a) -> tuple[Page, str]:
    r = s.list(status=a.status, source=a.source, task=a.task, text=a.text, limit=a.limit,
               offset=a.offset)
    lines = [f"{r['total']} matching" + (f", showing {len(r['rows'])}" if r["rows"] else "")]
    for row in r["rows"]:
        out = "(no output)" if row["output"] is None else shorten(row["output"], 50)
        lines.append(f"#{row['id']:<6} {row['status']:<8} {row['source']:<9} "
                     f"{shorten(row['input'], 60)}  ->  {out}")
    return r, "\n".join(lines)


def _show(s, a) -> tuple[ExampleDetail, str]:
    row = s.get(a.id)
    row["history"] = s.history(a.id)
    row["scores"] = s.explain_scores(a.id)
    text = (f"#{row['id']} {row['task']} {row['status']} ({row['source']})\n"
            f"input:  {row['input']}\noutput: {row['output']}\n"
            + "".join(f"  {c['name']:<12} {_num(c['value']):>7}  "
                      f"{c['detail'] or c['about']}\n" for c in row["scores"])
            + "\n".join(f"  {h['at']} {h['reviewer']} {h['action']}" for h in row["history"]))
    return row, text


def _num(value) -> str:
    return "-" if value is None else f"{value:.3f}".rstrip("0").rstrip(".")


def _review(s, a) -> tuple[Example, str]:
    row = s.review(a.id, a.action)
    return row, f"#{row['id']} is now {row['status']}"


def _bulk(s, a) -> tuple[BulkResult, str]:
    filters = dict(status=a.status, source=a.source, task=a.task, text=a.text)
    if not a.yes:
        n = s.list(limit=0, **filters)["total"]
        return ({"action": a.action, "matched": n, "changed": 0, "dry_run": True},
                f"{n} examples match; add --yes to {a.action} them")
    if a.action == "delete":
        r = s.delete_matching(**filters)
        return ({"action": "delete", "matched": r["matched"], "changed": r["deleted"],
                 "dry_run": False, "batch_id": r.get("batch_id")},
                f"deleted {r['deleted']} examples (one undo puts them all back)")
    r = s.bulk_review(a.action, **filters)
    return r, f"{a.action}: {r['changed']} changed, {r['skipped']} skipped (one undo reverts it)"


def _edit(s, a) -> tuple[Example, str]:
    row = s.edit(a.id, input=a.input, output=a.output)
    return row, f"#{row['id']} edited"


def _delete(s, a) -> tuple[Deleted, str]:
    r = s.delete(a.ids)
    return r, f"deleted {', '.join(f'#{i}' for i in r['deleted'])} (undo puts them back)"


def _undo(s, a) -> tuple[Undone, str]:
    r = s.undo_batch(a.batch) if a.batch is not None else s.undo()
    ids = r["example_ids"]
    shown = ", ".join(f"#{i}" for i in ids[:10]) + (f" and {len(ids) - 10} more"
                                                   if len(ids) > 10 else "")
    return r, f"undid {r['undone']} on {shown}"


def _tasks(s, a) -> tuple[TaskList, str]:
    tasks = [t.to_dict() for t in s.tasks()]
    return {"tasks": tasks}, "\n".join(
        f"{t['name']:<22} {t['kind']:<14} " + (", ".join(t["labels"]) or t["output_meaning"])
        for t in tasks)


def _add_task(s, a) -> tuple[TaskRecord, str]:
    labels = [x.strip() for x in a.labels.split(",") if x.strip()] if a.labels else None
    t = s.add_task(a.name, a.instruction, input_meaning=a.input_meaning,
                   output_meaning=a.output_meaning, labels=labels)
    return t.to_dict(), f"task {t.name} added"


def _held_store(args, err) -> tuple[dict, str] | None:
    """jobs and cancel while another process (a running job, the app) holds the store."""
    from pathlib import Path

    from studio.generation.job_files import live_progress, request_cancel
    from studio.settings import Settings

    db = Settings.from_env(db_path=args.db).db_path
    live = live_progress(Path(db))
    if args.command == "jobs":
        lines = [f"the store is held by process {err.pid}; running jobs, from their progress "
                 "files:"] + [f"job {j['job_id']} running: {j['done']} done, {j['failed']} "
                              f"failed, {j['remaining']} remaining, {j['rate']}/s" for j in live]
        return {"jobs": [dict(j, id=j["job_id"], status="running") for j in live],
                "held_by": err.pid}, "\n".join(lines)
    if not any(j["job_id"] == args.job for j in live):
        return None
    request_cancel(Path(db), args.job)
    return ({"id": args.job, "cancel_requested": True},
            f"asked job {args.job} to stop; it stays resumable")


def _ui(s, a) -> tuple[Nothing, str]:
    from studio.ui import build_app, serve

    demo = build_app(s.settings, s)
    print(f"SFT Studio on {s.path}: open http://{a.host_shown}:{a.port}", file=sys.stderr)
    serve(demo, host=a.host_shown, port=a.port, auth=a.auth)
    return {}, ""


COMMANDS = {"init": _init, "import": _import, "stats": _stats, "list": _list, "show": _show,
            "review": _review, "bulk": _bulk, "edit": _edit, "delete": _delete, "undo": _undo,
            "tasks": _tasks, "add-task": _add_task, "ui": _ui, **cli_generate.COMMANDS,
            **cli_noise.COMMANDS,
            **cli_curate.COMMANDS, **cli_score.COMMANDS, **cli_export.COMMANDS,
            **cli_train.COMMANDS, **cli_deploy.COMMANDS}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or a usage error (already printed)
        return e.code if isinstance(e.code, int) else 1
    if args.version:
        from studio import __version__

        print(__version__)
        return 0
    if not args.command:
        parser.print_help(sys.stderr)
        return 1
    from studio.errors import StoreLocked, StudioError

    try:
        from studio.service import Studio
        from studio.settings import Settings

        settings = Settings.from_env(db_path=args.db, task=getattr(args, "task", None))
        if args.command == "ui":  # refuse an unsafe host before touching the store
            from studio.ui.serve import DEFAULT_HOST, check_host, load_auth

            args.auth = load_auth(auth_file=args.auth_file)
            args.host_shown = args.host or os.environ.get("GRADIO_SERVER_NAME") or DEFAULT_HOST
            check_host(args.host_shown, args.auth)
        if args.command in cli_noise.NO_STORE:
            data, text = COMMANDS[args.command](None, args)
        else:
            with Studio.open(settings=settings) as studio:
                data, text = COMMANDS[args.command](studio, args)
    except StoreLocked as e:
        held = _held_store(args, e) if args.command in ("jobs", "cancel") else None
        if held is None:
            print(f"error: {e}", file=sys.stderr)
            return e.exit_code
        data, text = held
    except StudioError as e:
        if getattr(e, "data", None) is not None and getattr(args, "json", False):
            json.dump(e.data, sys.stdout, ensure_ascii=False, indent=2, default=str)
            sys.stdout.write("\n")
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: one line unless asked for the traceback
        if os.environ.get("SFT_STUDIO_DEBUG"):
            raise
        print(f"error: unexpected {type(e).__name__}: {e} (set SFT_STUDIO_DEBUG=1 for the "
              "traceback)", file=sys.stderr)
        return 1
    if args.command in cli_deploy.PRINTS_ITSELF:
        return 0
    try:
        if args.json:
            json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
            sys.stdout.write("\n")
        else:
            print(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `sft-studio list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0

