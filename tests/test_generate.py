"""Teacher generation against a real OpenAI-compatible HTTP server on loopback."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from helpers import ROOT
from helpers import loopback_teacher as teacher
from helpers import run_job_in_thread
from teacher_server import prompt_hash



def test_outputs_mode_labels_the_input_only_rows(samples, server):
    srv = server()
    before = samples.list(task="tweet-summary", input_only=True, limit=1000)["rows"]
    job = samples.generate(teacher(samples, srv), task="tweet-summary", mode="outputs")
    assert (job["status"], job["done"], job["failed"], job["remaining"]) == \
        ("completed", len(before), 0, 0)
    for row in before:
        after = samples.get(row["id"])
        assert after["output"].startswith("Summary: ") and after["input"] == row["input"]
        assert after["source"] == "imported" and after["status"] == "pending"
        assert after["meta"]["output_by"]["job_id"] == job["id"]
        assert after["meta"]["output_by"]["model"] == "teacher-test"
    assert samples.stats("tweet-summary")["input_only"] == 0
    assert sorted(srv.counts.values()) == [1] * len(before)  # one request per row


def test_inputs_mode_makes_pending_teacher_rows_in_families(samples, server):
    srv = server()
    seeds = [r["id"] for r in samples.list(task="support-answer", limit=3)["rows"]]
    job = samples.generate(teacher(samples, srv), task="support-answer", mode="inputs", n=12,
                           seed_ids=seeds)
    assert (job["status"], job["done"], job["requests"]) == ("completed", 12, 24)
    rows = samples.list(task="support-answer", source="teacher", limit=100)["rows"]
    assert len(rows) == 12
    for r in rows:
        assert r["status"] == "pending" and r["output"] and r["parent_id"] in seeds
        m = r["meta"]
        assert m["model"] == "teacher-test" and m["recipe"] == "support-answer"
        assert len(m["input_prompt_hash"]) == len(m["output_prompt_hash"]) == 64
        assert set(m["steer"]) == {"topic", "persona", "length", "style"} and m["tokens"] > 0
    assert len({r["meta"]["steer"]["topic"] for r in rows}) > 3  # steered for variety
    assert len({r["input"] for r in rows}) == 12


def test_classification_outputs_stay_inside_the_label_set(samples, server):
    srv = server()
    job = samples.generate(teacher(samples, srv), task="sentiment", mode="inputs", n=10)
    assert job["done"] == 10
    outs = {r["output"] for r in samples.list(task="sentiment", source="teacher")["rows"]}
    assert outs <= {"positive", "negative", "neutral"}


def test_faults_at_20_percent_complete_with_reasons_and_nothing_invented(samples, server):
    srv = server(faults={"429": 0.05, "500": 0.05, "drop": 0.05, "bad_answer": 0.05},
                 retry_after=0.01)
    job = samples.generate(teacher(samples, srv, max_attempts=8, concurrency=8),
                           task="tweet-summary", mode="inputs", n=80)
    assert job["status"] == "completed" and job["done"] + job["failed"] == 80
    assert job["failed"] > 0  # about 5% of answers are not JSON
    failures = samples.job_failures(job["id"], limit=1000)
    assert len(failures) == job["failed"]
    for f in failures:
        assert "no JSON object in the answer" in f["error"]
        assert f["raw"] == "I think the answer is: maybe?"
    rows = samples.list(task="tweet-summary", source="teacher", limit=1000)["rows"]
    assert all(r["input"].startswith("new post ") for r in rows)
    assert all(r["output"] is None or r["output"].startswith("Summary: ") for r in rows)
    assert len([r for r in rows if r["output"] is not None]) == job["done"]


def test_retry_after_is_honoured_and_giving_up_is_recorded(samples, server):
    srv = server(faults={"429": 1.0}, retry_after=0.4)
    start = time.monotonic()
    job = samples.generate(teacher(samples, srv, max_attempts=3), task="support-answer",
                           mode="inputs", n=1)
    assert time.monotonic() - start >= 0.8  # two waits of Retry-After
    assert (job["status"], job["failed"], srv.requests) == ("completed", 1, 3)
    reason = samples.job_failures(job["id"])[0]["error"]
    assert "HTTP 429" in reason and "gave up after 3 attempts" in reason


def test_a_refused_key_stops_the_job_at_once(samples, server):
    srv = server(api_key="sk-right")
    cfg = teacher(samples, srv, api_key="sk-wrong-key-1234")
    job = samples.generate(cfg, task="tweet-summary", mode="inputs", n=50)
    assert job["status"] == "failed" and "key was refused" in job["error"]
    assert "Incorrect API key provided: [key]" in job["error"]  # the echoed key is cut out
    assert "sk-wro" not in job["error"] and "1234" not in job["error"]
    assert srv.requests < 50


def test_no_structured_output_falls_back_to_lenient_parsing(samples, server):
    srv = server(structured=False)
    job = samples.generate(teacher(samples, srv), task="tweet-summary", mode="inputs", n=5)
    assert (job["status"], job["done"]) == ("completed", 5)


def test_several_endpoints_share_one_job(samples, server):
    a, b = server(latency=0.02), server(latency=0.02)
    cfg = samples.teacher_config(model="teacher-test", base_urls=[a.url, b.url], concurrency=4)
    job = samples.generate(cfg, task="tweet-summary", mode="inputs", n=20)
    assert job["done"] == 20 and job["base_urls"] == [a.url, b.url]
    assert a.requests > 5 and b.requests > 5


def test_same_seed_again_sends_nothing_and_stores_no_duplicate(samples, server):
    srv = server()
    cfg = teacher(samples, srv)
    first = samples.generate(cfg, task="tweet-summary", mode="inputs", n=8, seed=7)
    sent = srv.requests
    again = samples.generate(cfg, task="tweet-summary", mode="inputs", n=8, seed=7)
    assert srv.requests == sent and again["cached"] == 16 and again["requests"] == 0
    assert again["failed"] == 8 and first["done"] == 8
    assert "exact duplicate" in samples.job_failures(again["id"])[0]["error"]
    assert samples.stats("tweet-summary")["by_source"]["teacher"] == 8


def test_token_budget_stops_cleanly_and_resume_goes_on(samples, server):
    srv = server()
    cfg = teacher(samples, srv, concurrency=4)
    job = samples.generate(cfg, task="tweet-summary", mode="inputs", n=30, budget_tokens=6000)
    assert job["status"] == "budget_stopped" and job["remaining"] > 0
    assert job["tokens_in"] + job["tokens_out"] <= 6000
    job = samples.run_job(job["id"], cfg, budget_tokens=10**7)
    assert (job["status"], job["done"], job["remaining"]) == ("completed", 30, 0)
    assert max(srv.counts.values()) == 1  # nothing asked twice


def test_cancel_leaves_a_resumable_job(samples, server):
    srv = server(latency=0.05)
    cfg = teacher(samples, srv, concurrency=2)
    job = samples.start_job(cfg, task="tweet-summary", mode="inputs", n=40)
    t, result = run_job_in_thread(samples, job["id"], cfg)
    deadline = time.monotonic() + 20
    while samples.job(job["id"])["done"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    samples.cancel_job(job["id"])
    t.join(20)
    assert result["status"] == "cancelled" and 3 <= result["done"] < 40
    done = samples.run_job(job["id"], cfg)
    assert (done["status"], done["done"]) == ("completed", 40)
    assert max(srv.answered.values()) == 1


def test_the_key_is_nowhere_in_the_store(db, server):
    from studio import Studio

    key = "sk-test-SECRET-4242-never-stored"
    srv = server(api_key=key)
    with Studio.open(db) as s:
        s.import_samples()
        job = s.generate(s.teacher_config(model="teacher-test", base_urls=[srv.url],
                                          api_key=key), task="tweet-summary", mode="both", n=45)
        assert job["status"] == "completed" and job["done"] == 45
        s.store._run("CHECKPOINT")
    assert f"Bearer {key}" in srv.auth_headers  # it was really used
    for f in db.parent.rglob("*"):
        if f.is_file():
            assert key.encode() not in f.read_bytes(), f
            assert key[8:].encode() not in f.read_bytes(), f


def test_no_key_for_a_remote_endpoint_is_a_clear_error(studio, monkeypatch):
    from studio.errors import BadInput

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(BadInput, match="no API key: set OPENAI_API_KEY"):
        studio.teacher_config(model="gpt-x", base_urls=["https://api.example.com/v1"])
    assert studio.teacher_config(model="m", base_urls=["http://127.0.0.1:9/v1"]).api_key


def test_bad_plans_are_refused_before_anything_is_sent(samples, server):
    from studio.errors import BadInput

    srv = server()
    cfg = teacher(samples, srv)
    with pytest.raises(BadInput, match="say how many with --n"):
        samples.start_job(cfg, task="tweet-summary", mode="inputs")
    with pytest.raises(BadInput, match="no input-only rows"):
        samples.start_job(cfg, task="sentiment", mode="outputs")
    with pytest.raises(BadInput, match="not complete examples of task"):
        samples.start_job(cfg, task="sentiment", mode="inputs", n=2, seed_ids=[1])
    with pytest.raises(BadInput, match="needs the model's prices"):
        samples.start_job(cfg, task="sentiment", mode="inputs", n=2, budget_usd=1.0)
    assert srv.requests == 0 and samples.jobs() == []


# -- processes: SIGKILL and resume, cancel from another process ----------------------------

def _cli(db, *args, env=None, **kw):
    return subprocess.Popen([sys.executable, "-m", "studio", "--db", str(db), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, **(env or {})}, **kw)


def _wait_progress(db, at_least: int, proc, timeout=60) -> dict:
    from studio.generation.job_files import live_progress

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = live_progress(db)
        if live and live[0]["done"] >= at_least:
            return live[0]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f"no progress to {at_least} within {timeout}s")


def test_sigkill_then_resume_never_asks_a_stored_answer_again(db, server):
    from studio import Studio

    srv = server(latency=0.04)
    with Studio.open(db) as s:
        s.import_samples()
    kill_at = random.Random().randint(5, 100)
    print("killing after", kill_at, "done")
    env = {"OPENAI_BASE_URL": srv.url, "OPENAI_MODEL": "teacher-test"}
    proc = _cli(db, "generate", "--mode", "inputs", "--n", 400, "--concurrency", 4, env=env)
    _wait_progress(db, kill_at, proc)
    held = subprocess.run([sys.executable, "-m", "studio", "--db", str(db), "jobs", "--json"],
                          capture_output=True, text=True, cwd=ROOT)
    assert held.returncode == 0 and json.loads(held.stdout)["jobs"][0]["status"] == "running"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    from studio.generation.job_files import live_progress, sidecar_dir

    assert list(sidecar_dir(db).glob("1.json"))  # the killed run's progress file stays,
    assert live_progress(db) == []  # but a dead process's job is not shown as running

    with Studio.open(db) as s:
        job = s.job(1)
        assert job["status"] == "interrupted" and "resume it" in job["error"]
        assert job["done"] >= kill_at
        stored = {r["request_hash"]: json.loads(r["request"]) for r in
                  s.store._all("SELECT request_hash, request FROM teacher_calls")}
        rows_before = s.stats("tweet-summary")["by_source"]["teacher"]
    asked = {h: srv.counts[prompt_hash(r["messages"])] for h, r in stored.items()}

    proc = _cli(db, "generate", "--resume", 1, "--json", env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert (result["status"], result["done"] + result["failed"]) == ("completed", 400)
    for h, r in stored.items():  # stored answers: never requested again
        assert srv.counts[prompt_hash(r["messages"])] == asked[h]
    with Studio.open(db) as s:
        assert s.stats("tweet-summary")["by_source"]["teacher"] == result["done"] >= rows_before
        assert s.store.teacher_call_count() >= len(stored)
        inputs = [r["input"] for r in s.list(task="tweet-summary", source="teacher",
                                              limit=1000)["rows"]]
        assert len(inputs) == len(set(inputs))  # no item written twice


def test_cancel_from_another_process_while_the_job_holds_the_store(db, server):
    from studio import Studio

    srv = server(latency=0.05)
    with Studio.open(db) as s:
        s.import_samples()
    env = {"OPENAI_BASE_URL": srv.url, "OPENAI_MODEL": "teacher-test"}
    proc = _cli(db, "generate", "--mode", "inputs", "--n", 200, "--concurrency", 2, "--json",
                env=env)
    _wait_progress(db, 2, proc)
    cancel = subprocess.run([sys.executable, "-m", "studio", "--db", str(db), "cancel", "1"],
                            capture_output=True, text=True, cwd=ROOT)
    assert cancel.returncode == 0 and "asked job 1 to stop" in cancel.stdout
    out, _ = proc.communicate(timeout=30)
    job = json.loads(out)
    assert job["status"] == "cancelled" and job["remaining"] > 0


# -- the CLI, in-process -------------------------------------------------------------------

def test_cli_generate_jobs_cancel_resume(cli, server, monkeypatch):
    srv = server()
    monkeypatch.delenv("OPENAI_MODEL", raising=False)
    assert cli("init", "--sample")[0] == 0
    code, out, err = cli("generate", "--mode", "inputs", "--n", 5, "--base-url", srv.url,
                         "--json")
    assert code == 1 and "name the teacher model" in err
    code, out, err = cli("generate", "--mode", "inputs", "--n", 5, "--base-url", srv.url,
                         "--model", "teacher-test", "--json")
    assert code == 0, err
    job = json.loads(out)
    assert (job["status"], job["done"], job["requests"]) == ("completed", 5, 10)
    assert "job 1: inputs for tweet-summary, 5 examples" in err  # and a progress bar
    code, out, _ = cli("jobs", "--json")
    listed = json.loads(out)["jobs"]
    assert {"id", "task", "mode", "status", "model", "base_urls", "requested", "done", "failed",
            "remaining", "tokens_in", "tokens_out", "cost_usd", "error"} <= set(listed[0])
    assert listed[0]["base_urls"] == [srv.url]
    assert cli("jobs", "--failures", 1)[1].strip() == "none"
    code, _, err = cli("cancel", 1)
    assert code == 1 and "completed already" in err
    code, _, err = cli("generate", "--resume", 1, "--n", 3)
    assert code == 1 and "drop --n" in err
    code, _, err = cli("generate", "--resume", 1)
    assert code == 1 and "nothing left to do" in err
    code, _, err = cli("generate", "--resume", 99)
    assert code == 1 and "no job 99" in err


def test_cli_price_table_gives_cost_and_a_dollar_budget(cli, server):
    srv = server()
    cli("init", "--sample")
    code, out, err = cli("generate", "--mode", "inputs", "--n", 20, "--base-url", srv.url,
                         "--model", "teacher-test", "--price-in", 2.5, "--price-out", 10,
                         "--budget-usd", 0.02, "--concurrency", 2, "--json")
    assert code == 0, err
    job = json.loads(out)
    assert job["status"] == "budget_stopped" and 0.005 < job["cost_usd"] <= 0.02
    assert job["cost_usd"] == pytest.approx((job["tokens_in"] * 2.5 + job["tokens_out"] * 10) / 1e6)


def test_price_table_from_the_environment(tmp_path, server, monkeypatch):
    from studio import Studio
    from studio.errors import BadInput

    table = tmp_path / "prices.toml"
    table.write_text('[models."teacher-test"]\nin = 1.0\nout = 4.0\n')
    monkeypatch.setenv("SFT_STUDIO_PRICES", str(table))
    srv = server()
    with Studio.open(tmp_path / "p.duckdb") as s:
        s.import_samples()
        cfg = s.teacher_config(model="teacher-test", base_urls=[srv.url])
        assert (cfg.price_in, cfg.price_out) == (1.0, 4.0)
        job = s.generate(cfg, task="tweet-summary", mode="inputs", n=3)
        assert job["cost_usd"] == pytest.approx((job["tokens_in"] + 4 * job["tokens_out"]) / 1e6)
        assert job["items_per_s"] > 0
        assert s.teacher_config(model="other", base_urls=[srv.url]).price_in == 0
        table.write_text("models = 3\n")
        with pytest.raises(BadInput, match="price table"):
            s.teacher_config(model="teacher-test", base_urls=[srv.url])


def test_a_job_run_in_the_background_records_its_end(samples, server):
    """The app's way: start_job, then run_job_in_background; the caller gets control back at
    once and reads the job's end from the job itself."""
    import time

    srv = server()
    cfg = teacher(samples, srv)
    job = samples.start_job(cfg, task="tweet-summary", mode="outputs")
    samples.run_job_in_background(job["id"], cfg)
    deadline = time.monotonic() + 300  # a generous bound, not a timing assertion
    while samples.job(job["id"])["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    ended = samples.job(job["id"])
    assert ended["status"] == "completed" and ended["done"] == job["requested"] > 0
    assert samples.stats("tweet-summary")["input_only"] == 0
