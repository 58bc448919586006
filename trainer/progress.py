"""What a run tells the outside world while it trains, and how it stops when asked.

`MetricsLog` appends one JSON object per line to `metrics.jsonl`: `start`, `log` (loss, eval
loss, learning rate, tokens/s, progress, ETA), `checkpoint`, `eval_progress`, `end`. Only the
main process writes; other ranks get `NullLog`, which takes the same calls, so the training
code never branches on it. `StopFlag` turns SIGTERM/SIGINT into "save a checkpoint at the end of
this step, then stop", agreed across ranks so no process waits on one that left.
"""

from __future__ import annotations

import json
import math
import signal
import time
from pathlib import Path

KEEP = ("loss", "eval_loss", "learning_rate", "grad_norm", "mean_token_accuracy",
        "eval_mean_token_accuracy", "num_tokens", "train_loss", "train_runtime")


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class MetricsLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **data) -> None:
        record = {"event": event, "time": round(time.time(), 3),
                  **{k: _clean(v) for k, v in data.items()}}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


class NullLog:
    def write(self, event: str, **data) -> None:
        pass


class StopFlag:
    """Set by SIGTERM or SIGINT; read at each step's end."""

    def __init__(self):
        self.signal: str | None = None

    def install(self) -> StopFlag:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signal = signal.Signals(signum).name

    def agreed(self) -> bool:
        """True on every rank when any rank was signalled."""
        import torch
        import torch.distributed as dist

        local = self.signal is not None
        if not (dist.is_available() and dist.is_initialized()):
            return local
        device = "cuda" if dist.get_backend() == "nccl" else "cpu"
        flag = torch.tensor([1.0 if local else 0.0], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if flag.item() and not local:
            self.signal = "SIGTERM"
        return bool(flag.item())
