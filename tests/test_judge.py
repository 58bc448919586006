"""The LLM judge against the loopback teacher server: parsing, caching, garbage answers
(failures, never made-up ratings), fatal errors; Cohen's kappa on known tables; agreement with
people's decisions."""

import json

import pytest

from helpers import write_jsonl
from generators.judge import parse_verdict
from generators.parsing import ParseError
from studio.scoring.agreement import agreement, band, cohen_kappa
from studio.errors import TeacherFailed

ROWS = [("ferry to Dunmore cancelled again, next one at 8:20", "The Dunmore ferry was cancelled "
         "again; the next leaves at 8:20."),
        ("library late fees are gone from Monday", "Library late fees end on Monday."),
        ("free flu shots saturday 9-1 at the center", "Free flu shots on Saturday at the center."),
        ("bakery on Quay St turns 10, free buns", "GARBAGE"),
        ("bike lane vote on thursday, speak up", "SEVEN"),
        ("water main break on 5th and Pine", "STRING")]


def fake_judge(given, output):
    """Answers as a messy real model might: mostly fine, sometimes not JSON or out of range."""
    if output == "GARBAGE":
        return "I'd give this one a solid four out of five!"
    if output == "SEVEN":
        return {"rating": 7, "reason": "very good"}
    if output == "STRING":
        return '```json\n{"rating": "2", "reason": "not a summary"}\n```'
    return {"rating": 5 if "Saturday" not in output else 3, "reason": "faithful and short"}


@pytest.fixture
def rows(studio, minilm, tmp_path):
    studio.use_encoder(minilm)
    write_jsonl(tmp_path / "j.jsonl", [{"input": i, "output": o} for i, o in ROWS])
    studio.import_file(tmp_path / "j.jsonl", task="tweet-summary")
    return studio


def teacher(studio, srv, **kw):
    return studio.teacher_config(model="judge-test", base_urls=[srv.url], backoff_base=0.01,
                                 **kw)


def test_parse_verdict_takes_whole_ratings_and_refuses_the_rest():
    assert parse_verdict('{"rating": 4, "reason": "fine"}') == (4, "fine")
    assert parse_verdict('{"rating": "5", "reason": "ok\\nsecond line"}') == (5, "ok second line")
    assert parse_verdict('{"rating": 3.0}') == (3, "(no reason given)")
    assert parse_verdict('Sure! ```json\n{"rating": 2, "reason": "x"}\n```') == (2, "x")
    for bad, why in (('{"rating": 4.5}', "not a whole number"), ('{"rating": true}', "whole"),
                     ('{"rating": 0, "reason": "x"}', "outside 1-5"),
                     ('{"score": 4}', "not a whole number"), ("four stars", "no JSON object"),
                     ('{"rating": 6}', "outside 1-5")):
        with pytest.raises(ParseError, match=why):
            parse_verdict(bad)
    with pytest.raises(ParseError, match="cut off"):
        parse_verdict('{"rating": ', finish_reason="length")


def test_kappa_on_known_tables():
    assert cohen_kappa([[20, 5], [10, 15]]) == pytest.approx(0.4)
    assert cohen_kappa([[45, 15], [25, 15]]) == pytest.approx(0.06 / 0.46)
    assert cohen_kappa([[10, 0], [0, 10]]) == pytest.approx(1.0)
    assert cohen_kappa([[0, 10], [10, 0]]) == pytest.approx(-1.0)
    assert cohen_kappa([[25, 0], [0, 0]]) is None and cohen_kappa([[0, 0], [0, 0]]) is None
    # three categories (Fleiss et al.'s textbook table): po = 0.70, pe = 0.41
    t = [[25, 2, 5], [3, 26, 5], [1, 3, 30]]
    n = sum(map(sum, t))
    po = sum(t[i][i] for i in range(3)) / n
    pe = sum(sum(t[i]) * sum(r[i] for r in t) for i in range(3)) / n / n
    assert cohen_kappa(t) == pytest.approx((po - pe) / (1 - pe))
    assert band(0.65) == "substantial" and band(-0.1) == "worse than chance"
    a = agreement([(5, "approved")] * 20 + [(2, "approved")] * 5 + [(4, "rejected")] * 10
                  + [(1, "rejected")] * 15, cut=4)
    assert a["kappa"] == pytest.approx(0.4) and a["n"] == 50 and a["agreement"] == 0.7
    assert a["enough"] and a["verdict"] == "moderate"
    few = agreement([(5, "approved"), (1, "rejected"), (2, "approved")])
    assert not few["enough"] and few["verdict"].startswith("too few decisions (3;")
    assert a["confusion"]["5"] == {"approved": 20, "rejected": 0}
    assert a["table"]["rejected"] == {"judge_approves": 10, "judge_rejects": 15}
    assert [c["cut"] for c in a["by_cut"]] == [2, 3, 4, 5]
    assert a["by_cut"][3]["kappa"] == pytest.approx(cohen_kappa([[20, 5], [0, 25]]))


