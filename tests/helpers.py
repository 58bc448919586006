"""Helpers the tests share: plain functions and constants, imported by test modules and by
conftest alike (conftest holds the fixtures only)."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PII_INPUT = ("mail ana.lopez@example.com or call +1 415-555-2671 about the refund, "
             "cc @ana_l, details https://shop.example.com/orders?id=7&token=s3cr3tT0k3n")


def run_cli(*args, env=None, cwd=None):
    """Run `python -m studio` in a separate process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "studio", *map(str, args)], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=120)


def loopback_teacher(studio, srv, **kw):
    """A TeacherConfig for a loopback teacher server, with short backoffs."""
    kw.setdefault("backoff_base", 0.02)
    return studio.teacher_config(model="teacher-test", base_urls=[srv.url], **kw)


def run_job_in_thread(studio, job_id: int, cfg) -> tuple[threading.Thread, dict]:
    """Run a job in a thread of its own, as the app does; the dict gets the job when it ends."""
    result: dict = {}
    t = threading.Thread(target=lambda: result.update(studio.run_job(job_id, cfg)))
    t.start()
    return t, result


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run_together(work, count: int) -> list[str]:
    """Run work(n) in `count` threads at once; return the errors they raised."""
    errors: list[str] = []

    def guarded(n):
        try:
            work(n)
        except Exception as e:  # surfaced by the caller's assert
            errors.append(repr(e))

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def assert_status_chain(studio, example_id: int, audit: list[dict]) -> None:
    """Each status change starts where the previous one ended (none lost), and the row's
    status is where the last one ended."""
    status = "pending"
    for a in (a for a in audit if a["example_id"] == example_id):
        if "status" in (a["before"] or {}):
            assert a["before"]["status"] == status, a
            status = a["after"]["status"]
    assert studio.get(example_id)["status"] == status


def add_rows(studio, rows):
    """Insert rows straight into the store (parents, sources and meta as given)."""
    from studio.importing import content_hash

    for r in rows:
        r.setdefault("task", "tweet-summary")
        r["content_hash"] = content_hash(r["task"], r["input"], r["output"])
    return studio.store.insert_examples(rows)


# Dedupe's planted rows (tests/test_dedupe.py, tests/test_ui_curate.py)
TWEET_TASK = "tweet-summary"
BASE = "The city council approved new protected bike lanes on Main Street after a long debate."
PLANTED = [
    (BASE, "Main Street gets protected bike lanes."),
    # exact once case, punctuation and spacing are ignored
    ("the city council approved new protected bike lanes on main street after a long debate",
     "Council backs Main Street bike lanes."),
    # a paraphrase-level near copy
    ("The city council approved new protected bike lanes on Main Street after a lengthy debate!",
     "Bike lanes approved for Main Street."),
    # unrelated
    ("Heavy snow closed every school in the county today; buses resume on Monday.",
     "Snow closes county schools until Monday."),
    ("Our bakery now sells gluten-free sourdough every Saturday morning.",
     "Gluten-free sourdough on Saturdays."),
]


def load_rows(studio, tmp_path, rows, name="rows.jsonl"):
    """Import (input, output) pairs; return the new rows' ids."""
    before = {r["id"] for r in studio.list(task=TWEET_TASK, limit=1000)["rows"]}
    studio.import_file(write_jsonl(tmp_path / name, [{"input": i, "output": o} for i, o in rows]),
                       task=TWEET_TASK)
    return [r["id"] for r in studio.list(task=TWEET_TASK, limit=1000)["rows"]
            if r["id"] not in before]


# Hand-made rows for the scores (tests/test_scores.py, tests/test_ui_scores.py)
GOOD = ("the 7:40 ferry to Dunmore is cancelled AGAIN, third time this week. next one is 8:20",
        "The 7:40 ferry to Dunmore was cancelled for the third time this week.")


def load_hand_made(studio):
    """Hand-made rows of the tweet task: good, off-topic, copied, a near-duplicate pair, an
    input-only row, plus a classification task."""
    rows = [GOOD,
            ("power's out on the whole east side since 2pm, crews on it, no ETA yet",
             "A lemon drizzle cake needs two eggs, butter and a cup of sugar."),
            ("reminder: library late fees are gone starting Monday, bring books back",
             "reminder: library late fees are gone starting Monday, bring books back"),
            ("free flu shots at the community center saturday 9-1, no appointment needed",
             "Free flu shots at the community center on Saturday morning, no appointment."),
            ("free flu shots at the community centre on saturday 9-1, no appointment needed!",
             "The community center gives free flu shots on Saturday, walk-ins welcome."),
            ("lost dog near Elm Park, brown lab named Biscuit, red collar", None)]
    write_jsonl(studio.path.parent / "rows.jsonl",
                [{"input": i, **({"output": o} if o else {})} for i, o in rows])
    studio.import_file(studio.path.parent / "rows.jsonl", task="tweet-summary")
    write_jsonl(studio.path.parent / "s.jsonl",
                [{"input": "I love this phone, the battery lasts days", "output": "positive"},
                 {"input": "the screen cracked on day two", "output": "negative"}])
    studio.import_file(studio.path.parent / "s.jsonl", task="sentiment")
    return studio


