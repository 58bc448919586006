"""Data tab paging on 100,000 rows: one server-side page from DuckDB (what the app does) against
loading every row to filter and page in Python (what a table fed the whole set does), in one run.
Writes docs/benchmarks.md."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_speed import make_rows  # noqa: E402
from report import table, write_section  # noqa: E402

from studio import Studio  # noqa: E402

N = 100_000
QUERIES = {
    "first page, no filter": dict(),
    "page 1,000 of 2,000": dict(offset=50 * 999),
    "status=pending, text 'storm'": dict(status="pending", text="storm"),
    "newest first": dict(order_by="updated_at", descending=True),
}


def timed(fn, repeat=5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    import json

    rows_out = []
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "rows.jsonl"
        f.write_text("".join(json.dumps(r) + "\n" for r in make_rows(N)))
        with Studio.open(Path(d) / "s.duckdb") as s:
            s.import_file(f)
            for name, q in QUERIES.items():
                paged = timed(lambda: s.list(limit=50, **q))

                def load_all():
                    everything = s.list(limit=N + 1)["rows"]
                    hits = [r for r in everything if (not q.get("text") or q["text"] in r["input"])]
                    return hits[q.get("offset", 0): q.get("offset", 0) + 50]

                full = timed(load_all, repeat=2)
                rows_out.append([name, f"{paged:.1f}", f"{full:,.0f}", f"{full / paged:,.0f}x"])
                print(rows_out[-1], flush=True)
    write_section("paging", f"Data tab: one page of {N:,} rows",
                  table(["query", "DuckDB page (ms)", "load all, page in Python (ms)", "speed-up"],
                        rows_out) + "\n\nMedian of 5 runs (2 for the load-all baseline).\n")


if __name__ == "__main__":
    main()
