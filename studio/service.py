"""The studio's library API: what the CLI and the app call. No SQL here (that is the store's),
no argument parsing or widgets (those are the faces')."""

from __future__ import annotations

import builtins
import threading
from dataclasses import replace
from pathlib import Path

from studio.corruption.service import Corruption
from studio.curation.service import Curation
from studio.deploy.service import Deployment
from studio.errors import BadInput
from studio.evaluation.service import Evaluation
from studio.export.service import ExportPlan, Exports
from studio.generation.service import Generation
from studio.importing.service import Imports
from studio.records import (
    Agreement,
    AutoResult,
    AutoUndone,
    BulkResult,
    CanonicalChoice,
    ClusterList,
    ClusterMember,
    CorruptResult,
    DedupeResult,
    Deleted,
    EmbedResult,
    EndpointCheck,
    Example,
    ExportRecord,
    ExportSummary,
    HistoryEntry,
    ImportResult,
    JobRow,
    ModelExport,
    ModelPush,
    Page,
    PushResult,
    RunRow,
    ScoreLine,
    ScoreResult,
    ScoreSummary,
    Serving,
    Similar,
    Stats,
    Undone,
)
from studio.records import (
    Evaluation as EvaluationRecord,
)
from studio.reviews.service import Reviews
from studio.scoring.scores import DEFAULT_THRESHOLDS
from studio.scoring.service import Scoring
from studio.settings import Settings
from studio.store import Store
from studio.tasks import BUILTIN_TASKS, Task
from studio.training.service import Training
from studio.vocabulary import DUPLICATE_THRESHOLD


