"""Reading a run's metrics.jsonl from where the last read stopped, and turning its events into
the run's row and its metric rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from trainer.evaluate import brief


def read_events(path: Path, offset: int) -> tuple[list[dict], int]:
    """Complete lines after byte `offset` (a half-written last line waits for the next read)."""
    if not path.exists():
        return [], offset
    with path.open("rb") as fh:
        fh.seek(offset)
        chunk = fh.read()
    end = chunk.rfind(b"\n") + 1
    events = []
    for line in chunk[:end].splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn line from a killed writer: skip it, keep the rest
    return events, offset + end


def _at(event: dict) -> datetime:
    return datetime.fromtimestamp(event.get("time", 0), UTC).replace(tzinfo=None)


def fold(events: list[dict]) -> tuple[dict, list[dict], dict | None]:
    """(run fields to update, metric rows, the end event or None)."""
    fields: dict = {}
    metrics: list[dict] = []
    end = None
    for e in events:
        kind = e.get("event")
        if kind == "start":
            fields.update(max_steps=e.get("max_steps"), step=e.get("step"))
        elif kind == "progress":  # between logs: where the run is, every few seconds
            fields.update({k: e[k] for k in ("step", "max_steps", "progress", "eta_s")
                           if e.get(k) is not None})
        elif kind == "log":
            fields.update({k: e[k] for k in ("step", "max_steps", "progress", "eta_s")
                           if e.get(k) is not None})
            if e.get("tokens_per_s"):
                fields["tokens_per_s"] = e["tokens_per_s"]
            if e.get("loss") is not None:
                fields["train_loss"] = e["loss"]
            if e.get("eval_loss") is not None:
                fields["eval_loss"] = e["eval_loss"]
            if e.get("loss") is not None or e.get("eval_loss") is not None:
                metrics.append({**{k: e.get(k) for k in ("part", "step", "epoch", "loss",
                                                         "eval_loss", "learning_rate",
                                                         "tokens_per_s")}, "at": _at(e)})
        elif kind == "eval" and not e.get("part"):
            fields["eval"] = brief(e)
        elif kind == "trained":  # saved; the evaluation may still fail or be interrupted
            fields.update({k: e[k] for k in ("adapter_path", "merged_path") if e.get(k)})
        elif kind == "curve":
            fields["curve"] = {k: e.get(k) for k in ("metric", "base", "n", "points")}
        elif kind == "end" and e.get("mode") != "eval":
            end = e
    return fields, metrics, end
