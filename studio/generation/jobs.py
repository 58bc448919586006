"""Generation jobs on the studio side: planning, the one writer that makes results durable,
progress, cancel and resume. The async work itself is generators.engine's.

A job's parameters (the items to make, the seed pool, the recipe) are stored when it starts, so a
resume rebuilds exactly the same requests and every answer already stored comes from the cache.
While a job runs, its progress is also written beside the store (`STORE.jobs/ID.json`), because
DuckDB lets no other process read the file: `sft-studio jobs` and `cancel` use that folder then
(cancel drops an `ID.cancel` file the job watches for).
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import random
import threading
import time
from dataclasses import dataclass, field

from studio.generation.job_files import mark_running, release, sidecar_dir
from studio.generation.journal import Journal
from studio.generation.journal import fold as fold_journal
from studio.importing import content_hash
from studio.records import JobRow

MODES = ("outputs", "inputs", "both")
FLUSH_SECONDS = 1.0  # results are in the store this long after they arrive (answers are
#                     durable at once, in the journal)
_STOP = object()


@dataclass
class Progress:
    """What a running job has done so far (this run plus earlier runs of the same job)."""
    job_id: int
    requested: int
    done: int = 0
    failed: int = 0
    requests: int = 0
    cached: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    started: float = field(default_factory=time.monotonic)
    done_at_start: int = 0
    status: str = "running"
    error: str | None = None
    note: str | None = None  # the structured output in use, endpoints dropped and why

    @property
    def remaining(self) -> int:
        return max(0, self.requested - self.done - self.failed)

    @property
    def rate(self) -> float:
        """Items per second in this run."""
        elapsed = time.monotonic() - self.started
        return (self.done + self.failed - self.done_at_start) / elapsed if elapsed > 0 else 0.0

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("job_id", "requested", "done", "failed", "requests",
                                           "cached", "tokens_in", "tokens_out", "status", "error",
                                           "note")}
        d.update(cost_usd=round(self.cost_usd, 6), remaining=self.remaining,
                 rate=round(self.rate, 2), pid=os.getpid())
        return d


class Writer(threading.Thread):
    """The one thread that writes a job's results: it drains a queue every FLUSH_SECONDS and
    writes each batch in one transaction, then updates the progress file and looks for a
    cancel request.

    Every answer that was read is also appended to the job's journal (`STORE.jobs/ID.journal`,
    studio.generation.journal) the moment it arrives, so a kill -9 loses none of them. Before
    each batch the journal is rotated, and a rotated part is dropped once its answers are
    stored."""

    def __init__(self, studio, job: dict, progress: Progress, on_progress=None):
        super().__init__(daemon=True, name=f"job-{job['id']}-writer")
        self.studio, self.job, self.progress, self.on_progress = studio, job, progress, on_progress
        self.task = studio.reviews.task(job["task"])
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.error: Exception | None = None
        self.cancel_requested = threading.Event()
        self._wake = threading.Event()  # set by stop(): flush now
        db = studio.store.path
        self.progress_file = sidecar_dir(db) / f"{job['id']}.json"
        self.cancel_file = sidecar_dir(db) / f"{job['id']}.cancel"
        self.progress_file.parent.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(sidecar_dir(db) / f"{job['id']}.journal")

    # the engine's sink: cheap and thread-safe
    def answer(self, record: dict) -> None:
        if record.get("cache", True):
            self.journal.append(record, lambda: self.queue.put(("answer", record)))
        else:  # counted (tokens, cost), never cached
            self.queue.put(("answer", record))

    def cache_hit(self) -> None:
        self.queue.put(("hit", None))

    def sent(self, n: int) -> None:
        """HTTP requests made (retries included), whatever came of them."""
        if n:
            self.queue.put(("sent", n))

    def item(self, result: dict) -> None:
        self.queue.put(("item", result))

    def stop(self) -> None:
        self.queue.put(_STOP)
        self._wake.set()
        self.join()

    def run(self) -> None:
        last = time.monotonic()
        while True:
            self.journal.rotate()
            batch, stop, drained = self._gather(last + FLUSH_SECONDS)
            now = time.monotonic()
            if self.error is None:
                try:
                    self._flush(batch, now - last)
                    if drained:  # every answer of the rotated parts is in the store now
                        self.journal.drop_rotated()
                except Exception as e:  # surfaced as the job's error; the engine is stopped
                    self.error = e
                    self.cancel_requested.set()
            last = now
            if self.cancel_file.exists():
                self.cancel_requested.set()
            if stop:
                return

    def _gather(self, deadline: float) -> tuple[list, bool, bool]:
        """Sleeps until `deadline` (or the stop), then takes what is queued: one transaction a
        second however fast answers come, and no wake-up per answer (a flush, or a wake-up, per
        arrival cost the event loop more than the answers did). Returns (batch, stop, drained):
        drained when the queue was emptied, so every answer journalled before this batch's
        rotation is in it."""
        self._wake.wait(max(0.0, deadline - time.monotonic()))
        batch, stop = [], False
        try:
            while len(batch) < 5000:
                got = self.queue.get_nowait()
                if got is _STOP:
                    stop = True
                else:
                    batch.append(got)
        except queue.Empty:
            return batch, stop, True
        return batch, stop, False

    def _flush(self, batch: list, seconds: float) -> None:
        calls, new_rows, outputs, items = [], [], [], []
        counters = {"requests": 0, "cached": 0, "tokens_in": 0, "tokens_out": 0,
                    "cost_usd": 0.0, "active_seconds": seconds}
        task = self.job["task"]
        for kind, value in batch:
            if kind == "answer":
                if value.get("cache", True):
                    calls.append(value)
                counters["tokens_in"] += value["tokens_in"]
                counters["tokens_out"] += value["tokens_out"]
                counters["cost_usd"] += value["cost_usd"]
            elif kind == "hit":
                counters["cached"] += 1
            elif kind == "sent":
                counters["requests"] += value
            else:
                items.append(self._item_row(value, task, new_rows, outputs))
        self.studio.store.write_generation_batch(
            self.job["id"], calls=calls, new_rows=new_rows, outputs=outputs, items=items,
            counters=counters)
        p = self.progress
        for key in ("requests", "cached", "tokens_in", "tokens_out", "cost_usd"):
            setattr(p, key, getattr(p, key) + counters[key])
        p.done += sum(i["status"] == "done" for i in items)
        p.failed += sum(i["status"] == "failed" for i in items)
        tmp = self.progress_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(p.to_dict() | {"task": task, "mode": self.job["mode"],
                                                 "model": self.job["model"]}))
        tmp.replace(self.progress_file)
        if self.on_progress is not None:
            self.on_progress(p)

    def _item_row(self, r: dict, task: str, new_rows: list, outputs: list) -> dict:
        item = {"idx": r["idx"], "status": r["status"], "error": r.get("error"),
                "raw": r.get("raw"), "example_id": r.get("example_id")}
        meta = dict(r.get("meta") or {}, job_id=self.job["id"])
        if r["status"] == "done" and r["kind"] == "output":
            output = self.task.check_output(r["output"])
            outputs.append({"id": r["example_id"], "output": output, "meta": {"output_by": meta},
                            "content_hash": content_hash(task, r["input"], output)})
        elif r["status"] == "done" or r.get("keep_input"):
            output = self.task.check_output(r.get("output"))
            new_rows.append({"task": task, "input": r["input"], "output": output,
                             "source": "teacher", "input_style": "clean",
                             "parent_id": r.get("parent_id"), "meta": meta,
                             "content_hash": content_hash(task, r["input"], output)})
            item["new_row"] = True
            if r.get("keep_input"):
                item["error"] += " (the new input is kept as an input-only row)"
        return item


def plan(studio, *, task: str, mode: str, n: int | None, seed_ids: list[int] | None,
         seed: int | None, recipe, recipe_label: str, import_file: str | None = None) -> dict:
    """The job's stored parameters: which rows get outputs, the seed pool, the recipe. Outputs
    are written for every input-only row of the task (or of one imported file), oldest first;
    `n` caps them only when given."""
    from studio.errors import BadInput

    if mode not in MODES:
        raise BadInput(f"unknown mode {mode!r}; use {', '.join(MODES)}")
    if n is not None and n < 1:
        raise BadInput("--n must be at least 1")
    if mode != "outputs" and n is None:
        raise BadInput(f"mode {mode} makes new examples: say how many with --n")
    output_ids = []
    if mode in ("outputs", "both"):
        output_ids = studio.store.input_only_ids(task, import_file)[: n or None]
        if import_file and not output_ids:
            raise BadInput(f"task {task} has no input-only rows imported from {import_file}")
    new = 0 if mode == "outputs" else max(0, n - len(output_ids)) if mode == "both" else n
    if seed_ids:
        rows = studio.store.get_examples(seed_ids)
        missing = sorted(set(seed_ids) - {r["id"] for r in rows})
        if missing:
            raise BadInput(f"no seed example with id {', '.join(map(str, missing))}")
        bad = [r["id"] for r in rows if r["task"] != task or r["output"] is None]
        if bad:
            raise BadInput(f"seed example(s) {', '.join(map(str, bad))} are not complete "
                           f"examples of task {task} (an output is needed)")
    else:
        rows = studio.store.seed_candidates(task, limit=50)
    if new and not rows:
        raise BadInput(f"task {task} has no example with an output to use as a seed; import "
                       "or write a few first")
    if mode != "inputs" and not output_ids and not new:
        raise BadInput(f"task {task} has no input-only rows to write outputs for")
    pool = [[r["id"], r["input"], r["output"]] for r in rows]
    return {"mode": mode, "n": n, "output_ids": output_ids, "new": new, "pool": pool,
            "seed": seed, "recipe": recipe.to_dict(), "recipe_label": recipe_label,
            "import_file": import_file}


def build_items(studio, job: dict, recipe, states: dict[int, str]):
    """The job's items not yet done, rebuilt from its parameters (the same on every resume)."""
    from generators.engine import Item, steer

    p = job["params"]
    shots = [(i, o) for _, i, o in p["pool"][: recipe.shots]]
    ids = p["output_ids"]
    rows = {r["id"]: r for r in studio.store.get_examples([i for k, i in enumerate(ids)
                                                            if states.get(k) != "done"])}
    for k, eid in enumerate(ids):
        if states.get(k) == "done":
            continue
        row = rows.get(eid)
        still_open = row is not None and row["output"] is None  # else: marked failed, skipped
        yield Item(k, "output", example_id=eid, input=row["input"] if still_open else None,
                   shots=shots)
    for k in range(len(ids), len(ids) + p["new"]):
        if states.get(k) == "done":
            continue
        rng = random.Random(f"{p['seed']}:{k}")
        picks = rng.sample(p["pool"], min(recipe.shots, len(p["pool"])))
        yield Item(k, "new", shots=[(i, o) for _, i, o in picks], parent_id=picks[0][0],
                   steer=steer(recipe, rng), sample=f"{p['seed']}:{k}")