class Studio:
    """One project: a store file plus the operations on it.

        with Studio.open("studio.duckdb") as s:
            s.import_file("tweets.jsonl", task="tweet-summary")
            s.review(1, "approve")

    The facade over small services, each built here with what it needs and nothing more:
    Reviews(store) -> Curation(reviews) -> Scoring(reviews, curation) -> Exports(reviews,
    curation, scoring) -> Training(reviews, exports), and Generation, Imports and Corruption
    (reviews). Every method below is one call to one of them (the uncertainty order's
    thresholds aside, which the facade asks Scoring for so that Reviews needs no Scoring).
    """

    def __init__(self, store: Store, settings: Settings):
        self.store, self._settings = store, settings
        for task in BUILTIN_TASKS:
            if store.get_task(task.name) is None:
                store.save_task(task, builtin=True)
        self.reviews = Reviews(store, settings)
        self.curation = Curation(store, settings, self.reviews)
        self.scoring = Scoring(store, settings, self.reviews, self.curation)
        self.exporting = Exports(store, settings, self.reviews, self.curation, self.scoring)
        self.training = Training(store, settings, self.reviews, self.exporting)
        self.generation = Generation(store, settings, self.reviews)
        self.imports = Imports(store, settings, self.reviews)
        self.corruption = Corruption(store, settings, self.reviews)
        self.deployment = Deployment(store, settings, self.training)
        self.evaluation = Evaluation(store, settings, self.reviews, self.training, self.scoring)
        self._services = (self.reviews, self.curation, self.scoring, self.exporting,
                          self.training, self.generation, self.imports, self.corruption,
                          self.deployment, self.evaluation)
        self.generation.settle_interrupted()

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        """New settings reach every service (a test points the Hub elsewhere this way)."""
        self._settings = value
        for service in self._services:
            service.settings = value

    @classmethod
    def open(cls, path: str | Path | None = None, settings: Settings | None = None) -> Studio:
        settings = settings or Settings.from_env()
        if path is not None:
            settings = replace(settings, db_path=Path(path))
        return cls(Store(settings.db_path), settings)

    @property
    def path(self) -> Path:
        """The store file."""
        return self.store.path

    def close(self) -> None:
        """Stop the model servers this process started, then release the store."""
        self.deployment.close()
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _order_thresholds(self, order: str, filters: dict) -> tuple[float, float]:
        """The auto-review thresholds the uncertainty order circles (the task's, if one)."""
        if order == "uncertainty" and filters.get("task"):
            return self.scoring.thresholds(filters["task"])
        return DEFAULT_THRESHOLDS

    # -- Reviews -----------------------------------------------------------------------------
    def task(self, name: str | None = None) -> Task:
        return self.reviews.task(name)

    def tasks(self) -> builtins.list[Task]:
        return self.reviews.tasks()

    def task_names(self) -> builtins.list[str]:
        return self.reviews.task_names()

    def add_task(self, name: str, instruction: str, *, input_meaning: str = "the input text",
                 output_meaning: str = "the output text",
                 labels: builtins.list[str] | None = None) -> Task:
        return self.reviews.add_task(
            name, instruction, input_meaning=input_meaning, output_meaning=output_meaning,
            labels=labels)

    def stats(self, task: str | None = None) -> Stats:
        return self.reviews.stats(task)

    def list(self, *, status=None, source=None, task=None, text=None, input_only=None,
             limit: int = 50, offset: int = 0, order_by: str = "id",
             descending: bool = False) -> Page:
        return self.reviews.list(
            status=status, source=source, task=task, text=text, input_only=input_only, limit=limit,
            offset=offset, order_by=order_by, descending=descending)

    def get(self, example_id: int) -> Example:
        return self.reviews.get(example_id)

    def neighbor(self, example_id: int | None, step: int = 1, *, order: str = "id",
                 **filters) -> int | None:
        """The next (step=1) or previous (step=-1) example matching the filters, wrapping.
        order: "id", or "uncertainty" (quality nearest the auto-review thresholds first)."""
        return self.reviews.neighbor(example_id, step, order=order,
                                     thresholds=self._order_thresholds(order, filters),
                                     **filters)

    def position(self, example_id: int, *, order: str = "id",
                 **filters) -> tuple[int, int, bool]:
        """(position of the example among the matching ones, how many match, whether it
        matches)."""
        return self.reviews.position(example_id, order=order,
                                     thresholds=self._order_thresholds(order, filters),
                                     **filters)

    def history(self, example_id: int | None = None) -> builtins.list[HistoryEntry]:
        return self.reviews.history(example_id)

    def review(self, example_id: int, action: str, *, reviewer: str | None = None) -> Example:
        """approve | reject | reset (back to pending) one example; audited."""
        return self.reviews.review(example_id, action, reviewer=reviewer)

    def bulk_review(self, action: str, *, reviewer: str | None = None,
                    ids: builtins.list[int] | None = None, **filters) -> BulkResult:
        """See Reviews.bulk_review."""
        return self.reviews.bulk_review(action, reviewer=reviewer, ids=ids, **filters)

    def edit(self, example_id: int, *, input: str | None = None, output: str | None = None,
             reviewer: str | None = None) -> Example:
        """See Reviews.edit."""
        return self.reviews.edit(example_id, input=input, output=output, reviewer=reviewer)

    def delete(self, ids: builtins.list[int], *, reviewer: str | None = None,
               as_batch: bool = False) -> Deleted:
        """See Reviews.delete."""
        return self.reviews.delete(ids, reviewer=reviewer, as_batch=as_batch)

    def delete_matching(self, *, dry_run: bool = False, reviewer: str | None = None,
                        **filters) -> dict:
        """See Reviews.delete_matching."""
        return self.reviews.delete_matching(dry_run=dry_run, reviewer=reviewer, **filters)

    def undo(self, *, reviewer: str | None = None) -> Undone:
        """See Reviews.undo."""
        return self.reviews.undo(reviewer=reviewer)

    def undo_batch(self, batch_id: int, *, reviewer: str | None = None) -> Undone:
        """Revert one batch (a bulk delete, a corrupt batch, a bulk review), whole."""
        return self.reviews.undo_batch(batch_id, reviewer=reviewer)

    # -- Generation --------------------------------------------------------------------------
    def teacher_config(self, job: dict | None = None, **given):
        """See Generation.teacher_config."""
        return self.generation.teacher_config(job, **given)

    def start_job(self, teacher, *, task: str | None = None, mode: str = "outputs",
                  n: int | None = None, seed_ids: builtins.list[int] | None = None,
                  seed: int | None = None,
                  recipe: str | Path | None = None, budget_tokens: int | None = None,
                  budget_usd: float | None = None, import_file: str | None = None) -> JobRow:
        """Plan a generation job and store it (status running); run it with run_job."""
        return self.generation.start_job(
            teacher, task=task, mode=mode, n=n, seed_ids=seed_ids, seed=seed, recipe=recipe,
            budget_tokens=budget_tokens, budget_usd=budget_usd, import_file=import_file)

    def run_job(self, job_id: int, teacher, *, stop: threading.Event | None = None,
                on_progress=None, budget_tokens: int | None = None,
                budget_usd: float | None = None, refresh: bool = False) -> JobRow:
        """See Generation.run_job."""
        return self.generation.run_job(
            job_id, teacher, stop=stop, on_progress=on_progress, budget_tokens=budget_tokens,
            budget_usd=budget_usd, refresh=refresh)

    def run_job_in_background(self, job_id: int, teacher, *, refresh: bool = False) -> None:
        """Run a claimed job in a thread of its own (the app's way); its end is on the job."""
        return self.generation.run_job_in_background(job_id, teacher, refresh=refresh)

    def check_resumable(self, job_id: int) -> JobRow:
        return self.generation.check_resumable(job_id)

    def claim_job(self, job_id: int) -> JobRow:
        """See Generation.claim_job."""
        return self.generation.claim_job(job_id)

    def generate(self, teacher, *, stop=None, on_progress=None, refresh: bool = False,
                 **plan) -> JobRow:
        return self.generation.generate(
            teacher, stop=stop, on_progress=on_progress, refresh=refresh, **plan)

    def outputs_preview(self, task: str | None = None, import_file: str | None = None,
                        n: int | None = None, show: int = 5) -> dict:
        """See Generation.outputs_preview."""
        return self.generation.outputs_preview(task, import_file, n, show)

    def live_job_note(self, job_id: int) -> str | None:
        """See Generation.live_job_note."""
        return self.generation.live_job_note(job_id)

    def check_teacher(self, teacher) -> builtins.list[EndpointCheck]:
        """See Generation.check_teacher."""
        return self.generation.check_teacher(teacher)

    def job(self, job_id: int) -> JobRow:
        return self.generation.job(job_id)

    def seed_candidates(self, task: str, limit: int = 50) -> builtins.list[dict]:
        """Rows of the task a generation job may show the teacher as examples."""
        return self.generation.seed_candidates(task, limit)

    def job_examples(self, job_id: int, limit: int = 10) -> builtins.list[dict]:
        """The newest rows a job wrote."""
        return self.generation.job_examples(job_id, limit)

    def jobs(self, limit: int = 100) -> builtins.list[JobRow]:
        return self.generation.jobs(limit)

    def job_failures(self, job_id: int, limit: int = 50) -> builtins.list[dict]:
        return self.generation.job_failures(job_id, limit)

    def cancel_job(self, job_id: int) -> JobRow:
        """Stop a running job (it stays resumable), or mark a stopped one cancelled."""
        return self.generation.cancel_job(job_id)

    # -- Curation ----------------------------------------------------------------------------
    def embedding_model(self, model: str | None = None) -> str:
        """See Curation.embedding_model."""
        return self.curation.embedding_model(model)

    def encoder(self, model: str | None = None):
        """The loaded model, kept for the life of this Studio (loading takes seconds)."""
        return self.curation.encoder(model)

    def use_encoder(self, encoder) -> None:
        """Use an Encoder loaded elsewhere (one model shared by several Studios of a process)."""
        return self.curation.use_encoder(encoder)

    def embed(self, *, model: str | None = None, task: str | None = None,
              on_progress=None) -> EmbedResult:
        """See Curation.embed."""
        return self.curation.embed(model=model, task=task, on_progress=on_progress)

    def dedupe(self, *, task: str | None = None, threshold: float = DUPLICATE_THRESHOLD,
               max_variants: int | None = None, dry_run: bool = False, model: str | None = None,
               method: str = "auto", histogram: bool = False, on_progress=None) -> DedupeResult:
        """See Curation.dedupe."""
        return self.curation.dedupe(
            task=task, threshold=threshold, max_variants=max_variants, dry_run=dry_run, model=model,
            method=method, histogram=histogram, on_progress=on_progress)

    def similar(self, example_id: int, *, k: int = 10, model: str | None = None,
                on_progress=None) -> Similar:
        """See Curation.similar."""
        return self.curation.similar(example_id, k=k, model=model, on_progress=on_progress)

    def clusters(self, *, task: str | None = None, limit: int = 50, offset: int = 0) -> ClusterList:
        return self.curation.clusters(task=task, limit=limit, offset=offset)

    def cluster(self, cluster_id: int) -> builtins.list[ClusterMember]:
        return self.curation.cluster(cluster_id)

    def choose_canonical(self, example_id: int, *, reviewer: str | None = None) -> CanonicalChoice:
        """See Curation.choose_canonical."""
        return self.curation.choose_canonical(example_id, reviewer=reviewer)

    # -- Scoring -----------------------------------------------------------------------------
    def score(self, *, task: str | None = None, model: str | None = None, judge: bool = False,
              teacher=None, rubric: str | None = None, on_progress=None,
              refresh: bool = False) -> ScoreResult:
        """See Scoring.score."""
        return self.scoring.score(
            task=task, model=model, judge=judge, teacher=teacher, rubric=rubric,
            on_progress=on_progress, refresh=refresh)

    def score_summary(self, task: str | None = None) -> ScoreSummary:
        """Counts of scored and flagged rows, means, and each score's histogram."""
        return self.scoring.score_summary(task)

    def score_histogram(self, task: str, name: str) -> dict | None:
        """One score's histogram over the task's non-duplicate rows (None if none has it)."""
        return self.scoring.score_histogram(task, name)

    def explain_scores(self, example_id: int) -> builtins.list[ScoreLine]:
        return self.scoring.explain_scores(example_id)

    def rubric(self, task: str | None = None) -> str:
        return self.scoring.rubric(task)

    def set_rubric(self, task: str, text: str | None) -> str:
        """Keep the task's rubric (None or blank: back to the built-in one)."""
        return self.scoring.set_rubric(task, text)

    def judge(self, teacher, *, task: str | None = None, rubric: str | None = None,
              ids: builtins.list[int] | None = None, on_progress=None,
              refresh: bool = False) -> dict:
        """See Scoring.judge."""
        return self.scoring.judge(
            teacher, task=task, rubric=rubric, ids=ids, on_progress=on_progress, refresh=refresh)

    def agreement(self, *, task: str | None = None, cut: int = 4) -> Agreement:
        """See Scoring.agreement."""
        return self.scoring.agreement(task=task, cut=cut)

    def thresholds(self, task: str | None = None) -> tuple[float, float]:
        return self.scoring.thresholds(task)

    def set_thresholds(self, task: str, reject_below: float, approve_above: float) -> None:
        return self.scoring.set_thresholds(task, reject_below, approve_above)

    def auto(self, *, task: str | None = None, approve_above: float | None = None,
             reject_below: float | None = None, dry_run: bool = False,
             reviewer: str | None = None) -> AutoResult:
        """See Scoring.auto."""
        return self.scoring.auto(
            task=task, approve_above=approve_above, reject_below=reject_below, dry_run=dry_run,
            reviewer=reviewer)

    def undo_auto(self, *, task: str | None = None, reviewer: str | None = None) -> AutoUndone:
        """Revert the task's newest auto-review batch, whole."""
        return self.scoring.undo_auto(task=task, reviewer=reviewer)

    def map_points(self, *, task: str | None = None, limit: int = 2000,
                   model: str | None = None) -> dict:
        """See Scoring.map_points."""
        return self.scoring.map_points(task=task, limit=limit, model=model)

    # -- Exports -----------------------------------------------------------------------------
    def export_plan(self, *, task: str | None = None, splits="0.8,0.1,0.1", seed: int = 0,
                    schema: str = "messages", fmt: str = "hf", pii: str = "mask",
                    license: str = "apache-2.0", language: str = "en", test_from: str = "real",
                    stratify: bool | None = None, link_similar: bool = True,
                    on_progress=None) -> ExportPlan:
        """See Exports.export_plan."""
        return self.exporting.export_plan(
            task=task, splits=splits, seed=seed, schema=schema, fmt=fmt, pii=pii, license=license,
            language=language, test_from=test_from, stratify=stratify, link_similar=link_similar,
            on_progress=on_progress)

    def export(self, out_dir: str | Path, *, expect: str | None = None, dry_run: bool = False,
               **options) -> ExportSummary:
        """Write the plan to `out_dir` (unless a dry run) and record it with its manifest."""
        return self.exporting.export(out_dir, expect=expect, dry_run=dry_run, **options)

    def exports(self, task: str | None = None, limit: int = 50) -> builtins.list[ExportRecord]:
        return self.exporting.exports(task, limit)

    def push(self, repo_id: str, *, folder: str | Path | None = None, token: str | None = None,
             private: bool = True, dry_run: bool = False) -> PushResult:
        """See Exports.push."""
        return self.exporting.push(
            repo_id, folder=folder, token=token, private=private, dry_run=dry_run)

    # -- Training ----------------------------------------------------------------------------
    def runs_dir(self) -> Path:
        return self.training.runs_dir()

    def train(self, *, model: str | None = None, task: str | None = None,
              epochs: float | None = None, lora_r: int | None = None,
              max_steps: int | None = None, settings: dict | None = None, detach: bool = False,
              on_progress=None, kind: str = "train", test_from: str | None = None) -> RunRow:
        """See Training.train."""
        return self.training.train(
            model=model, task=task, epochs=epochs, lora_r=lora_r, max_steps=max_steps,
            settings=settings, detach=detach, on_progress=on_progress, kind=kind,
            test_from=test_from)

    def learning_curve(self, **kw) -> RunRow:
        """See Training.learning_curve: nested subsets x seeds, scored, and the fitted law."""
        return self.training.learning_curve(**kw)

    def resume_run(self, run_id: int, *, max_steps: int | None = None,
                   epochs: float | None = None, detach: bool = False, on_progress=None) -> RunRow:
        """See Training.resume_run."""
        return self.training.resume_run(
            run_id, max_steps=max_steps, epochs=epochs, detach=detach, on_progress=on_progress)

    def refresh_runs(self) -> None:
        """Fold what live runs wrote since the last look; settle runs whose process is gone."""
        return self.training.refresh_runs()

    def run(self, run_id: int) -> RunRow:
        return self.training.run(run_id)

    def runs(self, task: str | None = None) -> builtins.list[RunRow]:
        return self.training.runs(task)

    def run_metrics(self, run_id: int) -> builtins.list[dict]:
        return self.training.run_metrics(run_id)

    def wait_run(self, run_id: int, *, on_progress=None, poll: float = 0.5,
                 timeout: float | None = None) -> RunRow:
        return self.training.wait_run(run_id, on_progress=on_progress, poll=poll, timeout=timeout)

    def cancel_run(self, run_id: int, *, wait: bool = True, timeout: float = 120) -> RunRow:
        """See Training.cancel_run."""
        return self.training.cancel_run(run_id, wait=wait, timeout=timeout)

    def evaluate_run(self, run_id: int, *, again: bool = False) -> EvaluationRecord:
        """See Training.evaluate_run and Evaluation.evaluate (the store's own slices)."""
        return self.evaluation.evaluate(run_id, again=again)

    def judge_run(self, run_id: int, teacher, *, refresh: bool = False,
                  on_progress=None) -> EvaluationRecord:
        """See Evaluation.judge_run."""
        return self.evaluation.judge_run(run_id, teacher, refresh=refresh,
                                         on_progress=on_progress)

    def push_model(self, run_id: int, repo_id: str, *, merged: bool = False,
                   gguf: bool = False, token: str | None = None, private: bool = True,
                   dry_run: bool = False) -> ModelPush:
        """See Training.push_model, and Deployment.push_gguf for `gguf`."""
        if gguf:
            if merged:
                raise BadInput("push either the merged model or the GGUF export, not both")
            return self.deployment.push_gguf(run_id, repo_id, token=token, private=private,
                                             dry_run=dry_run)
        return self.training.push_model(
            run_id, repo_id, merged=merged, token=token, private=private, dry_run=dry_run)

    # -- Deployment --------------------------------------------------------------------------
    def export_model(self, run_id: int, out_dir: str | Path | None = None, *,
                     to: str = "gguf", quant: str = "f16", on_progress=None) -> ModelExport:
        """See Deployment.export_model."""
        return self.deployment.export_model(run_id, out_dir, to=to, quant=quant,
                                            on_progress=on_progress)

    def model_exports(self, run_id: int | None = None) -> builtins.list[ModelExport]:
        return self.deployment.model_exports(run_id)

    def serving_target(self, run_id: int, engine: str | None = None) -> tuple[str, Path]:
        """See Deployment.serving_target."""
        return self.deployment.serving_target(run_id, engine)

    def start_serving(self, run_id: int, *, engine: str | None = None, port: int = 0,
                      host: str = "127.0.0.1", api_key: str | None = None) -> Serving:
        """See Deployment.start_serving."""
        return self.deployment.start_serving(run_id, engine=engine, port=port, host=host,
                                             api_key=api_key)

    def serving_now(self) -> builtins.list[Serving]:
        return self.deployment.serving_now()

    def stop_serving(self, run_id: int | None = None) -> builtins.list[int]:
        return self.deployment.stop_serving(run_id)

    def train_settings(self, *, model: str | None = None, task: str | None = None,
                       **given) -> dict:
        """See Training.train_settings."""
        return self.training.train_settings(model=model, task=task, **given)

    def try_model(self, run_id: int, text: str, max_new_tokens: int | None = None) -> dict:
        """See Training.try_model."""
        return self.training.try_model(run_id, text, max_new_tokens)

    def run_curve(self, run_id: int) -> dict | None:
        return self.training.run_curve(run_id)

    # -- Imports -----------------------------------------------------------------------------
    def import_file(self, path: str | Path, *, task: str | None = None, fmt: str = "auto",
                    mapping: dict | None = None, name: str | None = None,
                    labels: builtins.list[str] | None = None, input_style: str = "auto",
                    reviewer: str | None = None) -> ImportResult:
        """See Imports.import_file."""
        return self.imports.import_file(
            path, task=task, fmt=fmt, mapping=mapping, name=name, labels=labels,
            input_style=input_style, reviewer=reviewer)

    def import_samples(self) -> builtins.list[ImportResult]:
        """The bundled sample data; a file imported before adds nothing (import identity)."""
        return self.imports.import_samples()

    # -- Corruption --------------------------------------------------------------------------
    def noise_profile(self, spec=None):
        """A NoiseProfile from a built-in name, a stored name, a TOML/JSON file, or itself."""
        return self.corruption.noise_profile(spec)

    def noise_profiles(self) -> builtins.list[dict]:
        """Built-in profiles, then the stored (fitted or edited) ones."""
        return self.corruption.noise_profiles()

    def save_noise_profile(self, profile) -> str:
        return self.corruption.save_noise_profile(profile)

    def messy_sample(self, *, task: str | None = None, status: str | None = None,
                     limit: int = 500) -> builtins.list[str]:
        """See Corruption.messy_sample."""
        return self.corruption.messy_sample(task=task, status=status, limit=limit)

    def fit_noise(self, messy: builtins.list[str], clean: builtins.list[str] | None = None, *,
                  name: str = "fitted", save: bool = True):
        """See Corruption.fit_noise."""
        return self.corruption.fit_noise(messy, clean, name=name, save=save)

    def corrupt_preview(self, *, task: str | None = None, profile=None, status: str | None = None,
                        inputs: str = "clean", seed: int = 0,
                        limit: int = 20) -> builtins.list[dict]:
        return self.corruption.corrupt_preview(
            task=task, profile=profile, status=status, inputs=inputs, seed=seed, limit=limit)

    def corrupt(self, *, task: str | None = None, profile=None, status: str | None = None,
                ids: builtins.list[int] | None = None, inputs: str = "clean", variants: int = 1,
                seed: int = 0, limit: int | None = None, dry_run: bool = False,
                on_progress=None, reviewer: str | None = None) -> CorruptResult:
        """See Corruption.corrupt."""
        return self.corruption.corrupt(
            task=task, profile=profile, status=status, ids=ids, inputs=inputs, variants=variants,
            seed=seed, limit=limit, dry_run=dry_run, on_progress=on_progress, reviewer=reviewer)
