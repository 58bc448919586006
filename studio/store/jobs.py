"""SQL for generation jobs, their items and the teacher's answer cache."""

from __future__ import annotations

import json
from typing import cast

from studio.records import JobRow
from studio.store.base import dumps, iso, utcnow
from studio.store.examples import ExamplesMixin

JOB_FIELDS = {"status", "done", "failed", "requests", "cached", "tokens_in", "tokens_out",
              "cost_usd", "active_seconds", "error", "pid", "finished_at", "params", "requested"}
COUNTERS = ("done", "failed", "requests", "cached", "tokens_in", "tokens_out", "cost_usd",
            "active_seconds")


class JobsMixin(ExamplesMixin):
    # -- jobs ------------------------------------------------------------------------------

    def create_job(self, *, kind: str, task: str, mode: str, model: str, base_urls: list[str],
                   params: dict, requested: int, pid: int) -> int:
        now = utcnow()
        with self.transaction():
            job_id = self._one("SELECT nextval('jobs_id_seq')")[0]
            self._run(
                "INSERT INTO jobs (id, kind, task, mode, status, model, base_urls, params, "
                "requested, pid, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                [job_id, kind, task, mode, model, dumps(base_urls), dumps(params), requested,
                 pid, now, now],
            )
        return job_id

    def get_job(self, job_id: int) -> JobRow | None:
        rows = self._all("SELECT * FROM jobs WHERE id = ?", [job_id])
        return _decode_job(rows[0]) if rows else None

    def list_jobs(self, limit: int = 100) -> list[JobRow]:
        return [_decode_job(r) for r in
                self._all("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", [limit])]

    def update_job(self, job_id: int, fields: dict) -> None:
        self._update_row("jobs", job_id, fields, JOB_FIELDS, "params")

    def mark_job_interrupted(self, job_id: int, error: str) -> bool:
        """running -> interrupted, only if the job is still running when this is written."""
        with self.transaction():
            changed = self._one("UPDATE jobs SET status = 'interrupted', error = ?, updated_at = ? "
                                "WHERE id = ? AND status = 'running' RETURNING id",
                                [error, utcnow(), job_id])
        return changed is not None

    def running_jobs(self) -> list[dict]:
        return self._all("SELECT id, pid FROM jobs WHERE status = 'running' ORDER BY id")

    def seed_candidates(self, task: str, limit: int = 50) -> list[dict]:
        """Complete examples to seed generation from: approved first, never rejected, never a
        duplicate of another row."""
        return self._all(
            "SELECT id, input, output FROM examples WHERE task = ? AND output IS NOT NULL "
            "AND status <> 'rejected' AND duplicate_of IS NULL "
            "ORDER BY (status = 'approved') DESC, (source = 'imported') DESC, id LIMIT ?",
            [task, limit])

    def input_only_ids(self, task: str, import_file: str | None = None) -> list[int]:
        """The task's rows that need an output (all, or those of one imported file), oldest
        first: what an outputs job labels."""
        sql = "SELECT id FROM examples WHERE task = ? AND output IS NULL"
        params: list = [task]
        if import_file:
            sql += " AND json_extract_string(meta, '$.import.file') = ?"
            params.append(import_file)
        return [r[0] for r in self._run(sql + " ORDER BY id", params).fetchall()]

    def input_only_imports(self, task: str) -> list[dict]:
        """Where the task's input-only rows came from: [{file, rows}], most rows first (file is
        None for rows not imported from a file)."""
        return self._all(
            "SELECT json_extract_string(meta, '$.import.file') AS file, count(*) AS rows "
            "FROM examples WHERE task = ? AND output IS NULL GROUP BY ALL "
            "ORDER BY rows DESC, file NULLS LAST", [task])

    # -- items -----------------------------------------------------------------------------

    def job_item_states(self, job_id: int) -> dict[int, str]:
        return dict(self._run("SELECT idx, status FROM job_items WHERE job_id = ?",
                              [job_id]).fetchall())

    def job_failures(self, job_id: int, limit: int = 50) -> list[dict]:
        return self._all(
            "SELECT idx, example_id, error, raw, updated_at FROM job_items WHERE job_id = ? "
            "AND status = 'failed' ORDER BY idx LIMIT ?", [job_id, limit])

    def job_examples(self, job_id: int, limit: int = 10) -> list[dict]:
        """The newest examples a job wrote, newest first."""
        return self._all(
            "SELECT e.id, e.input, e.output, e.source, e.status FROM job_items i "
            "JOIN examples e ON e.id = i.example_id WHERE i.job_id = ? AND i.status = 'done' "
            "ORDER BY i.updated_at DESC, e.id DESC LIMIT ?", [job_id, limit])

    # -- the answer cache ------------------------------------------------------------------

    def cached_answers(self, hashes: list[str]) -> dict[str, dict]:
        if not hashes:
            return {}
        rows = self._all(
            "SELECT request_hash, response, finish_reason, tokens_in, tokens_out, served_model "
            "FROM teacher_calls WHERE list_contains(?, request_hash)", [list(hashes)])
        return {r.pop("request_hash"): r for r in rows}

    def job_answers(self, job_id: int) -> dict[str, dict]:
        """The answers a job has stored, by hash: what a resume preloads."""
        rows = self._all("SELECT request_hash, response, finish_reason, served_model "
                         "FROM teacher_calls WHERE job_id = ?", [job_id])
        return {r.pop("request_hash"): r for r in rows}

    def cached_hashes(self) -> set[str]:
        return {r[0] for r in self._run("SELECT request_hash FROM teacher_calls").fetchall()}

    def teacher_call_count(self) -> int:
        return self._one("SELECT count(*) FROM teacher_calls")[0]

    def save_teacher_calls(self, calls: list[dict], job_id: int | None = None,
                           now=None) -> None:
        """Answers for the cache: only answers that were read successfully come here. A hash
        already stored keeps its first answer, unless the call says `replace` (asked again on
        purpose, or the stored answer could not be read)."""
        if not calls:
            return
        import pyarrow as pa

        table = pa.table({
            "request_hash": [c["request_hash"] for c in calls],
            "model": [c["model"] for c in calls],
            "request": [c.get("request_json") or dumps(c["request"]) for c in calls],
            "response": [c["response"] for c in calls],
            "finish_reason": pa.array([c.get("finish_reason") for c in calls], pa.string()),
            "tokens_in": pa.array([c["tokens_in"] for c in calls], pa.int64()),
            "tokens_out": pa.array([c["tokens_out"] for c in calls], pa.int64()),
            "latency_ms": pa.array([c.get("latency_ms") for c in calls], pa.float64()),
            "served_model": pa.array([c.get("served_model") for c in calls], pa.string()),
            "format": pa.array([c.get("format") for c in calls], pa.string()),
        })
        replace = [c["request_hash"] for c in calls if c.get("replace")]
        if replace:
            self._run("DELETE FROM teacher_calls WHERE list_contains(?, request_hash)", [replace])
        self._scan("_calls", table,
                   "INSERT INTO teacher_calls (request_hash, model, request, response, "
                   "finish_reason, tokens_in, tokens_out, latency_ms, job_id, created_at, "
                   "served_model, format) SELECT request_hash, model, request, response, "
                   "finish_reason, tokens_in, tokens_out, latency_ms, ?, ?, served_model, format "
                   "FROM _calls ON CONFLICT DO NOTHING", [job_id, now or utcnow()])

    # -- one writer's batch ----------------------------------------------------------------

    def write_generation_batch(self, job_id: int, *, calls: list[dict], new_rows: list[dict],
                               outputs: list[dict], items: list[dict], counters: dict) -> None:
        """Everything one flush of a job's writer makes durable, in one transaction: answers for
        the cache, new example rows, outputs for input-only rows (never over a human's output),
        item states and the job's counters (added)."""
        import pyarrow as pa

        now = utcnow()
        with self.transaction():
            self.save_teacher_calls(calls, job_id, now)
            # An item points at the row it made: new rows in order, outputs by id (a row a
            # person filled in meanwhile is left alone and the item says so). A new row that
            # repeats a stored one exactly is not stored twice.
            seen = self.existing_hashes([r["content_hash"] for r in new_rows])
            makers = [i for i in items if i.get("new_row")]
            keep = []
            for item, row in zip(makers, new_rows):
                if row["content_hash"] in seen:
                    item.update(new_row=False, status="failed",
                                error="an exact duplicate of a stored example (not stored twice)")
                else:
                    seen.add(row["content_hash"])
                    keep.append((item, row))
            new_ids = self.insert_examples([row for _, row in keep])
            for (item, _), new_id in zip(keep, new_ids):
                item["example_id"] = new_id
            written = self._write_outputs(outputs, now)
            for item in items:
                if item.pop("new_row", False):
                    continue
                elif item["status"] == "done" and item.get("example_id") not in written:
                    item.update(status="failed", error="the row got an output meanwhile; "
                                "the teacher's answer is in the cache, not in the row")
            if items:
                table = pa.table({
                    "idx": pa.array([i["idx"] for i in items], pa.int64()),
                    "status": [i["status"] for i in items],
                    "example_id": pa.array([i.get("example_id") for i in items], pa.int64()),
                    "error": pa.array([i.get("error") for i in items], pa.string()),
                    "raw": pa.array([i.get("raw") for i in items], pa.string()),
                })
                self._scan("_items", table,
                           "INSERT INTO job_items SELECT ?, idx, status, example_id, "
                           "error, raw, ? FROM _items", [job_id, now])
            done = sum(i["status"] == "done" for i in items)
            counters = dict(counters, done=done, failed=len(items) - done)
            sets = ", ".join(f"{k} = {k} + ?" for k in COUNTERS)
            self._run(f"UPDATE jobs SET {sets}, updated_at = ? WHERE id = ?",
                      [counters.get(k, 0) for k in COUNTERS] + [now, job_id])

    def reset_failed_items(self, job_id: int) -> None:
        """Before a resume: failed items are tried again (their stored answers cost nothing)."""
        with self.transaction():
            n = self._one("SELECT count(*) FROM job_items WHERE job_id = ? AND status = 'failed'",
                          [job_id])[0]
            self._run("DELETE FROM job_items WHERE job_id = ? AND status = 'failed'", [job_id])
            self._run("UPDATE jobs SET failed = failed - ? WHERE id = ?", [n, job_id])

    def _write_outputs(self, outputs: list[dict], now) -> set[int]:
        if not outputs:
            return set()
        ids = [o["id"] for o in outputs]
        current = {r[0]: r[1] for r in self._run(
            "SELECT id, meta FROM examples WHERE list_contains(?, id) AND output IS NULL",
            [ids]).fetchall()}
        todo = [o for o in outputs if o["id"] in current]
        if todo:
            import pyarrow as pa

            table = pa.table({
                "id": pa.array([o["id"] for o in todo], pa.int64()),
                "output": [o["output"] for o in todo],
                "content_hash": [o["content_hash"] for o in todo],
                "meta": [dumps(json.loads(current[o["id"]] or "{}") | o["meta"]) for o in todo],
            })
            self._scan("_outputs", table,
                       "UPDATE examples SET output = u.output, content_hash = u.content_hash, "
                       "meta = u.meta, updated_at = ? FROM _outputs u "
                       "WHERE examples.id = u.id AND examples.output IS NULL", [now])
            self.clear_scores([o["id"] for o in todo])
        return {o["id"] for o in todo}


def _decode_job(row: dict) -> JobRow:
    row = dict(row)
    row["base_urls"] = json.loads(row["base_urls"])
    row["params"] = json.loads(row["params"])
    row["remaining"] = max(0, row["requested"] - row["done"] - row["failed"])
    row["items_per_s"] = round((row["done"] + row["failed"]) / row["active_seconds"], 2) \
        if row["active_seconds"] > 0 else None
    for key in ("created_at", "updated_at", "finished_at"):
        row[key] = iso(row[key])
    return cast(JobRow, row)
