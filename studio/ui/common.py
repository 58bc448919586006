"""What every tab shares: filters, the reviewer's name, error translation, progress, the
header."""

from __future__ import annotations

import functools

from studio.errors import StudioError
from studio.vocabulary import SOURCES, STATUSES

ANY = "any"
STATUS_CHOICES = [ANY, *STATUSES]
SOURCE_CHOICES = [ANY, *SOURCES]
SCORE_COLUMNS = ["score", "value", "what it means / what was found"]


def filters(task, status, source, text) -> dict:
    """Widget values -> the keyword filters of Studio.list / neighbor / bulk_review."""
    return {"task": task or None, "status": None if status in (None, ANY) else status,
            "source": None if source in (None, ANY) else source,
            "text": (text or "").strip() or None}


def reviewer(settings, request) -> str:
    """The logged-in user when auth is on, else the configured reviewer name."""
    name = getattr(request, "username", None) if request is not None else None
    return name or settings.reviewer


def ui_errors(fn):
    """Say what went wrong in a toast that stays until closed, and leave every control as it was.

    A StudioError (or a gr.Error raised by the tab itself) becomes a warning toast and the
    handler returns `gr.skip()`, so no output changes: raising would have marked each of the
    handler's outputs (a whole review card, a dropdown) as failed, with red "Error" pills in
    place of the controls."""
    import gradio as gr

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StudioError as e:
            gr.Warning(str(e), duration=None, title="Not done")
        except gr.Error as e:
            gr.Warning(e.message, duration=None, title="Not done")
        return gr.skip()

    return wrapper


def bind(fn, *bound):
    """fn(*bound, *inputs) as an event handler whose errors become toasts (ui_errors): how a
    builder wires a module-level handler to the studio."""
    return ui_errors(functools.partial(fn, *bound))


# Gradio finds its special parameters (gr.Request, gr.Progress, gr.EventData) only among the
# positional ones before any *args, by annotation or default value: the adapters below take
# theirs first, and set the annotation itself (this module's annotations are strings).

def bind_reviewer(fn, settings, *bound):
    """fn(*bound, *inputs, who) as an event handler (errors as toasts), `who` the reviewer of
    the request: Gradio hands a parameter annotated gr.Request its request."""
    import gradio as gr

    def handler(request, *values):
        return fn(*bound, *values, reviewer(settings, request))

    handler.__annotations__ = {"request": gr.Request}
    return ui_errors(handler)


def bind_progress(fn, *bound):
    """fn(*bound, *inputs, progress=...) as an event handler (errors as toasts) that drives the
    progress bar: Gradio hands a parameter whose default is a gr.Progress its tracker."""
    import gradio as gr

    def handler(progress=gr.Progress(), *values):
        return fn(*bound, *values, progress=progress)

    return ui_errors(handler)


def bind_selection(fn, *bound, errors: bool = True):
    """fn(*bound, row, *inputs) as the handler of a table's select event, `row` the values of
    the row clicked (empty when there is none)."""
    import gradio as gr

    def handler(evt, *values):
        return fn(*bound, list(evt.row_value or []), *values)

    handler.__annotations__ = {"evt": gr.SelectData}
    return ui_errors(handler) if errors else handler


def quiet(*_args, **_kwargs) -> None:
    """A progress callback that shows nothing: what a handler reports to when called directly."""


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
        f"**Store** `{studio.path}` · **Task** `{task or 'all'}` · "
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


def part_label(part: str) -> str:
    """A learning-curve part as people read it: p025 (older curves) -> "25% of train",
    n0048-s1 -> "48 examples, seed 1"."""
    import re

    m = re.fullmatch(r"n(\d+)-s(\d+)", part or "")
    if m:
        return f"{int(m.group(1))} examples, seed {int(m.group(2))}"
    m = re.fullmatch(r"p(\d+)(?:-s(\d+))?", part or "")
    if m:
        return f"{int(m.group(1))}% of train" + (f", seed {int(m.group(2))}" if m.group(2)
                                                 else "")
    return part
