"""The teacher protocol against a real llama.cpp server nobody here wrote: llama-cpp-python's
`python -m llama_cpp.server` on the designed tiny GGUF of tests/tiny_gguf.py."""

import json

import httpx
import pytest
from conftest import run_together
from tiny_gguf import A_WORDS, B_WORDS, C_WORDS, UNCONSTRAINED_ANSWER

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
    return any(text == a + b + c for a in A_WORDS for b in B_WORDS for c in C_WORDS)


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
    assert r.usage.completion_tokens == 11 and r.usage.prompt_tokens > 0


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