def test_judge_rates_caches_and_records_garbage_as_failures(rows, server):
    srv = server(judge=fake_judge)
    r = rows.judge(teacher(rows, srv), task="tweet-summary")
    assert (r["rows"], r["judged"], r["failed"], r["requests"], r["cached"]) == (6, 4, 2, 6, 0)
    by_id = {i: {e["name"]: e for e in rows.explain_scores(i)} for i in range(1, 7)}
    assert by_id[1]["judge"]["value"] == 5 and by_id[1]["judge"]["detail"] == "faithful and short"
    assert by_id[3]["judge"]["value"] == 3 and by_id[6]["judge"]["value"] == 2
    for i, why in ((4, "no JSON object"), (5, "outside 1-5")):
        assert by_id[i]["judge"]["value"] is None and why in by_id[i]["judge"]["detail"]
        assert "quality" not in by_id[i]  # not scored yet, and no rating was made up
    assert {f["example_id"] for f in r["failures"]} == {4, 5}
    # asked again: the four ratings come from the cache; the two unreadable answers were never
    # cached, so only they are asked again (and fail again, with their reasons)
    sent = srv.requests
    again = rows.judge(teacher(rows, srv), task="tweet-summary")
    assert (again["cached"], again["requests"], srv.requests) == (4, 2, sent + 2)
    assert again["judged"] == 4 and again["failed"] == 2
    # --refresh asks all six again
    fresh = rows.judge(teacher(rows, srv), task="tweet-summary", refresh=True)
    assert (fresh["cached"], fresh["requests"], srv.requests) == (0, 6, sent + 8)
    sent = srv.requests
    # scoring folds the ratings into quality: the 3 pulls row 3 below row 1
    rows.score(task="tweet-summary")
    q = {i: {e["name"]: e["value"] for e in rows.explain_scores(i)}["quality"] for i in (1, 3)}
    assert q[1] > q[3] and q[3] < 0.75
    # a new rubric is a new question
    rows.judge(teacher(rows, srv), task="tweet-summary", rubric="5: perfect\n1: useless")
    assert srv.requests == sent + 6 and rows.rubric("tweet-summary") == "5: perfect\n1: useless"


def test_a_refused_key_stops_the_judge_with_a_clear_error(rows, server):
    srv = server(api_key="sk-right-key-123456")
    cfg = rows.teacher_config(model="judge-test", base_urls=[srv.url],
                              api_key="sk-wrong-key-654321")
    with pytest.raises(TeacherFailed, match="the key was refused") as e:
        rows.judge(cfg, task="tweet-summary")
    assert "654321" not in str(e.value)
    assert rows.store.task_scores("tweet-summary", ["judge"]) != {}  # failures kept, not lost
    assert all(v["judge"] is None for v in rows.store.task_scores("tweet-summary",
                                                                  ["judge"]).values())


def test_a_dead_endpoint_stops_the_judge_at_once_with_the_reason(rows):
    """Nothing listens on port 9: after a short probe (three refused connections) the judge
    stops with the reason instead of recording six connection failures one by one."""
    cfg = rows.teacher_config(model="judge-test", base_urls=["http://127.0.0.1:9/v1"],
                              timeout=2, backoff_base=0.01)
    with pytest.raises(TeacherFailed, match=r"cannot connect to http://127.0.0.1:9/v1.*"
                       r"no answer in 3 tries") as e:
        rows.judge(cfg, task="tweet-summary")
    assert e.value.exit_code == 4
    assert "0 rated" in str(e.value)


def test_agreement_uses_peoples_decisions_only(rows, server):
    srv = server(judge=fake_judge)
    rows.judge(teacher(rows, srv), task="tweet-summary")
    rows.review(1, "approve")
    rows.review(2, "reject")   # judge said 5: a disagreement
    rows.review(3, "reject")   # judge said 3: agreement at cut 4
    rows.review(4, "reject")   # no rating (garbage): not counted
    rows.score(task="tweet-summary")
    rows.auto(task="tweet-summary", approve_above=0.0)  # row 6: an auto decision, not counted
    assert rows.get(6)["status"] == "approved"
    a = rows.agreement(task="tweet-summary")
    assert a["decided"] == 4 and a["judge"]["n"] == 3
    assert a["judge"]["table"] == {"approved": {"judge_approves": 1, "judge_rejects": 0},
                                   "rejected": {"judge_approves": 1, "judge_rejects": 1}}
    assert a["judge"]["kappa"] == pytest.approx(cohen_kappa([[1, 0], [1, 1]]))
    assert a["judge"]["confusion"]["5"] == {"approved": 1, "rejected": 1}


def test_cli_score_with_judge(cli, server, tmp_path):
    srv = server(judge=fake_judge)
    write_jsonl(tmp_path / "j.jsonl", [{"input": i, "output": o} for i, o in ROWS[:3]])
    assert cli("import", tmp_path / "j.jsonl")[0] == 0
    (tmp_path / "rubric.txt").write_text("5: great\n1: bad\n")
    code, out, err = cli("score", "--judge", "--model", "judge-test", "--base-url", srv.url,
                         "--rubric", tmp_path / "rubric.txt", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["judge"]["judged"] == 3 and r["judged"] == 3
    assert r["means"]["judge"] == pytest.approx(13 / 3, abs=1e-3)
    code, out, _ = cli("score", "--judge", "--model", "judge-test", "--base-url", srv.url)
    assert code == 0 and "3 from the cache, 0 requests" in out
    code, _, err = cli("score", "--judge", "--rubric", tmp_path / "missing.txt", "--model", "m",
                       "--base-url", srv.url)
    assert code == 1 and "cannot read the rubric" in err
