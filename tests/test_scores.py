"""Scores on hand-made good and bad examples, quality, auto-review with dry run and undo, the
review order by uncertainty and the 2D map, against a real store and the packaged MiniLM."""

import json

import numpy as np
import pytest

from helpers import GOOD, load_hand_made
from studio.scoring.heuristics import TaskStats, check, heuristics_score, mojibake
from studio.errors import BadInput, Conflict


def flags(inp, out, labels=(), stats=None):
    return {c.name: c.flag for c in check(inp, out, labels, stats) if c.flag}


def test_heuristics_flag_each_kind_of_bad_example():
    assert flags(*GOOD) == {}
    tweet = "Harbor FC won 3-1 tonight, Okafor with two headers. top of the table again"
    assert flags(tweet, tweet) == {"copy": "copy"}
    assert flags(tweet, "Harbor FC won 3-1 won 3-1 won 3-1 won 3-1 won 3-1 won 3-1.") == \
        {"repetition": "repetition"}
    assert flags(tweet, "Harbor FC won 3-1; Okafor scored twice.") == {}
    assert flags(tweet, "ok") == {"length": "too_short"}
    assert flags(tweet, "Harbor FC won 3-1 and is top of the table.\x00") == \
        {"encoding": "encoding"}
    assert flags(tweet, "Harbor FC wonâ€™t stop: 3-1, Okafor scored twice.") == \
        {"encoding": "encoding"}
    for marker in ("Assistant: Harbor FC won 3-1.", "<|im_start|>Harbor FC won 3-1.",
                   "As an AI language model, I think Harbor FC won.", "Summary of {input} here",
                   "Here is the summary: Harbor FC won 3-1."):
        assert flags(tweet, marker) == {"markers": "markers"}, marker
    assert flags("great product", "positive", ("positive", "negative")) == {}
    assert flags("great product", "amazing", ("positive", "negative")) == {"label": "label"}
    # input-only rows get the text checks only
    assert {c.name for c in check("caf\u00c3\u00a9 open", None)} == {"encoding", "markers"}


def test_length_and_ratio_are_judged_against_the_task_itself():
    inputs = [f"tweet number {i} about the bus being late again on a rainy morning today"
              for i in range(20)]
    outputs = [f"Bus {i} was late in the rain." for i in range(20)]
    stats = TaskStats.of(inputs, outputs)
    assert flags(inputs[0], "Bus 0 ran late this morning in the rain.", stats=stats) == {}
    long = ("The number nine bus came forty minutes late this morning, so commuters stood in "
            "heavy rain at Elm Street while the driver explained that a signal fault near the "
            "depot had held every vehicle back; the city promised refunds, extra services "
            "tomorrow and a review of maintenance schedules before winter arrives properly.")
    got = flags(inputs[0], long, stats=stats)
    assert got == {"length": "too_long", "ratio": "ratio"}
    assert "usually have about 7 words" in next(c.why for c in check(inputs[0], long, (), stats)
                                                 if c.name == "length")
    # too few rows to know the task: only the absolute limits apply
    assert flags(inputs[0], long, stats=TaskStats.of(inputs[:3], outputs[:3])) == {}


def test_mojibake_is_found_and_real_accents_and_emoji_are_not():
    assert mojibake("caf\u00e9 na\u00efve \u00e0 la carte \u2615 \U0001F600 \u201cok\u201d") == 0
    assert mojibake("caf\u00c3\u00a9") == 1
    assert mojibake("don\u00e2\u20ac\u2122t") == 1
    assert mojibake("bad \ufffd and \x07") == 2


def test_heuristics_score_multiplies_penalties():
    checks = check("the tweet text here today", "the tweet text here today")
    assert heuristics_score(checks) == 0.5
    assert heuristics_score(check("x", "amazing", ("positive",))) == 0.0


@pytest.fixture
def scored(studio, minilm):
    studio.use_encoder(minilm)
    return load_hand_made(studio)


def scores_of(studio, eid):
    return {e["name"]: e for e in studio.explain_scores(eid)}


