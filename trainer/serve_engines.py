"""Serving a trained run on an OpenAI-compatible endpoint, with either engine, as a subprocess:
llama.cpp (llama-cpp-python's `python -m llama_cpp.server`, or a `llama-server` on PATH) on the
run's exported .gguf, or transformers (`python -m trainer.serve`) on its adapter or merged model.

    engine = pick_engine(run_dir, None)       # llama.cpp when there is a .gguf it can serve
    with Served(run_dir, engine=engine) as served:
        client = OpenAI(base_url=served.url, api_key="x"); model = served.model

The server runs in a process group of its own, which stop() always ends (SIGTERM, then SIGKILL
after a grace period), also when it failed to start; its output goes to a log file whose tail
is in every error.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from trainer.hosts import is_loopback
from trainer.serve import DEFAULT_HOST, default_name, resolve

ENGINES = ("transformers", "llama.cpp")
READY_TIMEOUT = 300.0  # seconds: a big model on a slow disk takes a while to load
N_CTX = 4096           # llama.cpp's context: the model's own may be far bigger than memory allows
READY_LINE = re.compile(r"serving .+ on http://(?:\[[^\]]+\]|[^\s/:]+):(\d+)/v1")
# What `python -m llama_cpp.server` imports beyond llama_cpp (the [server] extra).
SERVER_MODULES = ("uvicorn", "fastapi", "sse_starlette", "starlette_context",
                  "pydantic_settings")


# -- finding what to serve ------------------------------------------------------------------


def find_gguf(folder) -> Path | None:
    """The newest .gguf in a run folder or the export folders in it (or the file itself)."""
    path = Path(folder)
    if path.is_file():
        return path if path.suffix == ".gguf" else None
    found = [*path.glob("*.gguf"), *path.glob("*/*.gguf")]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def transformers_problem(folder) -> str | None:
    """Why the transformers engine cannot load `folder`, or None when it can."""
    try:
        resolve(folder)
    except (FileNotFoundError, ValueError, OSError) as e:
        return str(e)
    return None


def llama_cpp_launcher() -> list[str] | None:
    """The start of a llama.cpp server's command: llama-cpp-python's server when it and its
    [server] extra are installed, else a `llama-server` binary on PATH, else None."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is not None and spec.origin is not None \
            and (Path(spec.origin).parent / "server" / "__main__.py").is_file() \
            and all(importlib.util.find_spec(m) is not None for m in SERVER_MODULES):
        return [sys.executable, "-m", "llama_cpp.server"]
    binary = shutil.which("llama-server")
    return [binary] if binary else None


def pick_engine(folder, engine: str | None = None) -> str:
    """"llama.cpp" when the run has a .gguf and a llama.cpp server is installed, else
    "transformers"; an engine named that cannot serve this folder is a ValueError saying why."""
    if engine in (None, "", "auto"):
        if find_gguf(folder) is not None and llama_cpp_launcher() is not None:
            return "llama.cpp"
        engine = "transformers"
    if engine == "llama.cpp":
        if find_gguf(folder) is None:
            raise ValueError(f"no .gguf file in {folder}: export the run to GGUF first, or "
                             f"serve it with the transformers engine")
        if llama_cpp_launcher() is None:
            raise ValueError("the llama.cpp engine needs llama-cpp-python's server (pip install "
                             "'llama-cpp-python[server]') or a llama-server binary on PATH")
        return engine
    if engine == "transformers":
        problem = transformers_problem(folder)
        if problem is not None:
            raise ValueError(f"the transformers engine cannot serve {folder}: {problem}")
        return engine
    raise ValueError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")


# -- the command ----------------------------------------------------------------------------


def gguf_chat_template(path) -> str | None:
    """tokenizer.chat_template from a GGUF's metadata (None when it has none), read from the
    header alone: a multi-GB model is not loaded to find it."""
    with open(path, "rb") as f:
        magic, version = f.read(4), _read(f, "<I")
        if magic != b"GGUF" or version < 2:
            return None
        _, count = _read(f, "<Q"), _read(f, "<Q")
        for _ in range(count):
            key, kind = _string(f), _read(f, "<I")
            if key == b"tokenizer.chat_template" and kind == _STRING:
                return _string(f).decode("utf-8", errors="replace")
            _skip(f, kind)
    return None


