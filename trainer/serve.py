"""python -m trainer.serve FOLDER [--name NAME] [--host 127.0.0.1] [--port 8000] [--api-key KEY]

Serves one trained model on an OpenAI-compatible HTTP API: GET /v1/models, GET /health,
POST /v1/chat/completions and POST /v1/completions (streaming too), so the studio's teacher
client, the `openai` SDK or any other OpenAI client can talk to a run's model.

FOLDER is a run folder (its merged/ model when there is one, else its adapter/), an adapter
folder (the PEFT adapter on its base_model_name_or_path, or --base) or a model folder. One model,
so one generation at a time (a lock); requests queue. It binds 127.0.0.1 unless told otherwise
and refuses any other host without --api-key. When ready it prints one line,
`serving NAME on http://HOST:PORT/v1` (port 0 picks a free port; the line says which).
"""

# The HTTP server and the command line; the model side (loading, prompts, generation with stops
# and streaming) is in trainer/serve_model.py, request checking in trainer/serve_requests.py.

from __future__ import annotations

import argparse
import hmac
import json
import os
import signal
import socket
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from trainer.hosts import is_loopback
from trainer.serve_model import (
    Engine,
    Params,
    RequestError,
    Result,
    Watcher,
    adapter_base,
    default_name,
    held_back,
    model_folder,
    resolve,
    stop_at,
)
from trainer.serve_requests import FORMATS, messages, params, prompt_of, usage

__all__ = ["CHAT_MAX_TOKENS", "COMPLETION_MAX_TOKENS", "DEFAULT_HOST", "DEFAULT_PORT", "FORMATS",
           "MAX_BODY", "Engine", "Handler", "Params", "RequestError", "Result", "Server",
           "Watcher", "adapter_base", "default_name", "held_back", "is_loopback", "main",
           "messages", "model_folder", "params", "prompt_of", "resolve", "stop_at", "usage"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
MAX_BODY = 16 * 1024 * 1024
CHAT_MAX_TOKENS = 512       # a chat answer's default length when max_tokens is not given
COMPLETION_MAX_TOKENS = 16  # OpenAI's default for /v1/completions
KEY_ENV = "SFT_STUDIO_SERVE_API_KEY"


# -- HTTP -----------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    server_version = "sft-studio-serve"
    protocol_version = "HTTP/1.1"
    server: Server

    def do_GET(self) -> None:
        self._route({"/health": self._health, "/v1/models": self._models})

    def do_POST(self) -> None:
        self._route({"/v1/chat/completions": self._chat, "/v1/completions": self._completion})

    def log_message(self, fmt, *args) -> None:
        sys.stderr.write(f"{self.address_string()} {fmt % args}\n")

    def _route(self, routes: dict) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            if path not in routes:
                self._drain()
                raise RequestError(f"no route {self.command} {path}", 404)
            if path != "/health":
                self._authorize()
            routes[path]()
        except RequestError as e:
            self._json(e.body(), e.status)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # answered as a 500 rather than a dropped connection
            self.log_error("failed: %r", e)
            self._json(RequestError(f"{type(e).__name__}: {e}", 500, "server_error").body(),
                       500)

    def _authorize(self) -> None:
        key = self.server.api_key
        given = self.headers.get("Authorization", "")
        if key and not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
            self._drain()
            raise RequestError("Invalid API key", 401, code="invalid_api_key")

    def _drain(self) -> None:
        """Read an unread body, so the connection stays usable for the next request."""
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= MAX_BODY:
            self.rfile.read(length)
        elif length:
            self.close_connection = True

    def _body(self) -> dict:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            self.close_connection = True
            raise RequestError("the body must be JSON with a Content-Length of at most "
                               f"{MAX_BODY} bytes")
        try:
            body = json.loads(self.rfile.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RequestError(f"the body is not JSON: {e}") from None
        if not isinstance(body, dict):
            raise RequestError("the body must be a JSON object")
        return body

    def _json(self, data: dict, status: int = 200) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _health(self) -> None:
        self._json({"status": "ok"})

    def _models(self) -> None:
        self._json({"object": "list", "data": [{"id": self.server.name, "object": "model",
                                                "created": self.server.started,
                                                "owned_by": "sft-studio"}]})

    def _chat(self) -> None:
        body = self._body()
        p = params(body, CHAT_MAX_TOKENS)
        engine = self.server.engine
        prompt = engine.chat_prompt(messages(body))
        p.max_tokens = engine.fit(prompt, p.max_tokens, "messages")
        self._answer(body, prompt, p, "chat.completion", "chatcmpl")

    def _completion(self) -> None:
        body = self._body()
        p = params(body, COMPLETION_MAX_TOKENS)
        engine = self.server.engine
        prompt = engine.text_prompt(prompt_of(body))
        p.max_tokens = engine.fit(prompt, p.max_tokens, "prompt")
        self._answer(body, prompt, p, "text_completion", "cmpl")

    def _answer(self, body: dict, prompt: list[int], p: Params, kind: str, prefix: str) -> None:
        head = {"id": f"{prefix}-{uuid.uuid4().hex}", "object": kind, "created": int(time.time()),
                "model": self.server.name}
        if body.get("stream"):
            self._stream(body, prompt, p, head)
            return
        result = self.server.engine.generate(prompt, p)
        text = ({"message": {"role": "assistant", "content": result.text}}
                if kind == "chat.completion" else {"text": result.text})
        self._json({**head, "choices": [{"index": 0, **text, "logprobs": None,
                                         "finish_reason": result.finish_reason}],
                    "usage": usage(result)})

    def _stream(self, body: dict, prompt: list[int], p: Params, head: dict) -> None:
        """Server-sent events: one chunk per piece of text, a last one with the finish reason
        (and usage when stream_options.include_usage), then `data: [DONE]`."""
        chat = head["object"] == "chat.completion"
        head = {**head, "object": "chat.completion.chunk" if chat else "text_completion"}

        def chunk(delta: dict, reason=None) -> dict:
            piece = {"delta": delta} if chat else {"text": delta.get("content", "")}
            return {**head, "choices": [{"index": 0, **piece, "logprobs": None,
                                         "finish_reason": reason}]}

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if chat:
            self._event(chunk({"role": "assistant", "content": ""}))
        try:
            result = self.server.engine.generate(
                prompt, p, emit=lambda text: self._event(chunk({"content": text})))
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception as e:  # the status is sent: the error goes as an event
            self.log_error("failed: %r", e)
            self._event(RequestError(f"{type(e).__name__}: {e}", 500, "server_error").body())
        else:
            self._event(chunk({}, result.finish_reason))
            if (body.get("stream_options") or {}).get("include_usage"):
                self._event({**head, "choices": [], "usage": usage(result)})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, data: dict) -> None:
        self.wfile.write(b"data: " + json.dumps(data).encode() + b"\n\n")
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, engine: Engine, name: str, api_key: str | None = None):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.engine, self.name, self.api_key = engine, name, api_key
        self.started = int(time.time())

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/v1"


