"""Starting, watching and signalling the trainer subprocess (POSIX: a session of its own, so a
signal reaches every rank that `accelerate launch` started)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

# Secrets the trainer never needs: the teacher's key stays with the studio.
DROP_ENV = ("OPENAI_API_KEY",)


def command(config_path: Path, mode: str = "train") -> list[str]:
    """One process; several GPUs: run `accelerate launch -m trainer CONFIG` by hand."""
    flag = {"train": [], "curve": ["--curve"], "eval": ["--eval-only"]}[mode]
    return [sys.executable, "-m", "trainer", str(config_path), *flag]


def launch(cmd: list[str], run_dir: Path, log_name: str = "train.log") -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    # One process trains on one GPU: Trainer refuses a single process that sees several (it
    # would need DataParallel). Several GPUs: `accelerate launch -m trainer` by hand.
    if "CUDA_VISIBLE_DEVICES" not in env and "WORLD_SIZE" not in env:
        env["CUDA_VISIBLE_DEVICES"] = "0"
    root = str(Path(__file__).resolve().parents[2])  # so `-m trainer` resolves in a source tree
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    with (run_dir / log_name).open("ab") as log:
        return subprocess.Popen(cmd, cwd=run_dir, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)


def alive(pid: int | None) -> bool:
    """The process runs (not a zombie) and is this run's trainer, not a reused pid."""
    if not pid:
        return False
    proc = Path(f"/proc/{pid}")
    if proc.exists():
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        return state != "Z" and "trainer" in cmdline
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def terminate(pid: int) -> bool:
    """SIGTERM to the run's process group: the trainer saves a checkpoint and stops."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    except PermissionError:
        os.kill(pid, signal.SIGTERM)
    return True


def log_tail(path: Path, lines: int = 40) -> str:
    """The log's last lines, from the last traceback's first line when one is among them."""
    if not path.exists():
        return ""
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - 32768))
        text = fh.read().decode("utf-8", errors="replace")
    tail = text.splitlines()[-lines:]
    starts = [i for i, line in enumerate(tail) if line.startswith("Traceback (most recent")]
    return "\n".join(tail[starts[-1]:] if starts else tail)
