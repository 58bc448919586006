"""The user's data stays theirs: import identity (the same file twice changes nothing, even after
edits and labels), classification files (text + label, ClassLabel names, --labels), messages
that name the file picked, bulk delete with one undo, messy and clean inputs (fitting reads the
real messy ones, corrupting starts from the clean ones, one undo removes a corrupt batch), and
dedupe keeping the user's real row canonical."""

import json

import pytest

from helpers import write_jsonl
from studio.errors import BadInput

TASK = "tweet-summary"
MESSY = ["omg the 42 bus is late AGAIN 😤 #commute", "cant find my keys lol smh",
         "who else is stuck on the bridge rn", "coffee machine broke. worst monday ever",
         "@tfl why is the district line always like this"]


def j(result):
    code, out, err = result
    assert code == 0, err
    return json.loads(out)


def rows(studio, task=TASK):
    return studio.list(task=task, limit=10_000)["rows"]


def test_importing_the_same_file_again_changes_nothing_after_edits_and_labels(studio, tmp_path):
    f = write_jsonl(tmp_path / "mine.jsonl", [{"input": t} for t in MESSY]
                    + [{"input": "Road closed on Elm St today.", "output": "Elm St is closed."}])
    first = studio.import_file(f, task=TASK)
    assert (first["imported"], first["messy"], first["clean"]) == (6, 5, 1)
    by_input = {r["input"]: r for r in rows(studio)}
    edited = by_input[MESSY[0]]["id"]
    studio.edit(edited, input=MESSY[0] + " (edited)")
    labelled = by_input[MESSY[1]]["id"]
    studio.edit(labelled, output="Someone cannot find their keys.")
    before = rows(studio)

    again = studio.import_file(f, task=TASK)
    assert (again["imported"], again["filled"], again["already_imported"]) == (0, 0, 6)
    assert rows(studio) == before  # no copy, no change
    # the facts survived the label: still a real messy input, fitting still reads it
    assert studio.get(labelled)["input_style"] == "messy"
    assert MESSY[1] in studio.messy_sample(task=TASK)


def test_init_sample_twice_on_the_cli_adds_nothing_after_edits(cli, studio):
    first = j(cli("init", "--sample", "--json"))
    n = studio.stats()["total"]
    assert sum(r["imported"] for r in first["imported"]) == n
    row = rows(studio)[0]
    studio.edit(row["id"], input=row["input"] + " edited")
    studio.edit(rows(studio)[-1]["id"], output="labelled by hand") \
        if rows(studio)[-1]["output"] is None else None
    again = j(cli("init", "--sample", "--json"))
    assert sum(r["imported"] for r in again["imported"]) == 0
    assert sum(r["already_imported"] for r in again["imported"]) == n
    assert studio.stats()["total"] == n


def test_a_labelled_file_fills_the_input_only_rows_instead_of_adding_copies(studio, tmp_path):
    studio.import_file(write_jsonl(tmp_path / "texts.jsonl", [{"text": t} for t in MESSY]),
                       task=TASK)
    ids = {r["input"]: r["id"] for r in rows(studio)}
    labels = write_jsonl(tmp_path / "labelled.jsonl",
                         [{"tweet": t, "summary": f"summary {i}"} for i, t in enumerate(MESSY)])
    r = studio.import_file(labels, task=TASK, mapping={"input": "tweet", "output": "summary"})
    assert (r["imported"], r["filled"]) == (0, 5)
    after = rows(studio)
    assert len(after) == 5 and all(x["output"] for x in after)
    assert {x["input"]: x["id"] for x in after} == ids  # the same rows, now labelled
    assert studio.get(ids[MESSY[0]])["input_style"] == "messy"
    # importing either file again changes nothing; the fill is undoable
    assert studio.import_file(labels, task=TASK, mapping={"input": "tweet",
                                                          "output": "summary"})["imported"] == 0
    assert studio.import_file(tmp_path / "texts.jsonl", task=TASK)["imported"] == 0
    assert studio.undo()["undone"] == "edit"
    assert sum(x["output"] is None for x in rows(studio)) == 1


