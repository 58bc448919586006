"""Real llama.cpp servers on loopback, for tests: llama-cpp-python's `python -m llama_cpp.server`
(LlamaServer) and llama.cpp's native `llama-server` (NativeLlamaServer), built by
tests/setup_llama_cpp.sh from the llama.cpp that the same llama-cpp-python sdist vendors.

    with LlamaServer(write_tiny_gguf(tmp / "tiny.gguf"), model_alias="teacher-test") as server:
        client = OpenAI(base_url=server.url, api_key="x")

    binary = native_server_binary()  # None until setup_llama_cpp.sh has built it
    with NativeLlamaServer(gguf, model_alias="teacher-test", binary=binary) as server: ...

The server runs in its own process group, which stop() always ends (SIGTERM, then SIGKILL),
also when it failed to start; its output goes to a log file whose tail is in every error.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

READY_TIMEOUT = 120.0
# The llama-cpp-python release whose vendored llama.cpp the native server is built from
# (tests/setup_llama_cpp.sh keeps the two in step).
LLAMA_CPP_PYTHON_VERSION = "0.3.36"


def native_server_binary(cache_dir: str | None = None) -> Path | None:
    """The cached native `llama-server` that tests/setup_llama_cpp.sh builds, or None.

    Inside a test, conftest's _isolated points SFT_STUDIO_CACHE to a temporary folder: conftest
    passes the value it had when the run started (USER_CACHE)."""
    given = cache_dir if cache_dir is not None else os.environ.get("SFT_STUDIO_CACHE")
    cache = Path(given or Path.home() / ".cache" / "sft-studio")
    path = cache / "bin" / f"llama-server-{LLAMA_CPP_PYTHON_VERSION}"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """llama-cpp-python's server. Subclasses change only name, ready_path and command()."""

    name = "llama_cpp.server"
    # Polled until it answers with anything but a 503 (llama_cpp.server loads the model before
    # it listens; llama-server listens at once and answers 503 "Loading model" until ready).
    ready_path = "/v1/models"

    def __init__(self, model_path, *, api_key: str | None = None, n_ctx: int = 4096,
                 model_alias: str | None = None, log_path=None, n_threads: int = 1):
        self.model_path = Path(model_path)
        self.api_key, self.n_ctx, self.model_alias = api_key, n_ctx, model_alias
        self.n_threads = n_threads
        if log_path is None:
            fd, log_path = tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log")
            os.close(fd)
        self.log_path = Path(log_path)
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.startup_s: float | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.root}/v1"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path),
               "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx),
               "--n_threads", str(self.n_threads), "--n_threads_batch", str(self.n_threads)]
        if self.model_alias:
            cmd += ["--model_alias", self.model_alias]
        if self.api_key is not None:
            cmd += ["--api_key", self.api_key]
        return cmd

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LlamaServer:
        t0 = time.monotonic()
        self.port = free_port()
        try:
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
            self._wait_ready(t0 + READY_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - t0
        return self

    def _wait_ready(self, deadline: float) -> None:
        """Poll GET ready_path until the server answers with anything but a 503 (a 401 is an
        answer too), the process exits, or the deadline passes."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        while True:
            code = self.proc.poll()
            if code is not None:
                raise RuntimeError(f"{self.name} exited with {code} before it was ready; "
                                   f"log {self.log_path}:\n{self.log_tail()}")
            try:
                req = urllib.request.Request(f"{self.root}{self.ready_path}", headers=headers)
                with urllib.request.urlopen(req, timeout=2):
                    return
            except urllib.error.HTTPError as e:
                e.close()
                if e.code != 503:
                    return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not ready after {READY_TIMEOUT:.0f} s; "
                                   f"log {self.log_path}:\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        from trainer.serve_engines import end_group

        proc, self.proc = self.proc, None
        if proc is not None:
            end_group(proc)

    def __enter__(self) -> LlamaServer:  # noqa: PYI034
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class NativeLlamaServer(LlamaServer):
    """llama.cpp's own `llama-server` (binary: default native_server_binary()). --jinja renders
    the GGUF's chat template. n_parallel None keeps its default: 4 slots sharing one KV cache of
    n_ctx tokens, so one request may use all n_ctx; an explicit -np N gives each slot n_ctx/N."""

    name = "llama-server"
    ready_path = "/health"  # public: no key needed; 503 while the model loads

    def __init__(self, model_path, *, binary=None, n_parallel: int | None = None, **kw):
        super().__init__(model_path, **kw)
        binary = binary or native_server_binary()
        if binary is None:
            raise FileNotFoundError("no native llama-server: bash tests/setup_llama_cpp.sh")
        self.binary, self.n_parallel = Path(binary), n_parallel

    def command(self) -> list[str]:
        cmd = [str(self.binary), "-m", str(self.model_path), "--host", "127.0.0.1",
               "--port", str(self.port), "-c", str(self.n_ctx),
               "-t", str(self.n_threads), "-tb", str(self.n_threads), "--jinja"]
        if self.n_parallel is not None:
            cmd += ["-np", str(self.n_parallel)]
        if self.model_alias:
            cmd += ["--alias", self.model_alias]
        if self.api_key is not None:
            cmd += ["--api-key", self.api_key]
        return cmd
