"""The teacher against what real servers do (issue 19), with the loopback fake taught their ways:
the structured-output chain, failing fast with the reason, dropping a refusing endpoint, never
replaying a failed answer, the answering model, outputs mode's default and token caps per kind.
The same paths run against a real llama.cpp server in test_llama_teacher.py."""

import json

import pytest

from helpers import loopback_teacher as teacher
from helpers import write_jsonl

CHAINS = {  # server kind -> the response_format types `auto` sends, the settled one last
    "openai": ["json_schema"],
    "vllm": ["json_schema"],
    "llama-cpp-python": ["json_schema", "json_object+schema"],
    "json-mode": ["json_schema", "json_object+schema", "json_object"],
    "none": ["json_schema", "json_object+schema", "json_object", "off"],
}
SETTLED = {"openai": "json_schema", "vllm": "json_schema",
           "llama-cpp-python": "json_object+schema", "json-mode": "json_object", "none": "off"}



@pytest.mark.parametrize("kind", list(CHAINS))
def test_auto_settles_on_what_each_server_takes_and_does_every_item(samples, server, kind):
    srv = server(kind=kind)
    job = samples.generate(teacher(samples, srv), task="tweet-summary", mode="inputs", n=8)
    assert (job["status"], job["done"], job["failed"]) == ("completed", 8, 0), \
        samples.job_failures(job["id"])
    sent = [b.get("response_format") for b in srv.bodies]
    kinds = [f["type"] + ("+schema" if f.get("schema") else "") if f else "off" for f in sent]
    # the chain is walked once, by one request, then every request uses the settled format
    assert kinds[:len(CHAINS[kind])] == CHAINS[kind]
    assert set(kinds[len(CHAINS[kind]):]) == {SETTLED[kind]}
    assert job["requests"] == len(srv.bodies) == 16 + len(CHAINS[kind]) - 1
    assert samples.job(job["id"])["params"]["formats"] == {srv.url: SETTLED[kind]}
    rows = samples.list(task="tweet-summary", source="teacher")["rows"]
    assert {r["meta"]["structured"] for r in rows} == {SETTLED[kind]}
    assert not any(set(b) - {"model", "messages", "temperature", "max_tokens", "seed",
                             "response_format"} for b in srv.bodies)  # vLLM refuses extras


def test_a_resumed_job_starts_from_the_format_it_settled_on(samples, server):
    srv = server(kind="llama-cpp-python", faults={"bad_answer": 0.5}, seed=3)
    cfg = teacher(samples, srv)
    job = samples.generate(cfg, task="tweet-summary", mode="inputs", n=6)
    assert job["failed"] > 0
    srv.faults.clear()
    before = len(srv.bodies)
    job = samples.run_job(job["id"], cfg)
    assert (job["done"], job["failed"]) == (6, 0)
    assert all(b["response_format"] == {"type": "json_object", "schema": b["response_format"]
                                        ["schema"]} for b in srv.bodies[before:])


def test_an_explicit_format_the_server_refuses_stops_the_job_with_the_reason(cli, server):
    srv = server(kind="llama-cpp-python")
    cli("init", "--sample")
    code, out, err = cli("generate", "--mode", "inputs", "--n", 5, "--base-url", srv.url,
                         "--model", "teacher-test", "--structured", "json_schema", "--json")
    assert code == 4
    job = json.loads(out)
    assert job["status"] == "failed" and job["done"] == 0
    assert "refused structured output json_schema" in job["error"]
    # pydantic's validation text, sent by llama-cpp-python as a 500 with a stack frame, is one
    # readable line, not the frame
    assert "response_format.type: Input should be 'text' or 'json_object'" in job["error"]
    assert "app.py" not in job["error"] and "\n" not in job["error"]
    assert "error: job 1 failed" in err and len(srv.bodies) <= 5
    code, out, err = cli("generate", "--mode", "inputs", "--n", 5, "--base-url", srv.url,
                         "--model", "teacher-test", "--structured", "json_object", "--json")
    assert code == 0 and json.loads(out)["done"] == 5


def test_a_refused_key_exits_4_with_the_servers_own_words(cli, server):
    srv = server(kind="llama-cpp-python", api_key="right")
    cli("init", "--sample")
    code, out, err = cli("generate", "--mode", "inputs", "--n", 20, "--base-url", srv.url,
                         "--model", "teacher-test", "--json")
    assert code == 4
    job = json.loads(out)
    assert job["status"] == "failed" and "Invalid API key" in job["error"]  # FastAPI's detail
    assert "HTTP 401" in job["error"] and "key was refused" in err
    assert srv.requests <= 16  # stopped at once, not 20 items times 6 attempts
    code, _, err = cli("score", "--judge", "--base-url", srv.url, "--model", "teacher-test")
    assert code == 4 and "Invalid API key" in err


def test_a_missing_model_exits_4_and_names_it(cli, server):
    srv = server(models=["qwen2.5"])
    cli("init", "--sample")
    code, out, err = cli("generate", "--mode", "outputs", "--base-url", srv.url,
                         "--model", "qwen2.5-typo")
    assert code == 4 and "no model 'qwen2.5-typo'" in err and "model_not_found" not in err