def run(studio, job: JobRow, teacher_config, *, stop: threading.Event, on_progress=None,
        refresh: bool = False) -> JobRow:
    """Run (or resume) a claimed job to its end in this thread; returns the job as stored.
    `refresh` asks every question again instead of reusing stored answers."""
    from generators.teacher import run_sync

    store, job_id = studio.store, job["id"]
    mark_running(store.path, job_id)
    status, error, writer, formats = "failed", None, None, {}
    try:
        writer, items, budget, recipe = _prepare(studio, job, teacher_config, on_progress)
        writer.start()
        status, error = run_sync(_main(studio, job, teacher_config, writer, items, budget,
                                       recipe, stop, refresh, formats))
    except Exception as e:  # recorded on the job, then raised for the face to show
        error = f"{type(e).__name__}: {e}"
        raise
    finally:
        if writer is not None:
            if writer.is_alive():
                writer.stop()
            if writer.error is not None:
                status, error = "failed", f"writing results failed: {writer.error}"
            writer.journal.close(keep=writer.error is not None)
            writer.progress_file.unlink(missing_ok=True)
            writer.cancel_file.unlink(missing_ok=True)
        end = {"status": status, "error": error, "finished_at": _now()}
        if formats:  # the structured output each endpoint settled on: a resume starts there
            params = store.get_job(job_id)["params"]
            end["params"] = dict(params, formats=dict(params.get("formats") or {}, **formats))
        # The end is stored before the job stops counting as running here, so nobody can take
        # it for a job whose process died in between (and mark it interrupted).
        store.update_job(job_id, end)
        release(store.path, job_id)
    return store.get_job(job_id)


