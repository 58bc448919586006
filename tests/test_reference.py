"""The references generated from the code (docs/cli.md, docs/schema.md) are current, and the
README's hand-written command table names only commands and flags the CLI has, and every
command it has."""

import argparse
import importlib.util
import re

from helpers import ROOT
from studio.cli import build_parser


def reference_module():
    spec = importlib.util.spec_from_file_location("reference", ROOT / "docs" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_references_are_current(capsys):
    assert reference_module().main(["--check"]) == 0, capsys.readouterr().err


def test_a_stale_reference_is_named(tmp_path, monkeypatch, capsys):
    ref = reference_module()
    for name in ("cli.md", "schema.md"):
        (tmp_path / "docs").mkdir(exist_ok=True)
        (tmp_path / "docs" / name).write_text((ROOT / "docs" / name).read_text())
    (tmp_path / "docs" / "schema.md").write_text("old\n")
    monkeypatch.setattr(ref, "ROOT", tmp_path)
    assert ref.main(["--check"]) == 1
    assert "stale: docs/schema.md" in capsys.readouterr().err


def parser_commands() -> dict[str, set[str]]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name: {o for a in sp._actions for o in a.option_strings}
            for name, sp in sub.choices.items()}


def readme_commands() -> list[tuple[str, set[str]]]:
    """(command, flags) for each code span in the first cell of the README's command table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## The command line", 1)[1].split("\n## ", 1)[0]
    out = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        first = re.split(r"(?<!\\)\|", line)[1]
        for span in re.findall(r"`([^`]+)`", first):
            words = span.split()
            out.append((words[0], set(re.findall(r"--[a-z][a-z-]*", span))))
    return out


def test_the_readme_table_names_every_command_and_only_real_flags():
    have = parser_commands()
    listed = readme_commands()
    assert len(listed) > 20
    wrong = [f"{cmd}: no such command" for cmd, _ in listed if cmd not in have]
    wrong += [f"{cmd} {flag}: no such flag" for cmd, flags in listed if cmd in have
              for flag in sorted(flags - have[cmd])]
    missing = sorted(set(have) - {cmd for cmd, _ in listed})
    assert not wrong and not missing, (wrong, missing)


def test_the_readme_states_the_canonical_rule_the_code_applies():
    """The rule lives in CANONICAL_RANK; the README quotes it, so changing one without the other
    fails here."""
    from studio.curation.dedupe import rule_text

    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert rule_text() in readme


def test_every_command_names_the_record_its_json_prints():
    from helpers import command_record
    from studio.cli import COMMANDS

    unnamed = [c for c in COMMANDS if command_record(c) is None]
    assert not unnamed, f"handlers without `-> tuple[Record, str]`: {unnamed}"


def test_the_record_check_finds_missing_extra_and_mistyped_keys():
    """The check the `cli` fixture runs on every --json output can fail, and says where."""
    from helpers import shape_problems
    from studio.records import BulkResult, Page

    row = {"id": 1, "task": "t", "input": "x", "output": None, "source": "imported",
           "parent_id": None, "status": "pending", "duplicate_of": None, "similarity": None,
           "cluster_id": None, "duplicate_kind": None, "split": None, "meta": {},
           "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
           "input_style": "clean", "scores": {"quality": 0.5}}
    assert shape_problems({"total": 1, "rows": [row]}, Page) == []
    broken = {**row, "id": True, "surprise": 1}
    del broken["task"]
    problems = shape_problems({"total": "1", "rows": [broken]}, Page)
    assert set(problems) == {"$.rows[0]: 'surprise' is not in Example",
                             "$.rows[0]: no 'task' (Example)", "$.rows[0].id: True is not a int",
                             "$.total: '1' is not a int"}
    # NotRequired keys may be absent; required ones may not
    assert shape_problems({"action": "approve", "matched": 2, "changed": 1}, BulkResult) == []
    assert shape_problems({"action": "approve", "matched": 2}, BulkResult) == [
        "$: no 'changed' (BulkResult)"]
