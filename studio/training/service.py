"""The Studio's training verbs: train, learning_curve, runs, run, cancel_run, resume_run,
evaluate_run. The work happens in `python -m trainer` subprocesses; the studio starts them,
folds what they write into the store, and signals them."""

from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

from studio.errors import BadInput, Conflict, NotFound, TrainFailed
from studio.export.service import Exports
from studio.records import Evaluation, ModelPush, RunRow
from studio.reviews.service import Reviews
from studio.settings import Settings
from studio.store import Store
from studio.training import process
from studio.training.fold import fold, read_events

if TYPE_CHECKING:
    from studio.training.suggest import Playground

DEFAULT_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
PUBLIC = ("id", "status", "model", "run_dir", "step", "max_steps", "train_loss", "eval_loss",
          "adapter_path", "eval", "error")
ENDED = ("completed", "failed", "cancelled", "interrupted")
RESUMABLE = ("failed", "cancelled", "interrupted")


def public(run: dict) -> dict:
    """The shape `runs --json` promises."""
    return {k: run.get(k) for k in PUBLIC}


class Training:
    """Training runs, their evaluation, the playground and model pushes: built on the store,
    the settings, Reviews (task lookup) and Exports (a run trains on a fresh export); it keeps
    the trainer processes this process started."""

    def __init__(self, store: Store, settings: Settings, reviews: Reviews, exports: Exports):
        self.store, self.settings = store, settings
        self.reviews, self.exports = reviews, exports
        self._procs: dict = {}  # run id -> the trainer process this process started
        self._refresh_lock = threading.Lock()  # the app's timers may refresh at once
        self._play_lock = threading.Lock()
        self._playground: Playground | None = None

    def _base_model(self, model: str | None) -> str:
        """What training loads: a local folder (absolute), the tiny demo model (built into
        the cache on first use), or a Hub id, refused at once when it is not cached here and
        the Hub cannot be reached."""
        from studio.curation.embed import default_cache
        from studio.training.models import resolve

        return resolve(model or DEFAULT_MODEL, Path(self.settings.cache_dir or default_cache()))

    def runs_dir(self) -> Path:
        return Path(self.settings.runs_dir or self.store.path.parent / "runs").resolve()

    # -- starting ------------------------------------------------------------------------

    def train(self, *, model: str | None = None, task: str | None = None,
              epochs: float | None = None, lora_r: int | None = None,
              max_steps: int | None = None, settings: dict | None = None, detach: bool = False,
              on_progress=None, kind: str = "train", test_from: str | None = None) -> RunRow:
        """Export the approved rows into a new run folder and train on them. Blocks until the run
        ends (calling `on_progress(run)` as it goes) unless `detach`; returns the run.
        `test_from` ("real", the export's default, or "any") says which rows the test split may
        hold."""
        from trainer.config import ConfigError, TrainConfig, check_trackers

        t = self.reviews.task(task)
        model = model or DEFAULT_MODEL
        given = {k: v for k, v in {"epochs": epochs, "lora_r": lora_r,
                                   "max_steps": max_steps}.items() if v is not None}
        try:  # the settings first, then the data, then the model (which may be built here)
            config = TrainConfig.from_dict({**(settings or {}), **given, "base_model": model},
                                           where="training settings")
            check_trackers(config.report_to)  # a missing tracker is said now, not in the log
        except ConfigError as e:
            raise BadInput(str(e)) from None
        run_dir = self._new_run_dir()
        try:
            export = self.exports.export(run_dir / "dataset", task=t.name, fmt="jsonl",
                                         schema="messages", test_from=test_from or "real")
            model = self._base_model(model)
        except BaseException:
            _discard(run_dir)
            raise
        config = config.replace(
            base_model=model, data_dir="dataset", output_dir=".", labels=list(t.labels),
            task={"name": t.name, "instruction": t.instruction},
            dataset={**config.dataset, "export_id": export["export_id"],
                     "fingerprint": export["fingerprint"]})  # a given repo_id is kept
        config.save(run_dir / "config.toml")
        run_id = self.store.create_run(task=t.name, kind=kind, model=model,
                                       run_dir=str(run_dir), config=config.to_dict(),
                                       export_id=export["export_id"])
        self._start(run_id, "curve" if kind == "curve" else "train")
        return self.run(run_id) if detach else self.wait_run(run_id, on_progress=on_progress)

    def learning_curve(self, **kw) -> RunRow:
        """A run that trains on nested subsets of the train split (curve_points sizes,
        curve_seeds seeds), scores each and fits how the score grows with the data."""
        return self.train(kind="curve", **kw)

    def resume_run(self, run_id: int, *, max_steps: int | None = None,
                   epochs: float | None = None, detach: bool = False, on_progress=None) -> RunRow:
        """Go on with a run from its last checkpoint; `max_steps` / `epochs` change where it
        ends (written into its config.toml)."""
        from trainer.config import ConfigError, TrainConfig

        run = self.run(run_id)
        if run["status"] not in RESUMABLE:
            raise Conflict(f"run {run_id} is {run['status']}; only a failed, cancelled or "
                           "interrupted run can be resumed")
        changes = {k: v for k, v in {"max_steps": max_steps, "epochs": epochs}.items()
                   if v is not None}
        if changes:
            path = Path(run["run_dir"]) / "config.toml"
            try:
                TrainConfig.load(path).replace(**changes).save(path)
            except ConfigError as e:
                raise BadInput(str(e)) from None
        self.store.update_run(run_id, {"status": "queued", "cancel_requested": False,
                                       "error": None, "finished_at": None})
        self._start(run_id, "curve" if run["kind"] == "curve" else "train")
        return self.run(run_id) if detach else self.wait_run(run_id, on_progress=on_progress)

    def _new_run_dir(self) -> Path:
        root = self.runs_dir()
        run_dir = root / f"run-{self.store.next_run_id():04d}"
        if run_dir.exists():
            run_dir = root / f"{run_dir.name}-{secrets.token_hex(3)}"
        run_dir.mkdir(parents=True)
        return run_dir

    def _start(self, run_id: int, mode: str) -> None:
        run = self._stored_run(run_id)
        run_dir = Path(run["run_dir"])
        try:
            proc = process.launch(process.command(run_dir / "config.toml", mode), run_dir)
        except OSError as e:  # no python, no disk space, too many processes
            self.store.update_run(run_id, {"status": "failed", "finished_at": _now(),
                                           "error": f"cannot start the trainer: {e}"})
            raise TrainFailed(f"run {run_id}: cannot start the trainer: {e}") from None
        self._procs[run_id] = proc
        self.store.update_run(run_id, {"status": "running", "pid": proc.pid})

    # -- watching ------------------------------------------------------------------------

    def refresh_runs(self) -> None:
        """Fold what live runs wrote since the last look; settle runs whose process is gone."""
        # The app's timers (Train and Evaluate tabs) may refresh at once: one at a time, so no
        # metric row is read twice from the same offset.
        with self._refresh_lock:
            for run in self.store.live_runs():
                self._refresh(run)

    def _refresh(self, run: RunRow) -> None:
        run_dir = Path(run["run_dir"])
        # Whether the process is gone is read before its events, so an end event written just
        # before it exited is never missed.
        proc = self._procs.get(run["id"])
        code = proc.poll() if proc else None
        gone = code is not None if proc else not process.alive(run["pid"])
        events, offset = read_events(run_dir / "metrics.jsonl", run["metrics_offset"])
        if not events and not gone:  # nothing new: no write (the app looks every second)
            return
        fields, metrics, end = fold(events)
        self.store.add_run_metrics(run["id"], metrics)
        fields["metrics_offset"] = offset
        if end is not None:
            fields.update(self._ended(run, end))
        elif gone and run["status"] == "running":
            tail = process.log_tail(run_dir / "train.log")
            # Killed by a signal (code < 0: OOM killer, kill -9, a reboot) is resumable;
            # a trainer that exited with an error of its own is a failure.
            failed = (code is not None and code > 0 and code != 143) or (
                code is None and "Traceback" in tail)
            status = "failed" if failed else ("cancelled" if run["cancel_requested"]
                                              else "interrupted")
            error = (f"the trainer exited ({code}) without finishing:\n{tail}" if failed
                     else None if status == "cancelled"
                     else f"the trainer process {run['pid']} is gone")
            fields.update(status=status, finished_at=_now(), error=error)
        if gone or end is not None:
            self._procs.pop(run["id"], None)
        self.store.update_run(run["id"], fields)

    def _ended(self, run: RunRow, end: dict) -> dict:
        status = end.get("status")
        out = {"finished_at": _now()}
        if status == "completed":
            out.update(status="completed", adapter_path=end.get("adapter_path"),
                       merged_path=end.get("merged_path"))
            if end.get("eval_error"):  # trained and saved; only the evaluation failed
                out["error"] = (f"evaluation failed: {end['eval_error']} (the model is saved; "
                                "`sft-studio eval RUN --again` retries it)")
            for k in ("step", "train_loss", "eval_loss"):
                if end.get(k) is not None:
                    out[k] = end[k]
        elif status == "stopped":
            out["status"] = "cancelled" if run["cancel_requested"] else "interrupted"
        else:
            tail = process.log_tail(Path(run["run_dir"]) / "train.log")
            out.update(status="failed", error=f"{end.get('error')}\n--- log tail ---\n{tail}")
        return out

    def run(self, run_id: int) -> RunRow:
        self.refresh_runs()
        return self._stored_run(run_id)

    def _stored_run(self, run_id: int) -> RunRow:
        run = self.store.get_run(run_id)
        if run is None:
            raise NotFound(f"no run {run_id}; `sft-studio runs` lists them")
        return run

    def runs(self, task: str | None = None) -> list[RunRow]:
        self.refresh_runs()
        return self.store.list_runs(task)

    def run_metrics(self, run_id: int) -> list[dict]:
        self.run(run_id)
        return self.store.run_metrics(run_id)

    def wait_run(self, run_id: int, *, on_progress=None, poll: float = 0.5,
                 timeout: float | None = None) -> RunRow:
        started = time.monotonic()
        while True:
            run = self.run(run_id)
            if on_progress:
                on_progress(run)
            if run["status"] in ENDED:
                return run
            if timeout is not None and time.monotonic() - started > timeout:
                return run
            time.sleep(poll)

    # -- stopping and evaluating ----------------------------------------------------------

    def cancel_run(self, run_id: int, *, wait: bool = True, timeout: float = 120) -> RunRow:
        """Ask the trainer to save a checkpoint and stop (SIGTERM); the run ends cancelled and
        can be resumed."""
        run = self.run(run_id)
        if run["status"] in ENDED:
            raise Conflict(f"run {run_id} already ended ({run['status']})")
        self.store.update_run(run_id, {"cancel_requested": True})
        if not (run["pid"] and process.terminate(run["pid"])):
            self.store.update_run(run_id, {"status": "cancelled", "finished_at": _now()})
        return self.wait_run(run_id, timeout=timeout) if wait else self.run(run_id)

    def evaluate_run(self, run_id: int, *, again: bool = False) -> Evaluation:
        """The run's base-vs-tuned evaluation (eval.json): computed in a trainer subprocess if
        it is missing or `again`. Returns it whole, rows worst first."""
        run = self.run(run_id)
        run_dir = Path(run["run_dir"])
        path = run_dir / "eval.json"
        if run["status"] != "completed":
            raise Conflict(f"run {run_id} is {run['status']}; evaluate a completed run")
        if again or not path.exists():
            proc = process.launch(process.command(run_dir / "config.toml", "eval"), run_dir,
                                  "eval.log")
            try:
                code = proc.wait()
            except BaseException:  # Ctrl-C: the evaluation runs in its own session
                process.terminate(proc.pid)
                proc.wait()
                raise
            if code != 0:
                raise TrainFailed(f"evaluation of run {run_id} failed (exit {code}):\n"
                                  + process.log_tail(run_dir / "eval.log"))
            self.store.update_run(run_id, {"metrics_offset": (run_dir / "metrics.jsonl")
                                           .stat().st_size})
        result = json.loads(path.read_text(encoding="utf-8"))
        from trainer.evaluate import brief

        self.store.update_run(run_id, {"eval": brief(result)})
        return result

    def push_model(self, run_id: int, repo_id: str, *, merged: bool = False,
                   token: str | None = None, private: bool = True,
                   dry_run: bool = False) -> ModelPush:
        """Push a completed run's adapter (or merged model) to a Hub model repo. The token is
        the one given (the app's session) or $HF_TOKEN; it is never stored."""
        from studio.errors import HubFailed
        from trainer.hub import PushError, PushFailed
        from trainer.hub import push_model as push

        run = self.run(run_id)
        folder = run["merged_path"] if merged else run["adapter_path"]
        if run["status"] != "completed" or not folder:
            what = "merged model (train with --set merge=true)" if merged else "adapter"
            raise Conflict(f"run {run_id} has no {what} to push ({run['status']})")
        try:
            return cast(ModelPush, push(folder, repo_id, token=token, private=private,
                                        endpoint=self.settings.hub_endpoint, dry_run=dry_run))
        except PushFailed as e:
            raise HubFailed(str(e)) from None
        except PushError as e:  # the checks before sending: a bad repo id, no token, no model
            raise BadInput(str(e)) from None

    def train_settings(self, *, model: str | None = None, task: str | None = None,
                       **given) -> dict:
        """The settings a run would use now (the trainer's own rules on the rows that would
        be exported and this machine), with the reason for each computed one."""
        from studio.training.suggest import suggest
        from trainer.config import ConfigError

        t = self.reviews.task(task)
        rows = self.store.export_rows(t.name)
        try:
            return suggest(rows, t.instruction, self._base_model(model),
                           {k: v for k, v in given.items() if v is not None})
        except ConfigError as e:
            raise BadInput(str(e)) from None

    def try_model(self, run_id: int, text: str, max_new_tokens: int | None = None) -> dict:
        """Answer `text` with a completed run's base and tuned model (kept loaded for the
        next question)."""
        from studio.training.suggest import Playground

        run = self.run(run_id)
        if run["status"] != "completed" or not run["adapter_path"]:
            raise Conflict(f"run {run_id} is a {run['status']} {run['kind']} run with no "
                           "trained model; try a completed training run")
        if not (text or "").strip():
            raise BadInput("type an input to try")
        with self._play_lock:
            play = self._playground
            if play is None or play.run_dir != run["run_dir"]:
                play = self._playground = Playground(run["run_dir"])
            return play.answer(text, max_new_tokens)

    def run_curve(self, run_id: int) -> dict | None:
        path = Path(self.run(run_id)["run_dir"]) / "curve.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _now():
    from studio.store import utcnow

    return utcnow()


def _discard(folder: Path) -> None:
    """Remove a run folder this call made (its export failed: no run was recorded)."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
