"""A small OpenAI-compatible chat-completions server for tests and benchmarks, on loopback.

It answers deterministically (the same messages and seed give the same answer), and can be told
to be slow, to answer 429 with Retry-After, 500, a garbled body or an answer that is not JSON, to
drop the connection, or to refuse response_format. It counts the requests it gets per prompt hash.

`kind` makes it answer as a real server does (each observed on the real thing):
- "openai": json_schema and json_object; an unknown field is a 400; errors as {"error": {...}}.
- "vllm": the same formats; an unknown field is a 400 in vLLM's shape (extra_forbidden).
- "llama-cpp-python": json_object with a schema beside it (and plain json_object); json_schema
  is a 500 with pydantic's validation text and a stack frame; a wrong key is a 401 with FastAPI's
  {"detail": "Invalid API key"}; it answers with the model name it was asked for.
- "json-mode": plain json_object only; anything with a schema is a 400.
- "none": no response_format at all (400), as `structured=False` did.
`models` (a list) makes an unknown model a 404; `served_model` is the model it says answered.

`slots` makes it a local server with that many slots: a request waits for a free slot (it queues,
as llama.cpp and vLLM do, instead of answering 429) and holds it for `latency`; with `queue` too,
a request that arrives when slots + queue are taken gets 503 "server busy". Every chat request's
arrival records how many were in flight then (`in_flight_seen`), so tests can check how a client
paces itself by counts, never by times.

    with TeacherServer(latency=0.05, faults={"429": 0.1}) as server:
        client = AsyncOpenAI(base_url=server.url, api_key="x")

Run it on its own (benchmarks): `python tests/teacher_server.py --port 8100 --latency 0.1`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import json
import random
import threading

FAULTS = ("429", "500", "garbage_body", "bad_answer", "drop", "slow")
KINDS = {  # the response_format types each kind takes ("json_object+schema": with a schema)
    "openai": {"json_schema", "json_object"},
    "vllm": {"json_schema", "json_object"},
    "llama-cpp-python": {"json_object+schema", "json_object"},
    "json-mode": {"json_object"},
    "none": set(),
}
KNOWN_FIELDS = {"model", "messages", "temperature", "max_tokens", "max_completion_tokens",
                "seed", "response_format", "top_p", "stop", "n", "stream", "user"}
LLAMA_CPP_500 = (  # verbatim from llama-cpp-python 0.3.36's server, but for the path
    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', "
    "'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
    "'ctx': {'expected': \"'text' or 'json_object'\"}}\n\n  File \"/srv/llama_cpp/server/"
    "app.py\", line 376, in create_chat_completion\n    POST /v1/chat/completions")


def prompt_hash(messages: list[dict]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()


class TeacherServer:
    def __init__(self, *, latency: float = 0.0, faults: dict[str, float] | None = None,
                 retry_after: float = 0.05, structured: bool = True, api_key: str | None = None,
                 seed: int = 0, port: int = 0, judge=None, kind: str = "openai",
                 models: list[str] | None = None, served_model: str | None = None,
                 slots: int | None = None, queue: int | None = None, answer=None):
        self.latency, self.faults, self.retry_after = latency, dict(faults or {}), retry_after
        self.judge = judge  # judge(input, output) -> a dict, or a str sent as the raw answer
        self.answer = answer  # answer(request body) -> a dict or a str: any question at all
        self.api_key, self.port = api_key, port
        self.kind = kind if structured else "none"
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        self.models, self.served_model = models, served_model
        self.formats: collections.Counter = collections.Counter()  # response_format types seen
        self.bodies: list[dict] = []  # every chat request's JSON body, in order
        self.slots, self.queue = slots, queue
        self._slots: asyncio.Semaphore | None = None  # made on the server's loop
        self.in_flight = 0
        self.in_flight_seen: list[int] = []  # in flight at each chat request's arrival
        self.busy = 0  # 503s sent because slots and queue were full
        unknown = set(self.faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {unknown}")
        self.rng = random.Random(seed)
        self.counts: collections.Counter = collections.Counter()  # prompt hash -> requests
        self.answered: collections.Counter = collections.Counter()  # prompt hash -> 200 answers
        self.requests = 0
        self.auth_headers: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> "TeacherServer":
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=1024))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="teacher-server")
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown():
            self._server.close()
            # Requests still being answered end here, on a running loop (stopping the loop
            # under them left their sockets to be closed on a closed loop).
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._server.wait_closed()

        loop, self._loop = self._loop, None  # stopping twice (a test, then its fixture) is fine
        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- HTTP ------------------------------------------------------------------------------

    async def _handle(self, reader, writer):
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in
                           (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                status, extra, payload = await self._respond(method, path, headers, body)
                if status is None:  # drop the connection without an answer
                    writer.transport.abort()
                    return
                raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                head_out = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}",
                            "Content-Type: application/json", f"Content-Length: {len(raw)}",
                            "Connection: keep-alive", *(f"{k}: {v}" for k, v in extra.items())]
                writer.write(("\r\n".join(head_out) + "\r\n\r\n").encode() + raw)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    async def _respond(self, method, path, headers, body):
        self.requests += 1
        self.auth_headers.add(headers.get("authorization", ""))
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            if self.kind == "llama-cpp-python":
                return 401, {}, {"detail": "Invalid API key"}
            given = headers.get("authorization", "").removeprefix("Bearer ")
            masked = given[:6] + "*" * 8 + given[-4:]  # as OpenAI echoes it
            return 401, {}, {"error": {"message": f"Incorrect API key provided: {masked}"}}
        if method == "GET" and path.endswith("/models"):
            return 200, {}, {"object": "list", "data": [{"id": "teacher-test", "object": "model"}]}
        if not path.endswith("/chat/completions"):
            return 404, {}, {"error": {"message": f"no route {path}"}}
        req = json.loads(body)
        self.bodies.append(req)
        self.in_flight += 1
        self.in_flight_seen.append(self.in_flight)
        try:
            if self.slots is None:
                return await self._chat(req)
            if self.queue is not None and self.in_flight > self.slots + self.queue:
                self.busy += 1
                return 503, {}, {"error": {"code": 503, "type": "unavailable_error",
                                           "message": "Server busy, please try again later"}}
            if self._slots is None:
                self._slots = asyncio.Semaphore(self.slots)
            async with self._slots:
                return await self._chat(req)
        finally:
            self.in_flight -= 1

    async def _chat(self, req: dict):
        h = prompt_hash(req["messages"])
        self.counts[h] += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        refused = self._refuse(req)
        if refused is not None:
            return refused
        fault = self._pick_fault()
        if fault == "429":
            return 429, {"Retry-After": f"{self.retry_after:g}"}, {
                "error": {"message": "Rate limit reached", "type": "rate_limit"}}
        if fault == "500":
            return 500, {}, {"error": {"message": "upstream overloaded"}}
        if fault == "drop":
            return None, {}, b""
        if fault == "slow":
            await asyncio.sleep(30)
        if fault == "garbage_body":
            return 200, {}, b'{"id": "cmpl", "choices": [ {"message": <<garbled'
        answer = self._answer(req)
        content = "I think the answer is: maybe?" if fault == "bad_answer" else \
            answer if isinstance(answer, str) else json.dumps(answer)
        self.answered[h] += 1
        words = sum(len(str(m.get("content", "")).split()) for m in req["messages"])
        return 200, {}, {
            "id": f"chatcmpl-{h[:12]}", "object": "chat.completion", "created": 0,
            "model": self.served_model or req.get("model", "teacher-test"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": words, "completion_tokens": len(content.split()),
                      "total_tokens": words + len(content.split())}}

    def _refuse(self, req: dict):
        """What a real server of this kind says to a request it does not take, or None."""
        extra = sorted(set(req) - KNOWN_FIELDS)
        if extra and self.kind == "vllm":
            return 400, {}, {"object": "error", "type": "BadRequestError", "code": 400,
                             "message": f"[{{'type': 'extra_forbidden', 'loc': ('body', "
                             f"'{extra[0]}'), 'msg': 'Extra inputs are not permitted'}}]"}
        if extra and self.kind == "openai":
            return 400, {}, {"error": {"message": "Unrecognized request argument supplied: "
                                       f"{extra[0]}", "type": "invalid_request_error"}}
        if self.models is not None and req.get("model") not in self.models:
            return 404, {}, {"error": {"message": f"The model `{req.get('model')}` does not "
                                       "exist", "code": "model_not_found"}}
        fmt = req.get("response_format")
        if fmt is None:
            return None
        name = fmt.get("type", "?") + ("+schema" if fmt.get("schema") else "")
        self.formats[name] += 1
        if name == "text" or name in KINDS[self.kind]:
            return None
        if self.kind == "llama-cpp-python":
            return 500, {}, {"error": {"message": LLAMA_CPP_500, "type": "internal_server_error",
                                       "param": None, "code": None}}
        return 400, {}, {"error": {"message": f"response_format {name} is not supported",
                                   "param": "response_format"}}

    def _pick_fault(self) -> str | None:
        roll = self.rng.random()
        for name, p in self.faults.items():
            if roll < p:
                return name
            roll -= p
        return None

    def _answer(self, req: dict) -> dict | str:
        """{"input": ...} or {"output": ...}, as the schema or the prompt asks; for a judge's
        question, {"rating": N, "reason": ...} (or whatever `judge` returns)."""
        messages = req["messages"]
        if self.answer is not None:
            return self.answer(req)
        if '"rating"' in messages[-1]["content"]:
            return self._judgement(messages[-1]["content"])
        h = hashlib.sha256((json.dumps(messages, sort_keys=True) + str(req.get("seed")))
                           .encode()).hexdigest()
        prompt = messages[-1]["content"]
        fmt = req.get("response_format") or {}
        schema = fmt.get("schema") or fmt.get("json_schema", {}).get("schema", {})
        key = (schema.get("required") or [None])[0] or (
            "input" if '{"input"' in prompt else "output")
        if key == "input":
            return {"input": f"new post {h[:10]}: the bus was late again and it rained"}
        enum = schema.get("properties", {}).get("output", {}).get("enum")
        if enum:
            return {"output": enum[int(h, 16) % len(enum)]}
        text = prompt.split("Input", 1)[-1].split(":\n", 1)[-1].split("\n\nAnswer")[0]
        return {"output": "Summary: " + " ".join(text.split()[:8])}


    def _judgement(self, prompt: str) -> dict | str:
        """Rate the example in a judge's prompt: `judge` decides if given; otherwise 5 for an
        output of four words or more that is not the input, 2 for the rest."""
        text = prompt.split("\nInput:\n", 1)[-1]
        given, output = text.split("\n\nOutput:\n", 1)
        output = output.split("\n\nAnswer with a JSON object", 1)[0]
        if self.judge is not None:
            return self.judge(given, output)
        ok = len(output.split()) >= 4 and output.strip() != given.strip()
        return {"rating": 5 if ok else 2, "reason": "clear and faithful" if ok else
                "too short or a copy of the input"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8100)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--slots", type=int, help="a local server with this many slots")
    ap.add_argument("--queue", type=int, help="with --slots: 503 beyond slots + queue")
    a = ap.parse_args()
    server = TeacherServer(latency=a.latency, port=a.port, slots=a.slots, queue=a.queue).start()
    print(f"listening on {server.url}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
