"""The studio against real llama.cpp servers nobody here wrote, on the designed tiny GGUF
(tests/tiny_gguf.py), with default settings, from the CLI as a new user would:
llama-cpp-python's `python -m llama_cpp.server` refuses json_schema with a 500, so `auto` must
settle on its json_object + schema; llama.cpp's own `llama-server` takes json_schema. Every item
must be done."""

import json

import pytest

from llama_server import LlamaServer, NativeLlamaServer

pytestmark = pytest.mark.slow

SETTLES = {"llama_server": "json_object+schema", "llama_native_server": "json_schema"}


@pytest.fixture(params=list(SETTLES))
def real(request):
    """Each real server in turn, and the structured output `auto` must settle on there."""
    return request.getfixturevalue(request.param), SETTLES[request.param]


def _gen(cli, url, *args):
    code, out, err = cli("generate", "--base-url", url, "--model", "teacher-test", "--json",
                         *args)
    return code, (json.loads(out) if out.strip() else None), err


def test_a_new_user_with_default_settings_gets_every_item_done(cli, real):
    server, settles = real
    url = server.url
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
    assert set(judged["structured"].values()) == {settles}
    code, out, _ = cli("list", "--source", "teacher", "--json", "--limit", 100)
    rows = json.loads(out)["rows"]
    assert len(rows) == 16 and all(r["input"] and r["output"] for r in rows)
    assert len({r["input"] for r in rows if r["task"] == "tweet-summary"}) == 10
    assert {r["output"] for r in rows if r["task"] == "sentiment"} <= {
        "positive", "negative", "neutral"}
    for r in rows:
        assert r["meta"]["structured"] == settles
        assert r["meta"]["served_model"] == "teacher-test"


def test_teacher_check_against_the_real_servers(cli, llama_server, llama_native_server):
    cli("init")
    code, out, err = cli("teacher-check", "--base-url", llama_server.url, "--base-url",
                         llama_native_server.url, "--model", "teacher-test", "--json")
    assert code == 0, err
    python_server, native = json.loads(out)["endpoints"]
    assert python_server["ok"] and python_server["structured"] == "json_object+schema"
    assert "response_format.type: Input should be 'text' or 'json_object'" in \
        python_server["refused"][0]
    assert native["ok"] and native["structured"] == "json_schema" and not native["refused"]


def test_every_structured_mode_works_on_both(cli, llama_server, llama_native_server):
    cli("init", "--sample")
    for url in (llama_server.url, llama_native_server.url):
        for mode in ("off", "json_object"):
            code, job, err = _gen(cli, url, "--mode", "inputs", "--n", 3, "--structured", mode)
            assert code == 0 and (job["done"], job["failed"]) == (3, 0), (url, mode, err)
    code, job, err = _gen(cli, llama_native_server.url, "--mode", "inputs", "--n", 3,
                          "--structured", "json_schema")
    assert code == 0 and job["done"] == 3, err


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


def test_a_wrong_key_on_native_llama_server_exits_4_with_its_words(cli, llama_gguf,
                                                                   llama_native_server, tmp_path):
    cli("init", "--sample")
    with NativeLlamaServer(llama_gguf, binary=llama_native_server.binary, api_key="right-key",
                           model_alias="teacher-test", log_path=tmp_path / "server.log") as srv:
        code, job, err = _gen(cli, srv.url, "--mode", "inputs", "--n", 5)
        assert code == 4 and job["status"] == "failed"
        assert "HTTP 401" in job["error"] and "Invalid API Key" in job["error"]


def test_a_one_slot_llama_server_under_default_concurrency_fails_nothing(
        cli, llama_gguf, llama_native_server, tmp_path):
    """Issue 20 on the real thing: llama-server with one slot queues what it cannot serve; the
    default 16 in flight must not turn queueing into timeouts or failures."""
    cli("init", "--sample")
    with NativeLlamaServer(llama_gguf, binary=llama_native_server.binary, n_parallel=1,
                           model_alias="teacher-test", log_path=tmp_path / "server.log") as srv:
        code, job, err = _gen(cli, srv.url, "--mode", "inputs", "--n", 30, "--timeout", 5)
        assert code == 0 and (job["done"], job["failed"]) == (30, 0), err
        assert job["requests"] == 60  # nothing retried