def test_score_stores_faithfulness_novelty_and_quality_with_reasons(scored):
    r = scored.score(task="tweet-summary")
    assert r["scored"] == 5 and r["rows"] == 6 and r["flagged"] == {"copy": 1}
    good, off, copy, flu1, flu2, open_row = (scores_of(scored, i) for i in range(1, 7))
    assert good["faithfulness"]["value"] > 0.55 and good["quality"]["value"] == 1.0
    assert off["faithfulness"]["value"] < 0.25 and off["quality"]["value"] == 0.0
    assert "about something else" in off["faithfulness"]["detail"]
    assert copy["quality"]["value"] == 0.5 and "copied" in copy["heuristics"]["detail"]
    assert flu1["novelty"]["value"] < 0.1 and flu2["novelty"]["value"] < 0.1
    assert good["novelty"]["value"] > 0.3
    assert "quality" not in open_row and set(open_row) == {"encoding", "markers", "novelty"}
    assert all(e["about"] for e in scored.explain_scores(1))
    assert list(scores_of(scored, 1))[:4] == ["quality", "heuristics", "faithfulness", "novelty"]
    # rescoring gives the same values; editing a row forgets its scores until the next run
    again = scored.score(task="tweet-summary")
    assert again["means"] == r["means"]
    scored.edit(3, output="Library late fees end on Monday.")
    assert scored.explain_scores(3) == []
    scored.score(task="tweet-summary")
    assert scores_of(scored, 3)["quality"]["value"] == 1.0
    # classification: the label check, no faithfulness
    scored.score(task="sentiment")
    pos = scores_of(scored, 7)
    assert pos["label"]["value"] == 1.0 and "faithfulness" not in pos
    assert pos["quality"]["value"] == 1.0
    hist = scored.score_summary("tweet-summary")["histograms"]["quality"]
    assert sum(hist["counts"]) == 5 and hist["counts"][0] == 1 and hist["counts"][-1] == 4


def test_auto_counts_first_then_applies_one_batch_and_undoes_it(scored):
    scored.score(task="tweet-summary")
    scored.review(4, "reject")  # a person's decision: auto never touches it
    dry = scored.auto(task="tweet-summary", approve_above=0.8, reject_below=0.4, dry_run=True)
    assert (dry["approve"], dry["reject"], dry["left_for_review"]) == (2, 1, 1)
    assert dry["approve_ids"] == [1, 5] and dry["reject_ids"] == [2]
    assert scored.stats("tweet-summary")["by_status"]["pending"] == 5  # nothing written
    # a stricter approve threshold changes the counts
    stricter = scored.auto(task="tweet-summary", approve_above=1.0, reject_below=0.6,
                           dry_run=True)
    assert (stricter["approve"], stricter["reject"]) == (2, 2)
    done = scored.auto(task="tweet-summary", approve_above=0.8, reject_below=0.4,
                       reviewer="ana")
    assert [scored.get(i)["status"] for i in (1, 2, 3, 4, 5, 6)] == \
        ["approved", "rejected", "pending", "rejected", "approved", "pending"]
    audit = [h for h in scored.history() if h["batch_id"] == done["batch_id"]]
    assert len(audit) == 3 and {h["reviewer"] for h in audit} == {"auto:ana"}
    assert scored.thresholds("tweet-summary") == (0.4, 0.8)
    undone = scored.undo_auto(task="tweet-summary")
    assert undone["example_ids"] == [1, 2, 5]
    assert [scored.get(i)["status"] for i in (1, 2, 4, 5)] == \
        ["pending", "pending", "rejected", "pending"]
    with pytest.raises(Conflict, match="no auto-review batch"):
        scored.undo_auto(task="tweet-summary")
    # a person's later change blocks the undo, and nothing is reverted
    scored.auto(task="tweet-summary", approve_above=0.8, reject_below=0.4)
    scored.review(1, "reject")
    with pytest.raises(Conflict, match="changed by tester"):
        scored.undo_auto(task="tweet-summary")
    assert scored.get(5)["status"] == "approved"
    with pytest.raises(BadInput, match="must not be above"):
        scored.auto(task="tweet-summary", approve_above=0.3, reject_below=0.6)
    with pytest.raises(BadInput, match="say what to decide"):
        scored.auto(task="tweet-summary")


def test_auto_leaves_duplicates_and_unscored_rows_alone(scored):
    scored.dedupe(task="tweet-summary", threshold=0.9)
    dup = [r for r in scored.list(task="tweet-summary")["rows"] if r["duplicate_of"]]
    assert [r["id"] for r in dup] == [5]
    scored.score(task="tweet-summary")
    r = scored.auto(task="tweet-summary", approve_above=0.0, dry_run=True)
    assert 5 not in r["approve_ids"] and 6 not in r["approve_ids"]
    scored.edit(1, output="The 7:40 Dunmore ferry is cancelled again.")
    r = scored.auto(task="tweet-summary", approve_above=0.0, dry_run=True)
    assert 1 not in r["approve_ids"] and r["unscored_pending"] == 1


