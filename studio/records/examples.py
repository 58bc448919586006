"""Examples, their reviews and tasks, and what an import returns. (See studio/records/__init__.py
for what records are.)"""

from typing import Any, NotRequired, TypedDict


# -- examples and reviews -------------------------------------------------------------------------
class Example(TypedDict):
    id: int
    task: str
    input: str
    output: str | None
    source: str            # vocabulary.SOURCES
    parent_id: int | None  # the row it was generated or corrupted from
    status: str            # vocabulary.STATUSES
    duplicate_of: int | None
    similarity: float | None
    cluster_id: int | None
    duplicate_kind: str | None  # exact | semantic | variant
    split: str | None
    meta: dict[str, Any]
    created_at: str
    updated_at: str
    input_style: str | None     # messy | clean
    scores: NotRequired[dict[str, float | None]]  # in pages (list) and clusters
    content_hash: NotRequired[str]                # one row (review, edit)
    import_keys: NotRequired[list[str] | None]    # one row: the file rows it came from


class ScoreLine(TypedDict):
    name: str
    value: float | None
    detail: str | None  # what a flagged check found, or why a judgement failed
    about: str          # what the score measures


class HistoryEntry(TypedDict):
    id: int
    example_id: int
    action: str
    reviewer: str
    at: str
    batch_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    undoes: int | None  # the entry an undo reverted


class ExampleDetail(TypedDict):
    """`show ID`: an Example whose scores say what each means or found, and its history."""
    id: int
    task: str
    input: str
    output: str | None
    source: str
    parent_id: int | None
    status: str
    duplicate_of: int | None
    similarity: float | None
    cluster_id: int | None
    duplicate_kind: str | None
    split: str | None
    content_hash: str
    scores: list[ScoreLine]
    meta: dict[str, Any]
    created_at: str
    updated_at: str
    input_style: str | None
    import_keys: list[str] | None
    history: list[HistoryEntry]


class Page(TypedDict):
    total: int
    rows: list[Example]


class Stats(TypedDict):
    total: int
    by_status: dict[str, int]
    by_source: dict[str, int]
    by_task: dict[str, int]
    input_only: int
    duplicates: int


class BulkResult(TypedDict):
    action: str
    matched: int
    changed: int
    dry_run: NotRequired[bool]         # without --yes (nothing done), and a delete
    skipped: NotRequired[int]          # a review (not a delete), with --yes
    batch_id: NotRequired[int | None]  # with --yes


class Deleted(TypedDict):
    deleted: list[int]
    batch_id: int | None


class Undone(TypedDict):
    undone: str
    example_ids: list[int]
    reviewer: NotRequired[str]
    batch_id: NotRequired[int]  # undo --batch


class TaskRecord(TypedDict):
    name: str
    instruction: str
    input_meaning: str
    output_meaning: str
    labels: list[str]
    kind: str                  # classification (with labels) | free text


class TaskList(TypedDict):
    tasks: list[TaskRecord]


# -- import -----------------------------------------------------------------------------------
class ImportResult(TypedDict):
    file: str
    task: str
    imported: int
    filled: int
    already_imported: int
    skipped_duplicates: int
    input_only: int
    messy: int
    clean: int
    unused_columns: list[str]


class InitResult(TypedDict):
    db: str
    tasks: list[str]
    imported: list[ImportResult]
