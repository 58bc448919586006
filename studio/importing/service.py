"""Imports: files and the bundled samples into the store, all rows or none; a labelled row
whose input waits as an input-only row fills it (audited, undoable). Built on the store, the
settings and Reviews (task lookup)."""

from __future__ import annotations

from pathlib import Path

from studio.importing import plan_import
from studio.records import ImportResult
from studio.reviews.service import Reviews
from studio.settings import Settings
from studio.store import Store

SAMPLE_DIR = Path(__file__).resolve().parent.parent.parent / "sample_data"
SAMPLE_FILES = {  # file -> (task, its inputs' style)
    "tweets_clean.jsonl": ("tweet-summary", "clean"),
    "tweets_messy.jsonl": ("tweet-summary", "messy"),
    "tweets_drafts.jsonl": ("tweet-summary", "messy"),  # real drafts, summarised
    "support.jsonl": ("support-answer", "clean"),
    "sentiment.jsonl": ("sentiment", "clean"),
    "products.jsonl": ("product-description", "clean"),
}


class Imports:
    """Files and the bundled samples into a task, all rows or none."""

    def __init__(self, store: Store, settings: Settings, reviews: Reviews):
        self.store, self.settings, self.reviews = store, settings, reviews

    def import_file(self, path: str | Path, *, task: str | None = None, fmt: str = "auto",
                    mapping: dict | None = None, name: str | None = None,
                    labels: list[str] | None = None, input_style: str = "auto",
                    reviewer: str | None = None) -> ImportResult:
        """Import every row of a file or nothing, never a second copy of the user's data:
        a file row imported before (even if that row was edited or labelled since), an exact
        duplicate, or an input-only row whose input is stored already is skipped; a labelled
        row whose input waits as an input-only row fills that row (audited, undoable) instead
        of adding a copy beside it. See `plan_import` for `name`, `labels` and `input_style`."""
        plan = plan_import(path, self.reviews.task(task), fmt=fmt, mapping=mapping, name=name,
                           labels=labels, input_style=input_style)
        with self.store.transaction():
            hashes = [r["content_hash"] for r in plan.rows]
            before = self.store.imported_keys(plan.task, hashes)
            stored = before | self.store.existing_hashes(hashes)
            rest = [r for r in plan.rows if r["content_hash"] not in stored]
            waiting = self.store.stored_inputs(plan.task, [r["input"] for r in rest])
            new: list[dict] = []
            fills: list[tuple[int, dict]] = []
            for r in rest:
                if r["input"] not in waiting:
                    new.append(r)
                elif r["output"] is not None and (waits := waiting[r["input"]]) is not None:
                    fills.append((waits, r))
                    waiting[r["input"]] = None  # filled: a second label adds a row
                elif r["output"] is not None:
                    new.append(r)  # another output for a stored input: a row of its own
            self.store.insert_examples(new)
            for example_id, r in fills:
                self._fill_from_import(example_id, r, reviewer or self.settings.reviewer)
        return {
            "file": plan.file,
            "task": plan.task,
            "imported": len(new),
            "filled": len(fills),
            "already_imported": len(before),
            "skipped_duplicates": plan.duplicates_in_file + len(plan.rows) - len(new) - len(fills),
            "input_only": sum(r["output"] is None for r in new),
            "messy": sum(r["input_style"] == "messy" for r in new),
            "clean": sum(r["input_style"] == "clean" for r in new),
            "unused_columns": plan.unused_columns,
        }

    def _fill_from_import(self, example_id: int, row: dict, reviewer: str) -> None:
        current: dict = dict(self.reviews.get(example_id))  # read by field name below
        fields = {"output": row["output"], "content_hash": row["content_hash"],
                  "import_keys": [*(current["import_keys"] or []), row["content_hash"]]}
        self.store.update_example(example_id, fields)
        self.store.append_review(example_id, reviewer, "edit",
                                 {k: current[k] for k in fields}, fields)

    def import_samples(self) -> list[ImportResult]:
        """The bundled sample data; a file imported before adds nothing (import identity)."""
        return [self.import_file(SAMPLE_DIR / f, task=t, input_style=style, name=f)
                for f, (t, style) in SAMPLE_FILES.items()]
