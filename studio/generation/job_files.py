"""The files a running job keeps beside the store (`STORE.jobs/`: ID.json progress, ID.cancel,
ID.journal) and which jobs run in this process: what another process (the CLI's `jobs` and
`cancel`, the app) reads while the job holds the store."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

_RUNNING: set[tuple[str, int]] = set()  # (store path, job id) running in this process


def sidecar_dir(db_path: Path) -> Path:
    return Path(f"{db_path}.jobs")


def request_cancel(db_path: Path, job_id: int) -> Path:
    d = sidecar_dir(db_path)
    d.mkdir(parents=True, exist_ok=True)
    flag = d / f"{job_id}.cancel"
    flag.write_text(str(time.time()))
    return flag


def live_progress(db_path: Path) -> list[dict]:
    """Progress files of running jobs (read while another process holds the store). The file
    of a job whose process was killed stays behind: it is skipped, so a dead job never shows
    as running."""
    out = []
    for f in sorted(sidecar_dir(db_path).glob("*.json")):
        try:
            p = json.loads(f.read_text())
        except (OSError, ValueError):
            continue  # being replaced right now
        if _alive(p.get("pid")):
            out.append(p)
    return out


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    try:  # a killed process its parent has not reaped yet is a zombie: dead
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return not Path("/proc/self").exists()  # gone just now, or no /proc here


def _key(db_path: Path, job_id: int) -> tuple[str, int]:
    return str(Path(db_path).resolve()), job_id


def is_running_here(db_path: Path, job_id: int) -> bool:
    return _key(db_path, job_id) in _RUNNING


def mark_running(db_path: Path, job_id: int) -> None:
    _RUNNING.add(_key(db_path, job_id))


def release(db_path: Path, job_id: int) -> None:
    _RUNNING.discard(_key(db_path, job_id))
