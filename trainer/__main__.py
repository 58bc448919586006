"""python -m trainer RUN_DIR/config.toml [--eval-only | --curve]

Trains the run the config describes (resuming from its last checkpoint), then compares base and
tuned on the test split. Works the same under `accelerate launch -m trainer ...` on several GPUs.
Exit status: 0 done, 1 crashed (traceback on stderr), 2 bad config or data, 143 stopped by a
signal after saving a checkpoint (start it again to resume).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from trainer.config import ConfigError, TrainConfig
from trainer.data import DataError
from trainer.progress import MetricsLog, NullLog, StopFlag

EXIT_STOPPED = 143


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer", description=__doc__.split("\n\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", type=Path, help="the run's config.toml")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--eval-only", action="store_true",
                      help="only compare base and tuned (the run must have trained)")
    mode.add_argument("--curve", action="store_true",
                      help="learning curve: train on curve_points nested train-set sizes "
                      "(x curve_seeds), score each and estimate how much data is needed")
    return p


def run(config_path: Path, mode: str, log, stop: StopFlag) -> dict:
    from trainer.evaluate import Stopped, brief, evaluate

    config = TrainConfig.load(config_path)
    root = config_path.resolve().parent
    if mode == "curve":
        from trainer.curve import learning_curve

        return learning_curve(config, root, log=log, stop=stop)
    if mode == "eval":
        result = evaluate(config, root, log=log, stop=stop)
        return {"status": "completed", "eval": brief(result)}
    from trainer.train import train

    summary = train(config, root, log=log, stop=stop)
    if summary["status"] == "completed" and config.evaluate and _is_main():
        log.write("trained", **{k: summary.get(k) for k in ("adapter_path", "merged_path")})
        try:
            summary["eval"] = brief(evaluate(config, root, log=log, stop=stop))
        except Stopped:
            raise
        except Exception as e:  # the model is trained and saved: the run stays completed
            traceback.print_exc()
            summary["eval_error"] = f"{type(e).__name__}: {e}"[:2000]
    return summary


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    mode = "eval" if args.eval_only else "curve" if args.curve else "train"
    stop = StopFlag().install()
    log = NullLog()
    try:
        config = TrainConfig.load(args.config)
        out = config.path("output_dir", args.config.resolve().parent)
        if _is_main():
            log = MetricsLog(out / "metrics.jsonl")
        log.write("begin", mode=mode, pid=os.getpid())
        result = run(args.config, mode, log, stop)
    except (ConfigError, DataError, FileNotFoundError) as e:
        log.write("end", status="failed", mode=mode, error=str(e))
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BaseException as e:  # noqa: BLE001 - every crash is reported as failed
        from trainer.evaluate import Stopped

        if isinstance(e, (Stopped, KeyboardInterrupt)):
            log.write("end", status="stopped", mode=mode, signal=stop.signal or "SIGINT")
            return EXIT_STOPPED
        traceback.print_exc()
        log.write("end", status="failed", mode=mode, error=f"{type(e).__name__}: {e}"[:2000])
        return 1
    log.write("end", mode=mode, **result)
    print(f"{mode}: {result['status']}", file=sys.stderr)
    return 0 if result["status"] == "completed" else EXIT_STOPPED


if __name__ == "__main__":
    sys.exit(main())
