"""SQL for the append-only review audit, for tasks and for store settings."""

from __future__ import annotations

import json
from typing import cast

from studio.records import HistoryEntry
from studio.store.base import StoreBase, dumps, iso, utcnow
from studio.tasks import Task

UNDOABLE = ("approve", "reject", "edit", "delete", "add")


class ReviewsMixin(StoreBase):
    def new_batch_id(self) -> int:
        return self._one("SELECT nextval('batch_id_seq')")[0]

    def append_review(self, example_id: int, reviewer: str, action: str, before, after,
                      *, undoes: int | None = None, batch_id: int | None = None) -> int:
        rid = self._one("SELECT nextval('reviews_id_seq')")[0]
        self._run(
            "INSERT INTO reviews (id, example_id, reviewer, action, before, after, undoes, "
            "batch_id, acted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [rid, example_id, reviewer, action,
             None if before is None else dumps(before),
             None if after is None else dumps(after), undoes, batch_id, utcnow()],
        )
        return rid

    def append_reviews(self, example_ids: list[int], reviewer: str, action: str, befores: list,
                       afters: list, *, batch_id: int | None = None,
                       undoes: list[int | None] | None = None) -> None:
        """One audited action on many rows in one statement (a bulk delete, a corrupt batch)."""
        if not example_ids:
            return
        import pyarrow as pa

        n = len(example_ids)
        ids = [r[0] for r in self._run("SELECT nextval('reviews_id_seq') FROM range(?)",
                                       [n]).fetchall()]
        table = pa.table({
            "id": pa.array(sorted(ids), pa.int64()),
            "example_id": pa.array(example_ids, pa.int64()),
            "before": pa.array([None if b is None else dumps(b) for b in befores], pa.string()),
            "after": pa.array([None if a is None else dumps(a) for a in afters], pa.string()),
            "undoes": pa.array(undoes or [None] * n, pa.int64()),
        })
        self._scan("_incoming_reviews", table,
                   "INSERT INTO reviews (id, example_id, reviewer, action, before, after, undoes, "
                   "batch_id, acted_at) SELECT id, example_id, ?, ?, before, after, undoes, ?, ? "
                   "FROM _incoming_reviews", [reviewer, action, batch_id, utcnow()])

    def last_undoable(self, reviewer: str | None = None) -> list[HistoryEntry]:
        """The newest action not yet undone (all of its batch, newest first), or []."""
        base = (
            "FROM reviews r WHERE r.action IN (SELECT unnest(?)) "
            "AND NOT EXISTS (SELECT 1 FROM reviews u WHERE u.undoes = r.id)"
        )
        params: list = [list(UNDOABLE)]
        if reviewer is not None:
            base += " AND r.reviewer = ?"
            params.append(reviewer)
        with self._lock:
            head = self._all(f"SELECT * {base} ORDER BY r.id DESC LIMIT 1", params)
            if not head:
                return []
            if head[0]["batch_id"] is None:
                rows = head
            else:
                rows = self._all(f"SELECT * {base} AND r.batch_id = ? ORDER BY r.id DESC",
                                 params + [head[0]["batch_id"]])
        return [_decode_review(r) for r in rows]

    def batch_reviews(self, batch_id: int) -> list[HistoryEntry]:
        """The live (not undone) actions of one batch, newest first."""
        rows = self._all(
            "SELECT * FROM reviews r WHERE r.batch_id = ? AND r.action IN (SELECT unnest(?)) "
            "AND NOT EXISTS (SELECT 1 FROM reviews u WHERE u.undoes = r.id) ORDER BY r.id DESC",
            [batch_id, list(UNDOABLE)])
        return [_decode_review(r) for r in rows]

    def changed_after_any(self, actions: list[HistoryEntry]) -> dict | None:
        """The oldest live action newer than one of these actions on its row and outside its
        batch: what undoing them would lose. Returns it with `after_action` (the id it follows)."""
        import pyarrow as pa

        table = pa.table({"eid": pa.array([a["example_id"] for a in actions], pa.int64()),
                          "rid": pa.array([a["id"] for a in actions], pa.int64()),
                          "bid": pa.array([a.get("batch_id") for a in actions], pa.int64())})
        with self._lock:
            self._db.register("_undo_actions", table)
            try:
                rows = self._all(
                    "SELECT r.*, x.rid AS after_action FROM reviews r JOIN _undo_actions x "
                    "ON r.example_id = x.eid AND r.id > x.rid "
                    "WHERE r.action IN (SELECT unnest(?)) AND (x.bid IS NULL OR r.batch_id IS "
                    "DISTINCT FROM x.bid) "
                    "AND NOT EXISTS (SELECT 1 FROM reviews u WHERE u.undoes = r.id) "
                    "ORDER BY r.id LIMIT 1", [list(UNDOABLE)])
            finally:
                self._db.unregister("_undo_actions")
        return dict(_decode_review(rows[0]), after_action=rows[0]["after_action"]) if rows else None

    def reviews(self, example_id: int | None = None, limit: int = 1000) -> list[HistoryEntry]:
        where, params = (("WHERE example_id = ?", [example_id]) if example_id is not None
                         else ("", []))
        rows = self._all(f"SELECT * FROM reviews {where} ORDER BY id LIMIT ?", params + [limit])
        return [_decode_review(r) for r in rows]

    def review_count(self) -> int:
        return self._one("SELECT count(*) FROM reviews")[0]

    # -- tasks -----------------------------------------------------------------------------

    def save_task(self, task: Task, *, builtin: bool = False) -> None:
        self._run(
            "INSERT OR REPLACE INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?)",
            [task.name, task.instruction, task.input_meaning, task.output_meaning,
             dumps(list(task.labels)), builtin, utcnow()],
        )

    def task_names(self) -> list[str]:
        return [r[0] for r in self._run("SELECT name FROM tasks ORDER BY name").fetchall()]

    def get_task(self, name: str) -> Task | None:
        rows = self._all("SELECT * FROM tasks WHERE name = ?", [name])
        return _task(rows[0]) if rows else None

    def list_tasks(self) -> list[Task]:
        return [_task(r) for r in self._all("SELECT * FROM tasks ORDER BY name")]

    # -- settings --------------------------------------------------------------------------

    def get_setting(self, key: str, default=None):
        row = self._one("SELECT value FROM settings WHERE key = ?", [key])
        return default if row is None else json.loads(row[0])

    def set_setting(self, key: str, value) -> None:
        self._run("INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, dumps(value)])


def _task(row: dict) -> Task:
    return Task(name=row["name"], instruction=row["instruction"],
                input_meaning=row["input_meaning"], output_meaning=row["output_meaning"],
                labels=tuple(json.loads(row["labels"])))


def _decode_review(row: dict) -> HistoryEntry:
    row = dict(row)
    for key in ("before", "after"):
        row[key] = None if row[key] is None else json.loads(row[key])
    row["at"] = iso(row.pop("acted_at"))
    return cast(HistoryEntry, row)
