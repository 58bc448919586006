"""Export: leak-free splits, personal data, the files and card, re-export identity, against a real
store, the packaged MiniLM and `datasets.load_dataset` on the written folder."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from helpers import PII_INPUT, add_rows

from studio.errors import BadInput, Conflict
from studio.export import pii
from studio.export.splits import assign, group_rows, parse_ratios, targets

TASK = "tweet-summary"


def read_split_ids(folder):
    from datasets import load_dataset

    ds = load_dataset(str(folder), cache_dir=str(folder.parent / "hf-cache"))
    return ds, {split: list(ds[split]["id"]) for split in ds}


def test_export_loads_with_datasets_and_groups_never_straddle(studio, filled, tmp_path):
    out = studio.export(tmp_path / "out", task=TASK)
    ds, ids = read_split_ids(tmp_path / "out")
    assert set(ds) == {"train", "validation", "test"}
    assert {s: len(v) for s, v in ids.items()} == out["counts"]["splits"]
    total = sum(out["counts"]["splits"].values())
    assert total == studio.stats(TASK)["by_status"]["approved"]
    assert out["counts"]["splits"] == {"train": 79, "validation": 10, "test": 10}
    where = {i: s for s, v in ids.items() for i in v}
    assert len(where) == total  # no row twice
    for members in filled["families"].values():
        assert len({where[i] for i in members}) == 1, members
    # the test split took real rows first: every test row is imported
    assert set(ds["test"]["source"]) == {"imported"}
    assert {"teacher", "corrupted", "imported"} <= set(ds["train"]["source"]) | set(
        ds["validation"]["source"])
    # what never leaves: input-only, pending, rejected, duplicates
    left = studio.store.left_out(TASK)
    assert left["input_only"] == 45 and out["counts"]["left_out"] == left
    row = ds["train"][0]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert row["messages"][0]["content"] == studio.task(TASK).instruction
    stored = studio.get(row["id"])
    assert row["messages"][2]["content"] == stored["output"]


def test_card_yaml_and_provenance(studio, filled, tmp_path):
    studio.export(tmp_path / "out", task=TASK, license="cc-by-4.0", language="en,es")
    text = (tmp_path / "out" / "README.md").read_text()
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["license"] == "cc-by-4.0" and meta["language"] == ["en", "es"]
    assert {"text-generation", "summarization"} == set(meta["task_categories"])
    assert "synthetic" in meta["tags"] and meta["size_categories"] == ["n<1K"]
    assert meta["annotations_creators"] == ["found", "machine-generated"]
    assert meta["language_creators"] == ["found", "machine-generated"]
    splits = meta["configs"][0]["data_files"]
    assert [(d["split"], d["path"]) for d in splits] == [
        ("train", "data/train-*"), ("validation", "data/validation-*"), ("test", "data/test-*")]
    body = text.split("---\n", 2)[2]
    for needle in ("`teach-1` (", "`tweets` (", "`twitter` (3 rows)", "| corrupted | 3 |",
                   "Leakage:** 0 pairs", "2 e-mail addresses", "1 phone number,",
                   "5 @handles", "1 URL with a secret", "masked in 5 rows",
                   "45 inputs without an output", "SFT Studio 0.1.0"):
        assert needle in body, needle


def test_reexport_is_byte_identical_and_moves_are_reported(studio, filled, tmp_path):
    first = studio.export(tmp_path / "a", task=TASK)
    again = studio.export(tmp_path / "a", task=TASK)
    assert again["unchanged"] and again["files"] == first["files"] and not again["moved"]
    other = studio.export(tmp_path / "b", task=TASK)
    files = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*")
                   if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*")
                           if p.is_file())
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    assert other["fingerprint"] == first["fingerprint"]
    # the manifest in the store is what the files hold
    manifest = studio.store.export_manifest(first["export_id"])
    _, ids = read_split_ids(tmp_path / "a")
    assert sorted((i, s) for s, v in ids.items() for i in v) == [(i, s) for i, s, _ in manifest]
    before = {i: s for i, s, _ in manifest}
    # twelve new approved rows: most rows stay where they were, and every move is reported
    new = add_rows(studio, [{"input": f"Fresh tweet {k}: the {k}th ferry of the day is late.",
                             "output": f"Ferry {k} is late.", "source": "imported"}
                            for k in range(12)])
    studio.bulk_review("approve", ids=new)
    third = studio.export(tmp_path / "a", task=TASK)
    after = {i: s for i, s, _ in studio.store.export_manifest(third["export_id"])}
    moved = sorted((i, before[i], after[i]) for i in before if before[i] != after[i])
    assert sorted((m["id"], m["from"], m["to"]) for m in third["moved"]) == moved
    assert len(moved) <= 12
    assert not third["unchanged"]
    # another seed draws other splits
    reseeded, plan = studio.export_plan(task=TASK, seed=7), studio.export_plan(task=TASK)
    assert dict(zip(reseeded.ids, reseeded.splits)) != dict(zip(plan.ids, plan.splits))


def test_test_split_from_any_and_stratified_labels(studio, tmp_path):
    studio.import_samples()
    studio.bulk_review("approve", task="sentiment")
    plan = studio.export_plan(task="sentiment", splits="0.6,0.2,0.2")
    assert plan.options["stratify"] is True
    labels = {r["id"]: r["messages"][2]["content"] for r in plan.records}
    for label in set(labels.values()):
        n = sum(v == label for v in labels.values())
        got = {s: sum(labels[i] == label for i, sp in zip(plan.ids, plan.splits) if sp == s)
               for s in ("train", "validation", "test")}
        assert got == targets(n, (0.6, 0.2, 0.2)), (label, got)
    loose = studio.export_plan(task="sentiment", splits="0.6,0.2,0.2", stratify=False)
    assert loose.options["stratify"] is False
    with pytest.raises(BadInput, match="no labels"):
        studio.export_plan(task=TASK, stratify=True)


def test_leakage_check_finds_cross_split_near_duplicates(studio, filled):
    # a teacher row that repeats an imported input almost word for word, outside its family
    seed = studio.get(filled["synthetic"][0])
    twin = add_rows(studio, [{"input": seed["input"].replace("weekdays", "weekdays too"),
                              "output": seed["output"],
                              "source": "imported"}])[0]
    studio.review(twin, "approve")
    for s in range(40):  # a seed that separates the twins when similarity does not group
        loose = studio.export_plan(task=TASK, seed=s, link_similar=False)
        split = dict(zip(loose.ids, loose.splits))
        if split[twin] != split[seed["id"]]:
            break
    assert split[twin] != split[seed["id"]]
    leak = loose.checks["leakage"]
    assert leak["cross_split"] >= 1
    assert {"a": seed["id"], "b": twin} in [{"a": p["a"], "b": p["b"]} for p in leak["pairs"]]
    tight = studio.export_plan(task=TASK, seed=s)
    split = dict(zip(tight.ids, tight.splits))
    assert split[twin] == split[seed["id"]] and tight.checks["leakage"]["cross_split"] == 0
    # dedupe makes one of them a duplicate, and duplicates never leave
    studio.dedupe(task=TASK)
    after = studio.export_plan(task=TASK)
    assert len({seed["id"], twin} & set(after.ids)) == 1
    assert after.counts["left_out"]["duplicate"] >= 1


def test_personal_data_masked_dropped_or_kept(studio, filled, tmp_path):
    studio.export(tmp_path / "m", task=TASK, fmt="jsonl")
    text = "".join(p.read_text() for p in (tmp_path / "m" / "data").glob("*.jsonl"))
    for secret in ("ana.lopez@example.com", "415-555-2671", "@ana_l", "s3cr3tT0k3n"):
        assert secret not in text
    rec = next(json.loads(line) for line in text.splitlines()
               if json.loads(line)["id"] == filled["pii"])
    assert rec["messages"][1]["content"] == (
        "mail [EMAIL] or call [PHONE] about the refund, cc @user, details "
        "https://shop.example.com/orders?id=7&token=[REDACTED]")
    assert rec["messages"][2]["content"] == "Ana ([EMAIL]) asks about a refund."
    dropped = studio.export_plan(task=TASK, pii="drop")
    assert filled["pii"] not in dropped.ids and dropped.checks["pii"]["dropped"] == 5
    kept = studio.export_plan(task=TASK, pii="keep")
    rec = kept.records[kept.ids.index(filled["pii"])]
    assert rec["messages"][1]["content"] == PII_INPUT
    assert kept.checks["pii"]["found"] == {"email": 2, "phone": 1, "handle": 5, "url_token": 1}


def test_formats_schemas_and_refusals(studio, filled, tmp_path):
    studio.export(tmp_path / "pc", task=TASK, schema="prompt-completion")
    table = pq.read_table(next((tmp_path / "pc" / "data").glob("train-*.parquet")))
    assert table.column_names == ["prompt", "completion", "id", "source"]
    first = table.slice(0, 1).to_pylist()[0]
    assert [m["role"] for m in first["prompt"]] == ["system", "user"]
    assert [m["role"] for m in first["completion"]] == ["assistant"]
    studio.export(tmp_path / "al", task=TASK, schema="alpaca", fmt="csv")
    import csv

    rows = list(csv.DictReader((tmp_path / "al" / "data" / "test.csv").open()))
    assert set(rows[0]) == {"instruction", "input", "output", "id", "source"}
    assert "data/test.csv" in (tmp_path / "al" / "README.md").read_text()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(BadInput, match="not a previous export"):
        studio.export(tmp_path / "mine", task=TASK)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    plan = studio.export_plan(task=TASK)
    studio.review(filled["synthetic"][1], "reject")
    with pytest.raises(Conflict, match="changed since the preview"):
        studio.export(tmp_path / "late", task=TASK, expect=plan.fingerprint)
    assert not (tmp_path / "late").exists()
    for bad, match in (({"splits": "0.9,0.2,0.1"}, "add up to 1"), ({"schema": "chatml"}, "schema"),
                       ({"pii": "hide"}, "personal-data"), ({"license": "gpl"}, "license"),
                       ({"language": "english!"}, "language"), ({"splits": "0,0.5,0.5"}, "train")):
        with pytest.raises(BadInput, match=match):
            studio.export_plan(task=TASK, **bad)


def test_nothing_to_export_says_why(studio, tmp_path):
    studio.import_samples()
    with pytest.raises(Conflict, match="nothing to export"):
        studio.export(tmp_path / "out", task=TASK)
    assert not (tmp_path / "out").exists()


def test_splits_by_groups_and_ratios():
    assert parse_ratios("0.8,0.1,0.1") == (0.8, 0.1, 0.1)
    assert targets(90, (0.8, 0.1, 0.1)) == {"train": 72, "validation": 9, "test": 9}
    assert targets(5, (0.8, 0.1, 0.1)) == {"train": 3, "validation": 1, "test": 1}
    assert targets(2, (0.8, 0.1, 0.1)) == {"train": 2, "validation": 0, "test": 0}
    assert targets(10, (1.0, 0.0, 0.0)) == {"train": 10, "validation": 0, "test": 0}
    family = np.array([1, 1, 1, 4, 5, 6, 7, 8, 9, 10], np.int64)
    cluster = np.array([-1, -1, -1, 20, 20, -1, -1, -1, -1, -1], np.int64)
    exact = np.array(list("abcdefgghi"), dtype=object)
    links = (np.array([7]), np.array([8]))  # row 8 joins rows 6 and 7 (the same text)
    group = group_rows(family, cluster, exact, links)
    assert group.tolist() == [1, 1, 1, 4, 4, 6, 7, 7, 7, 10]
    real = np.ones(10, bool)
    for seed in range(5):
        split = assign(group, real, (0.6, 0.2, 0.2), seed)
        for g in set(group.tolist()):
            assert len(set(split[group == g])) == 1
        assert split.tolist() == assign(group, real, (0.6, 0.2, 0.2), seed).tolist()


def test_pii_scan_leaves_ordinary_text_alone():
    for text in ("patch 4.2 is out on 2024-11-22, price 12.99, order 123456789",
                 "score 3-2-1 and 1.000.000 views at 10:30-11:45", "see https://example.com/a?b=1",
                 "email me @ home", "ids 12 34 56"):
        assert pii.scan(text) == [], text
    assert pii.mask("https://bob:pw@host.io/x") == "https://[REDACTED]@host.io/x"
    assert pii.mask("call 555-123-4567 or +14155552671") == "call [PHONE] or [PHONE]"
