"""The studio's library API: what the CLI and the app call. No SQL here (that is the store's),
no argument parsing or widgets (those are the faces')."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from studio.curation.scoring_service import ScoringMixin
from studio.curation.service import CurationMixin
from studio.errors import BadInput, Conflict, NotFound
from studio.export.service import ExportMixin
from studio.generation_service import GenerationMixin
from studio.importing import content_hash, plan_import
from studio.settings import Settings
from studio.store import Store
from studio.tasks import BUILTIN_TASKS, Task
from studio.training.service import TrainingMixin
from studio.vocabulary import STATUSES

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"
SAMPLE_FILES = {  # file -> (task, its inputs' style)
    "tweets_clean.jsonl": ("tweet-summary", "clean"),
    "tweets_messy.jsonl": ("tweet-summary", "messy"),
    "tweets_drafts.jsonl": ("tweet-summary", "messy"),  # real drafts, summarised
    "support.jsonl": ("support-answer", "clean"),
    "sentiment.jsonl": ("sentiment", "clean"),
    "products.jsonl": ("product-description", "clean"),
}
ACTIONS = {"approve": "approved", "reject": "rejected", "reset": "pending"}
ORDERS = ("id", "uncertainty")


def _order(order: str) -> str:
    if order not in ORDERS:
        raise BadInput(f"unknown order {order!r}; use {' or '.join(ORDERS)}")
    return order


class Studio(GenerationMixin, CurationMixin, ScoringMixin, ExportMixin, TrainingMixin):
    """One project: a store file plus the operations on it.

        with Studio.open("studio.duckdb") as s:
            s.import_file("tweets.jsonl", task="tweet-summary")
            s.review(1, "approve")
    """

    def __init__(self, store: Store, settings: Settings):
        self.store, self.settings = store, settings
        self._stops: dict[int, threading.Event] = {}  # jobs running in this Studio
        self._claimed: set[int] = set()  # ... or about to
        self._encoders: dict = {}  # embedding models loaded by this Studio, by name
        self._encoders_lock = threading.Lock()
        for task in BUILTIN_TASKS:
            if store.get_task(task.name) is None:
                store.save_task(task, builtin=True)
        self._mark_interrupted()

    @classmethod
    def open(cls, path: str | Path | None = None, settings: Settings | None = None) -> Studio:
        settings = settings or Settings.from_env()
        if path is not None:
            settings = replace(settings, db_path=Path(path))
        return cls(Store(settings.db_path), settings)

    @property
    def path(self) -> Path:
        """The store file."""
        return self.store.path

    def close(self) -> None:
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- tasks -----------------------------------------------------------------------------

    def task(self, name: str | None = None) -> Task:
        name = name or self.settings.task
        task = self.store.get_task(name)
        if task is None:
            raise NotFound(f"no task {name!r}; known tasks: {', '.join(self.store.task_names())}")
        return task

    def tasks(self) -> list[Task]:
        return self.store.list_tasks()

    def task_names(self) -> list[str]:
        return self.store.task_names()

    def add_task(self, name: str, instruction: str, *, input_meaning: str = "the input text",
                 output_meaning: str = "the output text", labels: list[str] | None = None) -> Task:
        if self.store.get_task(name) is not None:
            raise Conflict(f"task {name!r} exists already")
        task = Task(name, instruction, input_meaning, output_meaning, tuple(labels or ()))
        self.store.save_task(task)
        return task

    # -- import ----------------------------------------------------------------------------

    def import_file(self, path: str | Path, *, task: str | None = None, fmt: str = "auto",
                    mapping: dict | None = None, name: str | None = None,
                    labels: list[str] | None = None, input_style: str = "auto",
                    reviewer: str | None = None) -> dict:
        """Import every row of a file or nothing, never a second copy of the user's data:
        a file row imported before (even if that row was edited or labelled since), an exact
        duplicate, or an input-only row whose input is stored already is skipped; a labelled
        row whose input waits as an input-only row fills that row (audited, undoable) instead
        of adding a copy beside it. See `plan_import` for `name`, `labels` and `input_style`."""
        plan = plan_import(path, self.task(task), fmt=fmt, mapping=mapping, name=name,
                           labels=labels, input_style=input_style)
        with self.store.transaction():
            hashes = [r["content_hash"] for r in plan.rows]
            before = self.store.imported_keys(plan.task, hashes)
            stored = before | self.store.existing_hashes(hashes)
            rest = [r for r in plan.rows if r["content_hash"] not in stored]
            waiting = self.store.stored_inputs(plan.task, [r["input"] for r in rest])
            new, fills = [], []
            for r in rest:
                if r["input"] not in waiting:
                    new.append(r)
                elif r["output"] is not None and waiting[r["input"]] is not None:
                    fills.append((waiting[r["input"]], r))
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
        current = self.get(example_id)
        fields = {"output": row["output"], "content_hash": row["content_hash"],
                  "import_keys": [*(current["import_keys"] or []), row["content_hash"]]}
        self.store.update_example(example_id, fields)
        self.store.append_review(example_id, reviewer, "edit",
                                 {k: current[k] for k in fields}, fields)

    def import_samples(self) -> list[dict]:
        """The bundled sample data; a file imported before adds nothing (import identity)."""
        return [self.import_file(SAMPLE_DIR / f, task=t, input_style=style, name=f)
                for f, (t, style) in SAMPLE_FILES.items()]

    # -- reading ---------------------------------------------------------------------------

    def stats(self, task: str | None = None) -> dict:
        if task:
            self.task(task)
        return self.store.counts(task)

    def list(self, *, status=None, source=None, task=None, text=None, input_only=None,
             limit: int = 50, offset: int = 0, order_by: str = "id",
             descending: bool = False) -> dict:
        if status and status not in STATUSES:
            raise BadInput(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
        if limit < 0 or offset < 0:
            raise BadInput("limit and offset must be 0 or more")
        total, rows = self.store.list_examples(
            task=task, status=status, source=source, text=text, input_only=input_only,
            limit=limit, offset=offset, order_by=order_by, descending=descending)
        for r in rows:
            r.pop("content_hash", None)
            r.pop("import_keys", None)
        return {"total": total, "rows": rows}

    def get(self, example_id: int) -> dict:
        row = self.store.get_example(example_id)
        if row is None:
            raise NotFound(f"no example with id {example_id}")
        return row

    def neighbor(self, example_id: int | None, step: int = 1, *, order: str = "id",
                 **filters) -> int | None:
        """The next (step=1) or previous (step=-1) example matching the filters, wrapping.
        order: "id", or "uncertainty" (quality nearest the auto-review thresholds first)."""
        if _order(order) == "uncertainty":
            return self.store.uncertain_neighbor(example_id, step,
                                                 self._order_thresholds(filters), **filters)
        return self.store.neighbor_id(example_id, step, **filters)

    def position(self, example_id: int, *, order: str = "id",
                 **filters) -> tuple[int, int, bool]:
        """(position of the example among the matching ones, how many match, whether it
        matches)."""
        if _order(order) == "uncertainty":
            return self.store.uncertain_rank(example_id, self._order_thresholds(filters),
                                             **filters)
        return self.store.rank(example_id, **filters)

    def _order_thresholds(self, filters: dict) -> tuple[float, float]:
        from studio.curation.scoring import DEFAULT_THRESHOLDS

        return self.thresholds(filters["task"]) if filters.get("task") else DEFAULT_THRESHOLDS

    def history(self, example_id: int | None = None) -> list[dict]:
        return self.store.reviews(example_id)

    # -- review actions --------------------------------------------------------------------

    def review(self, example_id: int, action: str, *, reviewer: str | None = None) -> dict:
        """approve | reject | reset (back to pending) one example; audited."""
        if action not in ACTIONS:
            raise BadInput(f"unknown action {action!r}; use approve, reject or reset")
        with self.store.transaction():
            self._set_status(self.get(example_id), action, reviewer or self.settings.reviewer)
            return self.get(example_id)

    def bulk_review(self, action: str, *, reviewer: str | None = None, ids: list[int] | None = None,
                    **filters) -> dict:
        """Apply one action to every example matching the filters (or the given ids), as one
        batch that a single undo reverts. Input-only rows are skipped when approving."""
        if action not in ACTIONS:
            raise BadInput(f"unknown action {action!r}; use approve, reject or reset")
        reviewer = reviewer or self.settings.reviewer
        with self.store.transaction():
            targets = ids if ids is not None else self.store.matching_ids(**filters)
            rows = self.store.get_examples(targets)
            batch = self.store.new_batch_id()
            changed = skipped = 0
            for row in rows:
                if row["status"] == ACTIONS[action] \
                        or (action == "approve" and row["output"] is None):
                    skipped += 1
                    continue
                self._set_status(row, action, reviewer, batch_id=batch)
                changed += 1
        return {"action": action, "matched": len(rows), "changed": changed, "skipped": skipped,
                "batch_id": batch}

    def _set_status(self, row: dict, action: str, reviewer: str, batch_id: int | None = None):
        new = ACTIONS[action]
        if action == "approve" and row["output"] is None:
            raise Conflict(f"example {row['id']} has no output yet, so it cannot be approved; "
                           "give it an output first (write one and save it, or label it with "
                           "the teacher)")
        self.store.update_example(row["id"], {"status": new})
        self.store.append_review(row["id"], reviewer, "reset" if action == "reset" else action,
                                 {"status": row["status"]}, {"status": new}, batch_id=batch_id)

    def edit(self, example_id: int, *, input: str | None = None, output: str | None = None,
             reviewer: str | None = None) -> dict:
        """Change input and/or output in place. An empty output makes the row input-only (and
        pending again if it was approved)."""
        if input is None and output is None:
            raise BadInput("nothing to edit: give a new input, a new output or both")
        with self.store.transaction():
            row = self.get(example_id)
            task = self.task(row["task"])
            fields = {}
            if input is not None:
                if not input.strip():
                    raise BadInput("the input cannot be blank")
                fields["input"] = input
            if output is not None:
                fields["output"] = task.check_output(output) if output.strip() else None
            new_in = fields.get("input", row["input"])
            new_out = fields.get("output", row["output"])
            if new_out is None and row["status"] == "approved":
                fields["status"] = "pending"
            fields = {k: v for k, v in fields.items() if v != row[k]}
            if not fields:
                return row
            fields["content_hash"] = content_hash(row["task"], new_in, new_out)
            before = {k: row[k] for k in fields}
            self.store.update_example(example_id, fields)
            self.store.append_review(example_id, reviewer or self.settings.reviewer, "edit",
                                     before, fields)
            return self.get(example_id)

    def delete(self, ids: list[int], *, reviewer: str | None = None,
               as_batch: bool = False) -> dict:
        """Delete examples; the audit keeps each whole row so one undo puts them all back.
        Several rows (or `as_batch`) are one batch, which `undo_batch` can name."""
        reviewer = reviewer or self.settings.reviewer
        with self.store.transaction():
            rows = self.store.get_examples(ids)
            missing = sorted(set(ids) - {r["id"] for r in rows})
            if missing:
                raise NotFound(f"no example with id {', '.join(map(str, missing))}")
            batch = self.store.new_batch_id() if len(rows) > 1 or as_batch else None
            self.store.append_reviews([r["id"] for r in rows], reviewer, "delete", rows,
                                      [None] * len(rows), batch_id=batch)
            self.store.delete_examples(ids)
        return {"deleted": [r["id"] for r in rows], "batch_id": batch}

    def delete_matching(self, *, dry_run: bool = False, reviewer: str | None = None,
                        **filters) -> dict:
        """Delete every example matching the filters (task, status, source, text,
        input_only) as one batch that one undo puts back; with `dry_run`, only count them."""
        ids = self.store.matching_ids(**filters)
        if dry_run or not ids:
            return {"matched": len(ids), "deleted": 0, "dry_run": dry_run}
        r = self.delete(ids, reviewer=reviewer, as_batch=True)
        return {"matched": len(ids), "deleted": len(ids), "dry_run": False,
                "batch_id": r["batch_id"]}

    def undo(self, *, reviewer: str | None = None) -> dict:
        """Revert the newest action not yet undone (a whole batch at once). With `reviewer`,
        the newest of that reviewer's actions, unless someone changed the row since."""
        by = reviewer or self.settings.reviewer
        with self.store.transaction():
            actions = self.store.last_undoable(reviewer)
            if not actions:
                raise Conflict("nothing to undo")
            self._revert(actions, by)
        return {"undone": actions[0]["action"], "example_ids": [a["example_id"] for a in actions],
                "reviewer": actions[0]["reviewer"]}

    def undo_batch(self, batch_id: int, *, reviewer: str | None = None) -> dict:
        """Revert one batch (a bulk delete, a corrupt batch, a bulk review), whole."""
        with self.store.transaction():
            actions = self.store.batch_reviews(batch_id)
            if not actions:
                raise Conflict(f"batch {batch_id} has nothing left to undo")
            self._revert(actions, reviewer or self.settings.reviewer)
        return {"undone": actions[0]["action"], "batch_id": batch_id,
                "example_ids": sorted(a["example_id"] for a in actions)}

    def _revert(self, actions: list[dict], by: str) -> None:
        """Undo audited actions (one action, or a whole batch), refusing if a later action on
        one of the rows, outside the batch, would be lost."""
        with self.store.transaction():
            later = self.store.changed_after_any(actions)
            if later:
                act = next(a for a in actions if a["id"] == later["after_action"])
                raise Conflict(
                    f"example {act['example_id']} was changed by {later['reviewer']} "
                    f"({later['action']}) after this {act['action']}; undo that first")
            added = [a["example_id"] for a in actions if a["action"] == "add"]
            if added:  # rows the studio made (a corrupt batch)
                self.store.delete_examples(added)
            for act in actions:
                if act["action"] == "delete":
                    self.store.restore_example(act["before"])
                elif act["action"] != "add":
                    self.store.update_example(act["example_id"], act["before"])
            self.store.append_reviews([a["example_id"] for a in actions], by, "undo",
                                      [a["after"] for a in actions],
                                      [a["before"] for a in actions],
                                      batch_id=actions[0].get("batch_id"),
                                      undoes=[a["id"] for a in actions])

    # -- corruption ------------------------------------------------------------------------

    def noise_profile(self, spec=None):
        """A NoiseProfile from a built-in name, a stored name, a TOML/JSON file, or itself."""
        from studio.corruption import resolve_profile

        return resolve_profile(self.store, spec)

    def noise_profiles(self) -> list[dict]:
        """Built-in profiles, then the stored (fitted or edited) ones."""
        from generators.noise import BUILTIN_PROFILES

        return ([{"name": n, "builtin": True, "profile": p.to_dict()}
                 for n, p in BUILTIN_PROFILES.items()]
                + [{**r, "builtin": False} for r in self.store.list_noise_profiles()])

    def save_noise_profile(self, profile) -> str:
        from generators.noise import BUILTIN_PROFILES

        if profile.name in BUILTIN_PROFILES:
            raise BadInput(f"{profile.name!r} is a built-in profile; save yours under another name")
        self.store.save_noise_profile(profile.name, profile.to_dict())
        return profile.name

    def messy_sample(self, *, task: str | None = None, status: str | None = None,
                     limit: int = 500) -> list[str]:
        """The task's real messy inputs (imported as messy, labelled since or not), to fit a
        profile on or compare against."""
        return self.store.messy_texts(self.task(task).name, status, limit)

    def fit_noise(self, messy: list[str], clean: list[str] | None = None, *,
                  name: str = "fitted", save: bool = True):
        """Fit a profile to real messy texts (and their clean versions, if known); saves it in
        the store under `name` unless `save` is False."""
        from generators.noise import FitError, fit_profile

        try:
            profile = fit_profile(messy, clean, name=name)
        except FitError as e:
            raise BadInput(str(e)) from None
        if save:
            self.save_noise_profile(profile)
        return profile

    def corrupt_preview(self, *, task: str | None = None, profile=None, status: str | None = None,
                        inputs: str = "clean", seed: int = 0, limit: int = 20) -> list[dict]:
        from studio.corruption import preview

        return preview(self.store, self.task(task).name, self.noise_profile(profile),
                       status=status, inputs=inputs, seed=seed, limit=limit)

    def corrupt(self, *, task: str | None = None, profile=None, status: str | None = None,
                ids: list[int] | None = None, inputs: str = "clean", variants: int = 1,
                seed: int = 0, limit: int | None = None, dry_run: bool = False,
                on_progress=None, reviewer: str | None = None) -> dict:
        """Corrupt the inputs of a task's complete rows into new pending rows (source
        `corrupted`, parent = the clean row, output = its output). By default only rows whose
        input is clean; `inputs="any"` (or "messy"), or `ids`, reach the user's real messy
        inputs too. One undo removes the batch."""
        from studio.corruption import INPUTS, corrupt_rows

        if status is not None and status not in STATUSES:
            raise BadInput(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        if inputs not in INPUTS:
            raise BadInput(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")
        return corrupt_rows(self.store, self.task(task).name, self.noise_profile(profile),
                            status=status, ids=ids, inputs=inputs, variants=variants, seed=seed,
                            limit=limit, dry_run=dry_run, on_progress=on_progress,
                            reviewer=reviewer or self.settings.reviewer)
