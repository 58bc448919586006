"""Review actions: approve, reject, edit, delete, bulk, and undo, all in the audit log."""

import pytest

from helpers import write_jsonl
from studio.errors import BadInput, Conflict


@pytest.fixture
def rows(studio, tmp_path):
    studio.import_file(write_jsonl(tmp_path / "r.jsonl", [
        {"input": "tweet one", "output": "one"}, {"input": "tweet two", "output": "two"},
        {"input": "messy tweet, no summary yet"}]))
    return studio


def test_approve_reject_and_audit(rows):
    assert rows.review(1, "approve")["status"] == "approved"
    assert rows.review(1, "reject", reviewer="ann")["status"] == "rejected"
    audit = rows.history(1)
    assert [(a["reviewer"], a["action"], a["before"], a["after"]) for a in audit] == [
        ("tester", "approve", {"status": "pending"}, {"status": "approved"}),
        ("ann", "reject", {"status": "approved"}, {"status": "rejected"})]
    assert all(a["at"].endswith("Z") for a in audit)


def test_input_only_rows_cannot_be_approved_until_they_have_an_output(rows):
    with pytest.raises(Conflict, match="example 3 has no output yet"):
        rows.review(3, "approve")
    assert rows.get(3)["status"] == "pending"
    rows.edit(3, output="a summary now")
    assert rows.review(3, "approve")["status"] == "approved"


def test_edit_keeps_before_and_after_and_updates_hash(rows):
    old = rows.store.get_example(1)["content_hash"]
    row = rows.edit(1, input="tweet ONE", output="uno")
    assert (row["input"], row["output"]) == ("tweet ONE", "uno")
    assert rows.store.get_example(1)["content_hash"] != old
    edit = rows.history(1)[-1]
    assert edit["before"]["input"] == "tweet one" and edit["after"]["output"] == "uno"
    rows.undo()
    assert rows.store.get_example(1)["content_hash"] == old


def test_clearing_the_output_of_an_approved_row_sends_it_back_to_pending(rows):
    rows.review(1, "approve")
    row = rows.edit(1, output="")
    assert (row["output"], row["status"]) == (None, "pending")
    rows.undo()
    assert (rows.get(1)["output"], rows.get(1)["status"]) == ("one", "approved")


def test_edit_checks_labels_and_blank_input(studio, tmp_path):
    studio.import_file(write_jsonl(tmp_path / "s.jsonl", [{"input": "meh", "output": "neutral"}]),
                       task="sentiment")
    with pytest.raises(BadInput, match="not a label of task 'sentiment'"):
        studio.edit(1, output="angry")
    with pytest.raises(BadInput, match="input cannot be blank"):
        studio.edit(1, input=" ")
    assert studio.get(1)["output"] == "neutral"


def test_undo_steps_back_several_actions_then_says_nothing_left(rows):
    rows.review(1, "approve")
    rows.edit(2, output="TWO")
    rows.review(2, "reject")
    assert rows.undo()["undone"] == "reject"
    assert rows.get(2)["status"] == "pending"
    assert rows.undo()["undone"] == "edit"
    assert rows.get(2)["output"] == "two"
    assert rows.undo()["undone"] == "approve"
    assert rows.get(1)["status"] == "pending"
    with pytest.raises(Conflict, match="nothing to undo"):
        rows.undo()
    actions = [a["action"] for a in rows.history()]
    assert actions == ["approve", "edit", "reject", "undo", "undo", "undo"]


def test_delete_and_undo_restores_the_whole_row(rows):
    before = rows.get(2)
    rows.review(2, "approve")
    before = rows.get(2)
    assert rows.delete([2])["deleted"] == [2]
    assert rows.stats()["total"] == 2
    rows.undo()
    assert rows.get(2) == before


def test_bulk_is_one_batch_and_one_undo(rows):
    r = rows.bulk_review("approve", status="pending")
    assert (r["matched"], r["changed"], r["skipped"]) == (3, 2, 1)  # the input-only row is skipped
    assert rows.stats()["by_status"]["approved"] == 2
    undone = rows.undo()
    assert sorted(undone["example_ids"]) == [1, 2]
    assert rows.stats()["by_status"]["pending"] == 3


def test_per_reviewer_undo_refuses_to_clobber_someone_elses_later_change(rows):
    rows.review(1, "approve", reviewer="ann")
    rows.review(1, "reject", reviewer="bob")
    with pytest.raises(Conflict, match="changed by bob"):
        rows.undo(reviewer="ann")
    assert rows.get(1)["status"] == "rejected"
    rows.undo(reviewer="bob")
    rows.undo(reviewer="ann")
    assert rows.get(1)["status"] == "pending"


def test_list_filters_and_text_search(rows):
    rows.review(1, "approve")
    assert [r["id"] for r in rows.list(status="approved")["rows"]] == [1]
    assert rows.list(text="MESSY")["total"] == 1
    assert rows.list(input_only=True)["rows"][0]["id"] == 3
    assert rows.list(limit=1, offset=1)["rows"][0]["id"] == 2
    with pytest.raises(BadInput, match="unknown status"):
        rows.list(status="done")


def test_custom_task(studio, tmp_path):
    studio.add_task("intent", "Name the intent.", labels=["refund", "shipping"])
    with pytest.raises(Conflict, match="exists already"):
        studio.add_task("intent", "again")
    with pytest.raises(BadInput, match="must be 1-64 lowercase"):
        studio.add_task("Bad Name", "x")
    p = write_jsonl(tmp_path / "i.jsonl", [{"input": "where is my parcel", "output": "shipping"}])
    assert studio.import_file(p, task="intent")["imported"] == 1
