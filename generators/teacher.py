"""The teacher: `openai.AsyncOpenAI` over one or more OpenAI-compatible endpoints, with the
studio's own retries (the SDK's are off), backoff with jitter that honours Retry-After, a
per-request timeout, and structured output where the server takes it.

The key lives only in this object (and the SDK client): it is never part of a request hash, a
stored request, a log line or the config's repr.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import random
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

from generators.flow import AdaptiveLimit, Breaker
from generators.server_errors import (
    cause,
    explain,
    is_validation,
    message,
    refuses_format,
    retry_after,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
LOCAL_KEY = "sk-local-placeholder"  # local servers ignore the key, but the SDK wants one


class TeacherError(Exception):
    """A request that did not get an answer. `fatal` stops the whole job (every endpoint refused
    the key or the model, or could not be reached): retrying the other items would fail the same
    way. `attempts` counts the HTTP calls made for it."""

    def __init__(self, reason: str, *, fatal: bool = False, attempts: int = 0):
        super().__init__(reason)
        self.reason, self.fatal, self.attempts = reason, fatal, attempts


# Structured output, strongest first. `auto` walks this chain per endpoint, moving on when the
# server refuses a format; an explicit mode sends its one format (or none for `off`).
FORMATS = ("json_schema", "json_object+schema", "json_object", "off")
STRUCTURED = ("auto", "json_schema", "json_object", "off")
_ALIASES = {"on": "json_schema"}  # the name used before the chain existed
UNREACHABLE_AFTER = 3  # connection failures in a row, before any answer, that drop an endpoint


def response_format(fmt: str, schema: dict) -> dict | None:
    """The response_format body for one format: OpenAI's and vLLM's json_schema; llama.cpp's
    json_object with the schema beside it (llama-cpp-python and llama-server constrain the output
    to it); plain JSON mode; none."""
    if fmt == "json_schema":
        return {"type": "json_schema",
                "json_schema": {"name": "example", "schema": schema, "strict": True}}
    if fmt == "json_object+schema":
        return {"type": "json_object", "schema": schema}
    if fmt == "json_object":
        return {"type": "json_object"}
    return None


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
    concurrency: int = field(default=16, metadata={
        "help": "requests in flight at most, per endpoint and in all (the adaptive limit's "
                "ceiling)"})
    adaptive: bool = field(default=True, metadata={
        "help": "find the concurrency each endpoint can take (start low, grow while answers "
                "come back quickly, cut on 429, 503, timeouts and queueing); off: always "
                "`concurrency` in flight"})
    timeout: float = field(default=60.0, metadata={"help": "seconds per request"})
    max_attempts: int = field(default=6, metadata={"help": "tries per request, the first included"})
    backoff_base: float = field(default=0.5, metadata={"help": "first retry waits up to this"})
    backoff_max: float = field(default=30.0, metadata={"help": "no retry waits longer"})
    structured: str = field(default="auto", metadata={
        "help": "structured output: auto (json_schema, then json_object with the schema, then "
                "plain JSON mode, then none, moving on when the server refuses), json_schema, "
                "json_object (with the schema beside it, as llama.cpp takes it), off"})
    price_in: float = field(default=0.0, metadata={"help": "USD per million prompt tokens"})
    price_out: float = field(default=0.0, metadata={"help": "USD per million answer tokens"})

    def __post_init__(self):
        self.base_urls = [u.rstrip("/") for u in self.base_urls if u and u.strip()]
        self.structured = _ALIASES.get(self.structured, self.structured)
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
        if self.structured not in STRUCTURED:
            raise ValueError(f"structured must be one of {', '.join(STRUCTURED)}, "
                             f"got {self.structured!r}")
        if not self.api_key:
            if all(is_local(u) for u in self.base_urls):
                self.api_key = LOCAL_KEY
            else:
                raise ValueError("no API key: set OPENAI_API_KEY (or enter it in the app); "
                                 "for a local server any placeholder works")

    @classmethod
    def from_env(cls, environ=None, **overrides) -> TeacherConfig:
        env = os.environ if environ is None else environ
        given = {k: v for k, v in overrides.items() if v not in (None, [], "")}
        given.setdefault("model", env.get("OPENAI_MODEL", ""))
        given.setdefault("base_urls", [env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL])
        given.setdefault("api_key", env.get("OPENAI_API_KEY"))
        given.setdefault("structured", env.get("SFT_STUDIO_STRUCTURED") or "auto")
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
    model: str | None = None   # the model the server says answered (llama.cpp: its loaded one)
    format: str = "off"        # the structured-output format the answer was asked with
    cost_usd: float = 0.0


class _Endpoint:
    def __init__(self, url: str, client, structured: str, known: str | None = None, *,
                 concurrency: int = 16, adaptive: bool = True, cooldown: float = 1.0):
        self.url, self.client = url, client
        self.limit = AdaptiveLimit(concurrency, adaptive)
        self.breaker = Breaker(cooldown=cooldown, quiet=2 * cooldown)
        self.formats = list(FORMATS) if structured == "auto" else [structured]
        if known in self.formats:  # what this endpoint took before, in this job
            self.formats = self.formats[self.formats.index(known):]
        # Until a structured answer comes back, one request at a time finds the format (the
        # others wait), so a server that refuses json_schema is asked it once, not 16 times.
        self.settled = structured != "auto" or known is not None
        self.prober: asyncio.Event | None = None
        self.answered = False
        self.connection_failures = 0  # in a row, while nothing has answered
        self.dropped: str | None = None  # why this endpoint is out of the job

    @property
    def format(self) -> str:
        return self.formats[0]

    @property
    def in_flight(self) -> int:
        return self.limit.in_flight

    def step_down(self, refused: str) -> bool:
        """The server refused `refused`: move on to the next format (once, however many
        requests in flight were refused). False when there is nothing left to try."""
        if self.format != refused:
            return True
        if len(self.formats) == 1:
            return False
        self.formats.pop(0)
        return True


class Teacher:
    """Sends chat completions. Use `async with Teacher(config) as t: await t.complete(...)`."""

    def __init__(self, config: TeacherConfig, formats: dict[str, str] | None = None):
        """`formats`: the structured-output format each endpoint settled on before (a resumed
        job's), so `auto` starts there."""
        from openai import AsyncOpenAI

        self.config = config
        self.endpoints = [
            _Endpoint(url, AsyncOpenAI(base_url=url, api_key=config.api_key, max_retries=0,
                                       timeout=config.timeout), config.structured,
                      (formats or {}).get(url), concurrency=config.concurrency,
                      adaptive=config.adaptive, cooldown=max(0.05, 2 * config.backoff_base))
            for url in config.base_urls
        ]
        self.calls = 0  # HTTP requests sent, retries included
        self._rng = random.Random()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.aclose()

    async def aclose(self):
        for e in self.endpoints:
            await e.client.close()

    @property
    def live(self) -> list[_Endpoint]:
        return [e for e in self.endpoints if e.dropped is None]

    def formats(self, settled: bool = False) -> dict[str, str]:
        """The structured-output format each endpoint uses now (with `settled`, only those a
        structured answer confirmed)."""
        return {e.url: e.format for e in self.endpoints if e.settled or not settled}

    def dropped(self) -> dict[str, str]:
        return {e.url: e.dropped for e in self.endpoints if e.dropped}

    def _drop(self, endpoint: _Endpoint, reason: str) -> None:
        """Take a refusing or unreachable endpoint out of the job; when none is left, the job
        cannot go on."""
        if endpoint.dropped is None:
            endpoint.dropped = reason
        if not self.live:
            reasons = "; ".join(e.dropped for e in self.endpoints)
            raise TeacherError(reasons, fatal=True)

    async def complete(self, messages: list[dict], params: dict, schema: dict | None = None,
                       should_stop=None) -> Answer:
        """One answer, retried on 429, 5xx, timeouts, dropped connections and garbled bodies.
        A refused response_format moves that endpoint down the format chain (not an attempt);
        a refused key or model, an endpoint that cannot be reached, or one whose breaker stays
        open drops that endpoint and goes on with the others. Each endpoint's adaptive limit
        decides how many requests it gets at once. Raises TeacherError with the last reason
        when the attempts run out, fatal when no endpoint is left."""
        import httpx
        import openai

        cfg, last, prev, attempt, sent = self.config, "no attempt made", None, 0, 0
        while True:
            endpoint = await self._next(avoid=prev, sent=sent)
            prober = None  # set when this request is the one finding the endpoint's format
            if schema is not None and not endpoint.settled:
                if endpoint.prober is not None:  # another request is finding it: wait
                    await endpoint.prober.wait()
                    continue
                prober = endpoint.prober = asyncio.Event()  # claimed before any await
            try:
                await endpoint.limit.acquire()
            except BaseException:  # cancelled while waiting: let the next request find it
                if prober is not None:
                    endpoint.prober = None
                    prober.set()
                raise
            if endpoint.dropped is not None or not endpoint.breaker.ready(time.monotonic()):
                # taken out, or its breaker opened or sent its one probe, while this waited
                self._release(endpoint, prober, False)
                continue
            breaker_probe = endpoint.breaker.sending()  # no await since ready()
            prev = endpoint
            fmt = endpoint.format if schema is not None else "off"
            body = {"model": cfg.model, "messages": messages, **params}
            if schema is not None and (rf := response_format(fmt, schema)) is not None:
                body["response_format"] = rf
            timeout = min(cfg.timeout * 10, cfg.timeout + endpoint.limit.queue_allowance(
                endpoint.limit.in_flight))
            wait, counted, down = None, True, None
            self.calls += 1
            sent += 1
            start = time.perf_counter()
            try:
                # The body goes as built and the answer is read from its JSON: the SDK's typed
                # transform of the messages and its model of the response cost more of the
                # client's CPU than everything else per request (profiled with py-spy). Its
                # auth, headers, timeout and status errors are the same as create()'s.
                resp = await endpoint.client.post("/chat/completions", body=body,
                                                  cast_to=httpx.Response,
                                                  options={"timeout": timeout})
                answer = _answer(resp.json(), start, sent, fmt)
                now = time.monotonic()
                endpoint.answered, endpoint.connection_failures = True, 0
                endpoint.settled = endpoint.settled or schema is not None
                endpoint.breaker.ok(now)
                endpoint.limit.answered(answer.latency_ms / 1000, answer.tokens_out, now)
                return answer
            except (openai.AuthenticationError, openai.PermissionDeniedError,
                    openai.NotFoundError) as e:  # worded as Test connection words them
                self._drop_or_raise(endpoint, f"{endpoint.url}: "
                                    f"{explain(e, endpoint.url, cfg.model)}", sent)
                counted = False
            except openai.APIStatusError as e:
                if "response_format" in body and refuses_format(e):
                    last = f"{endpoint.url} refused response_format {fmt}: {message(e)}"
                    if not endpoint.step_down(fmt):
                        raise TeacherError(f"HTTP {e.status_code} from {endpoint.url}: it "
                                           f"refused structured output {fmt} ({message(e)}); try "
                                           f"--structured auto or off", fatal=True,
                                           attempts=sent) from None
                    wait, counted = 0.0, False
                elif (e.status_code not in (408, 409, 425, 429) and e.status_code < 500) \
                        or is_validation(e):
                    raise TeacherError(f"HTTP {e.status_code} from {endpoint.url}: {message(e)}",
                                       attempts=sent) from None
                else:
                    last = f"HTTP {e.status_code} from {endpoint.url}: {message(e)}"
                    wait = retry_after(e.response)
                    now = time.monotonic()
                    endpoint.limit.overloaded(now, time.perf_counter() - start)
                    if e.status_code >= 500:
                        down = endpoint.breaker.failed(last, now, breaker_probe)
            except openai.APITimeoutError:
                last = f"no answer from {endpoint.url} within {timeout:g}s"
                now = time.monotonic()
                endpoint.limit.overloaded(now, timeout)
                down = endpoint.breaker.failed(last, now, breaker_probe)
            except openai.APIConnectionError as e:
                last = f"cannot connect to {endpoint.url}: {cause(e)}"
                down = endpoint.breaker.failed(last, time.monotonic(), breaker_probe)
                if not endpoint.answered:
                    endpoint.connection_failures += 1
                    if endpoint.connection_failures >= UNREACHABLE_AFTER:
                        self._drop_or_raise(endpoint, f"{last} (no answer in "
                                            f"{endpoint.connection_failures} tries)", sent)
                        counted = False
            except (openai.APIResponseValidationError, ValueError, AttributeError,
                    TypeError) as e:
                last = f"unreadable response from {endpoint.url}: {type(e).__name__}: {e}"
            finally:
                # settled, or the next waiting request tries (the next format); a breaker
                # probe that ended with no verdict (a 429, an unreadable body) lets another go
                self._release(endpoint, prober, breaker_probe)
            if down:
                self._drop_or_raise(endpoint, f"{endpoint.url} stopped answering "
                                    f"({endpoint.breaker.describe()})", sent)
            if counted:
                attempt += 1
            if attempt >= cfg.max_attempts or (should_stop is not None and should_stop()):
                break
            if wait != 0.0 and counted:
                await asyncio.sleep(self._backoff(attempt, wait))
        raise TeacherError(f"{last} (gave up after {attempt} attempts)", attempts=sent)

    @staticmethod
    def _release(endpoint: _Endpoint, prober: asyncio.Event | None, breaker_probe: bool):
        """A request's claims on its endpoint end: its place under the limit, the format
        prober's role, and the breaker's probe (ok() or failed() already ended a probe that
        got a verdict)."""
        endpoint.limit.release()
        if prober is not None:
            if endpoint.prober is prober:
                endpoint.prober = None
            prober.set()
        if breaker_probe:
            endpoint.breaker.probing = False

    async def _next(self, avoid: _Endpoint | None, sent: int) -> _Endpoint:
        """The endpoint for the next request: a live one whose breaker lets it through, with
        the most room under its limit (another than `avoid`, the one that just failed, when
        there is a choice). When every breaker is open, wait for the first cooldown to end."""
        while True:
            live = self.live
            if not live:
                raise TeacherError("; ".join(self.dropped().values()), fatal=True,
                                   attempts=sent)
            now = time.monotonic()
            ready = [e for e in live if e.breaker.ready(now)]
            if ready:
                choices = [e for e in ready if e is not avoid] or ready
                return max(choices, key=lambda e: (e.limit.free, -e.limit.in_flight))
            opens = [e.breaker.open_until for e in live if e.breaker.open_until is not None]
            await asyncio.sleep(max(0.01, min(opens) - now) if opens else 0.05)

    def _drop_or_raise(self, endpoint: _Endpoint, reason: str, sent: int) -> None:
        try:
            self._drop(endpoint, reason)
        except TeacherError as e:
            e.attempts = sent
            raise e from None

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cfg = self.config
        if retry_after is not None:  # the server said when: wait that long, plus a little
            return min(cfg.backoff_max, retry_after) + self._rng.uniform(0, cfg.backoff_base / 4)
        return self._rng.uniform(0, min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempt - 1)))

    async def check(self) -> list[dict]:
        """Test each endpoint: a one-token request (ok, latency, the model that answered, or
        the reason it failed), then the structured-output probe: which format of the chain the
        server takes (for `auto`), or whether it takes the one asked for."""
        out = []
        probe = {"type": "object", "properties": {"ok": {"type": "string"}},
                 "required": ["ok"], "additionalProperties": False}
        for e in self.endpoints:
            start = time.perf_counter()
            try:
                resp = await e.client.chat.completions.create(
                    model=self.config.model, max_tokens=1,
                    messages=[{"role": "user", "content": "Say ok."}])
            except Exception as exc:  # reported, not raised: this is a diagnosis
                out.append({"base_url": e.url, "ok": False, "error": explain(exc, e.url,
                                                                             self.config.model),
                            "structured": None})
                continue
            result = {"base_url": e.url, "ok": True,
                      "latency_ms": round((time.perf_counter() - start) * 1000, 1),
                      "model": getattr(resp, "model", None) or self.config.model,
                      "structured": None, "refused": []}
            while True:
                fmt = e.format
                body = response_format(fmt, probe)
                if body is None:
                    result["structured"] = "off"
                    break
                try:
                    await e.client.chat.completions.create(
                        model=self.config.model, max_tokens=1, extra_body={"response_format": body},
                        messages=[{"role": "user", "content": 'Answer {"ok": "yes"}.'}])
                    result["structured"] = fmt
                    break
                except Exception as exc:
                    result["refused"].append(f"{fmt}: {message(exc)}")
                    if not (refuses_format(exc) and e.step_down(fmt)):
                        result["structured"] = None
                        result["error"] = f"structured output {fmt} refused: {message(exc)}"
                        result["ok"] = False
                        break
            out.append(result)
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


def _answer(data, start: float, attempt: int, fmt: str = "off") -> Answer:
    """An Answer from a chat completion's JSON; ValueError when it is not one."""
    latency = (time.perf_counter() - start) * 1000
    try:
        choice = data["choices"][0]
        text = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ValueError("the response has no choices[0].message.content") from None
    if not isinstance(text, str):
        raise ValueError("the answer has no content")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    tokens_in = usage.get("prompt_tokens") or 0
    tokens_out = usage.get("completion_tokens")
    if tokens_out is None:  # servers without usage: a rough count, so budgets still bite
        tokens_out = max(1, len(text) // 4)
    model = data.get("model")
    return Answer(text, choice.get("finish_reason"), int(tokens_in), int(tokens_out), latency,
                  attempt, model=str(model) if model else None, format=fmt)
