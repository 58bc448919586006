"""Export subcommands: `export`, `push`, `exports` (arguments only)."""

from __future__ import annotations

import argparse

from studio.cli_curate import _bar
from studio.export import FORMATS, LICENSES, PII_MODES, SCHEMAS, TEST_FROM
from studio.records import ExportList, ExportSummary, PushResult


def add_parsers(cmd) -> None:
    sp = cmd("export", "write the approved rows as a dataset folder: leak-free splits, "
             "personal data masked, a dataset card", task=True)
    sp.add_argument("out_dir", metavar="OUT_DIR", help="folder to write (new, empty or a "
                    "previous export, which is replaced)")
    sp.add_argument("--format", default="hf", choices=FORMATS,
                    help="hf: data/{split}-*.parquet (default); jsonl or csv")
    sp.add_argument("--schema", default="messages", choices=SCHEMAS,
                    help="row shape (default messages: TRL's conversational format)")
    sp.add_argument("--splits", default="0.8,0.1,0.1", metavar="TRAIN,VAL,TEST",
                    help="shares of rows per split (default 0.8,0.1,0.1)")
    sp.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    sp.add_argument("--license", default="apache-2.0", choices=LICENSES,
                    help="the card's license (default apache-2.0)")
    sp.add_argument("--language", default="en", help="language code(s), comma-separated "
                    "(default en)")
    sp.add_argument("--pii", default="mask", choices=PII_MODES, help="personal data (e-mails, "
                    "phones, @handles, URLs with secrets): mask (default), drop the row, keep")
    sp.add_argument("--test-from", default="real", choices=TEST_FROM,
                    help="real: the test split takes imported rows first (default); any")
    sp.add_argument("--stratify", default=None, action=argparse.BooleanOptionalAction,
                    help="split each label on its own (default: on for classification tasks)")
    sp.add_argument("--dry-run", action="store_true", help="plan and check, write nothing")

    sp = cmd("push", "push an export folder to a Hugging Face dataset repo (token: $HF_TOKEN)")
    sp.add_argument("repo_id", metavar="REPO_ID", help="OWNER/NAME")
    sp.add_argument("--from", dest="folder", metavar="OUT_DIR",
                    help="the export folder (default: the newest export)")
    sp.add_argument("--public", action="store_true", help="make a new repo public "
                    "(default private)")
    sp.add_argument("--dry-run", action="store_true", help="list what would be pushed")

    sp = cmd("exports", "the exports made from this store, newest first", task=True)
    sp.add_argument("--all-tasks", action="store_true")


def _export(s, a) -> tuple[ExportSummary, str]:
    from studio.export.pii import describe

    with _bar("checking leakage", "row") as progress:
        r = s.export(a.out_dir, task=a.task, splits=a.splits, seed=a.seed, schema=a.schema,
                     fmt=a.format, pii=a.pii, license=a.license, language=a.language,
                     test_from=a.test_from, stratify=a.stratify, dry_run=a.dry_run,
                     on_progress=progress)
    c, checks = r["counts"], r["checks"]
    splits = ", ".join(f"{k} {v}" for k, v in c["splits"].items())
    left = ", ".join(f"{v} {k.replace('_', '-')}" for k, v in c["left_out"].items() if v)
    leak, pii = checks["leakage"], checks["pii"]
    found = describe(pii["found"])
    verb = "would write" if r["dry_run"] else "wrote"
    lines = [f"{r['task']}: {verb} {sum(c['splits'].values())} rows to {r['out_dir']} "
             f"({splits}) in {c['groups']} groups", f"left out: {left or 'nothing'}",
             f"leakage: {leak['cross_split']} cross-split pairs at cosine >= "
             f"{leak['threshold']:g}",
             f"personal data: {found} ({pii['mode']}: {pii['masked']} rows masked, "
             f"{pii['dropped']} dropped)"]
    if r["moved"]:
        lines.append(f"{len(r['moved'])} rows moved split since the last export: " + ", ".join(
            f"#{m['id']} {m['from']}->{m['to']}" for m in r["moved"][:10]))
    lines.append("files: " + ", ".join(r["files"]))
    if not r["dry_run"] and r["unchanged"]:
        lines.append("unchanged: the files are identical to the previous export here")
    return r, "\n".join(lines)


def _push(s, a) -> tuple[PushResult, str]:
    r = s.push(a.repo_id, folder=a.folder, private=not a.public, dry_run=a.dry_run)
    size = sum(f["bytes"] for f in r["files"])
    what = "private" if r["private"] else "public"
    head = (f"would push {len(r['files'])} files ({size:,} bytes) from {r['folder']} to "
            f"{what} dataset {r['repo_id']}; files under {r['delete_patterns']} that are not "
            "in the folder are deleted" if r["dry_run"] else
            f"pushed {len(r['files'])} files to {r['url']} ({what})")
    lines = [head] + [f"  {f['path']}  {f['bytes']:,} bytes" for f in r["files"]]
    if r["changed_since_export"]:
        lines.append("changed since the export: " + ", ".join(r["changed_since_export"]))
    return r, "\n".join(lines)


def _exports(s, a) -> tuple[ExportList, str]:
    rows = s.exports(None if a.all_tasks else s.task(a.task).name)
    lines = [f"#{e['id']} {e['created_at'][:19]} {e['task']} {e['rows']} rows "
             f"{e['format']}/{e['schema']} -> {e['out_dir']}" for e in rows]
    return {"exports": rows}, "\n".join(lines) or "no exports yet"


COMMANDS = {"export": _export, "push": _push, "exports": _exports}
