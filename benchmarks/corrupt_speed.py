"""Corrupter throughput: the full `tweet` profile against nlpaug's KeyboardAug (whitespace
tokenizer, its default rates) on the same 10,000 tweet-length texts, in one run, single thread.
Needs `pip install nlpaug` (make bench does it). Writes docs/benchmarks.md."""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import table, write_section  # noqa: E402

from generators.noise import BUILTIN_PROFILES, Corrupter  # noqa: E402

N = 10_000
ROUNDS = 3


def texts() -> list[str]:
    clean = [json.loads(x)["clean"] for x in (ROOT / "sample_data" / "tweet_pairs.jsonl").open()]
    # Vary each repeat a little so no two texts are the same string.
    return [f"{clean[i % len(clean)]} #{i // len(clean)}" for i in range(N)]


def studio_run(data):
    c = Corrupter.calibrated(BUILTIN_PROFILES["tweet"], data)
    t = time.perf_counter()
    out = [c(x, 0) for x in data]
    took = time.perf_counter() - t
    return took, sum(x.text != y for x, y in zip(out, data)), sum(sum(o.ops.values()) for o in out)


def nlpaug_run(data):
    import nlpaug.augmenter.char as nac

    aug = nac.KeyboardAug(tokenizer=lambda s: s.split(" "), reverse_tokenizer=" ".join)
    t = time.perf_counter()
    out = aug.augment(data, num_thread=1)
    took = time.perf_counter() - t
    return took, sum(x != y for x, y in zip(out, data)), None


def main():
    data = texts()
    runs = {"sft-studio `tweet` profile": [], "nlpaug KeyboardAug": []}
    changed, ops = {}, {}
    for _ in range(ROUNDS):  # interleaved, so both see the same machine state
        for name, fn in (("sft-studio `tweet` profile", studio_run),
                         ("nlpaug KeyboardAug", nlpaug_run)):
            took, ch, n_ops = fn(data)
            runs[name].append(took)
            changed[name], ops[name] = ch, n_ops
    rows = []
    base = N / statistics.median(runs["nlpaug KeyboardAug"])
    for name, times in runs.items():
        rate = N / statistics.median(times)
        rows.append([name, f"{rate:,.0f}", f"{1e6 * statistics.median(times) / N:.0f}",
                     f"{rate / base:.2f}x", f"{changed[name] / N:.0%}",
                     "" if ops[name] is None else f"{ops[name] / N:.2f}"])
        print(name, f"{rate:,.0f} texts/s")
    body = (f"{N:,} tweet-length texts (the clean side of `sample_data/tweet_pairs.jsonl`, "
            f"repeated), one thread, median of {ROUNDS} interleaved runs.\n\n"
            + table(["corrupter", "texts/s", "µs/text", "vs nlpaug", "texts changed",
                     "operations/text"], rows)
            + "\n\nThe studio applies every operator of the `tweet` profile (lexicon, "
            "apostrophes, g-dropping, typos, casing, punctuation, entities, ...) in one pass over "
            "each text's pieces; KeyboardAug applies keyboard typos only. Target: at least 2x.")
    write_section("corrupt-speed", "Corrupter throughput", body)


if __name__ == "__main__":
    main()
