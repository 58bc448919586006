"""Import: every shape and format, input-only rows, duplicates, and every bad case all-or-nothing."""

import csv
import json

import pytest

from helpers import write_jsonl
from studio.errors import BadInput, NotFound
from studio.importing import parse_map


def snapshot(studio):
    return [(r["id"], r["input"], r["output"], r["status"])
            for r in studio.list(limit=10_000)["rows"]]


@pytest.fixture
def seeded(studio, tmp_path):
    """A store with two rows in it, so failures can be shown to leave it as it was."""
    studio.import_file(write_jsonl(tmp_path / "seed.jsonl", [
        {"input": "seed one", "output": "first"}, {"input": "seed two", "output": "second"}]))
    return studio


SHAPES = {
    "input-output": {"input": "hi there", "output": "greeting"},
    "alpaca": {"instruction": "Summarise", "input": "hi there", "output": "greeting"},
    "messages": {"messages": [{"role": "system", "content": "be brief"},
                              {"role": "user", "content": "hi there"},
                              {"role": "assistant", "content": "greeting"}]},
    "sharegpt": {"conversations": [{"from": "human", "value": "hi there"},
                                   {"from": "gpt", "value": "greeting"}]},
    "prompt-completion": {"prompt": "hi there", "completion": "greeting"},
}


@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_is_detected(studio, tmp_path, shape):
    r = studio.import_file(write_jsonl(tmp_path / "f.jsonl", [SHAPES[shape]]))
    assert r["imported"] == 1
    row = studio.list()["rows"][0]
    expected_input = "Summarise\n\nhi there" if shape == "alpaca" else "hi there"
    assert (row["input"], row["output"], row["source"], row["status"]) == (
        expected_input, "greeting", "imported", "pending")
    if shape == "messages":
        assert row["meta"]["system"] == "be brief"
    assert row["meta"]["import"] == {"file": "f.jsonl", "at": "1"}


def test_json_array_csv_parquet_and_hf_dataset(studio, tmp_path):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "a.json").write_text(json.dumps([{"input": "j1", "output": "o"},
                                                 {"input": "j2", "output": None}]))
    with open(tmp_path / "b.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["input", "output"])
        w.writerow(["c1, with a comma", "o"])
        w.writerow(["c2\nmultiline", ""])
    pq.write_table(pa.table({"prompt": ["p1", "p2"], "completion": ["o", "o2"]}),
                   tmp_path / "c.parquet")
    datasets.DatasetDict({
        "train": datasets.Dataset.from_list([{"input": "h1", "output": "o"}]),
        "test": datasets.Dataset.from_list([{"input": "h2", "output": "o"}]),
    }).save_to_disk(str(tmp_path / "hfds"))

    got = {name: studio.import_file(tmp_path / name)
           for name in ("a.json", "b.csv", "c.parquet", "hfds")}
    assert {k: (v["imported"], v["input_only"]) for k, v in got.items()} == {
        "a.json": (2, 1), "b.csv": (2, 1), "c.parquet": (2, 0), "hfds": (2, 0)}
    inputs = [r["input"] for r in studio.list(limit=100)["rows"]]
    assert inputs == ["j1", "j2", "c1, with a comma", "c2\nmultiline", "p1", "p2", "h1", "h2"]


def test_json_file_that_is_really_json_lines(studio, tmp_path):
    p = write_jsonl(tmp_path / "lines.json", [{"input": "a", "output": "b"},
                                              {"input": "c", "output": "d"}])
    assert studio.import_file(p)["imported"] == 2


def test_map_overrides_detection(studio, tmp_path):
    p = write_jsonl(tmp_path / "m.jsonl", [{"text": "great!", "label": "positive", "id": 3}])
    r = studio.import_file(p, task="sentiment", mapping=parse_map("input=text,output=label"))
    assert r["imported"] == 1
    assert studio.list()["rows"][0]["output"] == "positive"


def test_input_only_rows(studio, tmp_path):
    p = write_jsonl(tmp_path / "io.jsonl", [
        {"input": "no output key"}, {"input": "null output", "output": None},
        {"input": "blank output", "output": "   "}, {"input": "has one", "output": "yes"}])
    r = studio.import_file(p)
    assert (r["imported"], r["input_only"]) == (4, 3)
    assert studio.stats()["input_only"] == 3


def test_text_only_file_is_input_only(studio, tmp_path):
    r = studio.import_file(write_jsonl(tmp_path / "t.jsonl", [{"text": "omg sooo good"}]))
    assert (r["imported"], r["input_only"]) == (1, 1)


def test_exact_duplicates_imported_once_and_counted(studio, tmp_path):
    rows = [{"input": "a", "output": "b"}, {"input": "a", "output": "b"},
            {"input": "a", "output": "c"}]
    first = studio.import_file(write_jsonl(tmp_path / "d.jsonl", rows))
    assert (first["imported"], first["skipped_duplicates"]) == (2, 1)
    again = studio.import_file(write_jsonl(tmp_path / "d2.jsonl", rows))
    assert (again["imported"], again["skipped_duplicates"]) == (0, 3)
    assert studio.stats()["total"] == 2


def test_classification_labels_are_enforced_and_canonicalised(studio, tmp_path):
    ok = write_jsonl(tmp_path / "ok.jsonl", [{"input": "x", "output": "Positive"}])
    studio.import_file(ok, task="sentiment")
    assert studio.list()["rows"][0]["output"] == "positive"
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"input": "y", "output": "neutral"},
                                               {"input": "z", "output": "postive"}])
    with pytest.raises(BadInput, match=r"bad.jsonl:2: output 'postive' is not a label"):
        studio.import_file(bad, task="sentiment")


