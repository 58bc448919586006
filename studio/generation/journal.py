"""A running job's answer journal: every answer that was read, one JSON line, appended the moment
it arrives and flushed to the OS (no fsync: it survives kill -9, not a power cut), so a killed job
loses none of the answers it paid for. The job's writer rotates it before each batch and drops a
rotated part once its answers are in the store; a resume folds whatever is left into the answer
cache first (`fold`)."""

from __future__ import annotations

import json
import threading
from pathlib import Path


class Journal:
    def __init__(self, path: Path):
        self.path = path
        self._file = None
        self._lock = threading.Lock()
        self._rotated: list[Path] = []
        self._parts = 0

    def append(self, record: dict, then) -> None:
        """Write one answer, then call `then()` (which queues it for the writer) under the same
        lock, so a rotation never falls between the two."""
        # The request's JSON is spliced in as made (not encoded again as a string).
        rest = {k: v for k, v in record.items() if k != "request_json"}
        line = (json.dumps(rest, ensure_ascii=False)[:-1] + ', "request": '
                + record["request_json"] + "}\n")
        with self._lock:
            if self._file is None:
                self._file = open(self.path, "a", encoding="utf-8")
            self._file.write(line)
            self._file.flush()
            then()

    def rotate(self) -> None:
        """What is appended from now on goes to a new part."""
        with self._lock:
            if self._file is None:
                return
            self._file.close()
            self._file = None
            self._parts += 1
            part = self.path.with_name(f"{self.path.name}.{self._parts}")
            self.path.replace(part)
            self._rotated.append(part)

    def drop_rotated(self) -> None:
        """Every answer of the rotated parts is in the store now."""
        for part in self._rotated:
            part.unlink(missing_ok=True)
        self._rotated.clear()

    def close(self, keep: bool) -> None:
        """At the job's end: the journal goes, unless writing the store failed (`keep`): then it
        stays for the resume to fold in."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
        if not keep:
            for part in [self.path, *self._rotated]:
                part.unlink(missing_ok=True)


def fold(store, folder: Path, job_id: int) -> int:
    """Answers a killed run journalled but had not stored yet go into the answer cache (a hash
    already stored keeps its answer); a line cut short by the kill is skipped. Returns how many
    answers were read."""
    parts = sorted(folder.glob(f"{job_id}.journal*"))
    calls = []
    for part in parts:
        for line in part.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the last line of a killed write
            if isinstance(record, dict) and record.get("request_hash"):
                calls.append(dict(record, replace=False))
    calls = list({c["request_hash"]: c for c in reversed(calls)}.values())  # first of each
    if calls:
        store.save_teacher_calls(calls, job_id)
    for part in parts:
        part.unlink(missing_ok=True)
    return len(calls)
