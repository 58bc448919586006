"""The pairwise judge (base vs tuned, asked in both orders): the outcome table, strict and lenient
reading, the loopback teacher scripted as a biased, messy judge (wins, position bias as ties,
losses, garbage and unknown verdicts as failures that are never counted), the answer cache, and
a real llama.cpp server end to end under a JSON-schema grammar."""

import asyncio
import json

import pytest
from teacher_server import TeacherServer

from generators import pairwise as P
from generators.parsing import ParseError
from generators.teacher import Teacher, TeacherConfig, TeacherError

BASE, TUNED = "BASE: the bus was late.", "TUNED: The bus was late again this morning."


def row(id, input):
    return {"id": id, "input": input, "reference": "The bus was late again this morning.",
            "base": f"{BASE} ({input})", "tuned": f"{TUNED} ({input})"}


def shown(prompt: str) -> tuple[str, str, str]:
    """(input, answer A, answer B) as a judge's prompt shows them."""
    given = prompt.split("\n\nInput:\n", 1)[1].split("\n\nReference answer", 1)[0]
    a = prompt.split("\n\nAnswer A:\n", 1)[1].split("\n\nAnswer B:\n", 1)[0]
    b = prompt.split("\n\nAnswer B:\n", 1)[1].split("\n\nWhich answer", 1)[0]
    return given, a, b


def script(given: str, a: str, b: str):
    """A judge as a messy real model might be: the row's input says how it answers."""
    tuned = "A" if a.startswith("TUNED") else "B"
    base = "B" if tuned == "A" else "A"
    if given == "prefers tuned":
        return {"verdict": tuned, "reason": "closer to the reference"}
    if given == "prefers tuned, loosely":  # lenient reading: fences, prose, "Answer X", case
        return f'Sure!\n```json\n{{"verdict": "answer {tuned.lower()}", "reason": "better"}}\n```'
    if given == "position bias":
        return {"verdict": "A", "reason": "the first one is better"}
    if given == "prefers base":
        return {"verdict": base, "reason": "the tuned answer invents a detail"}
    if given == "tie":
        return {"verdict": "TIE", "reason": "equally good"}
    if given == "garbage":
        return "I'd go with the second one, honestly!"
    if given == "unknown verdict":
        return {"verdict": "C", "reason": "neither"}
    raise AssertionError(given)


class PairServer(TeacherServer):
    """The loopback teacher, answering pairwise prompts with `script`."""

    def _answer(self, req):
        return script(*shown(req["messages"][-1]["content"]))


@pytest.fixture
def pair_server():
    with PairServer() as srv:
        yield srv


def config(srv, **kw) -> TeacherConfig:
    return TeacherConfig(model="judge-test", base_urls=[srv.url], backoff_base=0.01, **kw)


SCRIPTED = ["prefers tuned", "prefers tuned, loosely", "position bias", "prefers base", "tie",
            "garbage", "unknown verdict"]


def test_outcome_table():
    table = {("B", "A"): "win", ("A", "B"): "loss", ("A", "A"): "tie", ("B", "B"): "tie"}
    for ab in ("A", "B", "tie"):
        for ba in ("A", "B", "tie"):
            assert P.outcome(ab, ba) == table.get((ab, ba), "tie"), (ab, ba)
        assert P.outcome(ab, None) == P.outcome(None, ab) == "failed"


def test_parse_verdict_strict_then_lenient():
    assert P.parse_verdict('{"verdict": "A", "reason": "ok"}') == ("A", "ok")
    assert P.parse_verdict('{"verdict": "tie"}') == ("tie", "(no reason given)")
    for raw, want in (("Answer A", "A"), ("a", "A"), ("TIE", "tie"), ("answer: b", "B"),
                      ("(B)", "B"), ("Tie.", "tie"), (" Response  A ", "A")):
        text = f'Here you go: ```json\n{{"verdict": {json.dumps(raw)}, "reason": "x\\ny"}}\n```'
        assert P.parse_verdict(text) == (want, "x y"), raw
    for bad, why in (('{"verdict": "C"}', "'C' is not A, B or tie"),
                     ('{"verdict": "A or B"}', "not A, B or tie"),
                     ('{"verdict": "answera"}', "not A, B or tie"),
                     ('{"verdict": 1}', "no string verdict"),
                     ('{"winner": "A"}', r"no string verdict .*keys: winner"),
                     ("B is better", "no JSON object")):
        with pytest.raises(ParseError, match=why):
            P.parse_verdict(bad)
    with pytest.raises(ParseError, match="cut off"):
        P.parse_verdict('{"verdict": "A", "rea', finish_reason="length")


