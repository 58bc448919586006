"""The trainer callback that streams logs to the run's MetricsLog and stops on a StopFlag (kept
apart from progress.py so `python -m trainer` installs its signal handlers before transformers
is imported: a cancel during start-up is then a clean stop, not a kill)."""

from __future__ import annotations

import time

from transformers import TrainerCallback

from trainer.progress import KEEP, StopFlag

PROGRESS_SECONDS = 2.0  # a `progress` event at least this often, whatever the logging steps
LOSS_SECONDS = 5.0  # a loss point (a `log` event) at least this often, whatever the logging steps


class ProgressCallback(TrainerCallback):
    """Streams the trainer's logs to `log` with tokens/s, progress and ETA; stops on `stop`.
    Between logs (every few dozen steps on a long run) a small `progress` event (step, ETA)
    goes out every PROGRESS_SECONDS, so the app's progress never sits still for minutes; and
    when LOSS_SECONDS pass without a log the trainer is asked to log at the next step's end, so
    the loss curve moves every few seconds even when `logging_steps` is hundreds of slow steps."""

    def __init__(self, log, stop: StopFlag):
        self.log, self.stop = log, stop
        self.started = self.last_time = None
        self.last_tokens = None
        self.first_step = 0
        self.last_progress = self.last_log = 0.0

    def on_train_begin(self, args, state, control, **kw):
        self.started = self.last_time = self.last_log = time.time()
        self.first_step = state.global_step
        self.log.write("start", step=state.global_step, max_steps=state.max_steps,
                       epochs=args.num_train_epochs, resumed=state.global_step > 0)

    def on_step_end(self, args, state, control, **kw):
        if self.stop.agreed():
            control.should_save = True
            control.should_training_stop = True
        now = time.time()
        if now - self.last_log >= LOSS_SECONDS:
            control.should_log = True  # the trainer logs this step's loss right after this call
        if now - self.last_progress >= PROGRESS_SECONDS:
            self.last_progress = now
            self.log.write("progress", **self._where(state, now))

    def _where(self, state, now: float) -> dict:
        done = state.global_step - self.first_step
        elapsed = now - (self.started or now)
        eta = elapsed / done * (state.max_steps - state.global_step) if done > 0 else None
        return dict(step=state.global_step, max_steps=state.max_steps,
                    progress=round(state.global_step / max(1, state.max_steps), 4),
                    elapsed_s=round(elapsed, 2), eta_s=None if eta is None else round(eta, 1))

    def on_log(self, args, state, control, logs=None, **kw):
        logs = logs or {}
        now = self.last_log = time.time()
        tokens = logs.get("num_tokens")
        rate = None
        if tokens is not None and self.last_tokens is not None and tokens > self.last_tokens:
            rate = (tokens - self.last_tokens) / max(1e-6, now - self.last_time)
        if tokens is not None:
            self.last_tokens, self.last_time = tokens, now
        self.log.write("log", **self._where(state, now), epoch=round(state.epoch or 0, 4),
                       tokens_per_s=None if rate is None else round(rate, 1),
                       **{k: logs[k] for k in KEEP if k in logs})

    def on_save(self, args, state, control, **kw):
        self.log.write("checkpoint", step=state.global_step,
                       path=f"checkpoints/checkpoint-{state.global_step}")