def test_an_unreachable_endpoint_fails_the_job_after_a_short_probe(cli, samples, db):
    samples.store.close()
    code, out, err = cli("generate", "--mode", "inputs", "--n", 200, "--base-url",
                         "http://127.0.0.1:9/v1", "--model", "m", "--json")
    assert code == 4
    job = json.loads(out)
    assert job["status"] == "failed" and job["done"] == 0
    assert "cannot connect to http://127.0.0.1:9/v1" in job["error"]
    assert "no answer in 3 tries" in job["error"]
    assert job["requests"] <= 16 + 3  # the first wave and a short probe, not 200 items x 6
    assert "go on: sft-studio generate --resume 1" in err


def test_a_job_that_ends_with_nothing_done_exits_4(cli, server):
    srv = server(faults={"bad_answer": 1.0})
    cli("init", "--sample")
    code, out, err = cli("generate", "--mode", "inputs", "--n", 4, "--base-url", srv.url,
                         "--model", "teacher-test", "--json")
    job = json.loads(out)
    assert code == 4 and (job["status"], job["done"], job["failed"]) == ("completed", 0, 4)
    assert "why items failed: sft-studio jobs --failures 1" in err


def test_one_refusing_endpoint_is_dropped_while_the_other_does_the_work(samples, server):
    good, bad = server(), server(api_key="other")
    cfg = samples.teacher_config(model="teacher-test", base_urls=[bad.url, good.url],
                                 concurrency=4, backoff_base=0.01)
    job = samples.generate(cfg, task="tweet-summary", mode="inputs", n=12)
    assert (job["status"], job["done"], job["failed"]) == ("completed", 12, 0)
    assert f"dropped {bad.url}" in job["error"] and "key was refused" in job["error"]
    assert bad.requests <= 4 and good.answered.total() == 24


def test_unreadable_answers_are_never_cached_or_replayed(samples, server):
    srv = server(faults={"bad_answer": 1.0})
    cfg = teacher(samples, srv)
    job = samples.generate(cfg, task="tweet-summary", mode="inputs", n=5)
    assert (job["done"], job["failed"]) == (0, 5)
    assert samples.store.teacher_call_count() == 0
    assert all(f["raw"] == "I think the answer is: maybe?"
               for f in samples.job_failures(job["id"]))
    sent = srv.requests
    srv.faults.clear()  # the server is fixed: a resume asks again and gets answers
    job = samples.run_job(job["id"], cfg)
    assert (job["done"], job["failed"]) == (5, 0) and srv.requests == sent + 10
    # answers that were read are cached: the same seed again sends nothing, --refresh does
    again = samples.generate(cfg, task="tweet-summary", mode="inputs", n=5,
                             seed=job["params"]["seed"])
    assert again["requests"] == 0 and again["cached"] == 10
    fresh = samples.generate(cfg, task="tweet-summary", mode="inputs", n=5,
                             seed=job["params"]["seed"], refresh=True)
    assert fresh["requests"] == 10 and fresh["cached"] == 0


def test_an_unreadable_answer_stored_by_an_older_version_is_asked_again(samples, server):
    srv = server()
    cfg = teacher(samples, srv)
    job = samples.generate(cfg, task="tweet-summary", mode="inputs", n=2, seed=5)
    samples.store._run("UPDATE teacher_calls SET response = 'garbage, not JSON'")
    samples.store._run("DELETE FROM examples WHERE source = 'teacher'")
    again = samples.generate(cfg, task="tweet-summary", mode="inputs", n=2, seed=5)
    assert (again["done"], again["requests"]) == (2, 4)
    stored = samples.store._all("SELECT response FROM teacher_calls")
    assert len(stored) == 4 and not any(r["response"] == "garbage, not JSON" for r in stored)
    assert job["done"] == 2


def test_the_cache_key_includes_the_structured_mode(samples, server):
    srv = server()
    samples.generate(teacher(samples, srv), task="tweet-summary", mode="inputs", n=3, seed=9)
    sent = srv.requests
    job = samples.generate(teacher(samples, srv, structured="off"), task="tweet-summary",
                           mode="inputs", n=3, seed=9)
    assert job["cached"] == 0 and srv.requests == sent + 6
    assert not any("response_format" in b for b in srv.bodies[sent:])


def test_provenance_records_the_model_that_answered(samples, server):
    srv = server(served_model="qwen2.5-0.5b-instruct-q8_0.gguf")
    job = samples.generate(teacher(samples, srv), task="tweet-summary", mode="both", n=47)
    assert job["done"] == 47
    for r in samples.list(task="tweet-summary", source="teacher")["rows"]:
        assert r["meta"]["model"] == "teacher-test"  # asked for
        assert r["meta"]["served_model"] == "qwen2.5-0.5b-instruct-q8_0.gguf"  # answered
    labelled = samples.list(task="tweet-summary", source="imported", limit=100)["rows"]
    assert {r["meta"]["output_by"]["served_model"] for r in labelled
            if "output_by" in r["meta"]} == {"qwen2.5-0.5b-instruct-q8_0.gguf"}
    served = samples.store._all("SELECT DISTINCT served_model, format FROM teacher_calls")
    assert served == [{"served_model": "qwen2.5-0.5b-instruct-q8_0.gguf",
                       "format": "json_schema"}]