def _prepare(studio, job, teacher_config, on_progress):
    from generators.engine import Budget
    from generators.recipes import recipe_from_dict

    store, job_id, p = studio.store, job["id"], job["params"]
    recipe = recipe_from_dict(p["recipe"])
    fold_journal(store, sidecar_dir(store.path), job_id)  # what a killed run had not stored
    with store.transaction():
        failed_before = {f["idx"]: f for f in store.job_failures(job_id, limit=10**9)}
        store.reset_failed_items(job_id)
        states = store.job_item_states(job_id)
    items = [_reuse_kept_input(studio, it, failed_before.get(it.idx))
             for it in build_items(studio, job, recipe, states)]
    job = store.get_job(job_id)
    progress = Progress(job_id, job["requested"], done=job["done"], failed=job["failed"],
                        requests=job["requests"], cached=job["cached"],
                        tokens_in=job["tokens_in"], tokens_out=job["tokens_out"],
                        cost_usd=job["cost_usd"])
    progress.done_at_start = progress.done + progress.failed
    writer = Writer(studio, job, progress, on_progress)
    writer.cancel_file.unlink(missing_ok=True)
    for it in [it for it in items if it.kind == "output" and it.input is None]:
        writer.item({"idx": it.idx, "kind": "output", "status": "failed",
                     "example_id": it.example_id,
                     "error": f"example #{it.example_id} was deleted or got an output meanwhile"})
    items = [it for it in items if not (it.kind == "output" and it.input is None)]
    budget = Budget(p.get("budget_tokens"), p.get("budget_usd"),
                    spent_tokens=job["tokens_in"] + job["tokens_out"], spent_usd=job["cost_usd"],
                    cost=teacher_config.cost)
    return writer, items, budget, recipe


