"""The LLM judge: a teacher model rates one example 1-5 against the task's rubric, with a one-line
reason, as a JSON object (structured output where the server takes it).

Each request is keyed by the same hash as every teacher call (model, messages, parameters,
sample), so the store's answer cache serves a repeated judgement for free. An answer that cannot
be read is a failure with its reason, never a made-up rating.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from generators.engine import call_record, request_key
from generators.parsing import ParseError, json_object
from generators.teacher import Teacher, TeacherError

SYSTEM = ("You are a strict, fair grader of training examples for a small language model. "
          "Rate the output for the given input against the rubric and answer with one JSON "
          "object and nothing else.")

PROMPT = """Task: {instruction}
The input is {input_meaning}; the output should be {output_meaning}.{labels}

Rubric:
{rubric}

Input:
{input}

Output:
{output}

Answer with a JSON object {{"rating": N, "reason": "..."}}: N is a whole number from 1 to 5 and
the reason is one short sentence."""

DEFAULT_RUBRIC = """5: does the task exactly as instructed; correct, complete, nothing invented.
4: good, with one small flaw (wording, a minor detail missing or extra).
3: usable but clearly flawed: misses something that matters, or adds something not in the input.
2: mostly wrong, off-topic, or ignores the instruction.
1: unusable: empty, garbled, copies the input, or contradicts it."""

RUBRICS = {  # one line per rating, best first
    "tweet-summary": "\n".join((
        "5: one short, clean sentence that says what the tweet is about, keeping the names, "
        "numbers, @mentions and #hashtags that matter; nothing invented.",
        "4: accurate, with a small flaw: slightly long, a minor detail lost, clumsy wording.",
        "3: the gist, but an important fact is missing or wrong, or it keeps the tweet's mess.",
        "2: about something else, or a copy of the tweet, or several sentences of padding.",
        "1: empty, garbled, contradicts the tweet, or not a summary at all.",
    )),
    "support-answer": "\n".join((
        "5: answers the question in two or three warm, concise, concrete sentences; promises "
        "nothing the shop cannot keep.",
        "4: right answer, slightly off in tone or length.",
        "3: partly answers, vague, or makes a risky promise.",
        "2: does not answer the question, or is cold or rude.",
        "1: wrong, harmful, empty or garbled.",
    )),
    "sentiment": "\n".join((
        "5: the label is clearly right for the text.",
        "4: the label is defensible though another reading exists.",
        "3: the text is ambiguous and the label is a coin toss.",
        "2: the label is probably wrong.",
        "1: the label is clearly wrong.",
    )),
    "product-description": "\n".join((
        "5: a two or three sentence shop description that uses every important fact and only "
        "the facts given.",
        "4: good, with a small omission or a slightly generic phrase.",
        "3: misses an important fact or adds a claim not in the facts.",
        "2: mostly invented, or ignores the facts.",
        "1: empty, garbled, or about another product.",
    )),
}

SCHEMA = {"type": "object", "properties": {
    "rating": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
    "reason": {"type": "string"}}, "required": ["rating", "reason"],
    "additionalProperties": False}
PARAMS = {"temperature": 0.0, "max_tokens": 200}
SAMPLE = "judge"


@dataclass
class Verdict:
    """One judgement: a rating and reason, or the reason there is none."""
    idx: int
    rating: int | None
    reason: str
    request_hash: str
    cached: bool = False
    call: dict | None = None  # a fresh answer that was read, for the cache
    sent: int = 0             # HTTP requests made for it
    tokens: tuple[int, int] = (0, 0)  # (in, out) paid for, read or not


def rubric_for(task_name: str) -> str:
    return RUBRICS.get(task_name, DEFAULT_RUBRIC)


def messages(task, rubric: str, input: str, output: str) -> list[dict]:
    """`task` has instruction, input_meaning, output_meaning and labels."""
    labels = f"\nThe labels are: {', '.join(task.labels)}." if task.labels else ""
    prompt = PROMPT.format(instruction=task.instruction, input_meaning=task.input_meaning,
                           output_meaning=task.output_meaning, labels=labels,
                           rubric=rubric.strip(), input=input, output=output)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]


def parse_verdict(text: str, finish_reason: str | None = None) -> tuple[int, str]:
    """(rating, reason) from an answer, or ParseError saying why not."""
    obj = json_object(text)
    if obj is None:
        cut = " (cut off at max_tokens)" if finish_reason == "length" else ""
        raise ParseError(f"no JSON object in the judge's answer{cut}: {text.strip()[:80]!r}")
    raw = obj.get("rating")
    rating = None
    if isinstance(raw, bool):
        rating = None
    elif isinstance(raw, int):
        rating = raw
    elif isinstance(raw, float) and raw.is_integer():
        rating = int(raw)
    elif isinstance(raw, str) and raw.strip().isdigit():
        rating = int(raw.strip())
    if rating is None:
        raise ParseError(f"the judge's rating is not a whole number: {json.dumps(raw)[:40]}")
    if not 1 <= rating <= 5:
        raise ParseError(f"the judge's rating {rating} is outside 1-5")
    reason = obj.get("reason")
    reason = " ".join(str(reason).split())[:300] if reason not in (None, "") else ""
    return rating, reason or "(no reason given)"


async def judge_all(teacher: Teacher, requests: list[tuple[int, list[dict]]], *,
                    cache: dict[str, dict], concurrency: int, on_verdict,
                    should_stop=lambda: False, refresh: bool = False) -> None:
    """Judge each (idx, messages); on_verdict(Verdict) is called as each one ends (from the
    event loop: keep it cheap). `cache` maps request hashes to stored answers; only an answer
    that was read becomes a Verdict's `call` (to be cached), and a stored answer that cannot be
    read is asked for again. A fatal teacher error (every endpoint refused the key or the model,
    or could not be reached) stops the rest and is raised."""
    cfg = teacher.config
    queue = list(reversed(requests))
    fatal: list[TeacherError] = []

    async def one(idx: int, msgs: list[dict]) -> None:
        h, request = request_key(cfg.model, msgs, PARAMS, SAMPLE, cfg.structured)
        hit = cache.get(h)
        stale = hit is not None  # asked again because the stored answer does not read
        if hit is not None:
            try:
                rating, reason = parse_verdict(hit["response"], hit.get("finish_reason"))
                return on_verdict(Verdict(idx, rating, reason, h, True))
            except ParseError:
                pass  # an unreadable answer stored by an older version: ask again
        try:
            ans = await teacher.complete(msgs, PARAMS, SCHEMA, should_stop=should_stop)
        except TeacherError as e:
            if e.fatal:
                fatal.append(e)
            return on_verdict(Verdict(idx, None, f"no answer: {e.reason}", h, sent=e.attempts))
        try:
            rating, reason = parse_verdict(ans.text, ans.finish_reason)
        except ParseError as e:
            return on_verdict(Verdict(idx, None, f"unreadable answer: {e}", h, sent=ans.attempts,
                                      tokens=(ans.tokens_in, ans.tokens_out)))
        call = call_record(h, cfg.model, request, ans, replace=stale or refresh)
        on_verdict(Verdict(idx, rating, reason, h, False, call, sent=ans.attempts,
                           tokens=(ans.tokens_in, ans.tokens_out)))

    async def worker():
        while queue and not fatal and not should_stop():
            await one(*queue.pop())

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    if fatal:
        raise fatal[0]


def judge_hash(model: str, msgs: list[dict], structured: str = "auto") -> str:
    """The cache key of one judgement."""
    return request_key(model, msgs, PARAMS, SAMPLE, structured)[0]