_STRING, _ARRAY = 8, 9
_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def _read(f, fmt: str) -> int:
    raw = f.read(struct.calcsize(fmt))
    if len(raw) < struct.calcsize(fmt):
        raise ValueError("truncated GGUF header")
    return struct.unpack(fmt, raw)[0]


def _string(f) -> bytes:
    return f.read(_read(f, "<Q"))


def _skip(f, kind: int) -> None:
    if kind == _STRING:
        f.seek(_read(f, "<Q"), os.SEEK_CUR)
    elif kind == _ARRAY:
        item, count = _read(f, "<I"), _read(f, "<Q")
        if item in _SIZES:
            f.seek(_SIZES[item] * count, os.SEEK_CUR)
        else:
            for _ in range(count):
                _skip(f, item)
    elif kind in _SIZES:
        f.seek(_SIZES[kind], os.SEEK_CUR)
    else:
        raise ValueError(f"unknown GGUF value type {kind}")


def key_env(engine: str, api_key: str | None) -> dict[str, str]:
    """The server's API key as each engine reads it from its environment, so it never shows
    in the process list (`ps` shows every argv on the machine)."""
    if not api_key:
        return {}
    if engine == "transformers":
        from trainer.serve import KEY_ENV

        return {KEY_ENV: api_key}
    # llama_cpp.server's pydantic settings read API_KEY; llama-server reads LLAMA_API_KEY
    return {"API_KEY": api_key, "LLAMA_API_KEY": api_key}


def command(engine: str, model_path, *, host: str, port: int, name: str,
            adapter=None) -> list[str]:
    """The argv that serves `model_path` (a run folder, or the .gguf / model folder itself);
    an API key travels in the environment (key_env), never here."""
    if engine == "transformers":
        cmd = [sys.executable, "-m", "trainer.serve", str(model_path), "--host", host,
               "--port", str(port), "--name", name]
        return cmd + (["--adapter", str(adapter)] if adapter is not None else [])
    if engine != "llama.cpp":
        raise ValueError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if adapter is not None:
        raise ValueError("llama.cpp serves the exported .gguf; a PEFT adapter needs the "
                         "transformers engine")
    gguf, launcher = find_gguf(model_path), llama_cpp_launcher()
    if gguf is None or launcher is None:
        pick_engine(model_path, "llama.cpp")  # raises the reason
    assert gguf is not None and launcher is not None
    if launcher[-1] == "llama_cpp.server":
        return launcher + _python_server_args(gguf, host, port, name)
    # llama.cpp's own server: --jinja renders the GGUF's chat template
    return launcher + ["-m", str(gguf), "--host", host, "--port", str(port), "--alias", name,
                       "-c", str(N_CTX), "--jinja"]


def _python_server_args(gguf: Path, host: str, port: int, name: str) -> list[str]:
    """llama_cpp.server's flags. Its chat_format None would swap a template it recognises for
    its own built-in copy (and fall back to llama-2 without one); `chat_template.default` is the
    GGUF's tokenizer.chat_template itself, which the run was trained with."""
    args = ["--model", str(gguf), "--host", host, "--port", str(port), "--model_alias", name,
            "--n_ctx", str(N_CTX)]
    if gguf_chat_template(gguf) is not None:
        args += ["--chat_format", "chat_template.default"]
    return args


