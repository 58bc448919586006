"""Dataset exports and pushes. (See studio/records/__init__.py for what records are.)"""

from typing import Any, TypedDict


# -- export -----------------------------------------------------------------------------------
class ExportSummary(TypedDict):
    task: str
    options: dict[str, Any]
    counts: dict[str, Any]
    checks: dict[str, Any]
    moved: list[dict[str, Any]]
    fingerprint: str
    out_dir: str
    dry_run: bool
    files: dict[str, dict[str, Any]]
    export_id: int | None
    unchanged: bool


class PushedFile(TypedDict):
    path: str
    bytes: int


class PushResult(TypedDict):
    repo_id: str
    folder: str
    private: bool
    dry_run: bool
    export_id: int | None
    files: list[PushedFile]
    delete_patterns: str
    changed_since_export: list[str]
    url: str | None
    commit_url: str | None


class ExportRecord(TypedDict):
    id: int
    task: str
    out_dir: str
    format: str
    schema: str
    options: dict[str, Any]
    counts: dict[str, Any]
    checks: dict[str, Any]
    files: dict[str, Any]
    fingerprint: str
    created_at: str
    rows: int


class ExportList(TypedDict):
    exports: list[ExportRecord]
