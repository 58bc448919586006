"""The teacher: `openai.AsyncOpenAI` over one or more OpenAI-compatible endpoints, with the
studio's own retries (the SDK's are off), backoff with jitter that honours Retry-After, a
per-request timeout, and structured output where the server takes it.

The key lives only in this object (and the SDK client): it is never part of a request hash, a
stored request, a log line or the config's repr.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import os
import random
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

DEFAULT_BASE_URL = "https://api.openai.com/v1"
LOCAL_KEY = "sk-local-placeholder"  # local servers ignore the key, but the SDK wants one


class TeacherError(Exception):
    """A request that did not get an answer. `fatal` stops the whole job (a wrong key, an
    unknown model): retrying the other items would fail the same way."""

    def __init__(self, reason: str, *, fatal: bool = False, attempts: int = 0):
        super().__init__(reason)
        self.reason, self.fatal, self.attempts = reason, fatal, attempts


def is_local(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).is_private
    except ValueError:
        return False


@dataclass
class TeacherConfig:
    model: str = field(metadata={"help": "model name as the endpoint knows it"})
    base_urls: list[str] = field(default_factory=lambda: [DEFAULT_BASE_URL],
                                 metadata={"help": "one or more endpoints sharing the work"})
    api_key: str | None = field(default=None, repr=False,
                                metadata={"help": "from OPENAI_API_KEY or the UI session"})
    concurrency: int = field(default=16, metadata={"help": "requests in flight at most"})
    timeout: float = field(default=60.0, metadata={"help": "seconds per request"})
    max_attempts: int = field(default=6, metadata={"help": "tries per request, the first included"})
    backoff_base: float = field(default=0.5, metadata={"help": "first retry waits up to this"})
    backoff_max: float = field(default=30.0, metadata={"help": "no retry waits longer"})
    structured: str = field(default="auto", metadata={
        "help": "JSON-schema response_format: auto (use it, drop it if refused), on, off"})
    price_in: float = field(default=0.0, metadata={"help": "USD per million prompt tokens"})
    price_out: float = field(default=0.0, metadata={"help": "USD per million answer tokens"})

    def __post_init__(self):
        self.base_urls = [u.rstrip("/") for u in self.base_urls if u and u.strip()]
        if not self.model or not self.model.strip():
            raise ValueError("name the teacher model (--model, or OPENAI_MODEL)")
        if not self.base_urls:
            raise ValueError("give at least one base URL")
        for url in self.base_urls:
            if urlparse(url).scheme not in ("http", "https") or not urlparse(url).hostname:
                raise ValueError(f"base URL {url!r} is not an http(s) URL")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.timeout <= 0 or self.max_attempts < 1:
            raise ValueError("timeout must be positive and max_attempts at least 1")
        if self.structured not in ("auto", "on", "off"):
            raise ValueError("structured must be auto, on or off")
        if not self.api_key:
            if all(is_local(u) for u in self.base_urls):
                self.api_key = LOCAL_KEY
            else:
                raise ValueError("no API key: set OPENAI_API_KEY (or enter it in the app); "
                                 "for a local server any placeholder works")

    @classmethod
    def from_env(cls, environ=None, **overrides) -> "TeacherConfig":
        env = os.environ if environ is None else environ
        given = {k: v for k, v in overrides.items() if v not in (None, [], "")}
        given.setdefault("model", env.get("OPENAI_MODEL", ""))
        given.setdefault("base_urls", [env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL])
        given.setdefault("api_key", env.get("OPENAI_API_KEY"))
        return cls(**given)

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.price_in + tokens_out * self.price_out) / 1e6


@dataclass
class Answer:
    text: str
    finish_reason: str | None
    tokens_in: int
    tokens_out: int
    latency_ms: float
    attempts: int = 1


class _Endpoint:
    def __init__(self, url: str, client):
        self.url, self.client = url, client
        self.in_flight = 0
        self.structured = True  # until the server refuses response_format


class Teacher:
    """Sends chat completions. Use `async with Teacher(config) as t: await t.complete(...)`."""

    def __init__(self, config: TeacherConfig):
        from openai import AsyncOpenAI

        self.config = config
        self.endpoints = [
            _Endpoint(url, AsyncOpenAI(base_url=url, api_key=config.api_key, max_retries=0,
                                       timeout=config.timeout))
            for url in config.base_urls
        ]
        if config.structured == "off":
            for e in self.endpoints:
                e.structured = False
        self._rng = random.Random()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.aclose()

    async def aclose(self):
        for e in self.endpoints:
            await e.client.close()

    def _pick(self, avoid: _Endpoint | None = None) -> _Endpoint:
        choices = [e for e in self.endpoints if e is not avoid] or self.endpoints
        return min(choices, key=lambda e: e.in_flight)

    async def complete(self, messages: list[dict], params: dict, schema: dict | None = None,
                       should_stop=None) -> Answer:
        """One answer, retried on 429, 5xx, timeouts, dropped connections and garbled bodies.
        Raises TeacherError with the last reason when the attempts run out."""
        import openai

        cfg, last, endpoint = self.config, "no attempt made", None
        for attempt in range(1, cfg.max_attempts + 1):
            endpoint = self._pick(avoid=endpoint if len(self.endpoints) > 1 else None)
            kwargs = dict(params)
            if schema is not None and endpoint.structured:
                # As a plain body field: the SDK's typed transform of a nested schema costs
                # more CPU than the rest of the request (profiled), and the wire is the same.
                kwargs["extra_body"] = {"response_format": {"type": "json_schema", "json_schema": {
                    "name": "example", "schema": schema, "strict": True}}}
            wait = None
            endpoint.in_flight += 1
            start = time.perf_counter()
            try:
                resp = await endpoint.client.chat.completions.create(
                    model=cfg.model, messages=messages, **kwargs)
                return _answer(resp, start, attempt)
            except openai.BadRequestError as e:
                if "extra_body" in kwargs and cfg.structured == "auto" and _about_format(e):
                    endpoint.structured = False  # this server has no JSON-schema mode
                    last = f"{endpoint.url} refused response_format; asking without it"
                    wait = 0.0
                else:
                    raise TeacherError(f"HTTP 400 from {endpoint.url}: {_msg(e)}",
                                       attempts=attempt) from None
            except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
                raise TeacherError(f"HTTP {e.status_code} from {endpoint.url}: the key was "
                                   f"refused ({_msg(e)})", fatal=True, attempts=attempt) from None
            except openai.NotFoundError as e:
                raise TeacherError(f"HTTP 404 from {endpoint.url}: no model {cfg.model!r} or "
                                   f"no chat endpoint there ({_msg(e)})", fatal=True,
                                   attempts=attempt) from None
            except openai.APIStatusError as e:
                if e.status_code not in (408, 409, 425, 429) and e.status_code < 500:
                    raise TeacherError(f"HTTP {e.status_code} from {endpoint.url}: {_msg(e)}",
                                       attempts=attempt) from None
                last = f"HTTP {e.status_code} from {endpoint.url}: {_msg(e)}"
                wait = _retry_after(e.response)
            except openai.APITimeoutError:
                last = f"no answer from {endpoint.url} within {cfg.timeout:g}s"
            except openai.APIConnectionError as e:
                last = f"connection to {endpoint.url} failed: {_cause(e)}"
            except (openai.APIResponseValidationError, ValueError, AttributeError,
                    TypeError) as e:
                last = f"unreadable response from {endpoint.url}: {type(e).__name__}: {e}"
            finally:
                endpoint.in_flight -= 1
            if attempt == cfg.max_attempts or (should_stop is not None and should_stop()):
                break
            await asyncio.sleep(self._backoff(attempt, wait))
        raise TeacherError(f"{last} (gave up after {attempt} attempts)", attempts=attempt)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cfg = self.config
        if retry_after is not None:  # the server said when: wait that long, plus a little
            return min(cfg.backoff_max, retry_after) + self._rng.uniform(0, cfg.backoff_base / 4)
        return self._rng.uniform(0, min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempt - 1)))

    async def check(self) -> list[dict]:
        """Test each endpoint with a one-token request: ok, latency, or the reason it failed."""
        out = []
        for e in self.endpoints:
            start = time.perf_counter()
            try:
                await e.client.chat.completions.create(
                    model=self.config.model, max_tokens=1,
                    messages=[{"role": "user", "content": "Say ok."}])
                out.append({"base_url": e.url, "ok": True,
                            "latency_ms": round((time.perf_counter() - start) * 1000, 1)})
            except Exception as exc:  # reported, not raised: this is a diagnosis
                out.append({"base_url": e.url, "ok": False,
                            "error": f"{type(exc).__name__}: {_msg(exc)}"})
        return out


def run_sync(coro):
    """asyncio.run from synchronous code, even in a thread whose event loop is running (a
    notebook, a browser-test driver): the coroutine then gets a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _answer(resp, start: float, attempt: int) -> Answer:
    latency = (time.perf_counter() - start) * 1000
    if not getattr(resp, "choices", None):
        raise ValueError("the response has no choices")
    choice = resp.choices[0]
    text = choice.message.content
    if text is None:
        raise ValueError("the answer has no content")
    usage = getattr(resp, "usage", None)
    tokens_in = getattr(usage, "prompt_tokens", None) or 0
    tokens_out = getattr(usage, "completion_tokens", None)
    if tokens_out is None:  # servers without usage: a rough count, so budgets still bite
        tokens_out = max(1, len(text) // 4)
    return Answer(text, choice.finish_reason, int(tokens_in), int(tokens_out), latency, attempt)


def _about_format(e) -> bool:
    text = f"{_msg(e)} {getattr(e, 'param', '')}".lower()
    return any(w in text for w in ("response_format", "json_schema", "structured", "schema"))


_KEYISH = re.compile(r"\b(sk|gsk|key|tok)[-_][A-Za-z0-9_*.\-]{3,}", re.I)


def _msg(e) -> str:
    """The server's error message, with anything that looks like a key (servers echo masked
    keys back: 'Incorrect API key provided: sk-ab***yz') cut out before it is stored."""
    body = getattr(e, "body", None)
    text = None
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            text = str(err["message"])
    text = text or str(getattr(e, "message", None) or e)
    return _KEYISH.sub("[key]", text)[:300]


def _cause(e) -> str:
    cause = e.__cause__ or e.__context__
    return f"{type(cause).__name__}: {cause}"[:200] if cause else str(e)[:200]


def _retry_after(response) -> float | None:
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