# -- the running server ---------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _client_host(host: str) -> str:
    """Where a client on this machine reaches a server bound to `host`."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"[{host}]" if ":" in host else host


def end_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """End a process started in a session of its own, and its whole group: SIGTERM, then
    SIGKILL after `grace` seconds; then anything left in the group (the leader may have exited
    before its children). Shared by the servers, the tests' llama.cpp servers and benchmarks."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Served:
    """One model served by either engine. start() returns once GET /v1/models answers (or
    raises, with the server's output, when it exits first or the deadline passes)."""

    def __init__(self, folder, *, engine: str | None = None, host: str = DEFAULT_HOST,
                 port: int = 0, name: str | None = None, adapter=None,
                 api_key: str | None = None, log_path=None,
                 ready_timeout: float = READY_TIMEOUT, grace: float = 10.0):
        if not is_loopback(host) and not api_key:
            raise ValueError(f"refusing to serve on {host} without an API key: anyone who can "
                             f"reach it could use the model")
        self.folder = Path(folder)
        # an explicit adapter goes on the model in `folder`: transformers' job
        self.engine = pick_engine(folder, engine or ("transformers" if adapter else None))
        self.host, self.port, self.adapter, self.api_key = host, port, adapter, api_key
        self.name = name or default_name(folder)
        self.ready_timeout, self.grace = ready_timeout, grace
        self._own_log = log_path is None  # a temporary file made by start()
        self.log_path: Path | None = Path(log_path) if log_path is not None else None
        self.proc: subprocess.Popen | None = None
        self.model: str = self.name
        self.startup_s: float | None = None

    @property
    def root(self) -> str:
        return f"http://{_client_host(self.host)}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.root}/v1"

    def command(self) -> list[str]:
        return command(self.engine, self.folder, host=self.host, port=self.port, name=self.name,
                       adapter=self.adapter)

    def log_tail(self, chars: int = 4000) -> str:
        if self.log_path is None:
            return ""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def start(self) -> Served:
        if self.proc is not None:
            return self
        t0 = time.monotonic()
        if self._own_log:
            fd, path = tempfile.mkstemp(prefix="sft-studio-serve-", suffix=".log")
            os.close(fd)
            self.log_path = Path(path)
        # trainer.serve picks its own free port and prints it; llama.cpp's servers do not say
        if not self.port and self.engine == "llama.cpp":
            self.port = free_port(_client_host(self.host).strip("[]"))
        try:
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                             env={**os.environ,
                                                  **key_env(self.engine, self.api_key)},
                                             stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)
            self._wait_ready(t0 + self.ready_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - t0
        return self

    def _wait_ready(self, deadline: float) -> None:
        """Poll until GET /v1/models answers 200 (a 503 means still loading); fail at once
        when the process exits or answers anything else, and at the deadline."""
        while True:
            self._check_alive()
            if self.port or self._read_port():
                models = self._models()
                if models is not None:
                    self.model = models[0] if models else self.name
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.engine} server not ready after "
                                   f"{self.ready_timeout:.0f} s; log {self.log_path}:\n"
                                   f"{self.log_tail()}")
            time.sleep(0.1)

    def _check_alive(self) -> None:
        assert self.proc is not None
        code = self.proc.poll()
        if code is not None:
            raise RuntimeError(f"{self.engine} server exited with {code} before it was ready; "
                               f"log {self.log_path}:\n{self.log_tail()}")

    def _read_port(self) -> int:
        match = READY_LINE.search(self.log_tail(1 << 20))
        self.port = int(match.group(1)) if match else 0
        return self.port

    def _models(self) -> list[str] | None:
        """The model ids the server lists, or None while it cannot answer yet."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        req = urllib.request.Request(f"{self.url}/models", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return [m.get("id") for m in json.load(resp).get("data", [])]
        except urllib.error.HTTPError as e:
            e.close()
            if e.code == 503:
                return None
            raise RuntimeError(f"{self.engine} server answered GET /v1/models with {e.code}; "
                               f"log {self.log_path}:\n{self.log_tail()}") from None
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        """End the server's whole process group: SIGTERM, SIGKILL after the grace period."""
        proc, self.proc = self.proc, None
        if proc is not None:
            end_group(proc, self.grace)
        # a temporary log goes with a server that got ready; one that never did keeps its log,
        # which the error names
        if self._own_log and self.log_path is not None and self.startup_s is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None

    def __enter__(self) -> Served:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
