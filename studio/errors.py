"""The studio's exceptions: messages a person can act on, and the exit code each one means.

The CLI turns a StudioError into one line on stderr and its exit code; the UI turns it into a
gr.Error. Nothing else should reach a user as a traceback.
"""


class StudioError(Exception):
    """Base class: a problem the user can fix. `exit_code` is what the CLI exits with."""

    exit_code = 1


class BadInput(StudioError):
    """A file, a value or an argument is wrong. The message names what and where."""


class NotFound(StudioError):
    """An id or a name that is not in the store."""


class Conflict(StudioError):
    """The action does not fit the row's current state (approving a row without an output...)."""


class TeacherFailed(StudioError):
    """The teacher endpoint refused the key or the model, or could not be reached, or a job
    ended with nothing done. `data` is what --json prints beside the message."""

    exit_code = 4

    def __init__(self, message: str, data: dict | None = None):
        super().__init__(message)
        self.data = data


class HubFailed(StudioError):
    """The Hugging Face Hub refused the token or the repo, or could not be reached."""

    exit_code = 5


class TrainFailed(StudioError):
    """A training run failed; the message carries the trainer's error and its log's tail."""

    exit_code = 6


class StoreLocked(StudioError):
    """Another process holds the DuckDB file."""

    exit_code = 3

    def __init__(self, path: str, pid: int | None, detail: str = ""):
        self.path, self.pid = path, pid
        holder = f"process {pid}" if pid else "another process"
        super().__init__(
            f"{path} is held by {holder}; close that process (an `sft-studio ui`, say) "
            "and try again"
        )
