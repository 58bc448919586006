"""What a server's error says, in one line a person can act on, and what kind of error it is.

Servers answer in several shapes: OpenAI's {"error": {"message"}}, FastAPI's {"detail": "..."}
(llama-cpp-python's 401) or its validation list, pydantic's validation text with a stack frame
(llama-cpp-python's 500 for a response_format it does not take), plain text. Anything that looks
like a key is cut out before a message is stored.
"""

from __future__ import annotations

import email.utils
import re
import time

_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "structured", "schema",
                 "grammar")


def refuses_format(e) -> bool:
    """A refusal of the request's response_format: a 400 or 422 (vLLM, OpenAI, FastAPI's
    validation), or a 500 whose message names it (llama-cpp-python answers an unknown type with
    500 "Input should be 'text' or 'json_object'"). A 500 that says nothing of it is an
    overload, retried as such."""
    status = getattr(e, "status_code", None)
    if status not in (400, 422, 500):
        return False
    text = f"{message(e, 2000)} {getattr(e, 'param', '') or ''}".lower()
    return any(w in text for w in _FORMAT_WORDS)


def is_validation(e) -> bool:
    """A request the server's validation refused, sent as a 500 (llama-cpp-python does): asking
    again cannot help, unlike an overload."""
    body = getattr(e, "body", None)
    err = body.get("error", body) if isinstance(body, dict) else body
    text = str(err.get("message", "") if isinstance(err, dict) else err or "")
    return "validation error" in text and bool(_PYDANTIC.search(text))


_KEYISH = re.compile(r"\b(sk|gsk|key|tok)[-_][A-Za-z0-9_*.\-]{3,}", re.I)


def message(e, limit: int = 300) -> str:
    """The server's error message, one line: OpenAI's {"error": {"message"}}, FastAPI's
    {"detail": "..."} or its validation list, or the text of the body. A traceback becomes its
    last line. Anything that looks like a key (servers echo masked keys back: 'Incorrect API key
    provided: sk-ab***yz') is cut out before it is stored."""
    body = getattr(e, "body", None)
    text = None
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            text = str(err["message"])
        elif isinstance(err, str) and err.strip():
            text = err
        elif "detail" in body:
            text = _detail(body["detail"])
    elif isinstance(body, str) and body.strip():
        text = body
    text = one_line(text or str(getattr(e, "message", None) or e))
    return _KEYISH.sub("[key]", text)[:limit]


def _detail(detail) -> str:
    """FastAPI's detail: a string, or a list of {loc, msg} validation errors."""
    if isinstance(detail, list):
        parts = []
        for d in detail[:3]:
            if isinstance(d, dict):
                loc = ".".join(str(x) for x in d.get("loc", []) if x != "body")
                parts.append(f"{loc}: {d.get('msg', '')}" if loc else str(d.get("msg", "")))
            else:
                parts.append(str(d))
        return "; ".join(parts)
    return str(detail)


_PYDANTIC = re.compile(r"""'loc': \(([^)]*)\), 'msg': (?:"([^"]*)"|'([^']*)')""")


def one_line(text: str) -> str:
    """A server's message as one line: pydantic's validation errors (llama-cpp-python sends
    them as a 500 with a stack trace) become `loc: msg`, a Python traceback becomes its last
    line (the error itself), and the lines before any stack frame are joined."""
    found = _PYDANTIC.findall(str(text))
    if found:
        return "; ".join(
            ".".join(p.strip(" '\"") for p in loc.split(",") if p.strip(" '\"") not in ("", "body"))
            + f": {a or b}" for loc, a, b in found[:3])
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    if not lines:
        return ""
    if lines[0].startswith("Traceback"):
        return lines[-1]
    frame = next((i for i, ln in enumerate(lines) if ln.startswith('File "')), len(lines))
    return " / ".join(lines[:frame] or lines[-1:])


def explain(exc, url: str, model: str) -> str:
    """Test connection's words for a failure."""
    import openai

    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return f"HTTP {exc.status_code}: the key was refused ({message(exc)})"
    if isinstance(exc, openai.NotFoundError):
        return (f"HTTP 404: no model {model!r} or no chat endpoint at {url}; check the model "
                f"name and that the URL ends in /v1 ({message(exc)})")
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {message(exc)}"
    if isinstance(exc, openai.APITimeoutError):
        return "no answer within the timeout"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot connect: {cause(exc)}"
    return f"{type(exc).__name__}: {message(exc)}"


def cause(e) -> str:
    cause = e.__cause__ or e.__context__
    while cause is not None and (cause.__cause__ or cause.__context__) is not None \
            and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__  # down to the socket's own error
    return one_line(f"{type(cause).__name__}: {cause}")[:200] if cause else one_line(str(e))[:200]


def retry_after(response) -> float | None:
    """Seconds from Retry-After (seconds or an HTTP date) or retry-after-ms, if given."""
    if response is None:
        return None
    headers = response.headers
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None
