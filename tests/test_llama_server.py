"""The teacher protocol against real llama.cpp servers nobody here wrote, on the designed tiny
GGUF of tests/tiny_gguf.py: llama-cpp-python's `python -m llama_cpp.server` and llama.cpp's
native `llama-server` built from the llama.cpp that the same llama-cpp-python vendors
(tests/setup_llama_cpp.sh)."""

import json

import httpx
import pytest
from helpers import run_together
from tiny_gguf import A_WORDS, B_WORDS, C_WORDS, D_WORDS, UNCONSTRAINED_ANSWER

pytestmark = pytest.mark.slow

MESSAGES = [{"role": "system", "content": "You write training examples as JSON."},
            {"role": "user", "content": "Write one example about a late bus."}]

INPUT_SCHEMA = {"type": "object", "properties": {"input": {"type": "string"}},
                "required": ["input"], "additionalProperties": False}
OUTPUT_SCHEMA = {"type": "object", "properties": {"output": {"type": "string"}},
                 "required": ["output"], "additionalProperties": False}
LABEL_SCHEMA = {"type": "object",
                "properties": {"output": {"type": "string",
                                          "enum": ["positive", "negative", "neutral"]}},
                "required": ["output"], "additionalProperties": False}
JUDGE_SCHEMA = {"type": "object",
                "properties": {"rating": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
                               "reason": {"type": "string"}},
                "required": ["rating", "reason"], "additionalProperties": False}


def client(server, api_key="x"):
    import openai

    # No retries: the server answers some refusals with a 500, which the SDK would retry.
    return openai.OpenAI(base_url=server.url, api_key=api_key, max_retries=0, timeout=60)


def chat(server, **kw):
    kw.setdefault("model", "teacher-test")
    return client(server).chat.completions.create(messages=MESSAGES, **kw)


def is_generated_input(text: str) -> bool:
    return any(text == a + b + c + d for a in A_WORDS for b in B_WORDS for c in C_WORDS
               for d in D_WORDS)


def test_plain_chat_completion_answers_the_designed_json(llama_server):
    r = chat(llama_server, temperature=1.0, seed=7)
    content = r.choices[0].message.content
    answer = json.loads(content)
    assert is_generated_input(answer["input"]), answer
    assert content == UNCONSTRAINED_ANSWER % answer["input"]
    assert answer == {"input": answer["input"], "output": "neutral", "rating": 4,
                      "reason": "clear and faithful"}
    assert r.choices[0].finish_reason == "stop"
    assert r.model == "teacher-test"  # the server echoes the model asked for
    assert r.usage.completion_tokens == 12 and r.usage.prompt_tokens > 0


@pytest.mark.parametrize("schema, expected", [
    (INPUT_SCHEMA, {"input"}),
    (OUTPUT_SCHEMA, {"output": "neutral"}),
    (LABEL_SCHEMA, {"output": "neutral"}),
    (JUDGE_SCHEMA, {"rating": 4, "reason": "clear and faithful"}),
    (None, {"input", "output", "rating", "reason"}),
], ids=["input", "output", "label-enum", "judge", "any-json"])
def test_json_object_with_schema_is_shaped_by_the_grammar(llama_server, schema, expected):
    fmt = {"type": "json_object", **({"schema": schema} if schema else {})}
    r = chat(llama_server, response_format=fmt, seed=3)
    answer = json.loads(r.choices[0].message.content)
    assert r.choices[0].finish_reason == "stop"
    if isinstance(expected, set):
        assert set(answer) == expected and is_generated_input(answer["input"]), answer
    else:
        assert answer == expected


def test_seeds_vary_the_input_and_a_seed_repeats_it(llama_server):
    inputs = [json.loads(chat(llama_server, temperature=1.0, seed=s).choices[0].message.content)
              ["input"] for s in range(6)]
    assert all(is_generated_input(i) for i in inputs)
    assert len(set(inputs)) >= 3, inputs
    again = json.loads(chat(llama_server, temperature=1.0, seed=2).choices[0].message.content)
    assert again["input"] == inputs[2]


def test_concurrent_requests_all_answer(llama_server):
    answers = []

    def one(n):
        answers.append(json.loads(chat(llama_server, seed=n).choices[0].message.content))

    assert run_together(one, 6) == []
    assert len(answers) == 6 and all(a["output"] == "neutral" for a in answers)


