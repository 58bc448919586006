"""SQL for examples: bulk insert, reads, filters, counts and single-row changes."""

from __future__ import annotations

import json
from typing import cast

from studio.records import Example, Stats
from studio.store.base import dumps, iso, utcnow
from studio.store.filters import where_clause as _where
from studio.store.scores import ScoresMixin
from studio.vocabulary import SOURCES, STATUSES

COLUMNS = (
    "id", "task", "input", "output", "source", "parent_id", "status", "duplicate_of",
    "similarity", "cluster_id", "split", "content_hash", "created_at", "updated_at", "meta",
    "duplicate_kind", "import_keys", "input_style",
)
SORTABLE = {"id", "task", "source", "status", "created_at", "updated_at", "similarity"}
EDITABLE = {"input", "output", "status", "content_hash", "meta", "duplicate_of", "similarity",
            "cluster_id", "split", "parent_id", "duplicate_kind", "import_keys", "input_style"}


class ExamplesMixin(ScoresMixin):
    def existing_hashes(self, hashes: list[str]) -> set[str]:
        if not hashes:
            return set()
        import pyarrow as pa

        rows = self._scan("_incoming_hashes", pa.table({"h": hashes}),
                          "SELECT DISTINCT content_hash FROM examples "
                          "WHERE content_hash IN (SELECT h FROM _incoming_hashes)")
        return {r[0] for r in rows}

    def imported_keys(self, task: str, keys: list[str]) -> set[str]:
        """Which of these file-row hashes a row of the task was imported or filled from."""
        if not keys:
            return set()
        import pyarrow as pa

        rows = self._scan("_incoming_keys", pa.table({"k": keys}),
                          "SELECT DISTINCT k FROM (SELECT unnest(import_keys) AS k FROM examples "
                          "WHERE task = ? AND import_keys IS NOT NULL) "
                          "WHERE k IN (SELECT k FROM _incoming_keys)", [task])
        return {r[0] for r in rows}

    def stored_inputs(self, task: str, inputs: list[str]) -> dict[str, int | None]:
        """Which of these inputs the task has: input -> its oldest input-only row's id (None
        when every row with that input has an output)."""
        if not inputs:
            return {}
        import pyarrow as pa

        rows = self._scan("_incoming_inputs", pa.table({"i": inputs}),
                          "SELECT input, min(id) FILTER (WHERE output IS NULL) FROM examples "
                          "WHERE task = ? AND input IN (SELECT i FROM _incoming_inputs) "
                          "GROUP BY input", [task])
        return {r[0]: r[1] for r in rows}

    def insert_examples(self, rows: list[dict]) -> list[int]:
        """Insert rows in one statement (Arrow scan, not row by row); returns their new ids in
        order. Each row: task, input, output, source, content_hash, and optional parent_id,
        status, meta, import_keys, input_style."""
        if not rows:
            return []
        import pyarrow as pa

        now = utcnow()
        with self.transaction():
            ids = sorted(
                r[0]
                for r in self._db.execute(
                    "SELECT nextval('examples_id_seq') FROM range(?)", [len(rows)]
                ).fetchall()
            )
            table = pa.table(
                {
                    "id": pa.array(ids, pa.int64()),
                    "task": [r["task"] for r in rows],
                    "input": [r["input"] for r in rows],
                    "output": pa.array([r.get("output") for r in rows], pa.string()),
                    "source": [r["source"] for r in rows],
                    "parent_id": pa.array([r.get("parent_id") for r in rows], pa.int64()),
                    "status": [r.get("status", "pending") for r in rows],
                    "content_hash": [r["content_hash"] for r in rows],
                    "meta": [dumps(r.get("meta") or {}) for r in rows],
                    "import_keys": pa.array([r.get("import_keys") for r in rows],
                                            pa.list_(pa.string())),
                    "input_style": pa.array([r.get("input_style") for r in rows], pa.string()),
                }
            )
            self._scan("_incoming_rows", table,
                       "INSERT INTO examples (id, task, input, output, source, parent_id, status, "
                       "content_hash, created_at, updated_at, meta, import_keys, input_style) "
                       "SELECT id, task, input, output, source, parent_id, status, content_hash, "
                       "?, ?, meta, import_keys, input_style FROM _incoming_rows", [now, now])
        return ids

    def restore_example(self, row: dict) -> None:
        """Put back a deleted row exactly as it was (undo of a delete)."""
        values = dict(row)
        values["meta"] = dumps(values.get("meta") or {})
        for key in ("created_at", "updated_at"):
            values[key] = _parse_ts(values[key])
        cols = [c for c in COLUMNS if c in values]
        self._run(
            f"INSERT INTO examples ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [values[c] for c in cols],
        )

    def get_example(self, example_id: int) -> Example | None:
        rows = self._all(f"SELECT {', '.join(COLUMNS)} FROM examples WHERE id = ?", [example_id])
        return _decode(rows[0]) if rows else None

    def get_examples(self, ids: list[int]) -> list[Example]:
        rows = self._all(
            f"SELECT {', '.join(COLUMNS)} FROM examples WHERE list_contains(?, id) ORDER BY id",
            [list(ids)],
        )
        return [_decode(r) for r in rows]

    def list_examples(self, *, task=None, status=None, source=None, text=None, input_only=None,
                      limit=50, offset=0, order_by="id",
                      descending=False) -> tuple[int, list[Example]]:
        """One page of examples matching the filters, and how many match in all."""
        if order_by not in SORTABLE:
            raise ValueError(f"cannot sort by {order_by!r}")
        where, params = _where(task, status, source, text, input_only)
        direction = "DESC" if descending else "ASC"
        with self._lock:
            total = self._one(f"SELECT count(*) FROM examples{where}", params)[0]
            rows = self._all(
                f"SELECT {', '.join(COLUMNS)} FROM examples{where} "
                f"ORDER BY {order_by} {direction}, id {direction} LIMIT ? OFFSET ?",
                params + [int(limit), int(offset)],
            )
            scores = self.scores_for([r["id"] for r in rows])
        out = [_decode(r) for r in rows]
        for r in out:
            r["scores"] = scores.get(r["id"], {})
        return total, out

    def matching_ids(self, *, task=None, status=None, source=None, text=None,
                     input_only=None) -> list[int]:
        where, params = _where(task, status, source, text, input_only)
        return [r[0] for r in self._run(f"SELECT id FROM examples{where} ORDER BY id",
                                        params).fetchall()]

    def neighbor_id(self, pivot: int | None, step: int, **filters) -> int | None:
        """The first matching id after (step > 0) or before (step < 0) pivot, wrapping around."""
        where, params = _where(**filters)
        cmp, order = (">", "ASC") if step > 0 else ("<", "DESC")
        with self._lock:
            if pivot is not None:
                joiner = " AND " if where else " WHERE "
                row = self._one(f"SELECT id FROM examples{where}{joiner}id {cmp} ? "
                                f"ORDER BY id {order} LIMIT 1", params + [pivot])
                if row:
                    return row[0]
            row = self._one(f"SELECT id FROM examples{where} ORDER BY id {order} LIMIT 1", params)
        return row[0] if row else None

    def rank(self, example_id: int, **filters) -> tuple[int, int, bool]:
        """(how many matching rows have an id <= example_id, how many match in all, whether
        example_id itself matches)."""
        where, params = _where(**filters)
        pos, total, hit = self._one(
            "SELECT count(*) FILTER (WHERE id <= ?), count(*), count(*) FILTER (WHERE id = ?) "
            f"FROM examples{where}", [example_id, example_id] + params)
        return pos, total, bool(hit)

    def scores_for(self, ids: list[int]) -> dict[int, dict[str, float | None]]:
        if not ids:
            return {}
        out: dict[int, dict[str, float | None]] = {}
        for eid, name, value in self._run(
            "SELECT example_id, name, value FROM scores WHERE list_contains(?, example_id)",
            [list(ids)],
        ).fetchall():
            out.setdefault(eid, {})[name] = value
        return out

    def update_example(self, example_id: int, fields: dict) -> None:
        with self.transaction():
            self._update_row("examples", example_id, fields, EDITABLE, "meta")
            if "input" in fields or "output" in fields:  # its scores described the old text
                self.clear_scores([example_id])

    def delete_examples(self, ids: list[int]) -> None:
        with self.transaction():
            self._run("DELETE FROM scores WHERE list_contains(?, example_id)", [list(ids)])
            self._run("DELETE FROM examples WHERE list_contains(?, id)", [list(ids)])

    def counts(self, task: str | None = None) -> Stats:
        """Counts by status, source and task, with every known key present."""
        where, params = _where(task=task)
        with self._lock:
            total, input_only, dups = self._one(
                "SELECT count(*), count(*) FILTER (WHERE output IS NULL), "
                f"count(*) FILTER (WHERE duplicate_of IS NOT NULL) FROM examples{where}",
                params,
            )
            grouped = {
                col: dict(self._run(
                    f"SELECT {col}, count(*) FROM examples{where} GROUP BY {col}", params
                ).fetchall())
                for col in ("status", "source", "task")
            }
            task_names = [r[0] for r in
                          self._run("SELECT name FROM tasks ORDER BY name").fetchall()]
        by_task = {t: 0 for t in ([task] if task else task_names)}
        by_task.update(grouped["task"])
        return {
            "total": total,
            "by_status": {s: grouped["status"].get(s, 0) for s in STATUSES},
            "by_source": {s: grouped["source"].get(s, 0) for s in SOURCES} | {
                k: v for k, v in grouped["source"].items() if k not in SOURCES},
            "by_task": by_task,
            "input_only": input_only,
            "duplicates": dups,
        }


def _decode(row: dict) -> Example:
    """A stored row as the Example record (JSON and timestamps decoded)."""
    row = dict(row)
    row["meta"] = json.loads(row["meta"]) if row.get("meta") else {}
    row["created_at"] = iso(row["created_at"])
    row["updated_at"] = iso(row["updated_at"])
    return cast(Example, row)


def _parse_ts(value):
    from datetime import datetime

    if isinstance(value, str):
        return datetime.fromisoformat(value.rstrip("Z"))
    return value
