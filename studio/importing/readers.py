"""Read a file into (where, record) pairs, where `where` says FILE:LINE (or the row) for messages.

Readers check the container (encoding, JSON syntax, columns present); shapes.py checks the rows.
Messages name the file as the user knows it (`name`: the app passes the name of the file picked,
not the path of its temporary copy). Class names of integer label columns come from the file
where it has them: a saved Hugging Face dataset's `ClassLabel` features, or the Hugging Face
metadata a Parquet file written by `datasets` carries.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from studio.errors import BadInput

FORMATS = ("auto", "jsonl", "json", "csv", "parquet", "hf")
_EXT = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "csv",
        ".parquet": "parquet", ".pq": "parquet"}

Records = list[tuple[str, object]]


def detect_format(path: Path, fmt: str = "auto") -> str:
    if fmt not in FORMATS:
        raise BadInput(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt != "auto":
        return fmt
    if path.is_dir():
        return "hf"
    if path.suffix.lower() in _EXT:
        return _EXT[path.suffix.lower()]
    head = _read_bytes(path, str(path))[:4096].lstrip()
    if head[:1] == b"[":
        return "json"
    if head[:1] == b"{":
        return "jsonl"
    raise BadInput(f"{path}: cannot tell the format from the name or the content; pass --format")


def read_records(path: Path, fmt: str, name: str | None = None) -> tuple[Records, dict]:
    """(records, class names by column) of a file; `name` is how messages call it."""
    name = name or str(path)
    if fmt == "hf":
        return _read_hf(path, name)
    if not path.exists():
        raise BadInput(f"{name}: no such file")
    if path.is_dir():
        raise BadInput(f"{name} is a folder; only a saved Hugging Face dataset can be a folder "
                       "(--format hf)")
    if fmt == "parquet":
        return _read_parquet(path, name)
    text = read_text(path, name)
    if fmt == "csv":
        return _read_csv(name, text, tab=path.suffix.lower() == ".tsv"), {}
    return {"jsonl": _read_jsonl, "json": _read_json}[fmt](name, text), {}


def _read_bytes(path: Path, name: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{name}: no such file") from None
    except OSError as e:
        raise BadInput(f"{name}: cannot read ({e.strerror})") from None


def read_text(path: Path, name: str | None = None) -> str:
    """A text file's contents, refused with FILE[:LINE] when missing, empty, binary or not
    UTF-8."""
    name = name or str(path)
    data = _read_bytes(path, name)
    if not data.strip():
        raise BadInput(f"{name}: the file is empty")
    if b"\x00" in data[:8192]:
        raise BadInput(f"{name}: looks like a binary file (NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise BadInput(f"{name}:{line}: not UTF-8 (byte 0x{data[e.start]:02x}); save the file "
                       "as UTF-8") from None


def _read_jsonl(path: str, text: str) -> Records:
    out: Records = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((f"{path}:{n}", json.loads(line)))
        except json.JSONDecodeError as e:
            raise BadInput(f"{path}:{n}: invalid JSON ({e.msg} at column {e.colno})") from None
    return out


def _read_json(path: str, text: str) -> Records:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        # Many ".json" files on the Hub are really JSON Lines.
        first = text.lstrip()[:1]
        if first == "{" and e.msg == "Extra data":
            return _read_jsonl(path, text)
        raise BadInput(f"{path}:{e.lineno}: invalid JSON ({e.msg} at column {e.colno})") from None
    if isinstance(data, dict):
        lists = [k for k, v in data.items() if isinstance(v, list)]
        if len(lists) == 1:  # {"data": [...]} and the like
            return [(f"{path}: item {i} of '{lists[0]}'", r)
                    for i, r in enumerate(data[lists[0]], 1)]
        raise BadInput(f"{path}: expected a JSON array of objects, found an object")
    if not isinstance(data, list):
        raise BadInput(f"{path}: expected a JSON array of objects, found {type(data).__name__}")
    return list(zip(_item_lines(path, text, len(data)), data))


def _item_lines(path: str, text: str, count: int) -> list[str]:
    """FILE:LINE for each item of a top-level array, by walking the text once."""
    dec = json.JSONDecoder()
    where, i, line, last = [], text.index("[") + 1, 1, 0
    for _ in range(count):
        while text[i] in " \t\r\n,":
            i += 1
        line += text.count("\n", last, i)
        last = i
        where.append(f"{path}:{line}")
        _, i = dec.raw_decode(text, i)
    return where


def _read_csv(path: str, text: str, tab: bool = False) -> Records:
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect="excel-tab" if tab else "excel")
    if not reader.fieldnames or not any(f and f.strip() for f in reader.fieldnames):
        raise BadInput(f"{path}:1: no header row")
    width = len(reader.fieldnames)
    out: Records = []
    try:
        for n, row in enumerate(reader, 1):
            if None in row:
                raise BadInput(f"{path}:{reader.line_num} (row {n}): more cells than the header "
                               f"has ({width})")
            if any(v is None for v in row.values()):  # DictReader fills a short row with None
                have = sum(v is not None for v in row.values())
                raise BadInput(f"{path}:{reader.line_num} (row {n}): {have} cells where the "
                               f"header has {width}; a short row is refused, not read as blank "
                               "cells")
            out.append((f"{path}:{reader.line_num} (row {n})", row))
    except csv.Error as e:
        raise BadInput(f"{path}:{reader.line_num}: malformed CSV ({e})") from None
    if not out:
        raise BadInput(f"{path}: the file has a header but no rows")
    return out


def _read_parquet(path: Path, name: str) -> tuple[Records, dict]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:
        raise BadInput(f"{name}: not a readable Parquet file ({e})") from None
    if table.num_rows == 0:
        raise BadInput(f"{name}: the file has no rows")
    return ([(f"{name}: row {n}", r) for n, r in enumerate(table.to_pylist(), 1)],
            _parquet_class_names(table.schema.metadata or {}))


def _parquet_class_names(metadata: dict) -> dict[str, list[str]]:
    """ClassLabel names from the `huggingface` metadata `datasets` writes into Parquet."""
    try:
        info = json.loads(metadata[b"huggingface"])
        features = info.get("info", {}).get("features", {})
    except (KeyError, ValueError, AttributeError):
        return {}
    return {col: list(f["names"]) for col, f in features.items()
            if isinstance(f, dict) and f.get("_type") == "ClassLabel" and f.get("names")}


def _read_hf(path: Path, name: str) -> tuple[Records, dict]:
    try:
        import datasets
    except ImportError:
        raise BadInput("reading Hugging Face datasets needs the `datasets` package") from None
    if not path.exists():  # never a download: a saved dataset is a folder on this machine
        raise BadInput(f"{name}: no such folder; a Hugging Face dataset is imported from the "
                       "folder `save_to_disk` wrote (download it with `datasets` first)")
    try:
        try:
            ds = datasets.load_from_disk(str(path))
        except FileNotFoundError:  # a dataset folder (data/*.parquet, README.md), as exported
            ds = datasets.load_dataset(str(path))
    except FileNotFoundError as e:
        raise BadInput(f"{name}: not a saved Hugging Face dataset ({e})") from None
    except Exception as e:
        raise BadInput(f"{name}: cannot load the Hugging Face dataset ({type(e).__name__}: {e})"
                       ) from None
    splits = ds.items() if isinstance(ds, dict) else [(None, ds)]
    out: Records = []
    names: dict[str, list[str]] = {}
    for split, part in splits:
        label = f"{name} [{split}]" if split else name
        for col, feature in part.features.items():
            if isinstance(feature, datasets.ClassLabel) and feature.names:
                names[col] = list(feature.names)
        out += [(f"{label}: row {n}", r) for n, r in enumerate(part, 1)]
    if not out:
        raise BadInput(f"{name}: the dataset has no rows")
    return out, names
