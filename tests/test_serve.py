"""Serving a trained run on an OpenAI-compatible endpoint: the transformers engine
(trainer/serve.py) on a tiny base + LoRA adapter answers exactly as transformers' own greedy
generation does, to the studio's teacher client and to the `openai` SDK (streaming too); the
llama.cpp engine serves the designed tiny GGUF with its own chat template; pick_engine, the
commands, the refusals and the teardown of every process started."""

import json
import os
import shutil
import subprocess
import sys
import threading

import httpx
import pytest

import helpers
from helpers import ROOT, USER_CACHE, run_together

from trainer.serve_engines import Served, command, gguf_chat_template, key_env, pick_engine

RUN_ID = "run-7"
MESSAGES = [{"role": "system", "content": "Copy the first three words."},
            {"role": "user", "content": "the bus was late again today"}]
MAX_TOKENS = 12
TEXTS = ["the bus was late again today", "my train got cancelled this morning",
         "Copy the first three words.", "our flight arrived early at noon"] * 10


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """runs/run-7/adapter: a LoRA adapter with random (not zero) B matrices on a tiny base, so
    the adapter changes the answers; the base lives elsewhere, named by adapter_config.json."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("serve")
    base = build_tiny_model(root / "base", TEXTS)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                               LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                          init_lora_weights=False))
    run = root / "runs" / RUN_ID
    model.save_pretrained(run / "adapter")
    AutoTokenizer.from_pretrained(base).save_pretrained(run / "adapter")
    return run


@pytest.fixture(scope="module")
def reference(tiny_run):
    """Transformers' own greedy answer to MESSAGES (base + adapter), the base's alone, and the
    loaded model and tokenizer."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = tiny_run / "adapter"
    base_path = json.loads((adapter / "adapter_config.json").read_text())[
        "base_model_name_or_path"]
    tok = AutoTokenizer.from_pretrained(adapter)
    base = AutoModelForCausalLM.from_pretrained(base_path).eval()
    enc = tok.apply_chat_template(MESSAGES, add_generation_prompt=True, return_tensors="pt")

    def greedy(model):
        out = model.generate(**enc, do_sample=False, max_new_tokens=MAX_TOKENS)
        new = out[0][enc["input_ids"].shape[1]:]
        return tok.decode(new, skip_special_tokens=True), len(new)

    base_text, _ = greedy(base)
    model = PeftModel.from_pretrained(base, adapter).eval()
    text, generated = greedy(model)
    return {"text": text, "base_text": base_text, "prompt_tokens": enc["input_ids"].shape[1],
            "completion_tokens": generated, "model": model, "tokenizer": tok}


@pytest.fixture(scope="module")
def served(tiny_run):
    """The transformers engine on the run folder, started once for the module, always
    stopped."""
    with Served(tiny_run, engine="transformers", ready_timeout=120) as server:
        yield server
    assert server.proc is None


def teacher_answer(url: str, model: str, params: dict, messages=MESSAGES, api_key=None):
    return helpers.teacher_answer(url, model, params, messages, api_key)


def openai_client(url: str, api_key: str = "x"):
    import openai

    return openai.OpenAI(base_url=url, api_key=api_key, max_retries=0, timeout=60)


@pytest.fixture
def client(served):
    """The `openai` SDK on the served run, closed after the test."""
    with openai_client(served.url) as c:
        yield c


# -- the transformers engine ----------------------------------------------------------------


@pytest.mark.slow
def test_the_teacher_reads_transformers_own_greedy_answer(served, reference):
    assert (served.engine, served.model) == ("transformers", RUN_ID)
    assert reference["text"] != reference["base_text"]  # the adapter matters
    answer = teacher_answer(served.url, served.model,
                            {"temperature": 0, "max_tokens": MAX_TOKENS})
    assert answer.text == reference["text"]
    assert answer.model == RUN_ID
    assert (answer.tokens_in, answer.tokens_out) == (reference["prompt_tokens"],
                                                     reference["completion_tokens"])
    assert answer.finish_reason == ("length" if reference["completion_tokens"] == MAX_TOKENS
                                    else "stop")


