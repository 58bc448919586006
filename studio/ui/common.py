"""What every tab shares: filters, the reviewer's name, error translation, progress, the
header."""

from __future__ import annotations

import functools

from studio.errors import StudioError

ANY = "any"
STATUS_CHOICES = [ANY, "pending", "approved", "rejected"]
SOURCE_CHOICES = [ANY, "imported", "teacher", "corrupted"]
SCORE_COLUMNS = ["score", "value", "what it means / what was found"]


def filters(task, status, source, text) -> dict:
    """Widget values -> the keyword filters of Studio.list / neighbor / bulk_review."""
    return {"task": task or None, "status": None if status in (None, ANY) else status,
            "source": None if source in (None, ANY) else source, "text": (text or "").strip() or None}


def reviewer(settings, request) -> str:
    """The logged-in user when auth is on, else the configured reviewer name."""
    name = getattr(request, "username", None) if request is not None else None
    return name or settings.reviewer


def ui_errors(fn):
    """Turn a StudioError into a gr.Error toast that says what to do; nothing else changes."""
    import gradio as gr

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StudioError as e:
            raise gr.Error(str(e), print_exception=False) from None

    return wrapper


def progress_reporter(progress, desc: str):
    """An on_progress(done, total) callback that drives a gr.Progress (silent while total is 0:
    nothing to do)."""
    def report(done, total):
        if total:
            progress((done, total), desc=desc)
    return report


def header_markdown(studio, task: str | None) -> str:
    st = studio.stats(task) if task else studio.stats()
    s, src = st["by_status"], st["by_source"]
    return (
        f"**Store** `{studio.store.path}` · **Task** `{task or 'all'}` · "
        f"**{st['total']}** examples: {s['pending']} pending, {s['approved']} approved, "
        f"{s['rejected']} rejected · {src['imported']} imported, {src['teacher']} teacher, "
        f"{src['corrupted']} corrupted · {st['input_only']} need an output · "
        f"{st['duplicates']} duplicates"
    )


def score_rows(explained: list[dict]) -> list[list]:
    """Score table rows: name, value, and the finding when flagged, else what it measures."""
    return [[e["name"], None if e["value"] is None else round(e["value"], 3),
             ("⚠️ " + e["detail"]) if e["detail"] and e["name"] != "judge" else
             (e["detail"] or e["about"])] for e in explained]
