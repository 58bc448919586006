"""How the CLI and the app show long text in one line."""

from __future__ import annotations


def shorten(text: str | None, n: int = 120) -> str:
    """`text` on one line (whitespace collapsed), cut to n characters with an ellipsis."""
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"
