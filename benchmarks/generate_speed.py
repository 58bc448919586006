"""Teacher generation throughput: 2,000 requests against the loopback teacher server (100 ms a
request, in its own process), concurrency 64, in one run:

- the studio's `generate` (outputs mode on 2,000 input-only rows): every answer cached in the
  store, every result written by the job's writer, retries and budget on;
- a bare `AsyncOpenAI` loop with a semaphore of 64, storing nothing;
- a sequential loop (a sample of requests; its rate is latency-bound, 2,000 would take minutes).

The rounds alternate and the median is reported. Writes docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import table, write_section  # noqa: E402

N, CONCURRENCY, LATENCY, ROUNDS, SEQUENTIAL = 2000, 64, 0.1, 5, 30
PORT = 8765


def cpu() -> float:
    """CPU seconds of this process so far, every thread included."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def start_server() -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "teacher_server.py"),
                             "--port", str(PORT), "--latency", str(LATENCY)],
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()  # "listening on ..."
    return proc


def prompts(n: int, tag: str) -> list[list[dict]]:
    return [[{"role": "system", "content": "You write training data. Answer with JSON."},
             {"role": "user", "content": f"Task: summarise.\n\nInput:\nround {tag} tweet {i} "
              "about the bus being late again in the rain #commute\n\nAnswer with a JSON object "
              '{"output": "..."}.'}] for i in range(n)]


async def bare_loop(url: str, messages: list[list[dict]], concurrency: int) -> float:
    from openai import AsyncOpenAI

    start = time.perf_counter()  # the client is made inside the timing, as a job makes its own
    client = AsyncOpenAI(base_url=url, api_key="bench", max_retries=0, timeout=60)
    sem = asyncio.Semaphore(concurrency)

    async def one(m):
        async with sem:
            r = await client.chat.completions.create(model="teacher-test", messages=m,
                                                     temperature=0.3, max_tokens=400)
            return r.choices[0].message.content

    await asyncio.gather(*(one(m) for m in messages))
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed


def studio_generate(url: str, tag: str, workdir: Path, n: int = N) -> tuple[float, dict]:
    from studio import Studio
    from studio.importing import content_hash

    db = workdir / f"bench-{tag}.duckdb"
    with Studio.open(db) as s:
        rows = [{"task": "tweet-summary", "input": f"round {tag} tweet {i} about the bus being "
                 "late again in the rain #commute", "output": None, "source": "imported"}
                for i in range(n)]
        for r in rows:
            r["content_hash"] = content_hash(r["task"], r["input"], None)
        s.store.insert_examples(rows)
        s.import_file(ROOT / "sample_data" / "tweets_clean.jsonl", task="tweet-summary")
        cfg = s.teacher_config(model="teacher-test", base_urls=[url], concurrency=CONCURRENCY)
        job = s.start_job(cfg, task="tweet-summary", mode="outputs")
        start, cpu0 = time.perf_counter(), cpu()
        job = s.run_job(job["id"], cfg)
        elapsed, job["cpu_s"] = time.perf_counter() - start, cpu() - cpu0
        stored = s.store.teacher_call_count()
        assert job["done"] == n and stored == n, (job, stored)
    return elapsed, job


async def sequential(url: str, messages: list[list[dict]]) -> float:
    return await bare_loop(url, messages, 1)


def main() -> None:
    import openai  # noqa: F401  (imported once, outside every timing)

    server = start_server()
    url = f"http://127.0.0.1:{PORT}/v1"
    bare, ours, seq, bare_cpu, ours_cpu = [], [], [], [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # warm both sides: imports, first connections, DuckDB's first store
            asyncio.run(bare_loop(url, prompts(200, "warm"), CONCURRENCY))
            studio_generate(url, "warm", Path(tmp), n=200)
            for r in range(ROUNDS):
                cpu0 = cpu()
                bare.append(N / asyncio.run(bare_loop(url, prompts(N, f"b{r}"), CONCURRENCY)))
                bare_cpu.append((cpu() - cpu0) / N * 1000)
                elapsed, job = studio_generate(url, f"s{r}", Path(tmp))
                ours.append(N / elapsed)
                ours_cpu.append(job["cpu_s"] / N * 1000)
                print(f"round {r + 1}: bare {bare[-1]:.0f}/s ({bare_cpu[-1]:.2f} ms CPU), "
                      f"studio {ours[-1]:.0f}/s ({ours_cpu[-1]:.2f} ms CPU)", flush=True)
        seq.append(SEQUENTIAL / asyncio.run(sequential(url, prompts(SEQUENTIAL, "seq"))))
    finally:
        server.terminate()
    b, o, q = statistics.median(bare), statistics.median(ours), statistics.median(seq)
    bc, oc = statistics.median(bare_cpu), statistics.median(ours_cpu)
    rows = [
        ["studio `generate` (journal + cache + writer + retries + adaptive on)", f"{o:.0f}",
         " / ".join(f"{x:.0f}" for x in ours), f"{o / b:.0%}", f"{oc:.2f}"],
        ["bare `AsyncOpenAI` + semaphore(64), stores nothing", f"{b:.0f}",
         " / ".join(f"{x:.0f}" for x in bare), "100%", f"{bc:.2f}"],
        [f"sequential loop ({SEQUENTIAL} requests)", f"{q:.1f}", f"{q:.1f}", f"{q / b:.1%}", ""],
    ]
    body = (f"{N:,} chat-completion requests to the loopback teacher server ({LATENCY * 1000:.0f} "
            f"ms a request, in its own process), concurrency {CONCURRENCY}; requests per second, "
            f"median of {ROUNDS} alternating rounds. The latency bound is "
            f"{CONCURRENCY / LATENCY:.0f}/s.\n\n"
            + table(["client", "requests/s (median)", "each round", "vs bare loop",
                     "client CPU ms / request"], rows)
            + "\n\nThe studio's rate is measured around `run_job` with default settings but "
            "the concurrency ceiling (adaptive concurrency on: it starts at 4 in flight and "
            "triples each round trip while answers come back at the idle server's speed): planning, the engine, "
            "every answer journalled the moment it arrives (so a kill -9 re-pays only what was "
            "in flight), every answer written to `teacher_calls`, every output written to its "
            "row, the job's counters, and the final flush. Target: at least 90% of the bare "
            "loop. On this 2-core machine the client, its writer and DuckDB's threads share "
            "the cores with the server process, so the client's CPU is the limit: the CPU "
            "column is the steadier measure. Profiled with py-spy (2026-12-05): the openai "
            "SDK's typed transform of the request and its pydantic model of the response took "
            "about a third of the client's CPU per request, so the studio posts the body as "
            "built through the SDK's own `post` (same auth, headers, timeout and status "
            "errors) and reads the answer from the JSON; the request's JSON is made once for "
            "the hash, the journal and the store; the writer sleeps a second between "
            "transactions instead of waking for each answer (a transaction per arrival cost "
            "0.47 ms of CPU a request, one a second 0.1 ms), since the journal, not the "
            "flush, makes answers durable. What remains above the bare loop is the engine's "
            "templating, hashing, journalling and parsing (about 0.1 ms a request, measured "
            "with the teacher stubbed out) and the writer's DuckDB work.")
    print(body)
    write_section("generate_speed", "Teacher generation: studio vs bare AsyncOpenAI loop", body)


if __name__ == "__main__":
    main()
