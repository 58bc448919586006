"""Import: read a file, check every row, and hand clean records to the store, all or nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from studio.errors import BadInput
from studio.importing.readers import FORMATS, detect_format, read_records
from studio.importing.shapes import SHAPES, convert, detect_shape, parse_map
from studio.tasks import Task

__all__ = ["FORMATS", "SHAPES", "ImportPlan", "content_hash", "parse_map", "plan_import"]


def content_hash(task: str, input: str, output: str | None) -> str:
    h = hashlib.sha256()
    for part in (task, input, output if output is not None else "\x00"):
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


@dataclass
class ImportPlan:
    """Every row of a file, checked and ready to insert; nothing is written yet."""

    file: str
    format: str
    shape: str
    task: str
    rows: list[dict] = field(default_factory=list)
    duplicates_in_file: int = 0


def plan_import(path: str | Path, task: Task, *, fmt: str = "auto",
                mapping: dict | None = None) -> ImportPlan:
    path = Path(path)
    fmt = detect_format(path, fmt)
    records = read_records(path, fmt)
    if not records:
        raise BadInput(f"{path}: no rows to import")
    shape = detect_shape(records[0][0], records[0][1], mapping)
    plan = ImportPlan(file=str(path), format=fmt, shape=shape, task=task.name)
    seen: set[str] = set()
    for where, record in records:
        inp, out, meta = convert(where, record, shape, mapping)
        try:
            out = task.check_output(out)
        except BadInput as e:
            raise BadInput(f"{where}: {e}") from None
        h = content_hash(task.name, inp, out)
        if h in seen:
            plan.duplicates_in_file += 1
            continue
        seen.add(h)
        meta["import"] = {"file": path.name, "at": where.removeprefix(str(path)).lstrip(": ")}
        plan.rows.append({"task": task.name, "input": inp, "output": out, "source": "imported",
                          "content_hash": h, "meta": meta})
    return plan
