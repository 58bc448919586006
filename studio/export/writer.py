"""Writing an export folder: `README.md` (the card) and `data/`, as Parquet shards (a Hugging Face
dataset folder), JSONL or CSV. The same rows and card always give the same bytes.

The folder is built beside its destination and swapped in whole, so a failed write leaves the
previous export as it was. A destination that holds anything but a previous export is refused.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import uuid
from pathlib import Path

from studio.errors import BadInput
from studio.export import FORMATS

SHARD_ROWS = 100_000  # rows per Parquet shard
EXT = {"hf": "parquet", "jsonl": "jsonl", "csv": "csv"}


def data_files(fmt: str, counts: dict[str, int]) -> dict[str, list[str]]:
    """The relative paths each non-empty split is written to."""
    if fmt not in FORMATS:
        raise BadInput(f"unknown format {fmt!r}; use {', '.join(FORMATS)}")
    out = {}
    for split, n in counts.items():
        if n == 0:
            continue
        if fmt == "hf":
            shards = max(1, -(-n // SHARD_ROWS))
            out[split] = [f"data/{split}-{k:05d}-of-{shards:05d}.parquet" for k in range(shards)]
        else:
            out[split] = [f"data/{split}.{EXT[fmt]}"]
    return out


def split_glob(fmt: str, split: str) -> str:
    """The card's `configs` path for a split."""
    return f"data/{split}-*" if fmt == "hf" else f"data/{split}.{EXT[fmt]}"


def render(fmt: str, schema: str, splits: dict[str, list[dict]]) -> tuple[dict[str, bytes], dict]:
    """Every data file's bytes by relative path, and sizes for the card: per split its rows and
    its Arrow size in memory (what `datasets` calls num_bytes), and the files' total bytes."""
    from studio.export.records import arrow_table

    files, sizes = {}, {"splits": {}, "download_size": 0}
    for split, paths in data_files(fmt, {s: len(r) for s, r in splits.items()}).items():
        rows = splits[split]
        table = arrow_table(schema, rows)
        sizes["splits"][split] = {"num_examples": len(rows), "num_bytes": table.nbytes}
        for k, path in enumerate(paths):
            lo, hi = k * SHARD_ROWS, (k + 1) * SHARD_ROWS
            files[path] = (_parquet(table.slice(lo, hi - lo)) if fmt == "hf" else
                           _jsonl(rows[lo:hi]) if fmt == "jsonl" else _csv(rows[lo:hi]))
            sizes["download_size"] += len(files[path])
    return files, sizes


def _parquet(table) -> bytes:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", row_group_size=10_000)
    return buf.getvalue()


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def _csv(rows: list[dict]) -> bytes:
    """One column per field; nested fields (messages) as JSON text."""
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict))
                        else v for k, v in r.items()})
    return buf.getvalue().encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_destination(out_dir: Path) -> None:
    """Refuse a folder that holds anything but a previous export (README.md and data/ files)."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise BadInput(f"{out_dir} is a file; give a folder to export into")
    foreign = [p.name for p in out_dir.iterdir() if p.name not in ("README.md", "data")]
    data = out_dir / "data"
    if data.is_dir():
        ours = tuple(f".{e}" for e in EXT.values())
        foreign += [f"data/{p.name}" for p in data.iterdir() if not p.name.endswith(ours)]
    elif data.exists():
        foreign.append("data")
    if foreign:
        shown = ", ".join(sorted(foreign)[:5]) + (" ..." if len(foreign) > 5 else "")
        raise BadInput(f"{out_dir} holds files that are not a previous export ({shown}); "
                       "export into an empty or new folder")


def write(out_dir: Path, files: dict[str, bytes]) -> None:
    """Replace `out_dir` with exactly `files` (relative path -> bytes)."""
    out_dir = Path(out_dir)
    check_destination(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:12]  # two exports at once (two app sessions) never share these
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{tag}")
    old = out_dir.with_name(f".{out_dir.name}.old-{tag}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for rel, data in sorted(files.items()):
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if out_dir.exists():
            out_dir.rename(old)
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
