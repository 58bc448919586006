"""The connection: opening the file, the process lock, transactions and migrations."""

from __future__ import annotations

import json
import re
import shutil
import threading
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from studio.errors import StoreLocked, StudioError
from studio.store.migrations import MIGRATIONS

if TYPE_CHECKING:
    import duckdb

_PID_RE = re.compile(r"PID (\d+)")


def utcnow() -> datetime:
    """Naive UTC, as stored in TIMESTAMP columns."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat(timespec="microseconds") + "Z"


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class StoreBase:
    """Owns one DuckDB connection. Every statement runs under one re-entrant lock, so threads of
    one process (the app's sessions, a generation job's writer) never interleave inside a
    read-modify-write and DuckDB never sees two writers on one row."""

    def __init__(self, path: str | Path, *, migrate_to: int | None = None):
        import duckdb

        self.path = Path(path)
        self._lock = threading.RLock()
        self._depth = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        existed = self.path.exists() and self.path.stat().st_size > 0
        try:
            self._con: duckdb.DuckDBPyConnection | None = duckdb.connect(str(self.path))
        except duckdb.IOException as e:
            msg = str(e)
            if "lock" in msg.lower():
                m = _PID_RE.search(msg)
                raise StoreLocked(str(self.path), int(m.group(1)) if m else None) from None
            raise StudioError(f"cannot open {self.path}: {msg}") from None
        except duckdb.Error as e:
            raise StudioError(
                f"{self.path} is not a DuckDB store this studio can open: {e}") from None
        self.backups: list[Path] = []
        self._migrate(existed, len(MIGRATIONS) if migrate_to is None else migrate_to)

    # -- connection ------------------------------------------------------------------------

    @property
    def _db(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StudioError(f"{self.path} was closed")
        return self._con

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _run(self, sql: str, params=None) -> _Rows:
        """Run one statement and read its whole result under the lock: the connection is
        shared by threads, and a result read after the lock is released could be another
        thread's."""
        with self._lock:
            return _Rows(self._db.execute(sql, params or []).fetchall())

    def _all(self, sql: str, params=None) -> list[dict]:
        with self._lock:
            cur = self._db.execute(sql, params or [])
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]

    def _one(self, sql: str, params=None):
        """The first row or None. Fetches everything: DuckDB refuses the connection's next
        statement while a result is only partly read."""
        with self._lock:
            rows = self._db.execute(sql, params or []).fetchall()
            return rows[0] if rows else None

    def _scan(self, name: str, table, sql: str, params=None) -> list[tuple]:
        """Run `sql` with an Arrow table visible under `name` (bulk reads and writes without a
        statement per row); returns the rows it yields."""
        with self._lock:
            self._db.register(name, table)
            try:
                return self._db.execute(sql, params or []).fetchall()
            finally:
                self._db.unregister(name)

    def _update_row(self, table: str, row_id: int, fields: dict, allowed: set[str],
                    json_field: str) -> None:
        """UPDATE one row's `fields` (checked against `allowed`; `json_field` is stored as
        JSON) and stamp updated_at."""
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"not an updatable {table} field: {sorted(bad)}")
        values = {k: (dumps(v) if k == json_field else v) for k, v in fields.items()}
        sets = ", ".join(f"{k} = ?" for k in values)
        self._run(f"UPDATE {table} SET {sets}, updated_at = ? WHERE id = ?",
                  list(values.values()) + [utcnow(), row_id])

    @contextmanager
    def transaction(self):
        """One atomic unit; nested uses join the outer transaction."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN TRANSACTION")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._db.execute("COMMIT")

    # -- migrations ------------------------------------------------------------------------

    def schema_version(self) -> int:
        row = self._one(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        )
        if not row[0]:
            return 0
        return self._one("SELECT coalesce(max(version), 0) FROM schema_migrations")[0]

    def describe_schema(self) -> list[dict]:
        """Every table of the store with its columns in order ({"table", "columns": [{"name",
        "type", "nullable", "default"}]}), for docs/schema.md (docs/reference.py)."""
        rows = self._all(
            "SELECT table_name, column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = 'main' "
            "ORDER BY table_name, ordinal_position")
        tables: dict[str, list[dict]] = {}
        for r in rows:
            tables.setdefault(r["table_name"], []).append({
                "name": r["column_name"], "type": r["data_type"],
                "nullable": r["is_nullable"] == "YES", "default": r["column_default"]})
        return [{"table": t, "columns": c} for t, c in tables.items()]

    def _migrate(self, existed: bool, target: int) -> None:
        current = self.schema_version()
        if current > len(MIGRATIONS):
            raise StudioError(
                f"{self.path} has schema version {current}, newer than this studio knows "
                f"({len(MIGRATIONS)}); upgrade sft-studio"
            )
        if current >= target:
            return
        if existed and current > 0:
            self.backups.append(self._backup(current))
        self._run(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        for version in range(current + 1, target + 1):
            fn = MIGRATIONS[version - 1]
            with self.transaction():
                fn(self._db)
                self._run(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    [version, fn.__name__, utcnow()],
                )

    def _backup(self, version: int) -> Path:
        """Copy the file before its schema changes: `NAME.bak-vN-YYYYmmddTHHMMSS`."""
        self._run("CHECKPOINT")
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        dest = self.path.with_name(f"{self.path.name}.bak-v{version}-{stamp}")
        shutil.copy2(self.path, dest)
        return dest


class _Rows:
    """A statement's result, already read."""

    def __init__(self, rows: list[tuple]):
        self.rows = rows

    def fetchall(self) -> list[tuple]:
        return self.rows

    def fetchone(self) -> tuple | None:
        return self.rows[0] if self.rows else None