def test_both_orders_are_asked_and_combined(pair_server):
    rows = [row(k, given) for k, given in enumerate(SCRIPTED)]
    progress = []
    r = P.judge_pairs_sync(config(pair_server), rows, instruction="Summarise the tweet.",
                           rubric="Faithful to the reference; short.",
                           on_progress=lambda done, total: progress.append((done, total)))
    by = {x["id"]: x for x in r["rows"]}
    assert [by[k]["outcome"] for k in range(7)] == ["win", "win", "tie", "loss", "tie", "failed",
                                                   "failed"]
    assert by[0]["verdicts"] == ["B", "A"] and by[0]["reasons"] == ["closer to the reference"] * 2
    assert by[1]["verdicts"] == ["B", "A"]
    assert by[2]["verdicts"] == ["A", "A"] and by[3]["verdicts"] == ["A", "B"]
    assert by[4]["verdicts"] == ["tie", "tie"]
    for k in (0, 1, 2, 3, 4):
        assert by[k]["error"] is None and by[k]["raw"] == [None, None]
    garbage, unknown = by[5], by[6]
    assert garbage["verdicts"] == [None, None] and garbage["raw"] == [
        "I'd go with the second one, honestly!"] * 2
    assert "A=base, B=tuned: unreadable answer: no JSON object" in garbage["error"]
    assert "A=tuned, B=base: unreadable answer: no JSON object" in garbage["error"]
    assert "'C' is not A, B or tie" in unknown["error"]
    assert json.loads(unknown["raw"][0]) == {"verdict": "C", "reason": "neither"}
    assert (r["wins"], r["ties"], r["losses"], r["failed"], r["n"]) == (2, 2, 1, 2, 5)
    assert r["win_rate"] == pytest.approx(3 / 5)  # a tie is half a win; failures not counted
    assert (r["requests"], r["cached"], r["model"]) == (14, 0, "judge-test")
    assert r["tokens_in"] > 0 and r["tokens_out"] > 0
    assert r["structured"] == {pair_server.url: "json_schema"}
    assert progress[-1] == (7, 7) and [d for d, _ in progress] == list(range(1, 8))
    # the request bodies carried the two orders, the schema and the rubric
    seen: dict = {}
    for body in pair_server.bodies:
        system, user = body["messages"]
        assert system["role"] == "system" and "order" in system["content"]
        assert "Rubric:\nFaithful to the reference; short." in user["content"]
        assert "Task: Summarise the tweet." in user["content"]
        assert body["response_format"]["json_schema"]["schema"] == P.SCHEMA
        given, a, b = shown(user["content"])
        seen.setdefault(given, []).append((a.split(":")[0], b.split(":")[0]))
        assert {a, b} == {f"{BASE} ({given})", f"{TUNED} ({given})"}
    assert set(seen) == set(SCRIPTED)
    assert all(sorted(v) == [("BASE", "TUNED"), ("TUNED", "BASE")] for v in seen.values())