async def _main(studio, job, teacher_config, writer, items, budget, recipe, stop, refresh,
                formats: dict):
    from generators.engine import Engine
    from generators.teacher import Teacher

    store = studio.store
    async with Teacher(teacher_config, formats=job["params"].get("formats")) as teacher:
        task = studio.reviews.task(job["task"])
        engine = Engine(teacher, recipe, task, sink=writer, budget=budget,
                        cache=store.job_answers(job["id"]), known=store.cached_hashes(),
                        lookup=_lookup(store), recipe_label=job["params"]["recipe_label"],
                        refresh=refresh)

        async def watch():
            while not (stop.is_set() or writer.cancel_requested.is_set()):
                writer.progress.note = teacher_note(teacher)
                await asyncio.sleep(0.1)
            engine.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            result = await engine.run(items, teacher_config.concurrency)
        finally:
            watcher.cancel()
            formats.update(teacher.formats(settled=True))
        dropped = "; ".join(f"dropped {url}: {why}" for url, why in teacher.dropped().items())
        if engine.error is None and dropped:  # the job went on without them: say so
            return result, dropped
        return result, engine.error


def teacher_note(teacher) -> str | None:
    """What the progress line says of the endpoints: how many requests each gets at once (the
    adaptive limit, of the ceiling), the structured output each uses, and the ones dropped from
    the job or paused by their breaker."""
    live = teacher.live
    parts = [f"in flight {sum(e.limit.in_flight for e in live)}, limit "
             f"{'+'.join(str(e.limit.allowed) for e in live)} of {teacher.config.concurrency}"
             ] if live else []
    formats = sorted(set(teacher.formats().values()))
    parts += [f"structured output: {', '.join(formats)}"] if formats else []
    parts += [f"paused {e.url} (failing)" for e in live if e.breaker.is_open]
    parts += [f"dropped {url}" for url in teacher.dropped()]
    return " · ".join(parts) or None


def _lookup(store):
    def lookup(h: str):
        return store.cached_answers([h]).get(h)
    return lookup


def _reuse_kept_input(studio, item, failure: dict | None):
    """A new item that failed after its input was kept as a row: resuming fills that row."""
    from generators.engine import Item

    if item.kind != "new" or not failure or not failure.get("example_id"):
        return item
    row = studio.store.get_example(failure["example_id"])
    if row is None or row["output"] is not None:
        return item
    # The same shots as the first try, so its request hash (and any stored answer) matches.
    return Item(item.idx, "output", example_id=row["id"], input=row["input"], shots=item.shots)


def _now():
    from studio.store import utcnow

    return utcnow()
