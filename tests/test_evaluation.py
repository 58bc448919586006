"""Evaluation from the studio (issue 26): a run whose test split holds any rows, sliced by source,
length, corruption operator and family; the pairwise judge through `eval --judge` on the
loopback teacher (both orders asked, the win rate and its interval, answers cached, an
unreadable answer a failure that is never counted), in eval.json and the model card alike."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def tuned_first(req) -> dict | str:
    """A judge that prefers the tuned answer in both orders, except on rows whose input says
    'garbage' (an unreadable answer) or 'bias' (always A: position bias, a tie)."""
    prompt = req["messages"][-1]["content"]
    a = prompt.split("\n\nAnswer A:\n", 1)[1].split("\n\nAnswer B:\n", 1)[0]
    given = prompt.split("\n\nInput:\n", 1)[1].split("\n\nReference answer", 1)[0]
    if "garbage" in given:
        return "the second one, I think"
    if "bias" in given:
        return {"verdict": "A", "reason": "first"}
    tuned = "A" if a == TUNED_TEXT.get(given) else "B"
    return {"verdict": tuned, "reason": "closer to the reference"}


TUNED_TEXT: dict = {}


@pytest.fixture
def any_run(studio, tiny, cli):
    code, out, err = cli("train", "--model", tiny, "--max-steps", 4, "--test-from", "any",
                         "--json")
    assert code == 0, err
    return json.loads(out)


def test_slices_the_judge_and_the_card_agree(studio, any_run, cli, server):
    code, out, err = cli("eval", any_run["id"], "--json")
    assert code == 0, err
    ev = json.loads(out)
    assert ev["delta_ci"]["ci"][0] <= ev["delta"] <= ev["delta_ci"]["ci"][1]
    assert 0 <= ev["test"]["p_value"] <= 1
    assert set(ev["slices"]) >= {"source", "length", "operator", "family"}
    sources = {r["source"] for r in ev["rows"]}
    assert len(sources) > 1 and "slices_note" not in ev  # test rows of several sources
    for group in ev["slices"]["source"].values():
        assert group.get("too_few") or group["delta_ci"][0] <= group["delta"] \
            <= group["delta_ci"][1]
    assert "none" in ev["slices"]["operator"]  # rows with no corruption operator

    for r in ev["rows"]:
        TUNED_TEXT[r["input"]] = r["tuned"]
    srv = server(answer=tuned_first)
    code, out, err = cli("eval", any_run["id"], "--judge", "--model", "judge-1", "--base-url",
                         srv.url, "--json")
    assert code == 0, err
    judged = json.loads(out)
    j = judged["judge"]
    n_rows = len(ev["rows"])
    distinct = len({r["base"] for r in ev["rows"]} | {r["tuned"] for r in ev["rows"]})
    if distinct > 1:
        assert j["wins"] + j["ties"] + j["losses"] == j["n"] == n_rows - j["failed"]
    # two questions a row; one asked twice (identical rows) is answered once
    assert j["failed"] == 0 and 0 < j["requests"] <= 2 * n_rows
    assert j["win_rate_ci"][0] <= j["win_rate"] <= j["win_rate_ci"][1]
    asked = [b["messages"][-1]["content"] for b in srv.bodies]
    assert len(asked) == j["requests"]
    for r in judged["rows"][:3]:  # both orders, A and B swapped
        pair = [q for q in asked if f"\n\nInput:\n{r['input']}\n\n" in q]
        a_of = [q.split("\n\nAnswer A:\n", 1)[1].split("\n\nAnswer B:\n", 1)[0] for q in pair]
        assert r["base"] in a_of and r["tuned"] in a_of
    assert all(r["judge"] in ("win", "tie", "loss") for r in judged["rows"])

    run_dir = Path(any_run["run_dir"])
    stored = json.loads((run_dir / "eval.json").read_text())
    assert stored["judge"] == j and stored["slices"] == judged["slices"]
    card = (run_dir / "adapter" / "README.md").read_text()
    assert f"{j['win_rate']:.4g}"[:4] in card or f"{j['win_rate']:.0%}" in card

    # cached: the same question is not asked again
    before = len(srv.bodies)
    code, out, err = cli("eval", any_run["id"], "--judge", "--model", "judge-1", "--base-url",
                         srv.url, "--json")
    assert code == 0, err
    again = json.loads(out)["judge"]
    assert len(srv.bodies) == before and again["requests"] == 0
    assert (again["wins"], again["ties"], again["losses"]) == (j["wins"], j["ties"], j["losses"])


def test_an_unreadable_judge_answer_is_a_failure_never_counted(studio, any_run, cli, server):
    srv = server(answer=lambda req: "no idea, both fine")
    code, out, err = cli("eval", any_run["id"], "--judge", "--model", "judge-1", "--base-url",
                         srv.url, "--json")
    assert code == 0, err
    j = json.loads(out)["judge"]
    assert j["n"] == 0 and j["win_rate"] is None and j["failed"] > 0
    assert j["failures"] and all(f["error"] for f in j["failures"])


def test_the_default_test_split_says_why_its_slices_have_one_group(studio, tiny, cli):
    code, out, err = cli("train", "--model", tiny, "--max-steps", 3, "--json")
    assert code == 0, err
    run = json.loads(out)
    code, out, err = cli("eval", run["id"], "--json")
    ev = json.loads(out)
    assert {r["source"] for r in ev["rows"]} == {"imported"}
    assert "--test-from any" in ev["slices_note"]
