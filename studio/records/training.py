"""Training runs, their evaluation and learning curve, and what a run is deployed as. (See
studio/records/__init__.py for what records are.)"""

from typing import Any, NotRequired, TypedDict

from studio.records.export import PushedFile


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
