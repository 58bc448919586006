"""SQL for exports: the rows that may leave, the manifest of what left, and pushes to the Hub."""

from __future__ import annotations

import json
from typing import cast

import numpy as np

from studio.records import ExportRecord
from studio.store.base import StoreBase, dumps, iso, utcnow
from studio.store.vectors import EXACT_KEY

# A row leaves only when people approved it, it has an output and it is nobody's duplicate.
LEAVES = "status = 'approved' AND output IS NOT NULL AND duplicate_of IS NULL"


class ExportsMixin(StoreBase):
    def export_rows(self, task: str) -> list[dict]:
        """The task's rows that may leave, by id, with what the split and the card need."""
        rows = self._all(
            f"SELECT x.id, x.input, x.output, x.source, x.parent_id, x.cluster_id, x.split, "
            f"x.meta, {EXACT_KEY} AS exact_key, s.value AS quality FROM examples x "
            f"LEFT JOIN scores s ON s.example_id = x.id AND s.name = 'quality' "
            f"WHERE x.task = ? AND {LEAVES} ORDER BY x.id", [task])
        for r in rows:
            r["meta"] = json.loads(r["meta"]) if r["meta"] else {}
        return rows

    def lineage(self, task: str) -> tuple[np.ndarray, np.ndarray]:
        """(ids, parent ids with -1 for none) of every row of the task, by id: families are
        traced through rows that do not leave too."""
        rows = self._run("SELECT id, coalesce(parent_id, -1) FROM examples WHERE task = ? "
                         "ORDER BY id", [task]).fetchall()
        arr = np.asarray(rows, np.int64).reshape(-1, 2)
        return arr[:, 0], arr[:, 1]

    def left_out(self, task: str) -> dict[str, int]:
        """Why the task's other rows stay: one reason per row, the first that applies."""
        counts = dict.fromkeys(("input_only", "duplicate", "pending", "rejected"), 0)
        counts.update(self._run(
            f"SELECT CASE WHEN output IS NULL THEN 'input_only' WHEN duplicate_of IS NOT NULL "
            f"THEN 'duplicate' ELSE status END AS why, count(*) FROM examples "
            f"WHERE task = ? AND NOT ({LEAVES}) GROUP BY why", [task]).fetchall())
        return counts

    def edited_ids(self, ids: list[int]) -> set[int]:
        """Rows a person edited (the audit log's live edits)."""
        rows = self._run("SELECT DISTINCT example_id FROM reviews WHERE action = 'edit' AND "
                         "list_contains(?, example_id)", [list(ids)]).fetchall()
        return {r[0] for r in rows}

    def review_stats(self, task: str) -> dict:
        """How the task's rows were reviewed: actions by kind, people, auto batches."""
        where = "r.example_id IN (SELECT id FROM examples WHERE task = ?)"
        actions = dict(self._run(f"SELECT r.action, count(*) FROM reviews r WHERE {where} "
                                 "GROUP BY r.action", [task]).fetchall())
        people, auto = self._one(
            f"SELECT count(DISTINCT reviewer) FILTER (WHERE NOT starts_with(reviewer, 'auto:')), "
            f"count(DISTINCT batch_id) FILTER (WHERE starts_with(reviewer, 'auto:')) "
            f"FROM reviews r WHERE {where}", [task])
        return {"actions": actions, "reviewers": people, "auto_batches": auto}

    def set_splits(self, assignment: dict[int, str]) -> None:
        """Remember each exported row's split (the next export reports rows that move)."""
        import pyarrow as pa

        table = pa.table({"id": pa.array(list(assignment), pa.int64()),
                          "split": pa.array(list(assignment.values()), pa.string())})
        self._scan("_splits", table, "UPDATE examples SET split = s.split FROM _splits s "
                   "WHERE examples.id = s.id")

    def record_export(self, export: dict, manifest: list[tuple[int, str, str]]) -> int:
        """Store one export and its manifest rows (example id, split, record hash)."""
        import pyarrow as pa

        with self.transaction():
            export_id = self._one("SELECT nextval('exports_id_seq')")[0]
            self._run("INSERT INTO exports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      [export_id, export["task"], export["out_dir"], export["format"],
                       export["schema"], dumps(export["options"]), dumps(export["counts"]),
                       dumps(export["checks"]), dumps(export["files"]), export["fingerprint"],
                       export["card"], utcnow()])
            table = pa.table({"id": pa.array([m[0] for m in manifest], pa.int64()),
                              "split": pa.array([m[1] for m in manifest], pa.string()),
                              "hash": pa.array([m[2] for m in manifest], pa.string())})
            self._scan("_manifest", table, "INSERT INTO export_rows SELECT ?, id, split, hash "
                       "FROM _manifest", [export_id])
        return export_id

    def exports(self, task: str | None = None, limit: int = 50) -> list[ExportRecord]:
        clause, params = ("WHERE e.task = ?", [task]) if task else ("", [])
        rows = self._all(
            f"SELECT e.id, e.task, e.out_dir, e.format, e.schema, e.options, e.counts, e.checks, "
            f"e.files, e.fingerprint, e.created_at, (SELECT count(*) FROM export_rows r "
            f"WHERE r.export_id = e.id) AS rows FROM exports e {clause} ORDER BY e.id DESC "
            f"LIMIT ?", params + [limit])
        return [_decode_export(r) for r in rows]

    def export_manifest(self, export_id: int) -> list[tuple[int, str, str]]:
        return [tuple(r) for r in self._run(
            "SELECT example_id, split, record_hash FROM export_rows WHERE export_id = ? "
            "ORDER BY example_id", [export_id]).fetchall()]

    def last_export_to(self, out_dir: str) -> ExportRecord | None:
        rows = self._all("SELECT * FROM exports WHERE out_dir = ? ORDER BY id DESC LIMIT 1",
                         [out_dir])
        return _decode_export(rows[0]) if rows else None

    def record_push(self, export_id: int | None, folder: str, repo_id: str, private: bool,
                    url: str, commit_url: str | None) -> None:
        self._run("INSERT INTO hub_pushes VALUES (?, ?, ?, ?, ?, ?, ?)",
                  [export_id, folder, repo_id, private, url, commit_url, utcnow()])

    def pushes(self) -> list[dict]:
        rows = self._all("SELECT * FROM hub_pushes ORDER BY pushed_at DESC")
        return [dict(r, pushed_at=iso(r["pushed_at"])) for r in rows]


def _decode_export(row: dict) -> ExportRecord:
    row = dict(row)
    for key in ("options", "counts", "checks", "files"):
        row[key] = json.loads(row[key])
    row["created_at"] = iso(row["created_at"])
    return cast(ExportRecord, row)
