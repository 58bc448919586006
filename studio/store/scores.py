"""SQL for scores: writing a task's scores, reading them back for histograms, the map and the
review order, the rows auto-review may decide, and the decisions people made (for agreement)."""

from __future__ import annotations

import numpy as np

from studio.records import HistoryEntry
from studio.store.base import dumps, utcnow
from studio.store.filters import where_clause as _where
from studio.store.reviews import ReviewsMixin

AUTO_PREFIX = "auto:"  # the reviewer of auto-review batches: "auto:<who asked>"
# Each row's id and the distance of its quality to the nearer threshold (two parameters);
# unscored rows sort last. Filters follow as a WHERE clause.
KEYED = ("SELECT x.id, coalesce(least(abs(q.value - ?), abs(q.value - ?)), 9.0) AS k "
         "FROM examples x LEFT JOIN scores q ON q.example_id = x.id AND q.name = 'quality'")


class ScoresMixin(ReviewsMixin):
    def score_inputs(self, task: str) -> dict[str, list]:
        """Every row of the task: id, input, output, whether it is a duplicate."""
        rows = self._run("SELECT id, input, output, duplicate_of IS NOT NULL FROM examples "
                         "WHERE task = ? ORDER BY id", [task]).fetchall()
        cols = list(zip(*rows)) if rows else [(), (), (), ()]
        return {"id": list(cols[0]), "input": list(cols[1]), "output": list(cols[2]),
                "duplicate": list(cols[3])}

    def write_scores(self, task: str, names: list[str], rows: list[tuple],
                     ids: list[int] | None = None) -> None:
        """Replace the task's scores called `names` (of every row, or of `ids`) by rows of
        (example_id, name, value, detail), in one transaction."""
        import pyarrow as pa

        now = utcnow()
        with self.transaction():
            if ids is None:
                self._run("DELETE FROM scores WHERE list_contains(?, name) AND example_id IN "
                          "(SELECT id FROM examples WHERE task = ?)", [list(names), task])
            else:
                self._run("DELETE FROM scores WHERE list_contains(?, name) AND "
                          "list_contains(?, example_id)", [list(names), list(ids)])
            if not rows:
                return
            example_ids, keys, values, details = zip(*rows)
            table = pa.table({"example_id": pa.array(example_ids, pa.int64()),
                              "name": pa.array(keys, pa.string()),
                              "value": pa.array(values, pa.float64()),
                              "detail": pa.array(details, pa.string())})
            self._scan("_scores", table, "INSERT INTO scores (example_id, name, value, detail, "
                       "scored_at) SELECT example_id, name, value, detail, ? FROM _scores "
                       "WHERE example_id IN (SELECT id FROM examples)", [now])

    def task_scores(self, task: str, names: list[str]) -> dict[int, dict[str, float | None]]:
        """{example id: {name: value}} for the task's rows that have any of `names`."""
        out: dict[int, dict] = {}
        for eid, name, value in self._run(
                "SELECT s.example_id, s.name, s.value FROM scores s JOIN examples x ON "
                "x.id = s.example_id WHERE x.task = ? AND list_contains(?, s.name)",
                [task, list(names)]).fetchall():
            out.setdefault(eid, {})[name] = value
        return out

    def score_values(self, task: str, name: str) -> np.ndarray:
        """The task's non-null values of one score (duplicates left out), as float64."""
        rows = self._run("SELECT s.value FROM scores s JOIN examples x ON x.id = s.example_id "
                         "WHERE x.task = ? AND s.name = ? AND s.value IS NOT NULL AND "
                         "x.duplicate_of IS NULL", [task, name]).fetchall()
        return np.array([r[0] for r in rows], np.float64)

    def score_details(self, example_id: int) -> list[dict]:
        return self._all("SELECT name, value, detail FROM scores WHERE example_id = ? "
                         "ORDER BY name", [example_id])

    def clear_scores(self, ids: list[int]) -> None:
        """Forget scores that described text which has changed."""
        self._run("DELETE FROM scores WHERE list_contains(?, example_id)", [list(ids)])

    def score_counts(self, task: str) -> dict[str, int]:
        return dict(self._run(
            "SELECT s.name, count(s.value) FROM scores s JOIN examples x ON x.id = s.example_id "
            "WHERE x.task = ? GROUP BY s.name", [task]).fetchall())

    def flag_counts(self, task: str, checks: list[str]) -> dict[str, int]:
        """How many of the task's rows each check flagged (a flagged check has a detail)."""
        return dict(self._run(
            "SELECT s.name, count(*) FROM scores s JOIN examples x ON x.id = s.example_id "
            "WHERE x.task = ? AND list_contains(?, s.name) AND s.detail IS NOT NULL "
            "GROUP BY s.name", [task, list(checks)]).fetchall())

    def judge_rows(self, task: str, ids: list[int] | None = None) -> list[dict]:
        """The rows the judge rates: complete and not duplicates (of `ids`, if given)."""
        clause = " AND list_contains(?, id)" if ids is not None else ""
        return self._all("SELECT id, input, output FROM examples WHERE task = ? AND output IS "
                         f"NOT NULL AND duplicate_of IS NULL{clause} ORDER BY id",
                         [task] + ([list(ids)] if ids is not None else []))

    def pending_unscored(self, task: str) -> int:
        return self._one(
            "SELECT count(*) FROM examples x WHERE x.task = ? AND x.status = 'pending' AND "
            "x.output IS NOT NULL AND x.duplicate_of IS NULL AND NOT EXISTS (SELECT 1 FROM "
            "scores q WHERE q.example_id = x.id AND q.name = 'quality' AND q.value IS NOT NULL)",
            [task])[0]

    def judge_failures(self, task: str, limit: int = 20) -> list[dict]:
        return self._all(
            "SELECT s.example_id, s.detail FROM scores s JOIN examples x ON x.id = s.example_id "
            "WHERE x.task = ? AND s.name = 'judge' AND s.value IS NULL ORDER BY s.example_id "
            "LIMIT ?", [task, limit])

    # -- auto-review -----------------------------------------------------------------------

    def auto_candidates(self, task: str) -> dict[str, np.ndarray]:
        """Pending rows with an output, no duplicate mark and a quality score."""
        rows = self._run(
            "SELECT x.id, q.value FROM examples x JOIN scores q ON q.example_id = x.id AND "
            "q.name = 'quality' WHERE x.task = ? AND x.status = 'pending' AND x.output IS NOT "
            "NULL AND x.duplicate_of IS NULL AND q.value IS NOT NULL ORDER BY x.id",
            [task]).fetchall()
        return {"id": np.array([r[0] for r in rows], np.int64),
                "quality": np.array([r[1] for r in rows], np.float64)}

    def set_statuses(self, changes: list[tuple[int, str, str]], reviewer: str) -> int:
        """Apply (id, old status, new status) as one audited batch; returns its batch id."""
        import pyarrow as pa

        now = utcnow()
        with self.transaction():
            batch = self.new_batch_id()
            if not changes:
                return batch
            ids, old, new = zip(*changes)
            review_ids = sorted(r[0] for r in self._run(
                "SELECT nextval('reviews_id_seq') FROM range(?)", [len(ids)]).fetchall())
            table = pa.table({
                "rid": pa.array(review_ids, pa.int64()), "id": pa.array(ids, pa.int64()),
                "new": list(new), "action": ["approve" if s == "approved" else "reject"
                                             for s in new],
                "before": [dumps({"status": s}) for s in old],
                "after": [dumps({"status": s}) for s in new]})
            self._scan("_auto", table, "UPDATE examples SET status = a.new, updated_at = ? "
                       "FROM _auto a WHERE examples.id = a.id", [now])
            self._scan("_auto", table, "INSERT INTO reviews (id, example_id, reviewer, action, "
                       "before, after, undoes, batch_id, acted_at) SELECT rid, id, ?, action, "
                       "before, after, NULL, ?, ? FROM _auto", [reviewer, batch, now])
        return batch

    def last_auto_batch(self, task: str) -> list[HistoryEntry]:
        """The newest auto-review batch of the task not yet undone, as review rows."""
        row = self._one(
            "SELECT r.batch_id FROM reviews r JOIN examples x ON x.id = r.example_id WHERE "
            "x.task = ? AND starts_with(r.reviewer, ?) AND r.batch_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM reviews u WHERE u.undoes = r.id) ORDER BY r.id DESC LIMIT 1",
            [task, AUTO_PREFIX])
        if row is None:
            return []
        return self.batch_reviews(row[0])

    # -- agreement -------------------------------------------------------------------------

    def human_decisions(self, task: str) -> dict[int, str]:
        """Rows people approved or rejected: the status stands and no auto batch set it."""
        rows = self._run(
            "WITH last AS (SELECT r.example_id, arg_max(r.reviewer, r.id) AS reviewer "
            "FROM reviews r WHERE r.action IN ('approve', 'reject', 'reset', 'undo') "
            "AND NOT EXISTS (SELECT 1 FROM reviews u WHERE u.undoes = r.id) "
            "GROUP BY r.example_id) "
            "SELECT x.id, x.status FROM examples x LEFT JOIN last l ON l.example_id = x.id "
            "WHERE x.task = ? AND x.status IN ('approved', 'rejected') AND "
            "NOT starts_with(coalesce(l.reviewer, ''), ?)", [task, AUTO_PREFIX]).fetchall()
        return dict(rows)

    # -- the review order ------------------------------------------------------------------

    def uncertain_neighbor(self, pivot: int | None, step: int, thresholds: tuple[float, float],
                           **filters) -> int | None:
        """Like neighbor_id, in order of the distance of quality to the nearer threshold."""
        where, params = _where(**filters)
        keyed = KEYED + where
        base = list(thresholds) + params
        cmp, order = (">", "ASC") if step > 0 else ("<", "DESC")
        with self._lock:
            if pivot is not None:
                row = self._one(f"WITH o AS ({keyed}), p AS (SELECT k FROM o WHERE id = ?) "
                                f"SELECT o.id FROM o, p WHERE o.k {cmp} p.k OR (o.k = p.k AND "
                                f"o.id {cmp} ?) ORDER BY o.k {order}, o.id {order} LIMIT 1",
                                base + [pivot, pivot])
                if row:
                    return row[0]
            row = self._one(f"WITH o AS ({keyed}) SELECT id FROM o ORDER BY k {order}, "
                            f"id {order} LIMIT 1", base)
        return row[0] if row else None

    def uncertain_rank(self, example_id: int, thresholds: tuple[float, float],
                       **filters) -> tuple[int, int, bool]:
        where, params = _where(**filters)
        keyed = KEYED + where
        with self._lock:
            own = self._one(f"SELECT k FROM ({KEYED} WHERE x.id = ?)",
                            list(thresholds) + [example_id])
            if own is None:
                return 0, 0, False
            pos, total, hit = self._one(
                f"WITH o AS ({keyed}) SELECT count(*) FILTER (WHERE k < ? OR (k = ? AND id <= ?)), "
                "count(*), count(*) FILTER (WHERE id = ?) FROM o",
                list(thresholds) + params + [own[0], own[0], example_id, example_id])
        return pos, total, bool(hit)

    # -- the map ---------------------------------------------------------------------------

    def map_rows(self, task: str, ids: list[int]) -> list[dict]:
        return self._all(
            "SELECT x.id, x.status, x.source, x.cluster_id, x.duplicate_of, x.input, q.value AS "
            "quality FROM examples x LEFT JOIN scores q ON q.example_id = x.id AND "
            "q.name = 'quality' WHERE x.task = ? AND list_contains(?, x.id) ORDER BY x.id",
            [task, list(ids)])
