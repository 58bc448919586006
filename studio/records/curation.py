"""Embeddings, duplicates, scores, auto-review and agreement. (See studio/records/__init__.py for
what records are.)"""

from typing import Any, TypedDict


# -- curation ---------------------------------------------------------------------------------
class CachedVectors(TypedDict):
    name: str
    dim: int
    vectors: int
    created_at: str


class EmbedResult(TypedDict):
    model: str
    embedded: int
    texts: int
    dim: int
    precision: str | None
    device: str | None
    seconds: float
    cached: list[CachedVectors]


class DuplicatePair(TypedDict):
    id: int
    duplicate_of: int
    similarity: float
    kind: str


class TaskDedupe(TypedDict):
    task: str
    threshold: float
    dry_run: bool
    rows: int
    exact: int
    semantic: int
    variants: int
    clusters: int
    changed: int
    nearest: Any      # the nearest-cosine histogram, or None
    method: str       # exact | kmeans
    seconds: float


class DedupeResult(TypedDict):
    """All tasks together (the sums), each task on its own, and every pair."""
    threshold: float
    dry_run: bool
    model: str
    max_variants: int | None
    embedded: int
    exact: int
    semantic: int
    variants: int
    clusters: int
    changed: int
    rows: int
    tasks: list[TaskDedupe]
    pairs: list[DuplicatePair]


class Neighbour(TypedDict):
    id: int
    similarity: float
    status: str
    source: str
    duplicate_of: int | None
    input: str
    output: str | None


class Similar(TypedDict):
    id: int
    model: str
    neighbours: list[Neighbour]


class ClusterSummary(TypedDict):
    cluster_id: int
    size: int
    kinds: str
    canonical_input: str
    canonical_status: str
    min_similarity: float | None


class ClusterList(TypedDict):
    total: int
    clusters: list[ClusterSummary]
    last_run: dict[str, Any] | None


class ClusterMember(TypedDict):
    """One row of a duplicate cluster, canonical first."""
    id: int
    input: str
    output: str | None
    status: str
    source: str
    parent_id: int | None
    duplicate_of: int | None  # null for the canonical row
    similarity: float | None
    duplicate_kind: str | None
    cluster_id: int
    created_at: str


class ClusterRows(TypedDict):
    cluster_id: int
    rows: list[ClusterMember]


class CanonicalChoice(TypedDict):
    cluster_id: int
    canonical: int
    members: list[ClusterMember]


# -- scoring ----------------------------------------------------------------------------------
class ScoreSummary(TypedDict):
    """What is scored: counts, flags, means and each score's histogram."""
    task: str
    rows: int
    scored: int
    flagged: dict[str, int]
    means: dict[str, float]
    histograms: dict[str, dict[str, list[Any]]]
    judged: int
    judge_failures: list[dict[str, Any]]  # the judge's unreadable answers, with the reason


class ScoreResult(ScoreSummary):
    model: str               # the embedding model
    seconds: float
    judge: dict[str, Any] | None  # with --judge: the judge job's counts, failures and cost


class AutoResult(TypedDict):
    task: str
    dry_run: bool
    approve_above: float | None
    reject_below: float | None
    approve: int
    reject: int
    left_for_review: int
    unscored_pending: int
    batch_id: int | None
    approve_ids: list[int]
    reject_ids: list[int]


class AutoUndone(TypedDict):
    undone: str  # "auto"
    batch_id: int | None
    example_ids: list[int]


class Agreement(TypedDict):
    task: str
    decided: int
    judge: dict[str, Any]
    quality: dict[str, Any]
