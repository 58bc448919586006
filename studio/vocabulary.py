"""The words every layer shares, defined once: a row's statuses and sources, a job's and a run's
statuses, and the cosine at which two inputs are duplicates by default. The store, the services,
the app and the CLI all import them from here."""

STATUSES = ("pending", "approved", "rejected")
SOURCES = ("imported", "teacher", "corrupted")
JOB_STATUSES = ("running", "completed", "failed", "cancelled", "budget_stopped", "interrupted")
RUN_STATUSES = ("queued", "running", "completed", "failed", "cancelled", "interrupted")
LIVE_RUN_STATUSES = ("queued", "running")  # a run in one of these may still change
DUPLICATE_THRESHOLD = 0.95  # cosine of input vectors at or above which rows are duplicates
