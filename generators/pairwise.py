"""The pairwise judge: a teacher model reads one input, the reference answer and two answers (the
base model's and the tuned model's) and says which does the task better, as a JSON object
{"verdict": "A" | "B" | "tie", "reason": "..."} (structured output where the server takes it).

LLM judges favour a position (often the first answer), so every row is asked twice, with the
answers swapped: (A=base, B=tuned) and (A=tuned, B=base). Only a preference that survives the
swap counts as a win or a loss; anything else is a tie (see `outcome`). An answer that cannot be
read is a failure with its reason and raw text, never a guessed verdict, and its row is left out
of the counts.

Each request is keyed like every teacher call (request_key: model, structured-output mode,
messages, parameters, and a sample string that carries a digest of the schema), so a store's
answer cache can serve a repeated judgement for free through the small `AnswerCache` protocol.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from typing import Protocol

from generators.engine import call_record, request_key
from generators.parsing import ParseError, json_object
from generators.teacher import Teacher, TeacherConfig, TeacherError, run_sync

SYSTEM = ("You are a strict, fair judge comparing two answers to the same input for a small "
          "language model's task. Judge only which answer does the task better; the order in "
          "which they are shown means nothing. Answer with one JSON object and nothing else.")

PROMPT = """Task: {instruction}{rubric}

Input:
{input}

Reference answer (what a good answer looks like):
{reference}

Answer A:
{a}

Answer B:
{b}

Which answer does the task better, judged against the reference{against}? Answer with a JSON
object {{"verdict": "A" | "B" | "tie", "reason": "..."}}: the verdict is A, B, or tie when
neither is better, and the reason is one short sentence."""

SCHEMA = {"type": "object", "properties": {
    "verdict": {"type": "string", "enum": ["A", "B", "tie"]},
    "reason": {"type": "string"}}, "required": ["verdict", "reason"],
    "additionalProperties": False}
PARAMS = {"temperature": 0.0, "max_tokens": 200}
# Part of every request's hash: a changed schema is a new question, never a stale cache hit.
SAMPLE = "pairwise:" + hashlib.sha256(json.dumps(SCHEMA, sort_keys=True).encode()).hexdigest()[:12]
ORDERS = ("A=base, B=tuned", "A=tuned, B=base")  # the two asks of a row, in this order

_LENIENT = re.compile(r"^(?:(?:answer|option|response)(?:\s*:\s*|\s+))?\(?([ab])\)?$|^(tie)$")


class AnswerCache(Protocol):
    """Where judgements are looked up and kept, keyed by request hash. Both are called from the
    event loop, so they must be cheap (no database round trip): the studio preloads
    `store.cached_answers(hashes(...))` into a MemoryCache and saves its `new` calls with
    `store.save_teacher_calls` afterwards."""

    def get(self, key: str) -> dict | None:
        """A stored answer: {"response": text, "finish_reason": ...} (more keys are ignored)."""

    def put(self, call: dict) -> None:
        """A fresh answer that was read, as engine.call_record makes it (its "request_hash" is
        the key; "replace" says it replaces an unreadable stored answer)."""


class MemoryCache:
    """An AnswerCache over a dict of preloaded answers; `new` collects what put() got."""

    def __init__(self, answers: dict[str, dict] | None = None):
        self.answers = dict(answers or {})
        self.new: list[dict] = []

    def get(self, key: str) -> dict | None:
        return self.answers.get(key)

    def put(self, call: dict) -> None:
        self.answers[call["request_hash"]] = {"response": call["response"],
                                              "finish_reason": call.get("finish_reason")}
        self.new.append(call)


def outcome(v_ab: str | None, v_ba: str | None) -> str:
    """The row's outcome from the verdict with A=base, B=tuned (v_ab) and the one with A=tuned,
    B=base (v_ba); None is an order whose answer could not be read.

        v_ab \\ v_ba |  A (tuned)  B (base)  tie
        A (base)    |  tie        loss      tie
        B (tuned)   |  win        tie       tie
        tie         |  tie        tie       tie
        either None: failed

    A preference for one position in both orders (AA, BB) is position bias, not a preference for
    either model: a tie, counted as half a win like every tie."""
    if v_ab is None or v_ba is None:
        return "failed"
    if (v_ab, v_ba) == ("B", "A"):
        return "win"
    if (v_ab, v_ba) == ("A", "B"):
        return "loss"
    return "tie"


def messages(instruction: str, input: str, reference: str | None, a: str, b: str,
             rubric: str | None = None) -> list[dict]:
    """The system and user messages for one order (answer A shown first)."""
    rubric_text = f"\n\nRubric:\n{rubric.strip()}" if rubric and rubric.strip() else ""
    prompt = PROMPT.format(instruction=instruction.strip(), rubric=rubric_text, input=input,
                           reference=reference if reference else "(none given)", a=a, b=b,
                           against=" and the rubric" if rubric_text else "")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]


def row_messages(row: dict, instruction: str, rubric: str | None = None) -> list[list[dict]]:
    """A row's two asks: [A=base B=tuned, A=tuned B=base]."""
    args = (instruction, row["input"], row.get("reference"))
    return [messages(*args, row["base"], row["tuned"], rubric),
            messages(*args, row["tuned"], row["base"], rubric)]


