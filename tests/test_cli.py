"""The CLI contract: command names, JSON shapes, exit codes, one-line errors, lazy imports."""

import json
import subprocess
import sys

import pytest

from helpers import ROOT, run_cli, write_jsonl

ROW_KEYS = {"id", "task", "input", "output", "source", "status", "parent_id", "duplicate_of",
            "similarity", "cluster_id", "duplicate_kind", "split", "scores", "meta", "created_at",
            "updated_at", "input_style"}


def j(result):
    code, out, err = result
    assert code == 0, err
    return json.loads(out)


def test_init_sample_then_stats_shape(cli):
    data = j(cli("init", "--sample", "--json"))
    assert {r["task"] for r in data["imported"]} == {
        "tweet-summary", "support-answer", "sentiment", "product-description"}
    stats = j(cli("stats", "--json"))
    assert set(stats) == {"total", "by_status", "by_source", "by_task", "input_only", "duplicates"}
    assert set(stats["by_status"]) == {"pending", "approved", "rejected"}
    assert set(stats["by_source"]) == {"imported", "teacher", "corrupted"}
    assert stats["by_source"]["teacher"] == 0 and stats["duplicates"] == 0
    assert stats["by_task"]["tweet-summary"] >= 90  # 60+ clean pairs and 30+ messy tweets
    assert stats["input_only"] >= 30
    assert stats["total"] == sum(stats["by_status"].values()) == sum(stats["by_task"].values())
    again = j(cli("init", "--sample", "--json"))
    assert sum(r["imported"] for r in again["imported"]) == 0
    assert j(cli("stats", "--json", "--task", "sentiment"))["by_task"] == {"sentiment": 16}


def test_import_list_review_edit_delete_undo(cli, tmp_path):
    f = write_jsonl(tmp_path / "x.jsonl", [{"input": "a tweet", "output": "a summary"},
                                           {"input": "another tweet"}, {"input": "another tweet"},
                                           {"input": "a tweet"}])
    # the last row adds nothing: the file labels that input
    assert j(cli("import", f, "--json")) == {"file": str(f), "imported": 2, "filled": 0,
                                              "already_imported": 0, "skipped_duplicates": 2,
                                              "input_only": 1, "messy": 1, "clean": 1,
                                              "unused_columns": [], "task": "tweet-summary"}
    listing = j(cli("list", "--json"))
    assert listing["total"] == 2 and [r["id"] for r in listing["rows"]] == [1, 2]
    row = listing["rows"][0]
    assert set(row) == ROW_KEYS
    assert row["output"] == "a summary" and listing["rows"][1]["output"] is None
    assert row["scores"] == {} and row["split"] is None and row["created_at"].endswith("Z")

    assert j(cli("review", 1, "approve", "--json"))["status"] == "approved"
    code, out, err = cli("review", 2, "approve")
    assert code == 1 and "no output yet" in err and len(err.strip().splitlines()) == 1
    assert j(cli("edit", 2, "--output", "now summarised", "--json"))["output"] == "now summarised"
    assert j(cli("list", "--status", "approved", "--json"))["total"] == 1
    assert j(cli("delete", 1, "--json")) == {"deleted": [1], "batch_id": None}
    assert j(cli("undo", "--json"))["undone"] == "delete"
    assert j(cli("undo", "--json"))["undone"] == "edit"
    assert j(cli("undo", "--json"))["undone"] == "approve"
    code, _, err = cli("undo")
    assert code == 1 and err.strip() == "error: nothing to undo"
    shown = j(cli("show", 1, "--json"))
    assert [h["action"] for h in shown["history"]] == ["approve", "delete", "undo", "undo"]


def test_bulk_needs_yes(cli, tmp_path):
    f = write_jsonl(tmp_path / "x.jsonl", [{"input": f"t{i}", "output": "s"} for i in range(5)])
    cli("import", f)
    assert j(cli("bulk", "reject", "--text", "t", "--json"))["matched"] == 5
    assert j(cli("stats", "--json"))["by_status"]["rejected"] == 0
    assert j(cli("bulk", "reject", "--text", "t", "--yes", "--json"))["changed"] == 5
    assert j(cli("stats", "--json"))["by_status"]["rejected"] == 5
    assert len(j(cli("undo", "--json"))["example_ids"]) == 5


def test_tasks_and_add_task(cli):
    names = [t["name"] for t in j(cli("tasks", "--json"))["tasks"]]
    assert names == ["product-description", "sentiment", "support-answer", "tweet-summary"]
    t = j(cli("add-task", "intent", "--instruction", "Name it.", "--labels", "a,b", "--json"))
    assert t["labels"] == ["a", "b"] and t["kind"] == "classification"


@pytest.mark.parametrize("args,message", [
    (["import", "missing.jsonl"], "missing.jsonl: no such file"),
    (["review", "99", "approve"], "no example with id 99"),
    (["list", "--task", "nope"], None),
    (["stats", "--task", "nope"], "no task 'nope'"),
    (["review", "1", "maybe"], "invalid choice"),
    (["edit", "1"], "nothing to edit"),
])
def test_errors_are_one_line_and_exit_1(cli, args, message):
    code, out, err = cli(*args)
    if message is None:  # an unknown task in a filter is just an empty listing
        assert code == 0
        return
    assert code == 1, (out, err)
    assert message in err and "Traceback" not in err


def test_bad_file_message_names_file_and_line(cli, tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"input": "ok"}\n{"input": "x", "output": 3}\n')
    code, _, err = cli("import", f)
    assert code == 1
    assert err.strip() == f"error: {f}:2: 'output' must be text, got a number"
    assert j(cli("stats", "--json"))["total"] == 0


def test_env_var_picks_the_store(tmp_path):
    target = tmp_path / "elsewhere.duckdb"
    r = run_cli("init", env={"SFT_STUDIO_DB": str(target)}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert target.exists() and not (tmp_path / "studio.duckdb").exists()


def test_console_script_and_help_import_nothing_heavy():
    code = ("import sys\nfrom studio.cli import main\n"
            "assert main(['--help']) == 0\n"
            "heavy = [m for m in ('duckdb', 'pyarrow', 'torch', 'transformers', 'gradio', "
            "'datasets', 'sentence_transformers', 'trl', 'numpy', 'yaml', 'huggingface_hub') "
            "if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "HEAVY []" in r.stdout, r.stdout + r.stderr
    assert "import" in r.stdout and "undo" in r.stdout


def test_no_command_is_usage_error():
    r = run_cli()
    assert r.returncode == 1 and "usage" in r.stderr