def test_unknown_task(studio, tmp_path):
    with pytest.raises(NotFound, match="no task 'nope'"):
        studio.import_file(write_jsonl(tmp_path / "a.jsonl", [{"input": "a"}]), task="nope")


BAD_JSONL = {
    "invalid-json": ('{"input": "a", "output": "b"}\n{"input": "oops",\n', r"f.jsonl:2: invalid JSON"),
    "missing-input": ('{"input": "a"}\n{"output": "b"}\n', r"f.jsonl:2: missing column 'input'"),
    "blank-input": ('{"input": "a"}\n{"input": "  ", "output": "b"}\n', r"f.jsonl:2: 'input' is blank"),
    "wrong-type": ('{"input": "a"}\n{"input": 42}\n', r"f.jsonl:2: 'input' must be text, got a number"),
    "output-type": ('{"input": "a", "output": ["x"]}\n', r"f.jsonl:1: 'output' must be text, got an array"),
    "not-object": ('{"input": "a"}\n[1, 2]\n', r"f.jsonl:2: expected an object, got an array"),
    "unknown-role": ('{"messages": [{"role": "user", "content": "a"}, {"role": "wizard", '
                     '"content": "b"}]}\n', r"f.jsonl:1: turn 2 has unknown role 'wizard'"),
    "no-assistant": ('{"messages": [{"role": "user", "content": "a"}]}\n',
                     r"f.jsonl:1: the conversation has no assistant turn"),
    "unknown-shape": ('{"question": "a", "answer": "b"}\n', r"f.jsonl:1: cannot tell the shape"),
    "huge-field": ('{"input": "' + "x" * 100_001 + '"}\n', r"f.jsonl:1: 'input' is 100,001 characters"),
    "empty": ("", r"f.jsonl: the file is empty"),
    "blank-lines": ("\n\n  \n", r"f.jsonl: the file is empty"),
}


@pytest.mark.parametrize("case", BAD_JSONL)
def test_bad_jsonl_rejects_the_whole_file(seeded, tmp_path, case):
    text, message = BAD_JSONL[case]
    before = snapshot(seeded)
    path = tmp_path / "f.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BadInput, match=message):
        seeded.import_file(path)
    assert snapshot(seeded) == before


def test_non_utf8_names_the_line(seeded, tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"input": "ok"}\n{"input": "caf\xe9"}\n')
    before = snapshot(seeded)
    with pytest.raises(BadInput, match=r"latin.jsonl:2: not UTF-8 \(byte 0xe9\)"):
        seeded.import_file(path)
    assert snapshot(seeded) == before


def test_binary_file(seeded, tmp_path):
    path = tmp_path / "blob.jsonl"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(BadInput, match="blob.jsonl: looks like a binary file"):
        seeded.import_file(path)


def test_json_array_errors_name_the_line(seeded, tmp_path):
    path = tmp_path / "arr.json"
    path.write_text('[\n  {"input": "a"},\n  {"input": "b"},\n  {"input": 7}\n]\n')
    with pytest.raises(BadInput, match=r"arr.json:4: 'input' must be text"):
        seeded.import_file(path)
    path.write_text('[\n  {"input": "a"},\n  {"input": "b"\n]\n')
    with pytest.raises(BadInput, match=r"arr.json:4: invalid JSON"):
        seeded.import_file(path)
    path.write_text('{"input": "a"}')
    with pytest.raises(BadInput, match="expected a JSON array"):
        seeded.import_file(path)


def test_csv_errors_name_line_and_row(seeded, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("input,output\nok,fine\n,blank input\n")
    with pytest.raises(BadInput, match=r"bad.csv:3 \(row 2\): 'input' is blank"):
        seeded.import_file(path)
    path.write_text("question,answer\na,b\n")
    with pytest.raises(BadInput, match=r"bad.csv:2 \(row 1\): cannot tell the shape"):
        seeded.import_file(path)
    path.write_text("input,output\na,b,c\n")
    with pytest.raises(BadInput, match="more cells than the header"):
        seeded.import_file(path)
    path.write_text("input,output\n")
    with pytest.raises(BadInput, match="header but no rows"):
        seeded.import_file(path)


def test_parquet_errors_name_the_row(seeded, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"input": ["a", "b", None]}), path)
    with pytest.raises(BadInput, match=r"p.parquet: row 3: 'input' is blank"):
        seeded.import_file(path)
    path.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(BadInput, match="not a readable Parquet file"):
        seeded.import_file(path)


def test_missing_file_and_bad_map(seeded, tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        seeded.import_file(tmp_path / "nope.jsonl")
    with pytest.raises(BadInput, match="--map takes"):
        parse_map("input:text")
    path = write_jsonl(tmp_path / "m.jsonl", [{"text": "a"}])
    with pytest.raises(BadInput, match=r"m.jsonl:1: missing column 'body'"):
        seeded.import_file(path, mapping=parse_map("input=body"))


def test_fifty_thousand_rows_in_one_insert(studio, tmp_path):
    rows = [{"input": f"tweet number {i} about things", "output": f"summary {i}"}
            for i in range(50_000)]
    rows.append(rows[0])
    r = studio.import_file(write_jsonl(tmp_path / "big.jsonl", rows))
    assert (r["imported"], r["skipped_duplicates"]) == (50_000, 1)
    page = studio.list(limit=2, offset=49_998)
    assert page["total"] == 50_000
    assert [x["input"] for x in page["rows"]] == ["tweet number 49998 about things",
                                                   "tweet number 49999 about things"]
