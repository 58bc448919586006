"""Import speed: the studio's bulk import (checked, deduplicated, one Arrow insert) against a
row-by-row INSERT of the same rows, in one run. Writes docs/benchmarks.md."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import table, write_section  # noqa: E402

from studio import Studio  # noqa: E402

TOPICS = ["train", "coffee", "match", "storm", "launch", "concert", "exam", "garden"]


def make_rows(n: int) -> list[dict]:
    return [{"input": f"omg the {TOPICS[i % 8]} today was sooo wild #{i} cant believe it lol",
             "output": f"A person reacts to the {TOPICS[i % 8]} of day {i}."} for i in range(n)]


def bulk(path: Path, rows_file: Path) -> tuple[float, float]:
    """(seconds to import the file into a new store, seconds to import it again: every row is
    found by its import identity and nothing is added)."""
    with Studio.open(path) as s:
        t = time.perf_counter()
        r = s.import_file(rows_file)
        took = time.perf_counter() - t
        assert r["imported"] == s.stats()["total"]
        t = time.perf_counter()
        again = s.import_file(rows_file)
        took_again = time.perf_counter() - t
        assert again["imported"] == 0 and again["already_imported"] == r["imported"]
    return took, took_again


def row_by_row(path: Path, rows: list[dict]) -> float:
    """What a naive importer does: one parameterised INSERT per row, in one transaction."""
    with Studio.open(path) as s:
        con = s.store._con
        t = time.perf_counter()
        con.execute("BEGIN")
        for i, r in enumerate(rows, 1):
            con.execute("INSERT INTO examples (id, task, input, output, source, status, "
                        "content_hash, created_at, updated_at, meta) VALUES "
                        "(?, 'tweet-summary', ?, ?, 'imported', 'pending', ?, now(), now(), '{}')",
                        [i, r["input"], r["output"], str(i)])
        con.execute("COMMIT")
        return time.perf_counter() - t


def main() -> None:
    results = []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for n in (10_000, 50_000):
            rows = make_rows(n)
            f = d / f"rows{n}.jsonl"
            f.write_text("".join(json.dumps(r) + "\n" for r in rows))
            b, again = bulk(d / f"bulk{n}.duckdb", f)
            results.append([f"{n:,}", "studio import (parse + check + bulk insert)",
                            f"{b:.2f}", f"{n / b:,.0f}"])
            results.append([f"{n:,}", "the same file again (parse + check + identity lookup, "
                            "nothing added)", f"{again:.2f}", f"{n / again:,.0f}"])
            if n <= 10_000:
                rb = row_by_row(d / f"rbr{n}.duckdb", rows)
                results.append([f"{n:,}", "row-by-row INSERT (insert only, no checks)",
                                f"{rb:.2f}", f"{n / rb:,.0f}"])
            print(results[-1], flush=True)
    body = table(["rows", "method", "seconds", "rows/s"], results) + (
        "\n\nThe row-by-row baseline is only run at 10,000 rows: it does no parsing or checks "
        "and is still the slower one by far. Importing a file again finds every row by its import "
        "identity (`import_keys`, the hash of the file row as read) in one scan, so a second "
        "import, or `init --sample` on a store that has the samples, adds nothing.\n")
    write_section("import", "Import: 50,000 rows", body)


if __name__ == "__main__":
    main()