# -- command line ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer.serve",
                                description=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path, help="a run folder, an adapter folder or a model folder")
    p.add_argument("--adapter", type=Path, help="a PEFT adapter to put on the model in FOLDER")
    p.add_argument("--base", help="the adapter's base model (default: its adapter_config.json's)")
    p.add_argument("--name", help="the model id to report (default: the run folder's name)")
    p.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default: %(default)s)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help="default: %(default)s; 0 picks a free port")
    p.add_argument("--api-key", default=os.environ.get(KEY_ENV) or None,
                   help=f"require `Authorization: Bearer KEY` (needed off loopback; default "
                   f"${KEY_ENV}, which keeps the key out of the process list)")
    p.add_argument("--device", default="auto", help="cuda, cpu, ... (default: cuda if present)")
    return p


def _exit_now(*_) -> None:
    """SIGTERM ends the process at once: a normal interpreter exit while a request thread is
    inside torch aborts (std::terminate) instead, and there is nothing to save."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not is_loopback(args.host) and not args.api_key:
        parser.error(f"refusing to serve on {args.host} without --api-key: anyone who can "
                     f"reach it could use the model (bind 127.0.0.1, or set a key)")
    try:
        engine = Engine.load(args.folder, adapter=args.adapter, base=args.base,
                             device=args.device)
    except (OSError, ValueError) as e:
        print(f"cannot load {args.folder}: {e}", file=sys.stderr)
        return 1
    try:
        server = Server((args.host, args.port), engine, args.name or default_name(args.folder),
                        args.api_key)
    except OSError as e:
        print(f"cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _exit_now)
    print(f"serving {server.name} on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