def shape_problems(value, tp, where: str = "$") -> list[str]:
    """Where `value` (decoded JSON) breaks the record type `tp` (studio/records/): missing or
    unexpected keys, and values of the wrong kind, each with its path. [] when it fits."""
    import types
    import typing

    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is typing.Any:
        return []
    if origin in (typing.Union, types.UnionType):
        found = [shape_problems(value, t, where) for t in args]
        return [] if any(not f for f in found) else min(found, key=len)
    if tp is type(None):
        return [] if value is None else [f"{where}: {value!r} is not null"]
    if typing.is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not a {tp.__name__} object"]
        hints = typing.get_type_hints(tp)
        out = [f"{where}: no {k!r} ({tp.__name__})" for k in sorted(tp.__required_keys__ - set(value))]
        out += [f"{where}: {k!r} is not in {tp.__name__}" for k in sorted(set(value) - set(hints))]
        for k in sorted(set(value) & set(hints)):
            out += shape_problems(value[k], hints[k], f"{where}.{k}")
        return out
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, not a list"]
        return [p for i, v in enumerate(value) for p in shape_problems(v, args[0], f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object"]
        return [p for k, v in value.items() for p in shape_problems(v, args[1], f"{where}.{k}")]
    kinds = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}.get(tp)
    if kinds and (not isinstance(value, kinds) or (tp is not bool and isinstance(value, bool))):
        return [f"{where}: {value!r} is not a {tp.__name__}"]
    return []


def command_record(command: str):
    """The record a command's --json prints: its handler's annotated return (tuple[record, str])."""
    import typing

    from studio.cli import COMMANDS

    hints = typing.get_type_hints(COMMANDS[command])
    return typing.get_args(hints["return"])[0] if "return" in hints else None


def check_json_record(command: str, out: str) -> None:
    """Fail when a command's --json output does not fit the record its handler names."""
    record = command_record(command)
    assert record is not None, f"{command}'s handler names no record (-> tuple[Record, str])"
    problems = shape_problems(json.loads(out), record)
    assert not problems, f"{command} --json breaks {record}: " + "; ".join(problems[:8])


def check_records(studio) -> None:
    """Make every facade method whose annotation names a record (studio/records/) check each
    result it returns against it, on this instance: the Python API keeps its documented
    shapes wherever the tests call it."""
    import functools
    import typing

    from studio.service import Studio

    def names_a_record(tp) -> bool:
        return typing.is_typeddict(tp) or any(names_a_record(a) for a in typing.get_args(tp))

    for name, fn in vars(Studio).items():
        if name.startswith("_") or not callable(fn):
            continue
        record = typing.get_type_hints(fn).get("return")
        if record is None or not names_a_record(record):
            continue

        def checked(*args, _fn=getattr(studio, name), _record=record, _name=name, **kw):
            result = _fn(*args, **kw)
            problems = shape_problems(json.loads(json.dumps(result, default=str)), _record)
            assert not problems, f"Studio.{_name} breaks {_record}: " + "; ".join(problems[:8])
            return result

        setattr(studio, name, functools.wraps(fn)(checked))


# The cache the run started with, where tests/setup_llama_cpp.sh builds llama-server: read when
# conftest first imports this module, before its _isolated fixture points SFT_STUDIO_CACHE at a
# temporary folder inside each test.
USER_CACHE = os.environ.get("SFT_STUDIO_CACHE") or ""


def teacher_answer(url: str, model: str, params: dict, messages, api_key=None):
    """One chat completion through the studio's own teacher client (as Generate would ask a
    served model)."""
    from generators.teacher import Teacher, TeacherConfig, run_sync

    config = TeacherConfig(model=model, base_urls=[url], api_key=api_key, max_attempts=1,
                           timeout=60, structured="off")

    async def one():
        async with Teacher(config) as teacher:
            return await teacher.complete(messages, params)

    return run_sync(one())


# The review journey's rows (the browser test's and the handlers' unit tests'): five complete
# rows and an input-only one.
REVIEW_ROWS = [
    {"input": "tweet one about trains", "output": "trains are late"},
    {"input": "tweet two about rain", "output": "it rains"},
    {"input": "tweet three about cats", "output": "cats nap"},
    {"input": "radar tweet alpha", "output": "radar one"},
    {"input": "radar tweet beta", "output": "radar two"},
    {"input": "a messy tweet with no summary"},
]
