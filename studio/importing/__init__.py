"""Import: read a file, check every row, and hand clean records to the store, all or nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from studio.errors import BadInput
from studio.importing.readers import FORMATS, detect_format, read_records
from studio.importing.shapes import SHAPES, convert, detect_shape, parse_map
from studio.tasks import Task

__all__ = ["FORMATS", "INPUT_STYLES", "SHAPES", "ImportPlan", "content_hash", "describe_import",
           "parse_map", "plan_import"]


def content_hash(task: str, input: str, output: str | None) -> str:
    h = hashlib.sha256()
    for part in (task, input, output if output is not None else "\x00"):
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


INPUT_STYLES = ("auto", "messy", "clean")
# Columns each shape reads; any other column of the file is named as unused.
USED = {"messages": {"messages"}, "sharegpt": {"conversations"},
        "alpaca": {"instruction", "input", "output"}, "prompt-completion": {"prompt", "completion"},
        "input-output": {"input", "output"}, "text": {"text"}}
LABEL_COLUMN = "label"  # with `text`: a classification file (the shape of most HF sets)


@dataclass
class ImportPlan:
    """Every row of a file, checked and ready to insert; nothing is written yet."""

    file: str
    format: str
    shape: str
    task: str
    rows: list[dict] = field(default_factory=list)
    duplicates_in_file: int = 0
    unused_columns: list[str] = field(default_factory=list)
    class_names: dict[str, list[str]] = field(default_factory=dict)


def plan_import(path: str | Path, task: Task, *, fmt: str = "auto", mapping: dict | None = None,
                name: str | None = None, labels: list[str] | None = None,
                input_style: str = "auto") -> ImportPlan:
    """Read and check every row. `name`: the file as messages should call it (the app's upload
    is a temporary copy). `labels`: class names for integer labels, where the file has none.
    `input_style`: messy or clean inputs; auto is messy for input-only rows (real inputs as
    users write them) and clean for complete rows."""
    if input_style not in INPUT_STYLES:
        raise BadInput(f"input style must be one of {', '.join(INPUT_STYLES)}, got "
                       f"{input_style!r}")
    path = Path(path)
    name = name or str(path)
    fmt = detect_format(path, fmt)
    records, class_names = read_records(path, fmt, name)
    if not records:
        raise BadInput(f"{name}: no rows to import")
    first = records[0][1]
    shape = detect_shape(records[0][0], first, mapping)
    if shape == "text" and task.labels and LABEL_COLUMN in first:
        mapping = {"input": "text", "output": LABEL_COLUMN}  # text + label: a class per row
        shape = "mapped"
    plan = ImportPlan(file=name, format=fmt, shape=shape, task=task.name,
                      class_names=class_names)
    out_col = mapping.get("output") if mapping else {
        "input-output": "output", "alpaca": "output", "prompt-completion": "completion"}.get(shape)
    names = labels or (class_names.get(out_col) if out_col else None)
    used = set(mapping.values()) if mapping else USED[shape]
    columns: dict[str, None] = {}
    seen: set[str] = set()
    for where, record in records:
        if isinstance(record, dict):
            columns.update(dict.fromkeys(map(str, record)))
            index = _class_index(record.get(out_col), task) if out_col else None
            if index is not None:
                record = dict(record, **{out_col: _class_name(where, index, out_col, names,
                                                              task)})
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
        meta["import"] = {"file": Path(name).name, "at": where.removeprefix(name).lstrip(": ")}
        style = input_style if input_style != "auto" else ("messy" if out is None else "clean")
        plan.rows.append({"task": task.name, "input": inp, "output": out, "source": "imported",
                          "content_hash": h, "meta": meta, "import_keys": [h],
                          "input_style": style})
    labelled = {r["input"] for r in plan.rows if r["output"] is not None}
    kept = [r for r in plan.rows if r["output"] is not None or r["input"] not in labelled]
    plan.duplicates_in_file += len(plan.rows) - len(kept)  # an input the file also labels
    plan.rows = kept
    plan.unused_columns = [c for c in columns if c not in used]
    return plan


def _class_index(value, task: Task) -> int | None:
    """A label task's label given as a class number (HF `ClassLabel`: 0, 1, 2; in a CSV "1"),
    or None."""
    if not task.labels or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() \
            and value.strip() not in task.labels:
        return int(value.strip())
    return None


def _class_name(where: str, value: int, col: str, names: list[str] | None, task: Task):
    """An integer label as its class name; -1 (a Hugging Face split without labels) is none."""
    if value == -1:
        return None
    if not names:
        hint = f" (the task's labels: {', '.join(task.labels)})" if task.labels else ""
        raise BadInput(f"{where}: '{col}' is the number {value} and the file does not name its "
                       f"classes; give their names in class order (--labels a,b,c, or the "
                       f"app's class names box){hint}")
    if not 0 <= value < len(names):
        raise BadInput(f"{where}: '{col}' is {value}, but there are {len(names)} class names "
                       f"({', '.join(names)})")
    return names[value]


def describe_import(r: dict) -> str:
    """An import's result in words, as the CLI prints it and the app shows it."""
    parts = [f"imported {r['imported']} rows into task {r['task']} from {r['file']}"]
    if r["filled"]:
        parts.append(f"filled the output of {r['filled']} input-only rows")
    if r["already_imported"]:
        parts.append(f"{r['already_imported']} rows were imported before (kept as they are now)")
    other = r["skipped_duplicates"] - r["already_imported"]
    if other:
        parts.append(f"{other} duplicates skipped")
    if r["imported"]:
        parts.append(f"{r['input_only']} input-only; inputs marked {r['messy']} messy, "
                     f"{r['clean']} clean")
    if r["unused_columns"]:
        parts.append("columns not used: " + ", ".join(r["unused_columns"]))
    return "; ".join(parts)
