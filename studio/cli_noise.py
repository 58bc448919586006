"""The corrupter's subcommands: `corrupt`, `fit-noise`, `realism` (argument handling only)."""

from __future__ import annotations

import sys

from studio.records import CorruptResult, FitNoiseResult, RealismReport
from studio.vocabulary import STATUSES

TEXT_FILES = ("JSONL with a 'text' (or 'input') field and, optionally, 'clean' (or 'output'), "
              "or plain text with one example per line")


def add_parsers(cmd) -> None:
    sp = cmd("corrupt", "make messy copies of clean rows' inputs (new pending rows, source "
             "corrupted, same output)", task=True)
    sp.add_argument("--status", choices=STATUSES, help="only rows with this status (default: any "
                    "but rejected)")
    sp.add_argument("--profile", default="tweet", help="tweet, sms, typo-light, ocr, a stored "
                    "profile's name, or a TOML file (default tweet)")
    sp.add_argument("--variants", type=int, default=1, help="messy copies per row (default 1)")
    sp.add_argument("--seed", type=int, default=0, help="variant k uses seed + k (default 0)")
    sp.add_argument("--inputs", choices=["clean", "messy", "any"], default="clean",
                    help="which rows' inputs to start from (default clean: teacher-written or "
                    "imported as clean; the user's real messy inputs only with messy or any)")
    sp.add_argument("--limit", type=int, help="corrupt at most this many rows")
    sp.add_argument("--dry-run", action="store_true", help="count and show, store nothing")

    sp = cmd("fit-noise", "fit a noise profile to real messy texts and store it", task=True)
    src = sp.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", help=TEXT_FILES + "; with 'clean' on every line, the fit sees "
                     "each change directly")
    src.add_argument("--from-status", choices=["any", *STATUSES], metavar="S",
                     help="the task's real messy inputs (imported as messy, labelled since or "
                     "not) with status S, or any")
    sp.add_argument("--name", default="fitted", help="store the profile under this name "
                    "(default fitted)")
    sp.add_argument("--out", help="also write the profile as TOML to this file")

    sp = cmd("realism", "compare a real messy sample with a synthetic one: measures side by side "
             "and a classifier test (AUC 0.5: indistinguishable)")
    sp.add_argument("--real", required=True, help=TEXT_FILES)
    sp.add_argument("--synthetic", required=True, help="the same kind of file")
    sp.add_argument("--seed", type=int, default=0, help="cross-validation seed")


def _corrupt(s, a) -> tuple[CorruptResult, str]:
    bar = None
    if not a.json and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=0, unit="row", desc="corrupting", file=sys.stderr)

    def progress(done, total):
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        r = s.corrupt(task=a.task, profile=a.profile, status=a.status, inputs=a.inputs,
                      variants=a.variants, seed=a.seed, limit=a.limit, dry_run=a.dry_run,
                      on_progress=progress)
    finally:
        if bar is not None:
            bar.close()
    verb = "would create" if a.dry_run else "created"
    lines = [f"{verb} {r['created']} corrupted rows from {r['parents']} clean rows of "
             f"{r['task']} (profile {r['profile']}, seed {r['seed']}, {r['variants']} per row); "
             f"{r['unchanged']} came out unchanged and {r['repeated']} repeated an earlier one"
             + ("" if a.dry_run or not r["created"] else "; `sft-studio undo` removes them")]
    for e in r["examples"]:
        ops = ", ".join(f"{k}×{v}" if v > 1 else k for k, v in e["ops"].items())
        lines.append(f"  from #{e['parent_id']}: {e['input'][:90]}  [{ops}]")
    return r, "\n".join(lines)


def _fit_noise(s, a) -> tuple[FitNoiseResult, str]:
    if a.file:
        from studio.corruption.rows import read_texts

        messy, clean = read_texts(a.file)
        where = a.file
    else:
        status = None if a.from_status == "any" else a.from_status
        messy, clean = s.messy_sample(task=a.task, status=status), None
        where = f"{s.task(a.task).name}'s real messy inputs" + (
            f" with status {status}" if status else "")
    profile = s.fit_noise(messy, clean, name=a.name)
    if a.out:
        from pathlib import Path

        Path(a.out).write_text(profile.to_toml(), encoding="utf-8")
    rates = {k: v for k, v in profile.rates().items() if v}
    width = max(map(len, rates), default=0)
    lines = [f"fitted profile {profile.name!r} on {len(messy)} texts from {where} "
             f"({'with' if clean else 'without'} clean versions); stored"
             + (f" and written to {a.out}" if a.out else "")]
    lines += [f"  {k:<{width}}  {v:.4g}" for k, v in rates.items()]
    learnt = sum(len(t) for t in profile.lexicon.values())
    if learnt:
        lines.append(f"  + {learnt} words of the writer's own spelling")
    return {"name": profile.name, "texts": len(messy), "with_clean": clean is not None,
            "profile": profile.to_dict(), "out": a.out}, "\n".join(lines)


def _realism(s, a) -> tuple[RealismReport, str]:
    from generators.noise import format_report, realism_report
    from studio.corruption.rows import read_texts

    real, real_clean = read_texts(a.real)
    syn, syn_clean = read_texts(a.synthetic)
    report = realism_report(real, syn, real_clean, syn_clean, seed=a.seed)
    return report, format_report(report)


COMMANDS = {"corrupt": _corrupt, "fit-noise": _fit_noise, "realism": _realism}
NO_STORE = {"realism"}
