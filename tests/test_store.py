"""The store: migrations, backups, the process lock, serialised writes."""

import random

import duckdb
import pytest

from helpers import assert_status_chain, run_cli, run_together
from studio.errors import StoreLocked, StudioError
from studio.store import MIGRATIONS, Store


def test_new_file_gets_every_migration_and_no_backup(db):
    with Store(db) as store:
        assert store.schema_version() == len(MIGRATIONS)
        assert store.backups == []
    assert not list(db.parent.glob("*.bak-*"))


def test_migrates_from_first_schema_with_a_backup(db):
    with Store(db, migrate_to=1) as store:
        assert store.schema_version() == 1
        store._run(
            "INSERT INTO examples VALUES (1, 'tweet-summary', 'in', 'out', 'imported', NULL, "
            "'approved', NULL, NULL, NULL, NULL, 'h', now(), now(), '{}')")
        store._run("INSERT INTO reviews VALUES (1, 1, 'ann', 'approve', '{}', '{}', NULL, now())")
    with Store(db) as store:
        assert store.schema_version() == len(MIGRATIONS)
        assert [b.name.split("-")[1] for b in store.backups] == ["v1"]
        row = store.get_example(1)
        assert (row["input"], row["output"], row["status"]) == ("in", "out", "approved")
        assert store.reviews()[0]["batch_id"] is None  # the new column, on the old row
        backup = store.backups[0]
    # The backup is the file as it was: schema 1, the same row, no batch_id column.
    con = duckdb.connect(str(backup), read_only=True)
    assert con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == 1
    assert con.execute("SELECT input FROM examples").fetchall() == [("in",)]
    cols = [r[0] for r in con.execute("DESCRIBE reviews").fetchall()]
    assert "batch_id" not in cols
    con.close()


def schema(path, migrate_to=None) -> dict:
    """Every table's columns in order with their types, defaults and nullability (the store's
    own describe_schema, which docs/schema.md is made from), and every index, view and
    sequence, as DuckDB reports them."""
    with Store(path, migrate_to=migrate_to) as store:
        tables = {t["table"]: t["columns"] for t in store.describe_schema()}
    con = duckdb.connect(str(path), read_only=True)
    try:
        others = con.execute(
            "SELECT 'index', index_name, table_name FROM duckdb_indexes() "
            "UNION ALL SELECT 'view', view_name, '' FROM duckdb_views() WHERE NOT internal "
            "UNION ALL SELECT 'sequence', sequence_name, '' FROM duckdb_sequences() "
            "ORDER BY 1, 2").fetchall()
    finally:
        con.close()
    return {"tables": tables, "others": others}


@pytest.mark.parametrize("start", [1, len(MIGRATIONS) // 2])
def test_a_migrated_store_has_the_same_schema_as_a_fresh_one(tmp_path, start):
    """Every table, column (type, default, nullability), index, view and sequence: a store
    made new and one migrated from an older schema cannot be told apart."""
    fresh, old = tmp_path / "fresh.duckdb", tmp_path / "old.duckdb"
    assert schema(old, migrate_to=start) != schema(fresh)  # the old one really is older
    got, want = schema(old), schema(fresh)  # opening the old one migrates it
    assert sorted(got["tables"]) == sorted(want["tables"])
    for table, columns in want["tables"].items():
        assert got["tables"][table] == columns, table
    assert got["others"] == want["others"]


def test_reopening_an_up_to_date_store_makes_no_backup(db):
    Store(db).close()
    with Store(db) as store:
        assert store.backups == []


def test_refuses_a_store_from_a_newer_studio(db):
    with Store(db) as store:
        store._run("INSERT INTO schema_migrations VALUES (99, 'future', now())")
    with pytest.raises(StudioError, match="newer than this studio"):
        Store(db)


def test_not_a_duckdb_file(tmp_path):
    bad = tmp_path / "notes.duckdb"
    bad.write_text("just some text, not a database\n" * 100)
    with pytest.raises(StudioError, match="notes.duckdb"):
        Store(bad)


def test_second_process_gets_the_holder_pid_and_exit_3(db):
    import os

    with Store(db):
        result = run_cli("--db", db, "stats")
        assert result.returncode == 3
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"held by process {os.getpid()}" in lines[0]
        assert "Traceback" not in result.stderr


def test_store_locked_error_in_process_terms(db):
    err = StoreLocked(str(db), 1234)
    assert err.exit_code == 3 and "1234" in str(err)


def test_transaction_rolls_back_everything_on_error(studio, tmp_path):
    from helpers import write_jsonl

    studio.import_file(write_jsonl(tmp_path / "a.jsonl", [{"input": "a", "output": "b"}]))
    with pytest.raises(RuntimeError):
        with studio.store.transaction():
            studio.review(1, "approve")
            raise RuntimeError("boom")
    assert studio.get(1)["status"] == "pending"
    assert studio.history(1) == []


def test_four_threads_250_actions_each_lose_nothing(studio, tmp_path):
    from helpers import write_jsonl

    rows = [{"input": f"tweet {i}", "output": f"summary {i}"} for i in range(10)]
    studio.import_file(write_jsonl(tmp_path / "r.jsonl", rows))
    ids = [r["id"] for r in studio.list(limit=100)["rows"]]
    def worker(n):
        rng = random.Random(n)
        for i in range(250):
            eid = rng.choice(ids)
            kind = rng.choice(["approve", "reject", "edit"])
            if kind == "edit":
                studio.edit(eid, output=f"worker {n} edit {i}", reviewer=f"w{n}")
            else:
                studio.review(eid, kind, reviewer=f"w{n}")

    errors = run_together(worker, 4)
    assert errors == []
    audit = studio.history()
    assert len(audit) == 1000
    assert {f"w{n}": 250 for n in range(4)} == {
        r: sum(a["reviewer"] == r for a in audit) for r in {a["reviewer"] for a in audit}}
    for eid in ids:
        assert_status_chain(studio, eid, audit)
        edits = [a for a in audit if a["example_id"] == eid and a["action"] == "edit"]
        if edits:
            assert studio.get(eid)["output"] == edits[-1]["after"]["output"]
