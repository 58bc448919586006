"""Deployment: a trained run made into files people run (merged, GGUF, an Ollama folder),
served on an OpenAI-compatible endpoint, and pushed as GGUF. The work is trainer.export's and
trainer.serve_engines'; this service finds the run, records what was exported, keeps the
servers the app started, and turns their errors into messages a person can act on."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, cast

from studio.errors import BadInput, Conflict, HubFailed
from studio.records import ModelExport, ModelPush, Serving
from studio.settings import Settings
from studio.store import Store
from studio.training.service import Training

if TYPE_CHECKING:
    from trainer.serve_engines import Served

ENGINES = ("auto", "llama.cpp", "transformers")


class Deployment:
    """Built on the store, the settings and Training (runs); it keeps the model servers this
    process started (the app's Serve button), one per run, ended by stop() or close()."""

    def __init__(self, store: Store, settings: Settings, training: Training):
        self.store, self.settings, self.training = store, settings, training
        self._served: dict[int, Served] = {}  # run id -> its server
        self._lock = threading.Lock()

    # -- export ------------------------------------------------------------------------------
    def _trained_run(self, run_id: int) -> dict:
        run = cast(dict, self.training.run(run_id))
        if run["status"] != "completed" or not run["adapter_path"]:
            raise Conflict(f"run {run_id} is {run['status']} with no trained model to export "
                           "(a completed training run is needed)")
        return run

    def default_export_dir(self, run_id: int, to: str, quant: str | None) -> Path:
        """Inside the run folder, so the run's .gguf is found there too (serve)."""
        run = self._trained_run(run_id)
        return Path(run["run_dir"]) / (f"export-{to}" + (f"-{quant}" if to != "merged" else ""))

    def export_model(self, run_id: int, out_dir: str | Path | None = None, *, to: str = "gguf",
                     quant: str = "f16", on_progress=None) -> ModelExport:
        """Export a completed run: `merged` (the base with the adapter folded in), `gguf` or
        `ollama` (the GGUF with a Modelfile); checked before anything is written, written
        beside `out_dir` and moved in whole, then recorded."""
        from trainer.export.model import ExportError, export_model

        run = self._trained_run(run_id)
        out = Path(out_dir) if out_dir else self.default_export_dir(run_id, to, quant)
        try:
            result = export_model(run["run_dir"], out.resolve(), to=to, quant=quant,
                                  on_progress=on_progress)
        except ExportError as e:
            raise BadInput(str(e)) from None
        self.store.record_model_export(run_id, {**result,
                                                "quant": None if to == "merged" else quant})
        return self.store.model_exports(run_id, limit=1)[0]

    def model_exports(self, run_id: int | None = None) -> list[ModelExport]:
        if run_id is not None:
            self.training.run(run_id)  # NotFound for an unknown run
        return self.store.model_exports(run_id)

    def _newest_gguf(self, run_id: int) -> Path | None:
        for e in self.store.model_exports(run_id):
            if e["gguf"] and Path(e["gguf"]).is_file():
                return Path(e["gguf"])
        return None

    # -- serving -----------------------------------------------------------------------------
    def serving_target(self, run_id: int, engine: str | None = None) -> tuple[str, Path]:
        """(the engine, what it serves): the run's newest GGUF on llama.cpp when one was
        exported and llama.cpp is installed, else its adapter (or merged model) on
        transformers. Reads the store only; the caller may close it before serving."""
        from trainer.serve_engines import pick_engine

        if engine not in ENGINES + (None,):
            raise BadInput(f"unknown engine {engine!r}: choose {', '.join(ENGINES[1:])}")
        run = self._trained_run(run_id)
        gguf = self._newest_gguf(run_id)
        wanted = None if engine in (None, "auto") else engine
        target = gguf if gguf is not None and wanted != "transformers" else Path(run["run_dir"])
        try:
            return pick_engine(target, wanted), target
        except ValueError as e:
            raise BadInput(str(e)) from None

    def start_serving(self, run_id: int, *, engine: str | None = None, port: int = 0,
                      host: str = "127.0.0.1", api_key: str | None = None) -> Serving:
        """Serve a run from this process (the app): started once, kept until stop_serving."""
        with self._lock:
            served = self._served.get(run_id)
            if served is not None and served.proc is not None and served.proc.poll() is None:
                return serving(run_id, served)
            chosen, target = self.serving_target(run_id, engine)
            served = start(target, chosen, run_id, host=host, port=port, api_key=api_key)
            self._served[run_id] = served
            return serving(run_id, served)

    def serving_now(self) -> list[Serving]:
        """The servers this process started that are still up."""
        with self._lock:
            return [serving(r, s) for r, s in self._served.items()
                    if s.proc is not None and s.proc.poll() is None]

    def stop_serving(self, run_id: int | None = None) -> list[int]:
        """Stop one run's server (or all of them); returns the runs stopped."""
        with self._lock:
            ids = [run_id] if run_id is not None else list(self._served)
            stopped = []
            for r in ids:
                served = self._served.pop(r, None)
                if served is not None:
                    served.stop()
                    stopped.append(r)
            return stopped

    # -- pushing -----------------------------------------------------------------------------
    def push_gguf(self, run_id: int, repo_id: str, *, token: str | None = None,
                  private: bool = True, dry_run: bool = False) -> ModelPush:
        """Push the run's newest GGUF export folder (the .gguf, its Modelfile if any and the
        model card that lists the formats and the commands)."""
        from trainer.hub import PushError, PushFailed, push_model

        self._trained_run(run_id)
        gguf = self._newest_gguf(run_id)
        if gguf is None:
            raise Conflict(f"run {run_id} has no GGUF export to push: run "
                           f"`sft-studio export-model {run_id} OUT_DIR --to gguf` first")
        try:
            return cast(ModelPush, push_model(gguf.parent, repo_id, token=token, private=private,
                                              endpoint=self.settings.hub_endpoint,
                                              dry_run=dry_run))
        except PushFailed as e:
            raise HubFailed(str(e)) from None
        except PushError as e:
            raise BadInput(str(e)) from None

    def close(self) -> None:
        self.stop_serving()


def start(target: Path, engine: str, run_id: int, *, host: str = "127.0.0.1", port: int = 0,
          api_key: str | None = None) -> Served:
    """Start a server for `target` and wait until it answers; a clear error when it cannot."""
    from trainer.serve_engines import Served

    try:
        return Served(target, engine=engine, host=host, port=port, api_key=api_key,
                      name=f"run-{run_id}").start()
    except ValueError as e:
        raise BadInput(str(e)) from None
    except (RuntimeError, TimeoutError, OSError) as e:
        raise Conflict(f"the {engine} server for run {run_id} did not start: {e}") from None


def serving(run_id: int, served: Served) -> Serving:
    return Serving(run=run_id, engine=served.engine, url=served.url, model=served.model,
                   served=str(served.folder), startup_s=served.startup_s)
