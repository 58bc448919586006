"""The generation engine: a pool of workers on one event loop turns planned items into examples.

It knows nothing of the store. The caller hands it items, a cache view and a sink; the sink gets
every fresh answer (to cache it) and every finished item (done or failed, with the reason and the
raw answer). The sink must be cheap and thread-safe (the studio's puts onto a queue that one
writer thread drains), so the loop never waits on a database.

An item is either `output` (write the output for a given input) or `new` (write a new input
steered by topic, persona, length and style, then its output). Each request is keyed by a hash of
(model, messages, parameters, sample, structured-output mode) and not of the endpoint: an answer
already stored is never asked for again. Only answers that were read successfully are cached: a
failed or unreadable one is recorded on its item with the reason, and asked for again on resume.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from dataclasses import dataclass, field

from generators.parsing import ParseError, parse_answer, schema_for
from generators.recipes import Recipe, format_examples, render
from generators.teacher import Answer, Teacher, TeacherError


@dataclass
class Item:
    idx: int
    kind: str                                   # output | new
    example_id: int | None = None               # output: the input-only row
    input: str | None = None                    # output: its input
    shots: list = field(default_factory=list)   # [(input, output)] shown to the teacher
    parent_id: int | None = None                # new: the seed it is made from
    steer: dict = field(default_factory=dict)   # new: topic, persona, length, style
    sample: str = "0"                           # new: part of the request hash


def request_key(model: str, messages: list[dict], params: dict, sample: str,
                structured: str = "auto") -> tuple[str, str]:
    """(the cache key, the request as stored): the request's JSON is made once and serves the
    hash, the journal and the store alike."""
    request = json.dumps({"messages": messages, "params": params, "sample": sample},
                         sort_keys=True, ensure_ascii=False)
    key = hashlib.sha256(f"{model}\n{structured}\n{request}".encode()).hexdigest()
    return key, request


def request_hash(model: str, messages: list[dict], params: dict, sample: str,
                 structured: str = "auto") -> str:
    return request_key(model, messages, params, sample, structured)[0]


def steer(recipe: Recipe, rng: random.Random) -> dict:
    return {"topic": rng.choice(recipe.topics), "persona": rng.choice(recipe.personas),
            "length": rng.choice(recipe.lengths), "style": rng.choice(recipe.styles)}


class Budget:
    """Token and dollar caps. A request reserves its worst case before it is sent (prompt
    estimate plus max_tokens), so the caps hold even with many requests in flight."""

    def __init__(self, max_tokens: int | None = None, max_usd: float | None = None,
                 spent_tokens: int = 0, spent_usd: float = 0.0, cost=lambda i, o: 0.0):
        self.max_tokens, self.max_usd, self.cost = max_tokens, max_usd, cost
        self.tokens, self.usd = spent_tokens, spent_usd
        self._held_tokens, self._held_usd = 0, 0.0
        self.exhausted = False

    def reserve(self, prompt_chars: int, max_out: int) -> tuple[int, float] | None:
        est_in = prompt_chars // 2 + 16  # generous: real tokenizers give about chars / 4
        hold = (est_in + max_out, self.cost(est_in, max_out))
        over_tokens = self.max_tokens is not None \
            and self.tokens + self._held_tokens + hold[0] > self.max_tokens
        over_usd = self.max_usd is not None and self.usd + self._held_usd + hold[1] > self.max_usd
        if over_tokens or over_usd:
            self.exhausted = True
            return None
        self._held_tokens += hold[0]
        self._held_usd += hold[1]
        return hold

    def settle(self, hold: tuple[int, float], tokens_in: int, tokens_out: int) -> float:
        self._held_tokens -= hold[0]
        self._held_usd -= hold[1]
        usd = self.cost(tokens_in, tokens_out)
        self.tokens += tokens_in + tokens_out
        self.usd += usd
        return usd


class _Stop(Exception):
    pass


class Engine:
    def __init__(self, teacher: Teacher, recipe: Recipe, task, *, sink, budget: Budget,
                 cache: dict[str, dict] | None = None, known: set[str] | None = None,
                 lookup=None, recipe_label: str | None = None, refresh: bool = False):
        """`task` has instruction, input_meaning, output_meaning and labels. `cache` holds
        answers preloaded by hash; `known` the hashes stored but not preloaded, fetched with
        `lookup(hash)` (a blocking call, run in a thread) when needed. `refresh` asks every
        question again and replaces the stored answers."""
        self.teacher, self.recipe, self.task, self.sink, self.budget = (
            teacher, recipe, task, sink, budget)
        self.cache, self.known, self.lookup = cache or {}, known or set(), lookup
        if refresh:
            self.cache, self.known = {}, set()
        self.refresh = refresh
        self.recipe_label = recipe_label or recipe.name
        self.stop_reason: str | None = None  # cancelled | budget_stopped | failed
        self.error: str | None = None
        self._workers: list[asyncio.Task] = []

    # -- control ---------------------------------------------------------------------------

    def cancel(self, grace: float = 3.0) -> None:
        """Stop: no new request starts; answers in flight get `grace` seconds to arrive and be
        stored (they are paid for), then the rest are abandoned."""
        if self.stop_reason is None:
            self.stop_reason = "cancelled"
        asyncio.get_running_loop().call_later(grace, self._abandon)

    def _abandon(self) -> None:
        for w in self._workers:
            w.cancel()

    def _fail(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason, self.error = "failed", reason
        for w in self._workers:
            if w is not asyncio.current_task():
                w.cancel()

    async def run(self, items, concurrency: int) -> str:
        """Work through the items; returns completed, cancelled, budget_stopped or failed."""
        it = iter(items)
        self._workers = [asyncio.ensure_future(self._worker(it)) for _ in range(concurrency)]
        await asyncio.gather(*self._workers, return_exceptions=True)
        return self.stop_reason or "completed"

    async def _worker(self, it) -> None:
        for item in it:
            if self.stop_reason is not None:
                return
            try:
                await self._do(item)
            except _Stop:
                return

    # -- one item --------------------------------------------------------------------------

    async def _do(self, item: Item) -> None:
        meta = {"recipe": self.recipe_label, "model": self.teacher.config.model}
        served = []
        new_input = item.input
        if item.kind == "new":
            meta.update(steer=item.steer, sample=item.sample)
            try:
                new_input, ans, h = await self._ask_input(item)
            except _Failed as f:
                return self.sink.item(f.result(item))
            meta["input_prompt_hash"] = h
            meta["tokens"] = ans.tokens_in + ans.tokens_out
            served.append(ans)
        try:
            output, ans, h = await self._ask_output(new_input, item.shots)
        except _Failed as f:
            result = f.result(item)
            if item.kind == "new":  # keep the new input: an outputs job can label it later
                result.update(input=new_input, keep_input=True, meta=meta)
            return self.sink.item(result)
        meta["output_prompt_hash"] = h
        meta["tokens"] = meta.get("tokens", 0) + ans.tokens_in + ans.tokens_out
        served.append(ans)
        models = sorted({a.model for a in served if a.model})
        if models:  # what the server says answered, beside what was asked for
            meta["served_model"] = models[0] if len(models) == 1 else models
        formats = sorted({a.format for a in served if a.attempts})  # fresh answers only
        if formats:
            meta["structured"] = formats[0] if len(formats) == 1 else formats
        self.sink.item({"idx": item.idx, "kind": item.kind, "status": "done",
                        "example_id": item.example_id, "parent_id": item.parent_id,
                        "input": new_input, "output": output, "meta": meta})

    async def _ask_input(self, item: Item):
        r, t = self.recipe, self.task
        prompt = render(r.input_prompt, instruction=t.instruction, input_meaning=t.input_meaning,
                        output_meaning=t.output_meaning, labels=", ".join(t.labels),
                        examples=format_examples(item.shots, with_output=False), **item.steer)
        seed = int(hashlib.sha256(item.sample.encode()).hexdigest()[:8], 16)
        params = {"temperature": r.input_temperature, "max_tokens": r.input_max_tokens,
                  "seed": seed}
        return await self._ask(prompt, params, item.sample, "input", ())

    async def _ask_output(self, text: str, shots):
        r, t = self.recipe, self.task
        prompt = render(r.output_prompt, instruction=t.instruction, input=text,
                        input_meaning=t.input_meaning, output_meaning=t.output_meaning,
                        labels=", ".join(t.labels),
                        examples=format_examples(shots, with_output=True))
        params = {"temperature": r.output_temperature, "max_tokens": r.output_max_tokens}
        return await self._ask(prompt, params, "0", "output", tuple(t.labels))

    async def _ask(self, prompt: str, params: dict, sample: str, key: str, labels):
        messages = [{"role": "system", "content": self.recipe.system},
                    {"role": "user", "content": prompt}]
        cfg = self.teacher.config
        h, request = request_key(cfg.model, messages, params, sample, cfg.structured)
        ans = await self._cached(h)
        stale = ans is not None  # a stored answer that does not read is replaced
        if ans is not None:
            try:
                value = parse_answer(ans.text, key, labels=labels,
                                     finish_reason=ans.finish_reason)
                self.sink.cache_hit()
                return value, ans, h
            except ParseError:
                pass  # stored before only good answers were: ask again, and replace it
        ans = await self._fresh(messages, params, key, labels)
        try:
            value = parse_answer(ans.text, key, labels=labels, finish_reason=ans.finish_reason)
        except ParseError as e:
            self._record(h, request, ans, cache=False, replace=False)
            raise _Failed(f"{key}: {e}", raw=ans.text) from None
        self._record(h, request, ans, cache=True, replace=stale or self.refresh)
        return value, ans, h

    async def _cached(self, h: str) -> Answer | None:
        hit = self.cache.get(h)
        if hit is None and h in self.known and self.lookup is not None:
            hit = await asyncio.to_thread(self.lookup, h)
        if hit is None:
            return None
        return Answer(hit["response"], hit.get("finish_reason"), 0, 0, 0.0, 0,
                      model=hit.get("served_model"))

    async def _fresh(self, messages, params, key, labels) -> Answer:
        if self.stop_reason is not None:
            raise _Stop()
        hold = self.budget.reserve(sum(len(m["content"]) for m in messages), params["max_tokens"])
        if hold is None:
            if self.stop_reason is None:
                self.stop_reason = "budget_stopped"
            raise _Stop()
        try:
            ans = await self.teacher.complete(messages, params, schema_for(key, labels),
                                              should_stop=lambda: self.stop_reason is not None)
        except TeacherError as e:
            self.budget.settle(hold, 0, 0)
            self.sink.sent(e.attempts)
            if e.fatal:
                self._fail(e.reason)
                raise _Stop() from None
            raise _Failed(e.reason) from None
        self.sink.sent(ans.attempts)
        ans.cost_usd = self.budget.settle(hold, ans.tokens_in, ans.tokens_out)
        return ans

    def _record(self, h: str, request: str, ans: Answer, *, cache: bool, replace: bool) -> None:
        """Every fresh answer is counted (tokens, cost); only one that was read goes into the
        cache, where it replaces an unreadable one stored by an older version or asked again."""
        if cache:
            self.cache[h] = {"response": ans.text, "finish_reason": ans.finish_reason,
                             "served_model": ans.model}
        self.sink.answer(call_record(h, self.teacher.config.model, request, ans,
                                     replace=replace, cache=cache))


def call_record(h: str, model: str, request: str, ans: Answer, *, replace: bool,
                cache: bool = True) -> dict:
    """One fresh answer as the store's answer cache (teacher_calls) takes it; `request` is the
    request's JSON as request_key made it."""
    return {"request_hash": h, "model": model, "request_json": request, "response": ans.text,
            "finish_reason": ans.finish_reason, "tokens_in": ans.tokens_in,
            "tokens_out": ans.tokens_out, "latency_ms": ans.latency_ms,
            "cost_usd": ans.cost_usd, "served_model": ans.model, "format": ans.format,
            "cache": cache, "replace": replace}


class _Failed(Exception):
    def __init__(self, reason: str, raw: str | None = None):
        super().__init__(reason)
        self.reason, self.raw = reason, raw

    def result(self, item: Item) -> dict:
        return {"idx": item.idx, "kind": item.kind, "status": "failed", "error": self.reason,
                "raw": self.raw, "example_id": item.example_id, "parent_id": item.parent_id}