def test_outputs_mode_labels_every_input_only_row_or_one_imports(samples, server, tmp_path):
    own = write_jsonl(tmp_path / "my_tweets.jsonl",
                      [{"input": f"my own messy tweet number {i} lol"} for i in range(22)])
    samples.import_file(own, task="tweet-summary")
    total = samples.stats("tweet-summary")["input_only"]
    assert total > 22
    preview = samples.outputs_preview("tweet-summary", import_file="my_tweets.jsonl")
    assert preview["rows"] == 22 and preview["first"][0]["input"] == \
        "my own messy tweet number 0 lol"
    assert {"file": "my_tweets.jsonl", "rows": 22} in preview["imports"]
    assert samples.outputs_preview("tweet-summary")["rows"] == total
    srv = server()
    job = samples.generate(teacher(samples, srv), task="tweet-summary", mode="outputs",
                           import_file="my_tweets.jsonl")
    assert (job["requested"], job["done"]) == (22, 22)
    mine = samples.list(task="tweet-summary", text="my own messy tweet", limit=50)["rows"]
    assert all(r["output"] for r in mine)
    job = samples.generate(teacher(samples, srv), task="tweet-summary", mode="outputs")
    assert job["requested"] == total - 22 and samples.stats("tweet-summary")["input_only"] == 0


def test_token_caps_are_per_request_kind(samples, server):
    srv = server()
    samples.generate(teacher(samples, srv), task="sentiment", mode="inputs", n=3)
    caps = {("input" if '{"input"' in b["messages"][-1]["content"] else "output"):
            b["max_tokens"] for b in srv.bodies}
    assert caps == {"input": 300, "output": 32}


def test_legacy_max_tokens_in_a_recipe_file_sets_both(tmp_path):
    from generators.recipes import load_recipe

    path = tmp_path / "r.toml"
    path.write_text("max_tokens = 50\noutput_max_tokens = 10\n")
    r = load_recipe(path)
    assert (r.input_max_tokens, r.output_max_tokens) == (50, 10)


def test_requests_count_http_calls_and_retries(samples, server):
    srv = server(faults={"429": 1.0}, retry_after=0.01)
    job = samples.generate(teacher(samples, srv, max_attempts=3), task="tweet-summary",
                           mode="inputs", n=2)
    assert job["failed"] == 2 and job["requests"] == srv.requests == 6


def test_teacher_check_says_what_the_server_takes(cli, server):
    srv = server(kind="llama-cpp-python", served_model="tiny.gguf")
    cli("init")
    code, out, err = cli("teacher-check", "--base-url", srv.url, "--model", "teacher-test",
                         "--json")
    assert code == 0, err
    r = json.loads(out)["endpoints"][0]
    assert (r["ok"], r["structured"], r["model"]) == (True, "json_object+schema", "tiny.gguf")
    assert "Input should be 'text' or 'json_object'" in r["refused"][0]
    code, out, _ = cli("teacher-check", "--base-url", srv.url, "--model", "teacher-test")
    assert "structured output: json_object+schema" in out
    code, _, err = cli("teacher-check", "--base-url", srv.url, "--model", "teacher-test",
                       "--structured", "json_schema")
    assert code == 4 and "structured output json_schema refused" in err
    code, _, err = cli("teacher-check", "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert code == 4 and "cannot connect" in err


def test_the_structured_mode_comes_from_the_environment(studio, monkeypatch):
    from studio.errors import BadInput

    monkeypatch.setenv("SFT_STUDIO_STRUCTURED", "json_object")
    assert studio.teacher_config(model="m", base_urls=["http://127.0.0.1:9/v1"]).structured == \
        "json_object"
    monkeypatch.setenv("SFT_STUDIO_STRUCTURED", "yes please")
    with pytest.raises(BadInput, match="structured must be one of auto, json_schema"):
        studio.teacher_config(model="m", base_urls=["http://127.0.0.1:9/v1"])


def test_the_progress_bar_of_a_resume_never_counts_down(cli, server):
    """A resume tries its failed items again: the bar starts from the done ones, so its rate
    never goes negative (it started from done + failed and counted down)."""
    import re

    srv = server(faults={"bad_answer": 0.5}, seed=1)
    cli("init", "--sample")
    code, out, _ = cli("generate", "--mode", "inputs", "--n", 12, "--base-url", srv.url,
                       "--model", "teacher-test", "--json")
    assert json.loads(out)["failed"] > 0
    srv.faults.clear()
    code, out, err = cli("generate", "--resume", 1, "--base-url", srv.url, "--json")
    assert code == 0 and json.loads(out)["done"] == 12
    assert not re.search(r"-\d+(\.\d+)?ex/s", err), err
    assert re.search(r"job 1: +\d+%\|.*\| *\d+/12", err)
