"""The studio against a real llama.cpp server nobody here wrote: llama-cpp-python's
`python -m llama_cpp.server` on the designed tiny GGUF (tests/tiny_gguf.py), with default
settings, from the CLI as a new user would. It refuses json_schema with a 500, so `auto` must
settle on its json_object + schema, and every item must be done."""

import json

import pytest

from llama_server import LlamaServer

pytestmark = pytest.mark.slow


def _gen(cli, url, *args):
    code, out, err = cli("generate", "--base-url", url, "--model", "teacher-test", "--json",
                         *args)
    return code, (json.loads(out) if out.strip() else None), err


def test_a_new_user_with_default_settings_gets_every_item_done(cli, llama_server):
    url = llama_server.url
    assert cli("init", "--sample")[0] == 0
    code, job, err = _gen(cli, url, "--mode", "outputs")
    assert code == 0, err
    assert (job["status"], job["failed"], job["remaining"]) == ("completed", 0, 0)
    assert job["done"] == job["requested"] > 20
    code, job, err = _gen(cli, url, "--mode", "inputs", "--n", 10)
    assert code == 0 and (job["done"], job["failed"]) == (10, 0), err
    code, job, err = _gen(cli, url, "--task", "sentiment", "--mode", "both", "--n", 6)
    assert code == 0 and (job["done"], job["failed"]) == (6, 0), err
    # the judge, with default settings, rates every complete row
    code, out, err = cli("score", "--judge", "--base-url", url, "--model", "teacher-test",
                         "--json")
    assert code == 0, err
    judged = json.loads(out)["judge"]
    assert judged["failed"] == 0 and judged["judged"] == judged["rows"] > 20
    assert set(judged["structured"].values()) == {"json_object+schema"}
    code, out, _ = cli("list", "--source", "teacher", "--json", "--limit", 100)
    rows = json.loads(out)["rows"]
    assert len(rows) == 16 and all(r["input"] and r["output"] for r in rows)
    assert len({r["input"] for r in rows if r["task"] == "tweet-summary"}) == 10
    assert {r["output"] for r in rows if r["task"] == "sentiment"} <= {
        "positive", "negative", "neutral"}
    for r in rows:
        assert r["meta"]["structured"] == "json_object+schema"
        assert r["meta"]["served_model"] == "teacher-test"


def test_teacher_check_against_the_real_server(cli, llama_server):
    cli("init")
    code, out, err = cli("teacher-check", "--base-url", llama_server.url, "--model",
                         "teacher-test", "--json")
    assert code == 0, err
    r = json.loads(out)["endpoints"][0]
    assert r["ok"] and r["structured"] == "json_object+schema"
    assert "response_format.type: Input should be 'text' or 'json_object'" in r["refused"][0]


def test_structured_off_and_json_object_work_too(cli, llama_server):
    cli("init", "--sample")
    for mode in ("off", "json_object"):
        code, job, err = _gen(cli, llama_server.url, "--mode", "inputs", "--n", 4,
                              "--structured", mode)
        assert code == 0 and (job["done"], job["failed"]) == (4, 0), err


def test_a_wrong_key_on_the_real_server_exits_4_with_its_words(cli, llama_gguf, tmp_path):
    cli("init", "--sample")
    with LlamaServer(llama_gguf, api_key="the-right-key", model_alias="teacher-test",
                     log_path=tmp_path / "server.log") as server:
        code, job, err = _gen(cli, server.url, "--mode", "inputs", "--n", 5)
        assert code == 4 and job["status"] == "failed"
        assert "HTTP 401" in job["error"] and "Invalid API key" in job["error"]
        code, out, err = cli("teacher-check", "--base-url", server.url, "--model",
                             "teacher-test")
        assert code == 4 and "the key was refused (Invalid API key)" in err