@pytest.mark.slow
def test_openai_sdk_streams_the_same_answer(client, reference):
    assert [m.id for m in client.models.list().data] == [RUN_ID]
    chunks = list(client.chat.completions.create(
        model=RUN_ID, messages=MESSAGES, temperature=0, max_tokens=MAX_TOKENS, stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reference["text"]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")
    assert chunks[-1].usage.prompt_tokens == reference["prompt_tokens"]
    # structured output is taken and ignored; requests queue behind the one model
    answers = []

    def one(n):
        fmt = [{"type": "json_object"}, {"type": "json_schema", "json_schema": {
            "name": "x", "schema": {"type": "object"}}}, {"type": "text"}][n % 3]
        r = client.chat.completions.create(model="any", messages=MESSAGES, temperature=0,
                                           max_tokens=MAX_TOKENS, response_format=fmt)
        answers.append(r.choices[0].message.content)

    assert run_together(one, 3) == []
    assert answers == [reference["text"]] * 3


@pytest.mark.slow
def test_completions_and_stop_strings(client, reference):
    text = reference["text"]
    # two characters from the middle of the answer (no half-decoded byte among them)
    stop = next(text[i:i + 2] for i in range(2, len(text) - 1) if "\ufffd" not in text[i:i + 2])
    before = text[:text.index(stop)]
    r = client.chat.completions.create(model=RUN_ID, messages=MESSAGES, temperature=0,
                                       max_tokens=MAX_TOKENS, stop=[stop])
    assert r.choices[0].message.content == before
    assert r.choices[0].finish_reason == "stop"
    streamed = client.chat.completions.create(model=RUN_ID, messages=MESSAGES, temperature=0,
                                              max_tokens=MAX_TOKENS, stop=stop, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == before
    done = client.completions.create(model=RUN_ID, prompt="the bus", temperature=0,
                                     max_tokens=5)
    assert done.object == "text_completion" and done.usage.completion_tokens <= 5
    assert done.choices[0].finish_reason in ("stop", "length")


@pytest.mark.slow
def test_bad_requests_are_openai_shaped_400s(served):
    url = served.url
    cases = [
        ("chat/completions", {"model": RUN_ID}, "'messages'"),
        ("chat/completions", {"messages": [{"role": "user", "content": "hi"}],
                              "temperature": 9}, "'temperature'"),
        ("chat/completions", {"messages": [{"role": "user", "content": "hi"}], "n": 2}, "n=1"),
        ("chat/completions", {"messages": [{"role": "user", "content": "hi"}],
                              "response_format": {"type": "xml"}}, "response_format"),
        ("completions", {"prompt": {"no": 1}}, "'prompt'"),
        ("completions", {"prompt": "x " * 600}, "maximum context length is 512"),
    ]
    for path, body, words in cases:
        r = httpx.post(f"{url}/{path}", json=body, timeout=30)
        assert r.status_code == 400, (body, r.text)
        error = r.json()["error"]
        assert words in error["message"] and error["type"] == "invalid_request_error", error
    r = httpx.post(f"{url}/chat/completions", content=b"{not json", timeout=30)
    assert r.status_code == 400 and "not JSON" in r.json()["error"]["message"]
    r = httpx.get(f"{url}/nowhere", timeout=30)
    assert r.status_code == 404 and "error" in r.json()
    assert httpx.get(f"{served.root}/health", timeout=30).json() == {"status": "ok"}


@pytest.mark.slow
def test_an_api_key_is_required_when_set(reference):
    """In process: the same server code with a key, on the reference model."""
    from trainer.serve import Engine, Server

    server = Server(("127.0.0.1", 0), Engine(reference["model"], reference["tokenizer"]), "m",
                    api_key="s3cret")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        import openai

        with openai_client(server.url, "wrong") as client, \
                pytest.raises(openai.AuthenticationError) as e:
            client.models.list()
        assert e.value.response.json()["error"]["code"] == "invalid_api_key"
        assert httpx.post(f"{server.url}/chat/completions", json={}).status_code == 401
        assert httpx.get(server.url.replace("/v1", "/health")).status_code == 200
        answer = teacher_answer(server.url, "m", {"temperature": 0, "max_tokens": MAX_TOKENS},
                                api_key="s3cret")
        assert answer.text == reference["text"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_a_non_loopback_host_needs_an_api_key(tmp_path):
    r = subprocess.run([sys.executable, "-m", "trainer.serve", str(tmp_path), "--host",
                        "0.0.0.0"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2 and "without --api-key" in r.stderr
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": "someone/base"}))
    with pytest.raises(ValueError, match="without an API key"):
        Served(tmp_path, host="0.0.0.0")
    served = Served(tmp_path, host="0.0.0.0", api_key="k")
    assert "k" not in served.command()  # the key travels in the environment, not in `ps`
    assert key_env(served.engine, "k") == {"SFT_STUDIO_SERVE_API_KEY": "k"}


@pytest.mark.slow
def test_a_server_that_cannot_start_fails_fast_with_its_output(tmp_path):
    merged = tmp_path / "broken-run" / "merged"
    merged.mkdir(parents=True)
    (merged / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    server = Served(tmp_path / "broken-run", ready_timeout=120, log_path=tmp_path / "serve.log")
    with pytest.raises(RuntimeError, match="exited with 1") as e:
        server.start()
    assert "cannot load" in str(e.value) and str(tmp_path / "serve.log") in str(e.value)
    assert server.proc is None


def test_stop_strings_and_half_characters_are_held_back():
    from trainer.serve import held_back, stop_at

    assert stop_at("one two. three", ["two", "."]) == 4
    assert stop_at("one", ["two"]) is None
    assert held_back("hello <|e", ["<|end|>"]) == 3  # may yet become the stop string
    assert held_back("hello <", ["<|end|>", "\n\n"]) == 1
    assert held_back("caf\ufffd", []) == 1  # the rest of é is still to come
    assert held_back("hello", ["<|end|>"]) == 0


# -- choosing the engine --------------------------------------------------------------------


def _run_folder(tmp_path, gguf=None, adapter=True):
    run = tmp_path / "runs" / RUN_ID
    run.mkdir(parents=True)
    if adapter:
        (run / "adapter").mkdir()
        (run / "adapter" / "adapter_config.json").write_text(
            json.dumps({"base_model_name_or_path": "base"}))
    if gguf is not None:
        (run / "gguf").mkdir()
        shutil.copy(gguf, run / "gguf" / "model-q8_0.gguf")
    return run


def test_pick_engine_prefers_a_gguf_llama_cpp_can_serve(tmp_path, monkeypatch):
    import trainer.serve_engines as engines

    run = _run_folder(tmp_path)
    (run / "gguf").mkdir()
    (run / "gguf" / "model.gguf").write_bytes(b"GGUF")
    monkeypatch.setattr(engines, "llama_cpp_launcher", lambda: ["llama-server"])
    assert pick_engine(run, None) == "llama.cpp"
    assert pick_engine(run, "auto") == "llama.cpp"
    assert pick_engine(run, "transformers") == "transformers"
    monkeypatch.setattr(engines, "llama_cpp_launcher", lambda: None)
    assert pick_engine(run, None) == "transformers"
    with pytest.raises(ValueError, match=r"llama-cpp-python\[server\]"):
        pick_engine(run, "llama.cpp")


def test_pick_engine_says_what_is_missing(tmp_path):
    run = _run_folder(tmp_path)
    assert pick_engine(run, None) == "transformers"
    assert pick_engine(run / "adapter", None) == "transformers"
    with pytest.raises(ValueError, match="no .gguf file in"):
        pick_engine(run, "llama.cpp")
    with pytest.raises(ValueError, match="unknown engine 'vllm'"):
        pick_engine(run, "vllm")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="cannot serve .*: no model in"):
        pick_engine(tmp_path / "empty", None)
    moved = json.dumps({"base_model_name_or_path": str(tmp_path / "gone")})
    (run / "adapter" / "adapter_config.json").write_text(moved)
    with pytest.raises(ValueError, match="base model .*gone is not there"):
        pick_engine(run, "transformers")


def test_commands(tmp_path, llama_gguf):
    run = _run_folder(tmp_path, gguf=llama_gguf)
    argv = command("llama.cpp", run, host="127.0.0.1", port=8123, name="mine")
    assert argv[:3] == [sys.executable, "-m", "llama_cpp.server"]
    flags = dict(zip(argv[3::2], argv[4::2]))
    assert flags["--model"] == str(run / "gguf" / "model-q8_0.gguf")
    assert (flags["--host"], flags["--port"], flags["--model_alias"]) == (
        "127.0.0.1", "8123", "mine")
    # the GGUF's own template, not a built-in chat format
    assert flags["--chat_format"] == "chat_template.default"
    from tiny_gguf import CHATML_TEMPLATE

    assert gguf_chat_template(llama_gguf) == CHATML_TEMPLATE
    argv = command("transformers", run, host="127.0.0.1", port=0, name="mine",
                   adapter=run / "adapter")
    assert argv == [sys.executable, "-m", "trainer.serve", str(run), "--host", "127.0.0.1",
                    "--port", "0", "--name", "mine", "--adapter", str(run / "adapter")]
    with pytest.raises(ValueError, match="PEFT adapter needs the transformers engine"):
        command("llama.cpp", run, host="127.0.0.1", port=1, name="x", adapter=run / "adapter")


# -- the llama.cpp engine -------------------------------------------------------------------


@pytest.mark.slow
def test_llama_cpp_serves_the_gguf_with_its_own_template(tmp_path, llama_gguf):
    from tiny_gguf import A_WORDS, UNCONSTRAINED_ANSWER

    run = _run_folder(tmp_path, gguf=llama_gguf)
    with Served(run, name="tiny-markov", ready_timeout=120) as server:
        assert server.engine == "llama.cpp" and server.model == "tiny-markov"
        messages = [{"role": "system", "content": "You write training examples as JSON."},
                    {"role": "user", "content": "Write one example about a late bus."}]
        answer = teacher_answer(server.url, server.model, {"temperature": 0, "max_tokens": 64},
                                messages=messages)
        example = json.loads(answer.text)
        assert answer.text == UNCONSTRAINED_ANSWER % example["input"]
        assert example["input"].startswith(tuple(A_WORDS))
        assert answer.finish_reason == "stop"
        pid = server.proc.pid
    assert server.proc is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.slow
def test_a_llama_server_on_path_serves_the_gguf(tmp_path, llama_gguf, monkeypatch):
    """Without llama-cpp-python's server, a `llama-server` on PATH (here the native build of
    tests/setup_llama_cpp.sh) serves it, rendering the GGUF's template (--jinja)."""
    from llama_server import native_server_binary
    from tiny_gguf import UNCONSTRAINED_ANSWER

    import trainer.serve_engines as engines

    binary = native_server_binary(USER_CACHE)
    if binary is None:
        pytest.skip("llama.cpp's llama-server is not built: bash tests/setup_llama_cpp.sh")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "llama-server").symlink_to(binary)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(engines, "SERVER_MODULES", ("no_such_module_for_the_test",))
    run = _run_folder(tmp_path, gguf=llama_gguf)
    with Served(run, ready_timeout=120) as server:
        assert server.command()[:1] == [str(tmp_path / "bin" / "llama-server")]
        assert "--jinja" in server.command() and server.model == RUN_ID
        answer = teacher_answer(server.url, server.model, {"temperature": 0, "max_tokens": 64},
                                messages=[{"role": "user", "content": "An example, please."}])
        assert answer.text == UNCONSTRAINED_ANSWER % json.loads(answer.text)["input"]
    assert server.proc is None


@pytest.mark.slow
def test_a_served_key_travels_in_the_environment_and_is_enforced(tiny_run):
    """Served with an API key: the child's argv never holds it, requests without it get 401,
    the studio's teacher client with it gets its answer."""
    import openai

    with Served(tiny_run, engine="transformers", ready_timeout=120, api_key="s3cret") as server:
        argv = open(f"/proc/{server.proc.pid}/cmdline", "rb").read().split(b"\0")
        assert b"s3cret" not in b" ".join(argv)
        with openai_client(server.url, "wrong") as c, pytest.raises(openai.AuthenticationError):
            c.models.list()
        answer = teacher_answer(server.url, server.model, {"temperature": 0, "max_tokens": 4},
                                api_key="s3cret")
        assert answer.tokens_out > 0
