"""SQL for training runs, the metrics folded in from each run's metrics.jsonl, and what runs
were exported to (model_exports)."""

from __future__ import annotations

import json
from typing import cast

from studio.records import ModelExport, RunRow
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

    def get_run(self, run_id: int) -> RunRow | None:
        rows = self._all("SELECT * FROM runs WHERE id = ?", [run_id])
        return _decode(rows[0]) if rows else None

    def list_runs(self, task: str | None = None, limit: int = 200) -> list[RunRow]:
        where, params = ("WHERE task = ?", [task]) if task else ("", [])
        return [_decode(r) for r in self._all(
            f"SELECT * FROM runs {where} ORDER BY id DESC LIMIT ?", params + [limit])]

    def live_runs(self) -> list[RunRow]:
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

    # -- model exports -----------------------------------------------------------------------

    def record_model_export(self, run_id: int, result: dict) -> int:
        with self.transaction():
            export_id = self._one("SELECT nextval('model_exports_id_seq')")[0]
            self._run("INSERT INTO model_exports (id, run_id, target, quant, out_dir, gguf, "
                      "modelfile, files, commands, bytes, seconds, created_at) VALUES "
                      "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      [export_id, run_id, result["to"], result.get("quant"), result["out_dir"],
                       result.get("gguf"), result.get("modelfile"), dumps(result["files"]),
                       dumps(result.get("commands") or {}), int(result.get("bytes") or 0),
                       float(result["seconds"]), utcnow()])
        return export_id

    def model_exports(self, run_id: int | None = None, limit: int = 50) -> list[ModelExport]:
        """Newest first; one run's, or every run's."""
        where, params = ("WHERE run_id = ?", [run_id]) if run_id is not None else ("", [])
        return [_decode_model_export(r) for r in self._all(
            f"SELECT * FROM model_exports {where} ORDER BY id DESC LIMIT ?", params + [limit])]


def _decode_model_export(row: dict) -> ModelExport:
    return cast(ModelExport, {
        "id": row["id"], "run": row["run_id"], "to": row["target"], "quant": row["quant"],
        "out_dir": row["out_dir"], "files": json.loads(row["files"]), "gguf": row["gguf"],
        "modelfile": row["modelfile"], "commands": json.loads(row["commands"]),
        "bytes": row["bytes"], "seconds": row["seconds"], "created_at": iso(row["created_at"])})


def _decode(row: dict) -> RunRow:
    for k in JSON_FIELDS:
        row[k] = json.loads(row[k]) if row[k] else None
    for k in ("created_at", "updated_at", "finished_at"):
        row[k] = iso(row[k])
    return cast(RunRow, row)
