"""The records the documented Python API and every command's `--json` return, written once.

They are TypedDicts, so a record stays a plain dict (`job["status"]` and `json.dumps(job)` keep
working) while mypy checks the keys where one is built, the CLI's handlers name the record they
print (docs/reference.py writes docs/cli.md's `--json` keys from those names), and every `--json`
output the tests see is checked against its record (tests/conftest.py's `cli`). Dataclasses stay
inside the library; these cross its boundary. A key marked NotRequired is present only in the
case its comment names. (No `from __future__ import annotations` here: Python 3.11 finds
NotRequired keys only in evaluated annotations.)
"""

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


# -- training ---------------------------------------------------------------------------------
class RunEval(TypedDict):
    metric: str
    base: float | None
    tuned: float | None
    delta: float | None
    n: int


class Run(TypedDict):
    id: int
    status: str            # vocabulary.RUN_STATUSES
    model: str
    run_dir: str
    step: int | None
    max_steps: int | None
    train_loss: float | None
    eval_loss: float | None
    adapter_path: str | None
    eval: RunEval | None
    error: str | None


class EvalRow(TypedDict):
    id: int | str | None
    input: str
    reference: str
    base: str
    tuned: str
    base_score: float
    tuned_score: float
    delta: float
    source: NotRequired[str | None]     # imported (real) | teacher | corrupted
    length: NotRequired[int]            # the input's characters
    judge: NotRequired[str | None]      # after eval --judge: win | tie | loss | failed


class DeltaInterval(TypedDict):
    delta: float | None
    ci: list[float | None]       # [lo, hi]
    n: int
    level: float                 # 0.95
    method: str                  # paired bootstrap over the test rows


class PairedTest(TypedDict):
    test: str                    # the paired sign-flip permutation test (exact or Monte Carlo)
    p_value: float | None
    n: int


class JudgeSummary(TypedDict):
    """The pairwise judge: tuned against base on every row, in both orders; a row whose two
    orders disagree is a tie, half a win; an unreadable answer is a failure, never counted."""
    win_rate: float | None
    win_rate_ci: list[float | None]  # Wilson 95% interval ([null, null] with no row counted)
    wins: int
    ties: int
    losses: int
    n: int                       # rows counted
    failed: int
    model: str
    requests: int
    cached: int
    tokens_in: int
    tokens_out: int
    failures: list[dict[str, Any]]


class Evaluation(TypedDict):
    """eval.json: base against tuned on the held-out split, rows worst first."""
    metric: str
    base: float | None
    tuned: float | None
    delta: float | None
    n: int
    base_summary: dict[str, Any]
    tuned_summary: dict[str, Any]
    rows: list[EvalRow]
    split: str
    base_model: str
    max_new_tokens: int
    delta_ci: NotRequired[DeltaInterval]     # evaluations made since issue 26
    test: NotRequired[PairedTest]
    # slice kind (source, length, operator, family) -> group -> {"n", "base", "tuned",
    # "delta", "delta_ci", "win_rate" after the judge} or {"n", "too_few": true}
    slices: NotRequired[dict[str, dict[str, dict[str, Any]]]]
    slices_note: NotRequired[str]            # why a slice has one group
    judge: NotRequired[JudgeSummary]         # after eval --judge


class RunRow(Run):
    """A run as the Python API returns it: the `runs` record and what the store keeps besides."""
    task: str
    kind: str                    # train | curve
    config: dict[str, Any]       # what was asked (config.toml)
    export_id: int | None
    pid: int | None
    cancel_requested: bool
    progress: float | None
    eta_s: float | None
    tokens_per_s: float | None
    merged_path: str | None
    curve: dict[str, Any] | None
    metrics_offset: int
    created_at: str
    updated_at: str
    finished_at: str | None


class RunList(TypedDict):
    runs: list[Run]


class CurvePoint(TypedDict):
    fraction: float
    n_train: int
    value: float | None
    train_loss: float | None
    eval_loss: float | None
    steps: int | None
    seed: NotRequired[int]       # curves made since issue 26: the subset's seed


class Curve(TypedDict):
    """curve.json: the score at each subset size and, since issue 26, what more data buys."""
    metric: str
    base: float | None
    n: int
    points: list[CurvePoint]
    fit: NotRequired[dict[str, Any]]   # {"law": "a - b * n^-c", "params", "params_ci", "r2", ...}
    target: NotRequired[float | None]
    needed_for_target: NotRequired[dict[str, Any]]  # {"n", "ci": [lo, hi], "reachable"}
    doubling: NotRequired[dict[str, Any]]           # {"delta", "ci"}: y(2n) - y(n)
    flat: NotRequired[bool]      # doubling is expected to add under 1 point
    answer: NotRequired[str]     # the plain sentence
    complete: NotRequired[bool]  # false when the curve was stopped before its last point


class CurveResult(TypedDict):
    run: int
    status: str
    curve: Curve | None


class ModelPush(TypedDict):
    repo_id: str
    private: bool
    files: list[PushedFile]
    url: NotRequired[str]          # a real push
    commit_url: NotRequired[str]   # a real push
    dry_run: NotRequired[bool]     # --dry-run


class ModelExport(TypedDict):
    """`export-model`: what a run was exported to, and the commands that serve it."""
    id: int
    run: int
    to: str                 # merged | gguf | ollama
    quant: str | None       # f32 | f16 | q8_0 | q4_k_m (gguf, ollama)
    out_dir: str
    files: list[str]        # relative to out_dir
    gguf: str | None        # the .gguf file
    modelfile: str | None   # the Ollama Modelfile
    commands: dict[str, str]  # name -> the command that serves what was exported
    bytes: int
    seconds: float
    created_at: str


class ModelExportList(TypedDict):
    exports: list[ModelExport]


class Serving(TypedDict):
    """`serve`: the endpoint, once it answers."""
    run: int
    engine: str             # llama.cpp | transformers
    url: str                # the OpenAI-compatible base URL
    model: str              # the model name to ask for
    served: str             # the file or folder served
    startup_s: float | None


class Nothing(TypedDict):
    """`ui`: it prints no JSON of its own."""