def test_json_schema_response_format_is_refused(llama_server):
    import openai

    fmt = {"type": "json_schema",
           "json_schema": {"name": "example", "schema": INPUT_SCHEMA, "strict": True}}
    with pytest.raises(openai.InternalServerError) as e:
        chat(llama_server, response_format=fmt)
    # llama-cpp-python validates the body inside the handler: a 500, not a 400 or 422.
    assert e.value.status_code == 500
    error = e.value.response.json()["error"]
    assert error["type"] == "internal_server_error" and error["code"] is None
    assert "Input should be 'text' or 'json_object'" in error["message"]
    assert "'response_format', 'type'" in error["message"]


def test_a_prompt_longer_than_the_context_is_a_400(llama_server):
    import openai

    long = [{"role": "user", "content": "x" * (llama_server.n_ctx + 10)}]
    with pytest.raises(openai.BadRequestError) as e:
        client(llama_server).chat.completions.create(model="teacher-test", messages=long)
    assert e.value.status_code == 400
    error = e.value.response.json()["error"]
    assert error["code"] == "context_length_exceeded" and error["param"] == "messages"
    assert error["type"] == "invalid_request_error"
    assert f"maximum context length is {llama_server.n_ctx} tokens" in error["message"]


def test_models_lists_the_alias(llama_server):
    assert [m.id for m in client(llama_server).models.list().data] == ["teacher-test"]


def test_a_wrong_api_key_is_refused(llama_gguf, tmp_path):
    import openai
    from llama_server import LlamaServer

    with LlamaServer(llama_gguf, api_key="secret", n_ctx=512,
                     log_path=tmp_path / "server.log") as server:
        with pytest.raises(openai.AuthenticationError) as e:
            client(server, api_key="wrong").chat.completions.create(model="m",
                                                                    messages=MESSAGES)
        assert e.value.status_code == 401
        # FastAPI's HTTPException shape, not OpenAI's {"error": {...}}
        assert e.value.response.json() == {"detail": "Invalid API key"}
        missing = httpx.post(f"{server.url}/chat/completions", json={"messages": MESSAGES})
        assert (missing.status_code, missing.json()) == (401, {"detail": "Invalid API key"})
        r = client(server, api_key="secret").chat.completions.create(model="m",
                                                                     messages=MESSAGES)
        assert json.loads(r.choices[0].message.content)["rating"] == 4
    assert server.proc is None


# -- llama.cpp's native llama-server ------------------------------------------------------------

NATIVE_SCHEMA_CASES = pytest.mark.parametrize("schema, expected", [
    (INPUT_SCHEMA, {"input"}),
    (OUTPUT_SCHEMA, {"output": "neutral"}),
    (LABEL_SCHEMA, {"output": "neutral"}),
    (JUDGE_SCHEMA, {"rating": 4, "reason": "clear and faithful"}),
], ids=["input", "output", "label-enum", "judge"])


def check_shape(answer, expected):
    if isinstance(expected, set):
        assert set(answer) == expected and is_generated_input(answer["input"]), answer
    else:
        assert answer == expected


def refusal(server, status, **kw):
    """The (status code, JSON body) of a request the server refuses with `status`."""
    import openai

    kw.setdefault("messages", MESSAGES)
    kw.setdefault("model", "teacher-test")
    with pytest.raises(openai.APIStatusError) as e:
        client(server).chat.completions.create(**kw)
    assert e.value.status_code == status, e.value.response.text
    return e.value.response.json()


def test_native_plain_chat_completion_answers_the_designed_json(llama_native_server):
    r = chat(llama_native_server, temperature=1.0, seed=7)
    content = r.choices[0].message.content
    answer = json.loads(content)
    assert is_generated_input(answer["input"]), answer
    assert content == UNCONSTRAINED_ANSWER % answer["input"]
    assert r.choices[0].finish_reason == "stop"
    assert r.model == "teacher-test"
    # llama-server counts the end token (<|im_end|>) as well; llama_cpp.server says 11.
    assert r.usage.completion_tokens == 13 and r.usage.prompt_tokens > 0


def test_native_answers_with_its_alias_whatever_model_was_asked(llama_native_server):
    assert [m.id for m in client(llama_native_server).models.list().data] == ["teacher-test"]
    # Unlike llama_cpp.server, which echoes the request, llama-server names its own model.
    assert chat(llama_native_server, model="someone-else").model == "teacher-test"


@NATIVE_SCHEMA_CASES
def test_native_json_schema_response_format_constrains_the_answer(llama_native_server, schema,
                                                                  expected):
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    r = chat(llama_native_server, response_format=fmt, seed=3)
    assert r.choices[0].finish_reason == "stop"
    check_shape(json.loads(r.choices[0].message.content), expected)


