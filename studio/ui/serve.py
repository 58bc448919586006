"""Launching the app safely: loopback by default, authentication required on any other host."""

from __future__ import annotations

import os
from pathlib import Path

from studio.errors import BadInput, StudioError
from trainer.hosts import is_loopback  # the one rule for the app and the model server

DEFAULT_HOST = "127.0.0.1"
__all__ = ["DEFAULT_HOST", "is_loopback"]


def load_auth(environ=None, auth_file: str | Path | None = None) -> list[tuple[str, str]] | None:
    """Users from SFT_STUDIO_AUTH=user:pass[,user2:pass2] or a file of user:pass lines."""
    env = os.environ if environ is None else environ
    entries: list[tuple[str, str]] = []
    if auth_file:
        path = Path(auth_file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise BadInput(f"{path}: cannot read the auth file ({e.strerror})") from None
        for n, line in enumerate(lines, 1):
            if line.strip() and not line.lstrip().startswith("#"):
                entries.append(_pair(line.strip(), f"{path}:{n}"))
    for part in (env.get("SFT_STUDIO_AUTH") or "").split(","):
        if part.strip():
            entries.append(_pair(part.strip(), "SFT_STUDIO_AUTH"))
    return entries or None


def _pair(text: str, where: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise BadInput(f"{where}: expected user:password")
    return user, password


def check_host(host: str, auth) -> None:
    if not is_loopback(host) and not auth:
        raise StudioError(
            f"refusing to serve on {host} without authentication: anyone on the network could "
            "read and change your data. Set SFT_STUDIO_AUTH=user:password or pass --auth-file "
            "FILE, or serve on 127.0.0.1")


def serve(demo, *, host: str | None = None, port: int = 7860, auth=None,
          block: bool = True, quiet: bool = False):
    """Launch the Blocks. The host comes from the argument, then GRADIO_SERVER_NAME, then
    127.0.0.1; a non-loopback host needs auth. Browser-side run history is off."""
    host = host or os.environ.get("GRADIO_SERVER_NAME") or DEFAULT_HOST
    check_host(host, auth)
    return demo.launch(server_name=host, server_port=port, auth=auth, run_history=False,
                       prevent_thread_lock=not block, quiet=quiet, ssr_mode=False,
                       show_error=True, footer_links=["api", "settings"],
                       auth_message="SFT Studio: sign in" if auth else None)
