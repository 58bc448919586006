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