def _classification(tmp_path):
    import datasets

    feats = datasets.Features({"text": datasets.Value("string"),
                               "label": datasets.ClassLabel(names=["negative", "neutral",
                                                                   "positive"]),
                               "idx": datasets.Value("int32")})
    ds = datasets.Dataset.from_dict({"text": ["love it", "meh, fine", "broke in a day", "ok"],
                                     "label": [2, 1, 0, -1], "idx": [0, 1, 2, 3]},
                                    features=feats)
    return ds


def test_hugging_face_classification_files_keep_their_labels(studio, tmp_path):
    ds = _classification(tmp_path)
    ds.save_to_disk(str(tmp_path / "saved"))
    r = studio.import_file(tmp_path / "saved", task="sentiment", fmt="hf")
    assert (r["imported"], r["input_only"], r["unused_columns"]) == (4, 1, ["idx"])
    got = {x["input"]: x["output"] for x in rows(studio, "sentiment")}
    assert got["love it"] == "positive" and got["broke in a day"] == "negative"
    assert got["ok"] is None  # -1: a split without a label
    # Parquet written by `datasets` carries the ClassLabel names too
    ds.to_parquet(str(tmp_path / "train.parquet"))
    studio.add_task("stance", "Say the stance.", labels=["negative", "neutral", "positive"])
    r = studio.import_file(tmp_path / "train.parquet", task="stance")
    assert {x["output"] for x in rows(studio, "stance")} == {"positive", "neutral", "negative",
                                                             None}


def test_integer_labels_without_names_are_refused_and_labels_names_them(cli, studio, tmp_path):
    f = tmp_path / "sst.csv"
    f.write_text("text,label\ngreat film,1\nawful plot,0\n")
    code, _, err = cli("import", f, "--task", "sentiment")
    assert code == 1 and f"{f}:2 (row 1)" in err and "--labels a,b,c" in err
    r = j(cli("import", f, "--task", "sentiment", "--labels", "negative,positive", "--json"))
    assert r["imported"] == 2
    assert {x["input"]: x["output"] for x in rows(studio, "sentiment")} == {
        "great film": "positive", "awful plot": "negative"}
    # a text + label file into a task without labels: input-only, the label named as unused
    j_ = j(cli("import", f, "--task", TASK, "--json"))
    assert j_["input_only"] == 2 and j_["unused_columns"] == ["label"]
    code, out, _ = cli("import", f, "--task", TASK)
    assert "columns not used: label" in out


def test_messages_name_the_file_picked_and_a_short_csv_row_is_refused(studio, tmp_path):
    tmp_copy = tmp_path / "gradio" / "a1b2c3" / "upload.csv"
    tmp_copy.parent.mkdir(parents=True)
    tmp_copy.write_text("input,output\nfirst tweet,a summary\nsecond tweet\n")
    with pytest.raises(BadInput) as e:
        studio.import_file(tmp_copy, task=TASK, name="my tweets.csv")
    assert str(e.value).startswith("my tweets.csv:3 (row 2): 1 cells where the header has 2")
    assert "gradio" not in str(e.value)
    assert studio.stats()["total"] == 0  # all or nothing


def test_bulk_delete_counts_first_and_one_undo_puts_everything_back(cli, studio):
    cli("init", "--sample")
    before = rows(studio)
    n = sum(r["source"] == "imported" for r in before)
    dry = j(cli("bulk", "delete", "--task", TASK, "--source", "imported", "--json"))
    assert (dry["matched"], dry["dry_run"]) == (n, True) and rows(studio) == before
    done = j(cli("bulk", "delete", "--task", TASK, "--source", "imported", "--yes", "--json"))
    assert done["changed"] == n and rows(studio) == []
    j(cli("undo", "--json"))
    assert rows(studio) == before  # every row as it was, ids and all
    # one matching row is a batch too: the app's undo names it
    one = studio.delete_matching(task=TASK, text=before[0]["input"])
    assert one["deleted"] == 1 and one["batch_id"] is not None
    studio.undo_batch(one["batch_id"])
    assert rows(studio) == before