def hashes(model: str, rows: list[dict], *, instruction: str, rubric: str | None = None,
           structured: str = "auto") -> list[str]:
    """The cache keys of every request judge_pairs would send for these rows (two a row, in
    order): what a store preloads before a run."""
    return [request_key(model, m, PARAMS, SAMPLE, structured)[0]
            for row in rows for m in row_messages(row, instruction, rubric)]


def parse_verdict(text: str, finish_reason: str | None = None) -> tuple[str, str]:
    """("A" | "B" | "tie", reason) from an answer, or ParseError saying why not. Strict first
    (the object the schema asks for); then leniently: JSON in a code fence or prose, and a
    verdict such as "Answer A", "b" or "TIE" in any case. Nothing else is guessed."""
    try:
        obj = json.loads(text)
    except (ValueError, TypeError):
        obj = None
    if not (isinstance(obj, dict) and obj.get("verdict") in ("A", "B", "tie")):
        obj = json_object(text)
    if obj is None:
        cut = " (cut off at max_tokens)" if finish_reason == "length" else ""
        raise ParseError(f"no JSON object in the judge's answer{cut}: {text.strip()[:80]!r}")
    raw = obj.get("verdict")
    if not isinstance(raw, str):
        found = ", ".join(sorted(map(str, obj))) or "none"
        raise ParseError(f"no string verdict in the judge's answer (keys: {found})")
    m = _LENIENT.match(" ".join(raw.strip().strip(".!\"'").lower().split()))
    if m is None:
        raise ParseError(f"the verdict {raw.strip()[:40]!r} is not A, B or tie")
    verdict = m.group(1).upper() if m.group(1) else "tie"
    reason = obj.get("reason")
    reason = " ".join(str(reason).split())[:300] if reason not in (None, "") else ""
    return verdict, reason or "(no reason given)"