@NATIVE_SCHEMA_CASES
def test_native_json_object_with_schema_constrains_the_answer(llama_native_server, schema,
                                                              expected):
    r = chat(llama_native_server, response_format={"type": "json_object", "schema": schema},
             seed=3)
    assert r.choices[0].finish_reason == "stop"
    check_shape(json.loads(r.choices[0].message.content), expected)


def test_native_json_object_without_schema_is_any_object(llama_native_server):
    r = chat(llama_native_server, response_format={"type": "json_object"}, seed=3)
    check_shape(json.loads(r.choices[0].message.content), {"input", "output", "rating", "reason"})


def test_native_an_unknown_response_format_type_is_a_400(llama_native_server):
    body = refusal(llama_native_server, 400, response_format={"type": "foo"})
    assert body == {"error": {"code": 400, "type": "invalid_request_error", "message":
                              'response_format type must be one of "text" or "json_object", '
                              "but got: foo"}}


@pytest.mark.parametrize("schema, reason", [
    ({"type": "foo"}, "JSON schema error at #: unrecognized type foo"),
    ({"$ref": "https://example.com/x.json"},
     ("JSON schema error at #: unsupported $ref https://example.com/x.json, only references "
      "into the same document are supported")),
], ids=["unknown-type", "remote-ref"])
def test_native_a_schema_it_cannot_compile_is_a_400(llama_native_server, schema, reason):
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    body = refusal(llama_native_server, 400, response_format=fmt)
    assert body == {"error": {"code": 400, "type": "invalid_request_error", "message":
                              "Unable to generate parser for this template. Automatic parser "
                              f"generation failed: {reason}"}}


def test_native_a_prompt_longer_than_the_context_is_a_400(llama_native_server):
    n_ctx = llama_native_server.n_ctx
    long = [{"role": "user", "content": "x" * (n_ctx + 10)}]
    body = refusal(llama_native_server, 400, messages=long)
    # One byte token per character, plus the ChatML wrapping around it.
    n_prompt = body["error"]["n_prompt_tokens"]
    assert n_ctx + 10 < n_prompt < n_ctx + 40
    assert body == {"error": {"code": 400, "type": "exceed_context_size_error",
                              "n_prompt_tokens": n_prompt, "n_ctx": n_ctx, "message":
                              f"request ({n_prompt} tokens) exceeds the available context size "
                              f"({n_ctx} tokens), try increasing it"}}


def test_native_seeds_vary_the_input_and_a_seed_repeats_it(llama_native_server):
    def input_for(seed):
        r = chat(llama_native_server, temperature=1.0, seed=seed)
        return json.loads(r.choices[0].message.content)["input"]

    inputs = [input_for(s) for s in range(6)]
    assert all(is_generated_input(i) for i in inputs)
    assert len(set(inputs)) >= 3, inputs
    assert input_for(2) == inputs[2]


def test_native_concurrent_requests_all_answer(llama_native_server):
    answers = []

    def one(n):
        answers.append(json.loads(chat(llama_native_server, seed=n).choices[0].message.content))

    assert run_together(one, 6) == []
    assert len(answers) == 6 and all(a["output"] == "neutral" for a in answers)


def test_native_a_wrong_api_key_is_refused(llama_native_server, llama_gguf, tmp_path):
    import openai
    from llama_server import NativeLlamaServer

    refused = {"error": {"message": "Invalid API Key", "type": "authentication_error",
                         "code": 401}}  # OpenAI's shape, unlike llama_cpp.server's
    # The session server's binary: inside a test SFT_STUDIO_CACHE is a temporary folder.
    with NativeLlamaServer(llama_gguf, binary=llama_native_server.binary, api_key="secret",
                           n_ctx=512, log_path=tmp_path / "server.log") as server:
        with pytest.raises(openai.AuthenticationError) as e:
            client(server, api_key="wrong").chat.completions.create(model="m",
                                                                    messages=MESSAGES)
        assert (e.value.status_code, e.value.response.json()) == (401, refused)
        missing = httpx.post(f"{server.url}/chat/completions", json={"messages": MESSAGES})
        assert (missing.status_code, missing.json()) == (401, refused)
        models = httpx.get(f"{server.url}/models")
        assert (models.status_code, models.json()) == (401, refused)
        health = httpx.get(f"{server.root}/health")  # public
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        r = client(server, api_key="secret").chat.completions.create(model="m",
                                                                     messages=MESSAGES)
        assert json.loads(r.choices[0].message.content)["rating"] == 4
        assert r.model == str(llama_gguf)  # no --alias: the model's path
    assert server.proc is None