def test_corrupt_leaves_real_messy_inputs_alone_and_one_undo_removes_the_batch(cli, studio):
    studio.import_samples()
    messy_labelled = [r for r in rows(studio) if r["input_style"] == "messy" and r["output"]]
    assert messy_labelled  # the real drafts, summarised
    clean = [r for r in rows(studio) if r["input_style"] == "clean"]
    dry = j(cli("corrupt", "--task", TASK, "--dry-run", "--json"))
    assert dry["parents"] == len(clean) and dry["ids"] == []
    r = j(cli("corrupt", "--task", TASK, "--json"))
    parents = {studio.get(i)["parent_id"] for i in r["ids"]}
    assert parents <= {c["id"] for c in clean}
    assert not parents & {m["id"] for m in messy_labelled}
    assert all(studio.get(i)["input_style"] == "messy" for i in r["ids"])
    # only when asked for: the real messy inputs too
    wider = studio.corrupt(task=TASK, inputs="any", dry_run=True)
    assert wider["parents"] == len(clean) + len(messy_labelled)
    # one undo removes the whole batch, and only it
    studio.review(clean[0]["id"], "approve")
    undone = j(cli("undo", "--batch", r["batch_id"], "--json"))
    assert sorted(undone["example_ids"]) == sorted(r["ids"])
    assert studio.stats(TASK)["by_source"]["corrupted"] == 0
    assert studio.get(clean[0]["id"])["status"] == "approved"


def test_fit_reads_the_real_messy_inputs_after_the_teacher_labelled_them(cli, studio, tmp_path):
    f = write_jsonl(tmp_path / "mine.jsonl", [{"input": f"{t} #{i}"} for i in range(3)
                                              for t in MESSY])
    studio.import_file(f, task=TASK)
    for r in rows(studio):  # every one labelled since, as a teacher job would
        studio.edit(r["id"], output="a summary")
    fitted = j(cli("fit-noise", "--task", TASK, "--from-status", "any", "--json"))
    assert fitted["texts"] == 15


def test_dedupe_keeps_the_users_real_row_canonical(studio, minilm, tmp_path):
    studio.use_encoder(minilm)
    studio.import_file(write_jsonl(tmp_path / "clean.jsonl", [
        {"input": "The 42 bus is late again this morning.", "output": "Bus 42 is late."}]),
        task=TASK)
    copy = studio.corrupt(task=TASK, profile="tweet", variants=8, seed=1)["ids"]
    # the user's own tweet, imported after, says what one corrupted copy says
    real_text = studio.get(copy[0])["input"]
    studio.import_file(write_jsonl(tmp_path / "real.jsonl", [
        {"input": real_text, "output": "The 42 is late."}]), task=TASK)
    real = [r for r in rows(studio) if r["input"] == real_text and r["source"] == "imported"]
    assert len(real) == 1
    studio.review(copy[0], "approve")  # even an approved copy does not beat the real row
    r = studio.dedupe(task=TASK)
    pair = {p["id"]: p["duplicate_of"] for p in r["pairs"]}
    assert pair.get(copy[0]) == real[0]["id"] and real[0]["id"] not in pair


def test_stores_made_before_get_their_facts(db, tmp_path):
    """A store of the previous version: its imported rows get their import identity (so the
    same file adds nothing) and their input style (labelled-by-the-teacher rows are messy)."""
    from studio import Studio
    from studio.importing import content_hash
    from studio.store import Store

    with Store(db, migrate_to=9) as old:
        for i, (inp, out, source, meta) in enumerate([
                (MESSY[0], None, "imported", "{}"),
                (MESSY[1], "a summary", "imported", '{"output_by": {"job_id": 1}}'),
                ("A clean sentence.", "Clean.", "imported", "{}"),
                ("Teacher text.", "Short.", "teacher", "{}")], 1):
            old._run("INSERT INTO examples (id, task, input, output, source, status, "
                     "content_hash, created_at, updated_at, meta) VALUES "
                     "(?, ?, ?, ?, ?, 'pending', ?, now(), now(), ?)",
                     [i, TASK, inp, out, source, content_hash(TASK, inp, out), meta])
    with Studio.open(db) as s:
        assert [r["input_style"] for r in rows(s)] == ["messy", "messy", "clean", "clean"]
        f = write_jsonl(tmp_path / "a.jsonl", [{"input": MESSY[0]},
                                               {"input": "A clean sentence.", "output": "Clean."}])
        r = s.import_file(f, task=TASK)
        assert (r["imported"], r["already_imported"]) == (0, 2)