def test_review_queue_by_uncertainty_puts_rows_near_the_thresholds_first(scored):
    scored.score(task="tweet-summary")
    scored.set_thresholds("tweet-summary", 0.4, 0.8)
    q = {i: (scores_of(scored, i).get("quality") or {}).get("value") for i in range(1, 7)}
    key = {i: 9 if v is None else min(abs(v - 0.4), abs(v - 0.8)) for i, v in q.items()}
    expected = sorted(q, key=lambda i: (key[i], i))
    f = {"task": "tweet-summary", "order": "uncertainty"}
    walked, at = [], None
    for _ in range(6):
        at = scored.neighbor(at, 1, **f)
        walked.append(at)
    assert walked == expected and walked[-1] == 6  # the unscored row comes last
    assert scored.neighbor(walked[0], -1, **f) == walked[-1]  # wraps around
    assert scored.position(walked[2], **f) == (3, 6, True)
    with pytest.raises(BadInput, match="unknown order"):
        scored.neighbor(None, 1, order="random")


def test_map_points_project_the_inputs_in_two_dimensions(scored):
    scored.score(task="tweet-summary")
    m = scored.map_points(task="tweet-summary")
    assert m["total"] == 6 and len(m["points"]) == 6 and 0 < m["explained"] <= 1
    p = {pt["id"]: pt for pt in m["points"]}
    near = np.hypot(p[4]["x"] - p[5]["x"], p[4]["y"] - p[5]["y"])
    far = np.hypot(p[4]["x"] - p[1]["x"], p[4]["y"] - p[1]["y"])
    assert near < far and p[1]["quality"] == 1.0 and p[6]["quality"] is None
    small = scored.map_points(task="tweet-summary", limit=3)
    assert small["total"] == 6 and len(small["points"]) == 3


def test_nearest_other_by_buckets_matches_exact_search():
    from studio.curation import neighbours

    rng = np.random.default_rng(1)
    centres = neighbours.as_unit(rng.normal(size=(40, 32)))
    x = neighbours.as_unit(centres[rng.integers(0, 40, 3000)] + 0.1 * rng.normal(size=(3000, 32)))
    exact = neighbours.nearest_cosines(x, np.arange(len(x)))
    old, neighbours.EXACT_LIMIT = neighbours.EXACT_LIMIT, 100
    try:
        approx = neighbours.nearest_other(x, cluster_size=100)
    finally:
        neighbours.EXACT_LIMIT = old
    assert np.all(approx <= exact + 1e-5)  # a lower bound: novelty is never understated
    close = exact >= 0.8  # near neighbours, the ones novelty is about, are all found
    assert close.mean() > 0.9 and np.allclose(approx[close], exact[close], atol=1e-5)


def test_cli_score_auto_agreement(cli, tmp_path):
    from helpers import write_jsonl

    write_jsonl(tmp_path / "r.jsonl", [{"input": GOOD[0], "output": GOOD[1]},
                                       {"input": "the bus was late again, rain too",
                                        "output": "the bus was late again, rain too"}])
    assert cli("import", tmp_path / "r.jsonl")[0] == 0
    code, out, err = cli("score", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["scored"] == 2 and r["flagged"] == {"copy": 1} and r["judge"] is None
    code, out, _ = cli("auto", "--approve-above", "0.8", "--reject-below", "0.6", "--dry-run",
                       "--json")
    assert json.loads(out)["approve_ids"] == [1] and json.loads(out)["reject_ids"] == [2]
    code, out, _ = cli("auto", "--approve-above", "0.8", "--reject-below", "0.6")
    assert code == 0 and "approved 1, rejected 1" in out and "auto --undo" in out
    code, out, _ = cli("show", "2")
    assert "copied from the input" in out and "auto:tester reject" in out
    assert cli("auto", "--undo")[0] == 0
    assert json.loads(cli("stats", "--json")[1])["by_status"]["pending"] == 2
    code, _, err = cli("auto", "--undo")
    assert code == 1 and "no auto-review batch" in err
    code, _, err = cli("auto", "--approve-above", "1.5")
    assert code == 1 and "between 0 and 1" in err
    code, out, _ = cli("agreement", "--json")
    assert code == 0 and json.loads(out)["judge"]["n"] == 0
