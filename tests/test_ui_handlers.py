"""The app's event handlers called directly, no browser and no server: each is a module-level
function of the Studio and plain values, run here against a real Studio on a temporary store.
The browser tests (tests/test_ui_*.py) check the same paths through the page; these check what
the handlers return and what they leave in the store, quickly."""

import warnings
from types import SimpleNamespace

import gradio as gr
import pytest

from helpers import PLANTED, REVIEW_ROWS, TWEET_TASK, load_rows, write_jsonl
from studio.errors import StudioError
from studio.ui import corrupt_handlers as corrupt
from studio.ui import curate_tab as curate
from studio.ui import data_tab as data
from studio.ui import evaluate_tab as evaluate
from studio.ui import export_tab as export
from studio.ui import generate_tab as generate
from studio.ui import map_panel
from studio.ui import review_handlers as review
from studio.ui import scores_panel as scores
from studio.ui import train_tab as train
from studio.ui.common import bind, bind_progress, bind_reviewer, bind_selection

TASK = TWEET_TASK
ORDER = "oldest first"
SKIP = gr.skip()


def shown(update) -> dict:
    """A gr.update(...) as the plain dict it is."""
    assert update["__type__"] == "update", update
    return update


def warned(handler, *args) -> str:
    """Call a wired handler (ui_errors): its error becomes a warning toast, and nothing changes;
    return the warning's text."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert handler(*args) == SKIP
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert messages, "no toast"
    return messages[-1]


# -- Review ------------------------------------------------------------------------------------

@pytest.fixture
def loaded(studio, tmp_path):
    """Five complete rows and an input-only one, all pending (the browser test's rows)."""
    studio.import_file(write_jsonl(tmp_path / "rows.jsonl", REVIEW_ROWS))
    return studio


def queue(text="", status="pending"):
    return (TASK, status, "any", text, ORDER)


def test_review_approve_reject_edit_next_previous_and_undo(loaded, capsys):
    card = review.restart(loaded, *queue())
    assert card[0] == 1 and card[1].startswith("### #1 · pending · imported")
    assert "1 of 6 in this queue" in card[1]
    assert card[2:4] == ("tweet one about trains", "trains are late")
    assert "**6** examples: 6 pending" in card[4]
    assert not shown(card[5])["visible"] and card[7] == []

    card = review.decide(loaded, "approve", 1, *card[2:4], *queue(), "tester")
    assert card[0] == 2 and loaded.get(1)["status"] == "approved"
    # approving with the output edited saves the edit first
    card = review.decide(loaded, "approve", 2, card[2], "it pours", *queue(), "tester")
    assert card[0] == 3
    assert (loaded.get(2)["status"], loaded.get(2)["output"]) == ("approved", "it pours")
    card = review.decide(loaded, "reject", 3, *card[2:4], *queue(), "tester")
    assert card[0] == 4 and loaded.get(3)["status"] == "rejected"

    assert review.move(loaded, 1, 4, *queue())[0] == 5
    assert review.move(loaded, -1, 5, *queue())[0] == 4
    assert review.show(loaded, None, *queue())[0] == 4  # the queue's first pending row
    assert review.show(loaded, 2, *queue())[1].count("not in this queue (3 are)") == 1

    card = review.save_edit(loaded, 4, "radar tweet alpha", "radar uno", *queue(), "tester")
    assert card[0] == 4 and card[3] == "radar uno" and "Saved #4" in capsys.readouterr().out
    assert (loaded.get(4)["status"], loaded.get(4)["output"]) == ("pending", "radar uno")
    card = review.undo_last(loaded, *queue(), "tester")
    assert card[0] == 4 and card[3] == "radar one"
    assert "Undid edit on 1 example(s)" in capsys.readouterr().out

    card = review.remove(loaded, 4, *queue(), "tester")
    assert card[0] == 5 and loaded.list(task=TASK, limit=0)["total"] == 5
    card = review.undo_last(loaded, *queue(), "tester")
    assert card[0] == 4 and loaded.get(4)["input"] == "radar tweet alpha"

    assert [a["action"] for a in loaded.history()] == [
        "approve", "edit", "approve", "reject", "edit", "undo", "delete", "undo"]
    assert {a["reviewer"] for a in loaded.history()} == {"tester"}


def test_review_refuses_without_a_card_and_an_input_only_row_without_output(loaded):
    with pytest.raises(gr.Error, match="No example selected"):
        review.decide(loaded, "approve", None, "", "", *queue(), "tester")
    with pytest.raises(gr.Error, match="No example selected"):
        review.find_similar(loaded, None)
    card = review.show(loaded, 6, *queue())
    assert "Needs an output" in card[1] and card[3] == ""
    with pytest.raises(StudioError, match="has no output yet"):
        review.decide(loaded, "approve", 6, card[2], "", *queue(), "tester")
    assert loaded.get(6)["status"] == "pending" and loaded.history() == []

    # wired, the same refusal is a toast and the card stays as it was
    approve = bind_reviewer(review.decide, loaded.settings, loaded, "approve")
    assert "has no output yet" in warned(approve, None, 6, card[2], "", *queue())


def test_bulk_asks_first_then_acts_on_the_filter_asked_about_and_undoes_as_one(loaded, capsys):
    pending, box, msg = review.prepare_bulk(loaded, "reject", *queue("radar"))
    assert shown(box)["visible"] and msg.startswith("**Reject 2 examples** matching")
    assert "text 'radar'" in msg and pending["action"] == "reject"
    assert {r["status"] for r in loaded.list(task=TASK)["rows"]} == {"pending"}  # asked only

    assert review.cancel_bulk()[0] is None and not shown(review.cancel_bulk()[1])["visible"]
    with pytest.raises(gr.Error, match="Nothing to confirm"):
        review.run_bulk(loaded, None, 4, *queue("radar"), "ann")

    out = review.run_bulk(loaded, pending, 4, *queue("radar"), "ann")
    assert out[0] is None and not shown(out[1])["visible"]
    assert out[2] is None and "The queue is empty" in out[3]
    assert [loaded.get(i)["status"] for i in (4, 5)] == ["rejected", "rejected"]
    assert {a["reviewer"] for a in loaded.history()} == {"ann"}
    assert "reject: 2 changed, 0 skipped" in capsys.readouterr().out

    card = review.undo_last(loaded, *queue(), "ann")
    assert card[0] in (4, 5) and "Undid reject on 2 example(s)" in capsys.readouterr().out
    assert [loaded.get(i)["status"] for i in (4, 5)] == ["pending", "pending"]


def test_wired_review_handlers_take_the_reviewer_from_the_request(loaded):
    approve = bind_reviewer(review.decide, loaded.settings, loaded, "approve")
    card = approve(SimpleNamespace(username="ann"), 1, "tweet one about trains",
                   "trains are late", *queue())
    assert card[0] == 2
    approve(None, 2, "tweet two about rain", "it rains", *queue())  # no login: the setting
    assert [(a["example_id"], a["reviewer"]) for a in loaded.history()] == [
        (1, "ann"), (2, "tester")]
    # a row of the similar table clicked, and the row a duplicate points at
    open_row = bind_selection(review.open_row, loaded)
    assert open_row(SimpleNamespace(row_value=[3, 0.9]), *queue())[0] == 3
    assert review.open_row(loaded, [5, 0.8], *queue())[0] == 5


# -- Data --------------------------------------------------------------------------------------

@pytest.fixture
def many(studio, tmp_path):
    studio.import_file(write_jsonl(tmp_path / "many.jsonl", [
        {"input": f"row number {i}", "output": f"out {i}"} for i in range(1, 121)]))
    return studio


def page_query(text="", page=1, per=50):
    return ("any", "any", text, "id", False, page, per)


def test_data_pages_filter_and_the_last_page(many):
    table, page, info, head = data.load_page(many, TASK, *page_query())
    assert len(shown(table)["value"]) == 50 and table["headers"] == data.COLUMNS
    assert (page, info) == (1, "Rows 1–50 of **120** · page 1 of 3")
    assert "**120** examples" in head
    table, page, info, _ = data.turn_page(many, 1, TASK, *page_query())
    assert info == "Rows 51–100 of **120** · page 2 of 3"
    assert table["value"][0][:5] == [51, "pending", "imported", TASK, "row number 51"]
    assert data.turn_page(many, -1, TASK, *page_query(page=2))[2].startswith("Rows 1–50")
    # 7 and 70-79; page 3 of a filter that fits on one page shows its last page
    table, page, info, _ = data.load_page(many, TASK, *page_query("number 7", page=3))
    assert (page, info) == (1, "Rows 1–11 of **11** · page 1 of 1")
    table, _, info, _ = data.load_page(many, TASK, "any", "any", "", "id", True, 1, 25)
    assert table["value"][0][0] == 120 and info.endswith("page 1 of 5")


def test_data_import_of_a_bad_file_says_why_and_stores_nothing(many, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": "fine"}\n{"input": 12}\n')
    args = (TASK, "auto", "", "", "auto", *page_query())
    with pytest.raises(StudioError, match=r"^bad.jsonl:2: 'input' must be text, got a number$"):
        data.import_file(many, str(bad), *args)
    assert warned(bind(data.import_file, many), str(bad), *args) == \
        "bad.jsonl:2: 'input' must be text, got a number"
    assert many.stats()["total"] == 120

    msg, *table = data.import_file(many, None, *args)
    assert msg == "Choose a file first." and table[2].startswith("Rows 1–50 of **120**")
    good = write_jsonl(tmp_path / "good.jsonl", [{"input": "fresh one", "output": "x"},
                                                 {"input": "fresh two"}])
    msg, *table = data.import_file(many, SimpleNamespace(name=str(good)), *args)
    assert msg.startswith("Imported 2 rows into task tweet-summary from good.jsonl")
    assert "of **122**" in table[2] and "**122** examples" in table[3]
    assert many.stats()["input_only"] == 1


def test_data_deletes_only_the_rows_asked_about_and_puts_them_back(many):
    button, msg, asked = data.ask_delete_matching(many, TASK, "any", "any", "number 7")
    assert shown(button) == {"__type__": "update", "value": "Delete 11 rows", "visible": True}
    assert msg.startswith("**11** rows match this filter") and asked["n"] == 11
    # the filter changed since the question: nothing is deleted
    out = data.delete_matching(many, asked, TASK, "any", "any", "number 8", *page_query())
    assert out[2] == "The filter or its rows changed since you asked: ask again."
    assert many.stats()["total"] == 120

    out = data.delete_matching(many, asked, TASK, "any", "any", "number 7",
                               *page_query("number 7"))
    assert out[2] == "Deleted **11** rows." and shown(out[1])["visible"]
    assert many.stats()["total"] == 109 and out[6] == "Rows 0–0 of **0** · page 1 of 1"
    out = data.undo_delete_matching(many, out[3], TASK, *page_query())
    assert out[1] == "Put back **11** rows." and out[2] is None
    assert many.stats()["total"] == 120
    assert data.undo_delete_matching(many, None, TASK, *page_query())[1] == "Nothing to undo."
    assert data.ask_delete_matching(many, TASK, "any", "any", "nowhere")[1] == \
        "No rows match this filter."


# -- Generate ----------------------------------------------------------------------------------

def test_generate_refuses_a_bad_endpoint_before_any_job(samples):
    teacher = ("not a url", "some-model", "", "auto")
    with pytest.raises(StudioError, match="base URL 'not a url' is not an http"):
        generate.check_connection(samples, *teacher)
    assert "is not an http(s) URL" in warned(bind(generate.check_connection, samples), *teacher)
    plan = ("inputs", 5, 4, 0, [], "", False)
    with pytest.raises(StudioError, match="is not an http"):
        generate.start_job(samples, TASK, *teacher, *plan)
    with pytest.raises(StudioError, match="name the teacher model"):
        generate.start_job(samples, TASK, "http://127.0.0.1:9/v1", "", "", "auto", *plan)
    with pytest.raises(StudioError, match="sentiment has no input-only rows"):
        generate.start_job(samples, "sentiment", "http://127.0.0.1:9/v1", "m", "k", "auto",
                           "outputs", 5, 4, 0, [], "", False)
    assert samples.jobs() == []
    with pytest.raises(gr.Error, match="Pick a stopped job to resume"):
        generate.resume_job(samples, TASK, None, "", "", "", "auto", 4, False)
    with pytest.raises(gr.Error, match="No job started in this session"):
        generate.cancel_job(samples, None, TASK)


def test_the_connection_test_says_which_endpoint_is_down(studio):
    # nothing listens on port 9: the probe says so, per URL, and no job starts
    line = generate.check_connection(studio, "http://127.0.0.1:9/v1", "m", "k", "auto")
    assert line.startswith("**Failed** `http://127.0.0.1:9/v1`: cannot connect")
    assert studio.jobs() == []


def test_generate_plan_says_what_an_outputs_job_would_label(samples):
    seeds, sources, note, bar, newest, jobs, pick, head = generate.refresh(
        samples, TASK, None, "outputs", "")
    assert len(shown(seeds)["choices"]) == 125 - 45  # the complete rows
    assert sources["choices"] == [("every input-only row of the task (45)", ""),
                                  ("imported from tweets_messy.jsonl (45)",
                                   "tweets_messy.jsonl")]
    assert note.startswith("Will label **45** input-only rows of **tweet-summary**, oldest")
    assert bar == "" and jobs["value"] == [] and pick["choices"] == []
    _, note = generate.planned(samples, TASK, "both", "tweets_messy.jsonl")
    assert "imported from `tweets_messy.jsonl`" in note
    assert generate.planned(samples, TASK, "inputs", "")[1] == ""
    assert generate.planned(samples, "sentiment", "outputs", "")[1] == \
        "No row of **sentiment** needs an output."
    *_, timer, cancel = generate.tick(samples, None, TASK)
    assert timer.active is False and not shown(cancel)["visible"]


# -- Corrupt -----------------------------------------------------------------------------------

@pytest.fixture
def clean_rows(studio, tmp_path):
    studio.import_file(write_jsonl(tmp_path / "clean.jsonl", [
        {"input": f"The library on Elm Street is going to open at {8 + k} in the morning "
                  f"tomorrow, and you are welcome to bring your children.",
         "output": f"Library opens at {8 + k} tomorrow."} for k in range(6)]),
        input_style="clean")
    return studio


def test_corrupt_preview_counts_before_it_stores_and_undoes(clean_rows):
    s = clean_rows
    rates = corrupt.load_profile(s, "tweet")
    choice = ("tweet", "any but rejected", "clean")
    out = corrupt.compare(s, TASK, None, *choice, 0, *rates)
    assert "cor-preview-table" in out[0] and out[0].count("<td>#") == 6
    assert out[1].startswith("Add at least 5 real messy texts")  # none to compare with yet
    assert shown(out[6])["open"] is True
    with pytest.raises(gr.Error, match="No complete rows to corrupt"):
        corrupt.compare(s, "sentiment", None, *choice, 0, *rates)

    msg, confirm = corrupt.count(s, TASK, *choice, 2, 0, *rates)
    n = int(confirm["value"].split()[1])
    assert msg.startswith(f"This stores **{n}** corrupted rows made from 6 rows") and n > 0
    assert s.stats(TASK)["by_source"]["corrupted"] == 0  # counted, nothing written
    msg, head, confirm, undo, batch = corrupt.store_rows(s, TASK, *choice, 2, 0, *rates)
    assert msg.startswith(f"Stored **{n}** corrupted rows from 6 rows (profile `tweet`")
    assert s.stats(TASK)["by_source"]["corrupted"] == n and f"{n} corrupted" in head
    assert shown(undo)["visible"] and batch is not None
    msg, head, undo, batch = corrupt.undo(s, TASK, batch)
    assert msg == f"Removed the batch's **{n}** corrupted rows." and batch is None
    assert s.stats(TASK)["by_source"]["corrupted"] == 0
    assert corrupt.undo(s, TASK, None)[0] == "Nothing to undo."

    pick, *sliders = corrupt.refresh(s, "gone")
    assert pick["value"] == "tweet" and sliders == rates


# -- Curate: dedupe, the map, scores ----------------------------------------------------------

@pytest.fixture
def planted(studio, minilm, tmp_path):
    studio.use_encoder(minilm)
    return load_rows(studio, tmp_path, PLANTED)


def test_dedupe_dry_run_marks_nothing_then_clusters_and_a_new_canonical(planted, studio):
    a, exact, para, _, _ = planted
    with pytest.raises(gr.Error, match="Pick a task first"):
        curate.mark_duplicates(studio, True, "", None, 0.95, 0)
    note, plot, clusters, head = curate.mark_duplicates(studio, True, "", TASK, 0.95, 0)
    assert note.startswith("Would mark **2** of 5 rows as duplicates in **1** clusters")
    assert shown(plot)["visible"] and "<svg" in plot["value"] and clusters == []
    assert studio.stats(TASK)["duplicates"] == 0

    note, _, clusters, head = curate.mark_duplicates(studio, False, "", TASK, 0.95, 0)
    assert note.startswith("Marked **2** of 5 rows") and "2 duplicates" in head
    assert len(clusters) == 1 and clusters[0][1] == 3
    cid, members, picked = bind_selection(curate.open_cluster, studio, errors=False)(
        SimpleNamespace(row_value=clusters[0]))
    assert cid == clusters[0][0] and picked == ""
    assert [m[1] for m in members][0] == "canonical" and {m[0] for m in members} == {a, exact,
                                                                                     para}
    assert curate.pick_member([para, "semantic"]) == str(para) and curate.pick_member([]) == ""
    with pytest.raises(gr.Error, match="Click a row of the cluster first"):
        curate.make_canonical(studio, " ", TASK, "tester")
    cid, members, _ = curate.make_canonical(studio, str(para), TASK, "tester")
    assert members[0][:2] == [para, "canonical"] and studio.get(para)["duplicate_of"] is None
    assert curate.refresh(studio, TASK, "")[1].endswith("all-MiniLM-L6-v2")

    # Review: find similar lists the near copies; the card opens the row it duplicates
    similar = shown(review.find_similar(studio, a))
    assert similar["visible"] and para in [r[0] for r in similar["value"]]
    card = review.show(studio, a, *queue())
    assert f"Duplicate of #{para}" in card[1] and shown(card[5])["visible"]
    assert review.open_duplicated(studio, a, *queue())[0] == para

    caption, svg = map_panel.draw_map(studio, TASK, "cluster")
    assert caption.startswith("**5** inputs") and svg.count("<circle") == 5
    eid, text, table, button = map_panel.show_point(studio, str(a))
    assert eid == a and text.startswith(f"**#{a}** · pending") and shown(button)["visible"]
    assert map_panel.draw_map(studio, None, "status") == ("", "")


def test_scores_thresholds_are_checked_and_kept_per_task(studio, tmp_path):
    load_rows(studio, tmp_path, PLANTED[:2])
    counts, plot = scores.moved(studio, TASK, "quality", 0.8, 0.3)
    assert counts.startswith("**Reject below** is above **approve at**") and plot == SKIP
    counts, plot = scores.moved(studio, TASK, "quality", 0.3, 0.8)
    assert studio.thresholds(TASK) == (0.3, 0.8) and not shown(plot)["visible"]
    assert "2 pending rows have no score yet" in counts
    out = scores.refresh(studio, TASK, "quality", 0.0, 1.0)
    assert out[-2:] == (0.3, 0.8) and out[2] == studio.rubric(TASK)
    assert out[3].startswith("No rows are both rated by the judge")
    with pytest.raises(gr.Error, match="Pick a task first"):
        scores.apply(studio, None, "quality", 0.3, 0.8, "tester")
    about, _ = scores.describe(studio, TASK, "judge", 0.3, 0.8)
    assert about


# -- Export ------------------------------------------------------------------------------------

def export_options(task=TASK, val=0.2, test=0.2, pii="mask"):
    return (task, val, test, 0, "messages", "jsonl", pii, "apache-2.0", "en", "any", False)


def test_export_preview_shows_what_the_export_writes(studio, minilm, tmp_path):
    studio.use_encoder(minilm)
    load_rows(studio, tmp_path, PLANTED[3:] + [
        (f"Update {k}: the {w} opens at {8 + k}am on weekdays.", f"The {w} opens at {8 + k}.")
        for k, w in enumerate(["pool", "museum", "bakery", "clinic", "gallery", "zoo"])])
    studio.bulk_review("approve", task=TASK)
    with pytest.raises(gr.Error, match="Pick a task first"):
        export.preview(studio, *export_options(task=None))
    with pytest.raises(gr.Error, match="leave some rows for train"):
        export.preview(studio, *export_options(val=0.5, test=0.5))
    with pytest.raises(gr.Error, match="Preview first"):
        export.export(studio, None, "out", *export_options())

    plan, counts, checks, split, rows, card, front = export.preview(studio, *export_options())
    assert counts.startswith("**8** rows leave: train **") and "left out: nothing" in counts
    assert "**Leakage:** 0 pairs" in checks and shown(split)["value"] == "test"
    assert len(rows) == plan.counts["splits"]["test"] and rows[0][1] == "imported"
    assert "license: apache-2.0" in front and "A supervised fine-tuning set of 8" in card
    assert len(export.split_rows(plan, "train")) == plan.counts["splits"]["train"]
    assert export.split_rows(None, "train") == []

    with pytest.raises(gr.Error, match="Give a folder to write"):
        export.export(studio, plan, "  ", *export_options())
    folder = tmp_path / "out"
    with pytest.raises(StudioError, match="changed since the preview"):
        export.export(studio, plan, str(folder), *export_options(pii="drop"))
    assert not folder.exists()
    msg = export.export(studio, plan, str(folder), *export_options())
    assert msg.startswith(f"Wrote **8** rows to `{folder}`") and (folder / "README.md").is_file()
    stratify, out_dir, note = export.refresh(studio, TASK)
    assert out_dir == str(folder) and note.startswith("Last export: #1 of 8 rows")
    assert shown(stratify)["interactive"] is False  # a free-text task has no labels


# -- Train and Evaluate ------------------------------------------------------------------------

SETTINGS = ("lora", "", 0, "", 16, "", "", "", "", 3, "auto", False, True)


def test_train_settings_preview_with_the_tiny_demo_model(studio, filled):
    from studio.training.models import TINY_DEMO

    *values, why = train.fill(studio, TASK, TINY_DEMO, *SETTINGS)
    epochs, lr, batch, accum, max_len, eval_steps, precision = values
    assert epochs > 0 and lr > 0 and batch >= 1 and max_len >= 1 and precision == "fp32"
    assert why.startswith("Computed for about ") and "tiny-demo's tokenizer" in why
    assert "- **learning rate**" in why

    with pytest.raises(StudioError, match="'abc' is not a number"):
        train.fill(studio, TASK, TINY_DEMO, "lora", "abc", *SETTINGS[2:])
    with pytest.raises(gr.Error, match="Pick or type a base model"):
        train.start(studio, TASK, "  ", *SETTINGS)
    assert studio.runs() == []
    assert train.chosen(*SETTINGS)["epochs"] is None  # blank: computed by the run
    assert train.chosen("lora", "2", 10, "1e-4", 8, "4", "", "", "", 3, "auto", True,
                        True)["learning_rate"] == 1e-4
    with pytest.raises(gr.Error, match="No run started in this session"):
        train.cancel(studio, None)
    with pytest.raises(gr.Error, match="Pick a cancelled, interrupted or failed run"):
        train.resume(studio, None)
    run_id, status, *_, timer, cancel = train.refresh(studio, None)
    assert run_id is None and "No run yet" in status
    assert timer.active is False and not shown(cancel)["visible"]


def test_evaluate_with_no_runs_says_what_to_do(studio):
    pick, chart, answer, more_btn, more = evaluate.refresh(studio, TASK, None)
    assert shown(pick)["choices"] == [] and pick["value"] is None
    assert "Run the learning curve to see the score" in chart
    assert answer == "" and shown(more_btn)["visible"] is False and more is None
    with pytest.raises(gr.Error, match="No completed run yet: train one in the Train tab"):
        evaluate.show_evaluation(studio, None)
    assert "No completed run yet" in warned(bind_progress(evaluate.evaluate_again, studio),
                                            gr.Progress(), None)
    with pytest.raises(gr.Error, match="Pick a completed run: its model and settings"):
        evaluate.start_curve(studio, TASK, None)
    with pytest.raises(gr.Error, match="Pick a completed run first"):
        evaluate.ask(studio, None, "hello")
    with pytest.raises(gr.Error, match="No completed run yet"):
        evaluate.judge(studio, None, "http://127.0.0.1:9/v1", "m", "")
    with pytest.raises(gr.Error, match="Pick a completed run"):
        evaluate.train_any(studio, TASK, None)


def test_the_evaluation_view_shows_intervals_the_judge_and_slices():
    """What the tab shows of an evaluation with every issue-26 figure (a made-up eval.json)."""
    result = {"metric": "rougeL", "base": 0.2, "tuned": 0.3, "delta": 0.1, "n": 30,
              "rows": [], "delta_ci": {"delta": 0.1, "ci": [0.02, 0.18], "n": 30,
                                       "level": 0.95, "method": "paired bootstrap"},
              "test": {"test": "sign-flip permutation (exact)", "p_value": 0.0123, "n": 30},
              "judge": {"win_rate": 0.6, "win_rate_ci": [0.42, 0.76], "wins": 15, "ties": 6,
                        "losses": 9, "n": 30, "failed": 1, "model": "judge-1", "cached": 4},
              "slices": {"source": {"imported": {"n": 20, "base": 0.2, "tuned": 0.31,
                                                 "delta": 0.11, "delta_ci": [0.01, 0.2],
                                                 "win_rate": 0.65},
                                    "teacher": {"n": 4, "too_few": True}}},
              "slices_note": "only real rows"}
    summary, rows, verdict, slices, note, any_btn = evaluate.evaluation_view(result)
    assert ["difference, 95% interval", "", "", "+0.0200 to +0.1800"] in summary
    assert ["paired test, p", "", "", "0.0123"] in summary
    assert "Tuned wins 60%" in verdict and "42% to 76%" in verdict and "1 unreadable" in verdict
    assert slices == [["source", "imported", 20, 0.2, 0.31, 0.11, "+0.010 to +0.200", "65%"],
                      ["source", "teacher", 4, "too few rows", "", "", "", ""]]
    assert note == "only real rows" and shown(any_btn)["visible"] is True


# -- Deploy ------------------------------------------------------------------------------------

def test_deploy_with_no_runs_says_what_to_do(studio):
    from studio.ui import deploy_tab as deploy

    pick, exports, status = deploy.refresh(studio, TASK, None)
    assert shown(pick)["choices"] == [] and pick["value"] is None
    assert exports == [] and status == "Nothing served from here now."
    with pytest.raises(gr.Error, match="No completed run yet: train one in the Train tab"):
        deploy.export(studio, None, "gguf", "q8_0", "")
    assert "No completed run yet" in warned(bind_progress(deploy.export, studio),
                                            gr.Progress(), None, "gguf", "q8_0", "")
    with pytest.raises(gr.Error, match="Pick a completed run to serve"):
        deploy.serve(studio, None, "auto", 0)
    with pytest.raises(gr.Error, match="Serve the run first"):
        deploy.teacher_fields(studio, 1)
    with pytest.raises(gr.Error, match="Type a question first"):
        deploy.ask(studio, 1, "  ")
    # an unknown run: the studio's own message, as a toast
    assert "no run 7" in warned(bind(deploy.serve, studio), 7, "auto", 0)
    assert deploy.stop(studio, None) == "Nothing served from here now."


def test_a_tracker_that_is_not_installed_is_refused_before_a_run_starts(studio):
    """report_to is checked when Train is pressed: the message names the pip package and no
    run (nor its folder) is made."""
    import importlib.util

    missing = next((t for t, m in (("wandb", "wandb"), ("mlflow", "mlflow"),
                                   ("trackio", "trackio"), ("tensorboard", "tensorboard"))
                    if importlib.util.find_spec(m) is None), None)
    if missing is None:
        pytest.skip("every tracker is installed here")
    values = ["lora", "", 0, "", 16, "", "", "", "", 3, "auto", False, True, [missing]]
    with pytest.raises(StudioError, match=f"pip install {missing}"):
        train.start(studio, TASK, "tiny-demo", *values)
    assert studio.runs() == []


def test_every_element_id_is_used_once(studio):
    """Tabs built by different hands: an id used twice would make a page selector (and the
    browser tests) ambiguous."""
    from collections import Counter

    from studio.ui import build_app

    demo = build_app(studio.settings, studio)
    ids = Counter(b.elem_id for b in demo.blocks.values() if getattr(b, "elem_id", None))
    assert [i for i, n in ids.items() if n > 1] == []