async def judge_pairs(teacher: Teacher, rows: list[dict], *, instruction: str,
                      rubric: str | None = None, cache: AnswerCache | None = None,
                      on_progress=None) -> dict:
    """Compare base and tuned answers, row by row, asking each row in both orders. `rows` are
    {"id", "input", "reference", "base", "tuned"}; on_progress(done, total) is called (from the
    event loop) as each row ends. Requests run with the teacher's concurrency. Answers come from
    `cache` when it has them (one that no longer reads is asked again and replaced); only
    answers that were read are put in it. A fatal teacher error (no endpoint left) stops the
    rest and is raised; any other unanswered request fails its row with the reason.

    Returns {"rows": [{"id", "outcome", "verdicts": [v_ab, v_ba], "reasons": [r_ab, r_ba],
    "error", "raw": [raw_ab, raw_ba]}], "wins", "ties", "losses", "failed", "n" (rows counted),
    "win_rate" ((wins + ties / 2) / n, None when n is 0), "requests" (HTTP calls), "cached",
    "tokens_in", "tokens_out", "model", "structured" (format per endpoint)}."""
    cfg = teacher.config
    asks = [(i, o, m) for i, row in enumerate(rows)
            for o, m in enumerate(row_messages(row, instruction, rubric))]
    queue = list(reversed(asks))
    got: list[list[dict | None]] = [[None, None] for _ in rows]
    out: list[dict | None] = [None] * len(rows)
    tally = {"requests": 0, "cached": 0, "tokens_in": 0, "tokens_out": 0}
    fatal: list[TeacherError] = []

    async def ask(msgs: list[dict]) -> dict:
        """One order's verdict, reason, error and raw text."""
        h, request = request_key(cfg.model, msgs, PARAMS, SAMPLE, cfg.structured)
        hit = cache.get(h) if cache is not None else None
        if hit is not None:
            try:
                v, reason = parse_verdict(hit["response"], hit.get("finish_reason"))
                tally["cached"] += 1
                return {"verdict": v, "reason": reason}
            except ParseError:
                pass  # stored by an older version and unreadable now: ask again, replace it
        try:
            ans = await teacher.complete(msgs, PARAMS, SCHEMA)
        except TeacherError as e:
            tally["requests"] += e.attempts
            if e.fatal:
                fatal.append(e)
            return {"error": f"no answer: {e.reason}", "raw": None}
        tally["requests"] += ans.attempts
        tally["tokens_in"] += ans.tokens_in
        tally["tokens_out"] += ans.tokens_out
        try:
            v, reason = parse_verdict(ans.text, ans.finish_reason)
        except ParseError as e:
            return {"error": f"unreadable answer: {e}", "raw": ans.text}
        if cache is not None:
            cache.put(call_record(h, cfg.model, request, ans, replace=hit is not None))
        return {"verdict": v, "reason": reason}

    def finish(i: int) -> None:
        ab, ba = got[i]
        errors = [f"{ORDERS[o]}: {r['error']}" for o, r in enumerate((ab, ba)) if "error" in r]
        verdicts = [r.get("verdict") for r in (ab, ba)]
        reasons = [r.get("reason") or r["error"] for r in (ab, ba)]
        out[i] = {"id": rows[i]["id"], "outcome": "failed" if errors else outcome(*verdicts),
                  "verdicts": verdicts, "reasons": reasons,
                  "error": "; ".join(errors) or None, "raw": [r.get("raw") for r in (ab, ba)]}
        if on_progress is not None:
            on_progress(sum(r is not None for r in out), len(rows))

    async def worker() -> None:
        while queue and not fatal:
            i, o, msgs = queue.pop()
            got[i][o] = await ask(msgs)
            if None not in got[i]:
                finish(i)

    await asyncio.gather(*(worker() for _ in range(max(1, cfg.concurrency))))
    if fatal:
        raise fatal[0]
    done = [r for r in out if r is not None]
    counts = {k: sum(r["outcome"] == k for r in done) for k in ("win", "tie", "loss", "failed")}
    n = counts["win"] + counts["tie"] + counts["loss"]
    return {"rows": done, "wins": counts["win"], "ties": counts["tie"],
            "losses": counts["loss"], "failed": counts["failed"], "n": n,
            "win_rate": (counts["win"] + counts["tie"] / 2) / n if n else None,
            **tally, "model": cfg.model, "structured": teacher.formats(settled=True)}


def judge_pairs_sync(config: TeacherConfig, rows: list[dict], **kw) -> dict:
    """judge_pairs from synchronous code (a CLI, a UI handler, a notebook): the Teacher is made
    and closed on the loop that runs it, since its HTTP clients belong to one loop."""
    async def go() -> dict:
        async with Teacher(config) as teacher:
            return await judge_pairs(teacher, rows, **kw)

    return run_sync(go())
