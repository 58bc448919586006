"""The bodies of OpenAI requests, read and checked for `python -m trainer.serve`.

Why apart: turning a JSON body into what the model takes (sampling settings, text-only chat
messages, a prompt string or token ids) is pure checking with no HTTP and no model in it, and
each refusal names the field at fault as OpenAI's errors do (RequestError's `param`).
"""

from __future__ import annotations

from trainer.serve_model import Params, RequestError, Result

FORMATS = ("text", "json_object", "json_schema")


def _number(body: dict, key: str, default, low: float, high: float, kind=float):
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or (kind is int and not float(value).is_integer()):
        raise RequestError(f"'{key}' must be a number", param=key)
    if not low <= value <= high:
        raise RequestError(f"'{key}' must be between {low:g} and {high:g}", param=key)
    return kind(value)


def params(body: dict, default_tokens: int) -> Params:
    """The sampling settings of a request, checked; response_format is taken and ignored."""
    if not isinstance(body.get("stream", False), bool):
        raise RequestError("'stream' must be true or false", param="stream")
    if body.get("n") not in (None, 1):
        raise RequestError("only n=1 is served", param="n")
    fmt = body.get("response_format")
    if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") not in FORMATS):
        raise RequestError(f"'response_format.type' must be one of {', '.join(FORMATS)}",
                           param="response_format")
    stop = body.get("stop")
    stop = [stop] if isinstance(stop, str) else stop
    if stop is not None and (not isinstance(stop, list)
                             or not all(isinstance(s, str) and s for s in stop)):
        raise RequestError("'stop' must be a string or a list of strings", param="stop")
    key = "max_completion_tokens" if body.get("max_completion_tokens") is not None \
        else "max_tokens"
    return Params(max_tokens=_number(body, key, default_tokens, 1, 1 << 20, int),
                  temperature=_number(body, "temperature", 1.0, 0, 2),
                  top_p=_number(body, "top_p", 1.0, 0, 1),
                  stop=stop or [], seed=_number(body, "seed", None, -(1 << 63), (1 << 64) - 1, int))


def messages(body: dict) -> list[dict]:
    """The chat messages as the template takes them: text content only."""
    given = body.get("messages")
    if not isinstance(given, list) or not given:
        raise RequestError("'messages' must be a non-empty list", param="messages")
    out = []
    for m in given:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise RequestError("each message needs a 'role' and a 'content'", param="messages")
        out.append({"role": m["role"], "content": _content(m.get("content"))})
    return out


def _content(content) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text"
                                         and isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    raise RequestError("message content must be text (a string or text parts)",
                       param="messages")


def prompt_of(body: dict) -> str | list[int]:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if isinstance(prompt, str) or (isinstance(prompt, list) and prompt and all(
            isinstance(t, int) and not isinstance(t, bool) for t in prompt)):
        return prompt
    raise RequestError("'prompt' must be one string (or one list of token ids)", param="prompt")


def usage(result: Result) -> dict:
    return {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens}
