"""Scoring at scale: `Studio.score` on 100k rows of a real store (vectors already cached), by
phase, and novelty by exact all-pairs against k-means buckets side by side.

Rows are tweet-like texts with summaries (a few percent copied, looping or with role markers);
their input vectors are clustered 384-dim unit vectors and each output vector lies near its
input's. Writes docs/benchmarks.md. Usage: python benchmarks/score_speed.py [--rows 100000]"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dedupe_speed import clustered  # noqa: E402
from report import table, write_section  # noqa: E402

from studio import Studio  # noqa: E402
from studio.curation import neighbours  # noqa: E402
from studio.curation.embed import text_hash  # noqa: E402
from studio.scoring.heuristics import TaskStats, check  # noqa: E402
from studio.importing import content_hash  # noqa: E402

MODEL, TASK = "bench-model", "tweet-summary"
PLACES = ["Elm Park", "the harbour", "Main St", "the station", "Quay St", "the library"]
EVENTS = ["a water main break", "a street fair", "a power cut", "free flu shots",
          "a bus delay", "a lost dog", "a new cafe", "road works"]


def rows(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        place, event = PLACES[i % len(PLACES)], EVENTS[(i // 7) % len(EVENTS)]
        inp = (f"heads up: {event} near {place} since {i % 12 + 1}pm, ref {i}. "
               f"crews say it'll take a while, pls share #{place.split()[-1].lower()}")
        roll = rng.random()
        output = (inp if roll < 0.02 else f"Assistant: {event} near {place} (ref {i})."
                  if roll < 0.04 else f"{event} {event} {event} {event} near {place} {i}"
                  if roll < 0.06 else f"There is {event} near {place} since {i % 12 + 1} pm "
                  f"(ref {i}).")
        out.append({"task": TASK, "input": inp, "output": output, "source": "teacher",
                    "content_hash": content_hash(TASK, inp, output)})
    return out


def build(path: Path, n: int) -> Studio:
    s = Studio.open(path)
    data = rows(n)
    s.store.insert_examples(data)
    x, _ = clustered(n)
    rng = np.random.default_rng(2)
    y = x + rng.normal(0, 0.04, x.shape).astype(np.float32)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    s.store.save_embeddings(MODEL, [text_hash(r["input"]) for r in data], x)
    hashes = [text_hash(r["output"]) for r in data]
    fresh = {h: k for k, h in enumerate(hashes)}  # a copied output shares its input's vector
    s.store.save_embeddings(MODEL, list(fresh), y[list(fresh.values())])
    s.store.set_setting("embedding_model", MODEL)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        s = build(Path(d) / "bench.duckdb", a.rows)
        print(f"built {a.rows} rows in {time.perf_counter() - t0:.1f}s", flush=True)
        phases = []
        t = time.perf_counter()
        data = s.store.score_inputs(TASK)
        phases.append(["read the rows", time.perf_counter() - t])
        t = time.perf_counter()
        stats = TaskStats.of(data["input"], data["output"])
        flagged = sum(any(c.flag for c in check(i, o, (), stats))
                      for i, o in zip(data["input"], data["output"]))
        phases.append([f"heuristics ({flagged} rows flagged)", time.perf_counter() - t])
        t = time.perf_counter()
        ids, x = s.store.example_vectors(MODEL, TASK)
        s.store.example_vectors(MODEL, TASK, column="output")
        phases.append(["read input and output vectors", time.perf_counter() - t])
        t = time.perf_counter()
        neighbours.nearest_other(x)
        phases.append(["novelty (k-means buckets)", time.perf_counter() - t])
        t = time.perf_counter()
        r = s.score(model=MODEL, task=TASK)
        total = time.perf_counter() - t
        phases.append(["**`Studio.score` end to end** (all of the above, faithfulness, quality, "
                       "~1.1M score rows written)", total])
        side = novelty_side_by_side(x[:20_000])
        s.close()
    body = (f"`Studio.score` on {a.rows:,} rows with cached vectors ({r['scored']:,} scored, "
            f"flags: {r['flagged']}):\n\n"
            + table(["phase", "seconds"], [[p, f"{sec:.2f}"] for p, sec in phases])
            + "\n\nNovelty (each input's nearest other input) on 20,000 of those vectors:\n\n"
            + table(["method", "seconds", "rows exact", "rows with a neighbour at >= 0.8 "
                     "exact", "largest cosine missed"], side)
            + "\n\nThe score uses exact search up to 20,000 rows and buckets above. Buckets "
            "give a lower bound of the nearest cosine: a row's novelty can be overstated when "
            "its nearest neighbour sits in a bucket it does not probe, never understated, and "
            "near copies, the ones novelty is for, share a bucket.")
    write_section("score_speed", "Scores", body)
    print(body)


def novelty_side_by_side(x: np.ndarray) -> list[list]:
    t = time.perf_counter()
    exact = neighbours.nearest_cosines(x, np.arange(len(x)))
    t_exact = time.perf_counter() - t
    old, neighbours.EXACT_LIMIT = neighbours.EXACT_LIMIT, 0
    try:
        t = time.perf_counter()
        approx = neighbours.nearest_other(x)
        t_approx = time.perf_counter() - t
    finally:
        neighbours.EXACT_LIMIT = old
    hit = np.isclose(approx, exact, atol=1e-5)
    near = exact >= 0.8
    return [["exact all-pairs (blocked)", f"{t_exact:.2f}", "100%", "100%", "0"],
            ["k-means buckets, 3 probes", f"{t_approx:.2f}", f"{hit.mean():.1%}",
             f"{hit[near].mean():.1%} of {int(near.sum())}",
             f"{float((exact - approx).max()):.3f}"]]


if __name__ == "__main__":
    main()
