"""The records the documented Python API and every command's `--json` return, written once.

They are TypedDicts, so a record stays a plain dict (`job["status"]` and `json.dumps(job)` keep
working) while mypy checks the keys where one is built, the CLI's handlers name the record they
print (docs/reference.py writes docs/cli.md's `--json` keys from those names), and every `--json`
output the tests see is checked against its record (tests/conftest.py's `cli`). Dataclasses stay
inside the library; these cross its boundary. A key marked NotRequired is present only in the
case its comment names. One module per topic; every record is importable from here. (No
`from __future__ import annotations` in them: Python 3.11 finds NotRequired keys only in
evaluated annotations.)
"""

from studio.records.curation import (  # noqa: F401
    Agreement,
    AutoResult,
    AutoUndone,
    CachedVectors,
    CanonicalChoice,
    ClusterList,
    ClusterMember,
    ClusterRows,
    ClusterSummary,
    DedupeResult,
    DuplicatePair,
    EmbedResult,
    Neighbour,
    ScoreResult,
    ScoreSummary,
    Similar,
    TaskDedupe,
)
from studio.records.examples import (  # noqa: F401
    BulkResult,
    Deleted,
    Example,
    ExampleDetail,
    HistoryEntry,
    ImportResult,
    InitResult,
    Page,
    ScoreLine,
    Stats,
    TaskList,
    TaskRecord,
    Undone,
)
from studio.records.export import (  # noqa: F401
    ExportList,
    ExportRecord,
    ExportSummary,
    PushedFile,
    PushResult,
)
from studio.records.generation import (  # noqa: F401
    CorruptResult,
    EndpointCheck,
    FitNoiseResult,
    HeldJobList,
    Job,
    JobCancelRequested,
    JobFailures,
    JobList,
    JobRow,
    RealismReport,
    TeacherCheck,
)
from studio.records.training import (  # noqa: F401
    Curve,
    CurvePoint,
    CurveResult,
    DeltaInterval,
    EvalRow,
    Evaluation,
    JudgeSummary,
    ModelExport,
    ModelExportList,
    ModelPush,
    Nothing,
    PairedTest,
    Run,
    RunEval,
    RunList,
    RunRow,
    Serving,
)
