"""Near-duplicate search at scale: 100k and 1M clustered 384-dim unit vectors with planted
near-copies (cosine 0.95-0.995), threshold 0.95.

For each size: the k-means pair search alone; recall against exact all-pairs on a 50k subset
(and the time exact search takes there, scaled to the full size); and the whole `dedupe` through
a real store (vectors read from DuckDB in blocks, the plan, the marks written back).
Writes docs/benchmarks.md. Usage: python benchmarks/dedupe_speed.py [--sizes 100000,1000000]"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import table, write_section  # noqa: E402

from studio.curation.dedupe import run_dedupe  # noqa: E402
from studio.curation.neighbours import find_pairs  # noqa: E402

DIM, THRESHOLD, SUBSET = 384, 0.95, 50_000
MODEL = "bench-model"


def clustered(n: int, centers: int = 5000, planted: float = 0.01, seed: int = 0):
    """Unit vectors around random centres (two rows of one centre: cosine ~0.55), with
    `planted` * n rows replaced by near-copies of others; returns (vectors, the rows of planted
    pairs)."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, DIM), dtype=np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    x = np.empty((n, DIM), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        part = c[rng.integers(0, centers, m)] + 0.9 / np.sqrt(DIM) * rng.standard_normal(
            (m, DIM), dtype=np.float32)
        x[start:start + m] = part / np.linalg.norm(part, axis=1, keepdims=True)
    k = int(n * planted)
    src = rng.choice(n, k, replace=False)
    dst = rng.permutation(np.setdiff1d(np.arange(n), src))[:k]
    noise = rng.uniform(0.1, 0.3, (k, 1)).astype(np.float32) / np.sqrt(DIM)
    copies = x[src] + noise * rng.standard_normal((k, DIM), dtype=np.float32)
    x[dst] = copies / np.linalg.norm(copies, axis=1, keepdims=True)
    return x, np.union1d(src, dst)


def subset(n: int, planted_rows: np.ndarray, seed: int = 1) -> np.ndarray:
    """SUBSET rows for the exact check: every row of a planted pair, then random others."""
    rng = np.random.default_rng(seed)
    rest = rng.permutation(np.setdiff1d(np.arange(n), planted_rows))
    return np.sort(np.concatenate([planted_rows, rest[:max(0, SUBSET - len(planted_rows))]]))


def pairs_in(i, j, rows: np.ndarray) -> set[tuple[int, int]]:
    """The pairs (as rows of x) with both ends among `rows`."""
    keep = np.isin(i, rows) & np.isin(j, rows)
    return set(zip(i[keep].tolist(), j[keep].tolist()))


def store_run(x: np.ndarray) -> dict:
    """Load a store with len(x) rows and their vectors (not timed), then time dedupe."""
    from studio.store import Store

    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.duckdb") as store:
        texts = [f"row {i}" for i in range(len(x))]
        store.insert_examples([{"task": "bench", "input": t, "output": "o", "source": "teacher",
                                "content_hash": str(i)} for i, t in enumerate(texts)])
        hashes = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        for start in range(0, len(x), 200_000):
            store.save_embeddings(MODEL, hashes[start:start + 200_000], x[start:start + 200_000])
        t0 = time.perf_counter()
        r = run_dedupe(store, "bench", MODEL, THRESHOLD)
        r["total_seconds"] = time.perf_counter() - t0
        return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    sizes = [int(s) for s in ap.parse_args().sizes.split(",")]
    rows = []
    for n in sizes:
        x, planted_rows = clustered(n)
        t0 = time.perf_counter()
        approx = find_pairs(x, THRESHOLD, method="kmeans")
        search = time.perf_counter() - t0
        rows_ = subset(n, planted_rows)
        sub = len(rows_)
        t0 = time.perf_counter()
        exact = find_pairs(x[rows_], THRESHOLD, method="exact")
        exact_s = time.perf_counter() - t0
        truth = pairs_in(rows_[exact.i], rows_[exact.j], rows_)
        recall = len(truth & pairs_in(approx.i, approx.j, rows_)) / max(1, len(truth))
        full = store_run(x)
        dups = full["exact"] + full["semantic"]
        print(f"{n:,}: search {search:.1f}s ({approx.clusters} buckets, {len(approx):,} pairs), "
              f"recall {recall:.4f} on {len(truth):,} pairs, exact on {sub:,} {exact_s:.1f}s, "
              f"dedupe via store {full['total_seconds']:.1f}s ({dups:,} duplicates)")
        rows.append([f"{n:,}", f"{approx.clusters:,}", f"{len(approx):,}", f"{search:.1f}",
                     f"{recall:.4f} ({len(truth):,} pairs)",
                     f"{exact_s:.1f} s on {sub:,} (~{exact_s * (n / sub) ** 2:,.0f} s for all)",
                     f"{full['total_seconds']:.1f}", f"{dups:,}"])
        del x
    body = (
        f"Clustered {DIM}-dim unit vectors (5,000 centres; two rows of one centre have cosine "
        f"~0.55) with 1% of rows replaced by near-copies of others (cosine 0.95-0.995); "
        f"threshold {THRESHOLD}; numpy with its BLAS on both cores. Recall is checked against "
        f"exact all-pairs on {SUBSET:,} rows: every row of a planted pair, the rest random.\n\n"
        + table(["vectors", "k-means buckets", "pairs found", "pair search (s)",
                 f"recall vs exact search on {SUBSET:,} rows", "exact all-pairs",
                 "dedupe via the store (s)", "rows marked"], rows)
        + "\n\n*Pair search*: spherical k-means on a sample, each vector filed under its nearest "
        "centre, then compared (one matrix product per bucket) with the members of its 3 "
        "nearest buckets, skipping buckets the triangle inequality rules out. *Dedupe via the "
        "store* adds reading every vector from DuckDB in Arrow blocks, ranking rows, building "
        "clusters and writing `duplicate_of` / `similarity` / `cluster_id` back in one "
        "transaction. Targets: 100k in 10 s and 1M in 120 s, recall at least 0.99.")
    write_section("dedupe-speed", "Near-duplicate search", body)


if __name__ == "__main__":
    main()
