"""The DuckDB store: the only place in the project that writes SQL.

`Store(path)` opens (or creates) one file, applies pending migrations (after copying the file to
a backup), and serialises every statement through one lock. A second process that finds the file
held gets `StoreLocked` (exit code 3 in the CLI).
"""

from studio.store.base import iso, utcnow
from studio.store.exports import ExportsMixin
from studio.store.jobs import JobsMixin
from studio.store.migrations import MIGRATIONS
from studio.store.noise import NoiseMixin
from studio.store.runs import RunsMixin
from studio.store.scores import AUTO_PREFIX
from studio.store.vectors import VectorsMixin
from studio.vocabulary import JOB_STATUSES, RUN_STATUSES, SOURCES, STATUSES


class Store(JobsMixin, NoiseMixin, VectorsMixin, ExportsMixin, RunsMixin):
    """One project's store. Use as a context manager or call close()."""


__all__ = ["Store", "AUTO_PREFIX", "MIGRATIONS", "JOB_STATUSES", "RUN_STATUSES", "SOURCES",
           "STATUSES", "iso", "utcnow"]
