"""Reviews: the task's rows and what people do to them (review, edit, delete, undo), every
change audited. Built on the store alone; the other services take it for task lookups, rows and
undo."""

from __future__ import annotations

import builtins
from typing import cast

from studio.errors import BadInput, Conflict, NotFound
from studio.importing import content_hash
from studio.records import BulkResult, Deleted, Example, HistoryEntry, Page, Stats, Undone
from studio.scoring.scores import DEFAULT_THRESHOLDS
from studio.settings import Settings
from studio.store import Store
from studio.tasks import Task
from studio.vocabulary import STATUSES

ACTIONS = {"approve": "approved", "reject": "rejected", "reset": "pending"}
ORDERS = ("id", "uncertainty")


def _order(order: str) -> str:
    if order not in ORDERS:
        raise BadInput(f"unknown order {order!r}; use {' or '.join(ORDERS)}")
    return order


class Reviews:
    """Tasks and the rows of each, and every person's action on them: review, bulk review,
    edit, delete, undo (an undo reverts one action or a whole batch, refusing when a later
    change outside it would be lost)."""

    def __init__(self, store: Store, settings: Settings):
        self.store, self.settings = store, settings

    def task(self, name: str | None = None) -> Task:
        name = name or self.settings.task
        task = self.store.get_task(name)
        if task is None:
            raise NotFound(f"no task {name!r}; known tasks: {', '.join(self.store.task_names())}")
        return task

    def tasks(self) -> builtins.list[Task]:
        return self.store.list_tasks()

    def task_names(self) -> builtins.list[str]:
        return self.store.task_names()

    def add_task(self, name: str, instruction: str, *, input_meaning: str = "the input text",
                 output_meaning: str = "the output text",
                 labels: builtins.list[str] | None = None) -> Task:
        if self.store.get_task(name) is not None:
            raise Conflict(f"task {name!r} exists already")
        task = Task(name, instruction, input_meaning, output_meaning, tuple(labels or ()))
        self.store.save_task(task)
        return task

    def stats(self, task: str | None = None) -> Stats:
        if task:
            self.task(task)
        return self.store.counts(task)

    def list(self, *, status=None, source=None, task=None, text=None, input_only=None,
             limit: int = 50, offset: int = 0, order_by: str = "id",
             descending: bool = False) -> Page:
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

    def get(self, example_id: int) -> Example:
        row = self.store.get_example(example_id)
        if row is None:
            raise NotFound(f"no example with id {example_id}")
        return row

    def neighbor(self, example_id: int | None, step: int = 1, *, order: str = "id",
                 thresholds: tuple[float, float] = DEFAULT_THRESHOLDS,
                 **filters) -> int | None:
        """The next (step=1) or previous (step=-1) example matching the filters, wrapping.
        order: "id", or "uncertainty" (quality nearest the auto-review thresholds first)."""
        if _order(order) == "uncertainty":
            return self.store.uncertain_neighbor(example_id, step, thresholds, **filters)
        return self.store.neighbor_id(example_id, step, **filters)

    def position(self, example_id: int, *, order: str = "id",
                 thresholds: tuple[float, float] = DEFAULT_THRESHOLDS,
                 **filters) -> tuple[int, int, bool]:
        """(position of the example among the matching ones, how many match, whether it
        matches)."""
        if _order(order) == "uncertainty":
            return self.store.uncertain_rank(example_id, thresholds, **filters)
        return self.store.rank(example_id, **filters)

    def history(self, example_id: int | None = None) -> builtins.list[HistoryEntry]:
        return self.store.reviews(example_id)

    def review(self, example_id: int, action: str, *, reviewer: str | None = None) -> Example:
        """approve | reject | reset (back to pending) one example; audited."""
        if action not in ACTIONS:
            raise BadInput(f"unknown action {action!r}; use approve, reject or reset")
        with self.store.transaction():
            self._set_status(self.get(example_id), action, reviewer or self.settings.reviewer)
            return self.get(example_id)

    def bulk_review(self, action: str, *, reviewer: str | None = None,
                    ids: builtins.list[int] | None = None, **filters) -> BulkResult:
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

    def _set_status(self, row: Example, action: str, reviewer: str, batch_id: int | None = None):
        new = ACTIONS[action]
        if action == "approve" and row["output"] is None:
            raise Conflict(f"example {row['id']} has no output yet, so it cannot be approved; "
                           "give it an output first (write one and save it, or label it with "
                           "the teacher)")
        self.store.update_example(row["id"], {"status": new})
        self.store.append_review(row["id"], reviewer, "reset" if action == "reset" else action,
                                 {"status": row["status"]}, {"status": new}, batch_id=batch_id)

    def edit(self, example_id: int, *, input: str | None = None, output: str | None = None,
             reviewer: str | None = None) -> Example:
        """Change input and/or output in place. An empty output makes the row input-only (and
        pending again if it was approved)."""
        if input is None and output is None:
            raise BadInput("nothing to edit: give a new input, a new output or both")
        with self.store.transaction():
            row: dict = dict(self.get(example_id))  # read by field name below
            task = self.task(row["task"])
            fields: dict[str, str | None] = {}
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
                return cast(Example, row)
            fields["content_hash"] = content_hash(row["task"], new_in, new_out)
            before = {k: row[k] for k in fields}
            self.store.update_example(example_id, fields)
            self.store.append_review(example_id, reviewer or self.settings.reviewer, "edit",
                                     before, fields)
            return self.get(example_id)

    def delete(self, ids: builtins.list[int], *, reviewer: str | None = None,
               as_batch: bool = False) -> Deleted:
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

    def undo(self, *, reviewer: str | None = None) -> Undone:
        """Revert the newest action not yet undone (a whole batch at once). With `reviewer`,
        the newest of that reviewer's actions, unless someone changed the row since."""
        by = reviewer or self.settings.reviewer
        with self.store.transaction():
            actions = self.store.last_undoable(reviewer)
            if not actions:
                raise Conflict("nothing to undo")
            self.revert(actions, by)
        return {"undone": actions[0]["action"], "example_ids": [a["example_id"] for a in actions],
                "reviewer": actions[0]["reviewer"]}

    def undo_batch(self, batch_id: int, *, reviewer: str | None = None) -> Undone:
        """Revert one batch (a bulk delete, a corrupt batch, a bulk review), whole."""
        with self.store.transaction():
            actions = self.store.batch_reviews(batch_id)
            if not actions:
                raise Conflict(f"batch {batch_id} has nothing left to undo")
            self.revert(actions, reviewer or self.settings.reviewer)
        return {"undone": actions[0]["action"], "batch_id": batch_id,
                "example_ids": sorted(a["example_id"] for a in actions)}

    def revert(self, actions: builtins.list[HistoryEntry], by: str) -> None:
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
                    self.store.restore_example(cast(dict, act["before"]))
                elif act["action"] != "add":
                    self.store.update_example(act["example_id"], cast(dict, act["before"]))
            self.store.append_reviews([a["example_id"] for a in actions], by, "undo",
                                      [a["after"] for a in actions],
                                      [a["before"] for a in actions],
                                      batch_id=actions[0].get("batch_id"),
                                      undoes=[a["id"] for a in actions])