def test_a_second_run_with_the_same_cache_makes_no_requests(pair_server):
    rows = [row(k, given) for k, given in enumerate(["prefers tuned", "position bias",
                                                     "prefers base", "garbage"])]
    cfg = config(pair_server)
    cache = P.MemoryCache()
    first = P.judge_pairs_sync(cfg, rows, instruction="Summarise.", cache=cache)
    assert (first["requests"], first["cached"], pair_server.requests) == (8, 0, 8)
    keys = P.hashes(cfg.model, rows, instruction="Summarise.")
    # only the six answers that were read are cached, under the keys the studio preloads
    assert [c["request_hash"] for c in cache.new] != [] and set(cache.answers) == set(keys[:6])
    assert all(c["tokens_in"] > 0 and not c["replace"] for c in cache.new)
    again = P.judge_pairs_sync(cfg, rows[:3], instruction="Summarise.", cache=cache)
    assert (again["requests"], again["cached"], pair_server.requests) == (0, 6, 8)
    assert [x["outcome"] for x in again["rows"]] == ["win", "tie", "loss"]
    assert (again["tokens_in"], again["tokens_out"]) == (0, 0)
    # the garbage row is asked again (never cached); a changed rubric is a new question
    P.judge_pairs_sync(cfg, rows, instruction="Summarise.", cache=cache)
    assert pair_server.requests == 10
    P.judge_pairs_sync(cfg, rows[:1], instruction="Summarise.", rubric="Short.", cache=cache)
    assert pair_server.requests == 12
    # a stored answer that no longer reads is asked again and replaced
    stale = P.MemoryCache({keys[0]: {"response": "unreadable", "finish_reason": "stop"}})
    r = P.judge_pairs_sync(cfg, rows[:1], instruction="Summarise.", cache=stale)
    assert (r["requests"], r["cached"], r["rows"][0]["outcome"]) == (2, 0, "win")
    assert [c["replace"] for c in stale.new] == [True, False]


def test_no_answer_fails_the_row_and_a_refused_key_stops_the_run(server):
    srv = server(faults={"500": 1.0})
    r = P.judge_pairs_sync(config(srv, max_attempts=2), [row(1, "prefers tuned")],
                           instruction="Summarise.")
    assert r["rows"][0]["outcome"] == "failed" and r["n"] == 0 and r["win_rate"] is None
    assert "no answer: HTTP 500" in r["rows"][0]["error"] and r["requests"] == 4
    locked = server(api_key="sk-right-key-123456")
    cfg = config(locked, api_key="sk-wrong-key-000000")
    with pytest.raises(TeacherError) as e:
        P.judge_pairs_sync(cfg, [row(k, "tie") for k in range(5)], instruction="Summarise.")
    assert e.value.fatal and locked.requests < 10  # stopped, not asked ten times


# -- a real llama.cpp server ---------------------------------------------------------------

SETTLES = {"llama_server": "json_object+schema", "llama_native_server": "json_schema"}


@pytest.fixture(params=list(SETTLES))
def real(request):
    """Each real server in turn, and the structured output `auto` must settle on there."""
    return request.getfixturevalue(request.param), SETTLES[request.param]


@pytest.mark.slow
def test_judge_pairs_through_a_real_llama_cpp_server(real):
    """The tiny GGUF is no judge: under the schema's grammar it writes some valid object (or
    runs into max_tokens). Every row must end counted or failed with its reason, nothing may
    crash, and both orders must have been asked."""
    srv, settles = real
    rows = [{"id": k, "input": f"ferry {k} cancelled again", "reference": "The ferry is off.",
             "base": "ferry off", "tuned": f"Ferry {k} is cancelled again."} for k in range(3)]
    sent: list[list[dict]] = []

    async def go():
        async with Teacher(TeacherConfig(model="teacher-test", base_urls=[srv.url],
                                         concurrency=2)) as teacher:
            complete = teacher.complete

            async def spy(msgs, *a, **kw):
                sent.append(msgs)
                return await complete(msgs, *a, **kw)

            teacher.complete = spy
            return await P.judge_pairs(teacher, rows, instruction="Summarise the post.",
                                       rubric="Short and faithful.")

    r = asyncio.run(go())
    assert len(r["rows"]) == 3 and r["n"] + r["failed"] == 3
    assert r["wins"] + r["ties"] + r["losses"] == r["n"]
    for x in r["rows"]:
        if x["outcome"] == "failed":
            assert x["error"] and any(x["raw"]) or "no answer" in x["error"], x
        else:
            assert x["outcome"] in ("win", "tie", "loss") and None not in x["verdicts"], x
            assert x["outcome"] == P.outcome(*x["verdicts"]) and x["error"] is None
    assert r["requests"] >= 6 and r["tokens_in"] > 0 and r["tokens_out"] > 0
    assert set(r["structured"].values()) == {settles}
    assert len(sent) == 6
    for k in range(3):
        orders = [shown(m[-1]["content"])[1:] for m in sent
                  if shown(m[-1]["content"])[0] == rows[k]["input"]]
        assert sorted(orders) == sorted([("ferry off", rows[k]["tuned"]),
                                         (rows[k]["tuned"], "ferry off")])
