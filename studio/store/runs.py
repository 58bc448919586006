"""SQL for training runs and the metrics folded in from each run's metrics.jsonl."""

from __future__ import annotations

import json

from studio.store.base import StoreBase, dumps, iso, utcnow
from studio.vocabulary import LIVE_RUN_STATUSES

RUN_FIELDS = {"status", "pid", "cancel_requested", "step", "max_steps", "progress", "eta_s",
              "tokens_per_s", "train_loss", "eval_loss", "adapter_path", "merged_path", "eval",
              "curve", "error", "metrics_offset", "finished_at", "export_id"}
JSON_FIELDS = ("config", "eval", "curve")


class RunsMixin(StoreBase):
    def create_run(self, *, task: str, kind: str, model: str, run_dir: str, config: dict,
                   export_id: int | None) -> int:
        now = utcnow()
        with self.transaction():
            run_id = self._one("SELECT nextval('runs_id_seq')")[0]
            self._run("INSERT INTO runs (id, task, kind, status, model, run_dir, config, "
                      "export_id, created_at, updated_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, "
                      "?, ?)", [run_id, task, kind, model, run_dir, dumps(config), export_id,
                                now, now])
        return run_id

    def next_run_id(self) -> int:
        """The id the next run will get (run folders are named before the row exists)."""
        return self._one("SELECT coalesce(max(id), 0) + 1 FROM runs")[0]

    def get_run(self, run_id: int) -> dict | None:
        rows = self._all("SELECT * FROM runs WHERE id = ?", [run_id])
        return _decode(rows[0]) if rows else None

    def list_runs(self, task: str | None = None, limit: int = 200) -> list[dict]:
        where, params = ("WHERE task = ?", [task]) if task else ("", [])
        return [_decode(r) for r in self._all(
            f"SELECT * FROM runs {where} ORDER BY id DESC LIMIT ?", params + [limit])]

    def live_runs(self) -> list[dict]:
        return [_decode(r) for r in self._all(
            "SELECT * FROM runs WHERE status IN (?, ?) ORDER BY id", list(LIVE_RUN_STATUSES))]

    def update_run(self, run_id: int, fields: dict) -> None:
        bad = set(fields) - RUN_FIELDS
        if bad:
            raise ValueError(f"not an updatable run field: {sorted(bad)}")
        values = {k: (dumps(v) if k in JSON_FIELDS and v is not None else v)
                  for k, v in fields.items()}
        sets = ", ".join(f"{k} = ?" for k in values)
        self._run(f"UPDATE runs SET {sets}, updated_at = ? WHERE id = ?",
                  list(values.values()) + [utcnow(), run_id])

    def add_run_metrics(self, run_id: int, rows: list[dict]) -> None:
        if not rows:
            return
        with self._lock:
            self._db.executemany(
                "INSERT INTO run_metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [[run_id, r.get("part") or "", r["step"], r.get("epoch"), r.get("loss"),
                  r.get("eval_loss"), r.get("learning_rate"), r.get("tokens_per_s"), r["at"]]
                 for r in rows])

    def run_metrics(self, run_id: int, part: str | None = None) -> list[dict]:
        where, params = ("AND part = ?", [part]) if part is not None else ("", [])
        return self._all(f"SELECT part, step, epoch, loss, eval_loss, learning_rate, "
                         f"tokens_per_s FROM run_metrics WHERE run_id = ? {where} "
                         f"ORDER BY logged_at, step", [run_id] + params)


def _decode(row: dict) -> dict:
    for k in JSON_FIELDS:
        row[k] = json.loads(row[k]) if row[k] else None
    for k in ("created_at", "updated_at", "finished_at"):
        row[k] = iso(row[k])
    return row
