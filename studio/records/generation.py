"""Generation jobs, the teacher check, and corruption. (See studio/records/__init__.py for what
records are.)"""

from typing import Any, NotRequired, TypedDict


# -- generation -------------------------------------------------------------------------------
class Job(TypedDict):
    id: int
    task: str
    mode: str
    status: str            # vocabulary.JOB_STATUSES
    model: str
    base_urls: list[str]
    requested: int
    done: int
    failed: int
    remaining: int
    tokens_in: int
    tokens_out: int
    cost_usd: float | None
    error: str | None
    requests: int
    cached: int
    items_per_s: float | None
    created_at: str
    finished_at: str | None


class JobFailures(TypedDict):
    """`jobs --failures JOB`: why each failed item failed, with the raw answer."""
    job: int
    failures: list[dict[str, Any]]


class JobCancelRequested(TypedDict):
    """`cancel JOB` while the job's own process holds the store: it was asked to stop."""
    id: int
    cancel_requested: bool


class JobList(TypedDict):
    jobs: list[Job]


class JobRow(Job):
    """A job as the Python API returns it: the `jobs` record and what the store keeps besides."""
    kind: str
    params: dict[str, Any]  # what a resume needs: the items, the seed pool, the recipe
    active_seconds: float
    pid: int | None
    updated_at: str


class HeldJobList(TypedDict):
    """`jobs` while another process holds the store: the running jobs' progress files (a job's
    id, task, mode, model, done, failed, remaining, rate, ...) and that process's id."""
    jobs: list[dict[str, Any]]
    held_by: int


class EndpointCheck(TypedDict):
    base_url: str
    ok: bool
    structured: str | None               # the structured output it takes (off: none)
    latency_ms: NotRequired[float]       # it answered
    model: NotRequired[str]              # it answered: the model that did
    refused: NotRequired[list[str]]      # it answered: the formats it refused, with why
    error: NotRequired[str]              # it failed: why, in words


class TeacherCheck(TypedDict):
    model: str
    endpoints: list[EndpointCheck]


# -- corruption -------------------------------------------------------------------------------
class CorruptResult(TypedDict):
    task: str
    profile: str
    parents: int
    variants: int
    seed: int
    dry_run: bool
    created: int
    unchanged: int
    repeated: int
    inputs: str
    batch_id: int | None
    ids: list[int]
    examples: list[dict[str, Any]]


class FitNoiseResult(TypedDict):
    name: str
    texts: int
    with_clean: bool
    profile: dict[str, Any]
    out: str | None


class RealismReport(TypedDict):
    real: dict[str, Any]
    synthetic: dict[str, Any]
    auc: dict[str, float | None]
    giveaways: dict[str, list[Any]]
