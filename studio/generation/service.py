"""The Studio's generation verbs: the teacher's config, starting, running, resuming and
cancelling jobs. The job machinery itself is studio.generation.jobs's."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from studio.errors import BadInput, Conflict, NotFound
from studio.records import EndpointCheck, JobRow
from studio.reviews.service import Reviews
from studio.settings import Settings
from studio.store import Store


class Generation:
    """Generation jobs: built on the store, the settings and the task lookup of Reviews; it
    keeps the jobs running in this process."""

    def __init__(self, store: Store, settings: Settings, reviews: Reviews):
        self.store, self.settings, self.reviews = store, settings, reviews
        self._stops: dict[int, threading.Event] = {}  # jobs running in this process
        self._claimed: set[int] = set()  # ... or about to

    def teacher_config(self, job: dict | None = None, **given):
        """A TeacherConfig from what is given, then the job (on resume), then the environment.
        The key is never stored, so it always comes from the caller or OPENAI_API_KEY."""
        from generators.teacher import TeacherConfig

        if job is not None:
            p = job["params"]
            given["model"] = given.get("model") or job["model"]
            if not given.get("base_urls"):
                given["base_urls"] = job["base_urls"]
            for k in ("concurrency", "timeout", "structured", "price_in", "price_out",
                      "max_attempts", "adaptive"):
                if given.get(k) is None and k in p.get("teacher", {}):
                    given[k] = p["teacher"][k]
        if not given.get("structured"):
            given["structured"] = self.settings.teacher_structured
        if given.get("price_in") is None and given.get("price_out") is None:
            model = given.get("model") or self.settings.teacher_model or ""
            given.update(self._prices().get(model, {}))
        try:
            return TeacherConfig.from_env(**given)
        except (ValueError, TypeError) as e:
            raise BadInput(str(e)) from None

    def _prices(self) -> dict[str, dict]:
        """The price table (SFT_STUDIO_PRICES): model -> {price_in, price_out}, USD per 1M."""
        path = self.settings.prices_file
        if path is None:
            return {}
        import tomllib

        try:
            models = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("models", {})
            return {name: {"price_in": float(p.get("in", 0)), "price_out": float(p.get("out", 0))}
                    for name, p in models.items()}
        except (OSError, ValueError, AttributeError, TypeError) as e:
            raise BadInput(f"price table {path}: {e}; expected [models.\"NAME\"] with "
                           "in = USD and out = USD per million tokens") from None

    def start_job(self, teacher, *, task: str | None = None, mode: str = "outputs",
                  n: int | None = None, seed_ids: list[int] | None = None, seed: int | None = None,
                  recipe: str | Path | None = None, budget_tokens: int | None = None,
                  budget_usd: float | None = None, import_file: str | None = None) -> JobRow:
        """Plan a generation job and store it (status running); run it with run_job."""
        from generators.recipes import RecipeError, builtin_recipe, load_recipe
        from studio.generation import jobs

        t = self.reviews.task(task)
        try:
            rec = load_recipe(recipe, builtin_recipe(t.name)) if recipe else builtin_recipe(t.name)
        except RecipeError as e:
            raise BadInput(str(e)) from None
        if budget_usd is not None and not (teacher.price_in or teacher.price_out):
            raise BadInput("--budget-usd needs the model's prices (--price-in and --price-out, "
                           "USD per million tokens)")
        if (budget_tokens is not None and budget_tokens < 1) or (budget_usd is not None
                                                                  and budget_usd <= 0):
            raise BadInput("a budget must be positive")
        params = jobs.plan(self, task=t.name, mode=mode, n=n, seed_ids=seed_ids, seed=seed,
                                 recipe=rec, recipe_label=str(recipe or rec.name),
                                 import_file=import_file)
        params.update(budget_tokens=budget_tokens, budget_usd=budget_usd, teacher={
            k: getattr(teacher, k) for k in ("concurrency", "timeout", "structured", "price_in",
                                             "price_out", "max_attempts", "adaptive")})
        requested = len(params["output_ids"]) + params["new"]
        job_id = self.store.create_job(kind="generate", task=t.name, mode=mode,
                                       model=teacher.model, base_urls=teacher.base_urls,
                                       params=params, requested=requested, pid=os.getpid())
        if params["seed"] is None:  # a new job asks for new samples; --seed repeats a job's
            params["seed"] = job_id
            self.store.update_job(job_id, {"params": params})
        return self.claim_job(job_id)

    def run_job(self, job_id: int, teacher, *, stop: threading.Event | None = None,
                on_progress=None, budget_tokens: int | None = None,
                budget_usd: float | None = None, refresh: bool = False) -> JobRow:
        """Run or resume a job in this thread until it ends; returns the job. `refresh` asks
        every question again instead of reusing stored answers."""
        from studio.generation import job_files, jobs

        if job_id not in self._claimed:
            self.claim_job(job_id)
        try:
            job = self.job(job_id)
            if budget_tokens is not None or budget_usd is not None:
                budget = (("budget_tokens", budget_tokens), ("budget_usd", budget_usd))
                job["params"].update({k: v for k, v in budget if v is not None})
                self.store.update_job(job_id, {"params": job["params"]})
            if stop is not None:
                if self._stops[job_id].is_set():
                    stop.set()
                self._stops[job_id] = stop
            return jobs.run(self, job, teacher, stop=self._stops[job_id],
                            on_progress=on_progress, refresh=refresh)
        finally:
            self._stops.pop(job_id, None)
            self._claimed.discard(job_id)
            job_files.release(self.store.path, job_id)

    def run_job_in_background(self, job_id: int, teacher, *, refresh: bool = False) -> None:
        """Run a job (claimed by start_job or claim_job) in a thread of its own, as the app
        does: its end, error included, is recorded on the job for whoever looks."""
        def run() -> None:
            try:
                self.run_job(job_id, teacher, refresh=refresh)
            except Exception:  # already stored as the job's status and error
                pass

        threading.Thread(target=run, daemon=True, name=f"job-{job_id}").start()

    def check_resumable(self, job_id: int) -> JobRow:
        from studio.generation import job_files

        job = self.job(job_id)
        if job_id in self._claimed or job_files.is_running_here(self.store.path, job_id):
            raise Conflict(f"job {job_id} is running already")
        if job["status"] == "completed" and job["remaining"] == 0 and job["failed"] == 0:
            raise Conflict(f"job {job_id} is complete; nothing left to do")
        return job

    def claim_job(self, job_id: int) -> JobRow:
        """Mark a job as running in this process before its thread starts, so that nobody
        takes it for interrupted meanwhile; refuse one that is running or has nothing left."""
        from studio.generation import job_files

        self.check_resumable(job_id)
        job_files.mark_running(self.store.path, job_id)
        self._claimed.add(job_id)
        self._stops[job_id] = threading.Event()
        self.store.update_job(job_id, {"status": "running", "pid": os.getpid(), "error": None,
                                       "finished_at": None})
        return self.job(job_id)

    def generate(self, teacher, *, stop=None, on_progress=None, refresh: bool = False,
                 **plan) -> JobRow:
        job = self.start_job(teacher, **plan)
        return self.run_job(job["id"], teacher, stop=stop, on_progress=on_progress,
                            refresh=refresh)

    def outputs_preview(self, task: str | None = None, import_file: str | None = None,
                        n: int | None = None, show: int = 5) -> dict:
        """What an outputs job would label, before it starts: how many rows, where they came
        from, and the first few inputs."""
        t = self.reviews.task(task)
        ids = self.store.input_only_ids(t.name, import_file)[: n or None]
        rows = self.store.get_examples(ids[:show])
        return {"task": t.name, "import_file": import_file, "rows": len(ids),
                "imports": self.store.input_only_imports(t.name),
                "first": [{"id": r["id"], "input": r["input"]} for r in rows]}

    def live_job_note(self, job_id: int) -> str | None:
        """A running job's word on its endpoints (structured output in use, endpoints dropped),
        from its progress file."""
        from studio.generation import job_files

        return next((p.get("note") for p in job_files.live_progress(self.store.path)
                     if p.get("job_id") == job_id), None)

    def check_teacher(self, teacher) -> list[EndpointCheck]:
        """What Test connection shows, per endpoint: whether it answers (and in how long), the
        model that answers, and the structured output it takes (`auto` walks the chain); or
        the reason it failed, in words."""
        from generators.teacher import Teacher, run_sync

        async def probe():
            async with Teacher(teacher) as t:
                return await t.check()

        return run_sync(probe())

    def job(self, job_id: int) -> JobRow:
        self.settle_interrupted()
        job = self.store.get_job(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        return job

    def seed_candidates(self, task: str, limit: int = 50) -> list[dict]:
        """Rows of the task a generation job may show the teacher as examples."""
        return self.store.seed_candidates(task, limit=limit)

    def job_examples(self, job_id: int, limit: int = 10) -> list[dict]:
        """The newest rows a job wrote."""
        return self.store.job_examples(job_id, limit)

    def jobs(self, limit: int = 100) -> list[JobRow]:
        self.settle_interrupted()
        return self.store.list_jobs(limit)

    def job_failures(self, job_id: int, limit: int = 50) -> list[dict]:
        self.job(job_id)
        return self.store.job_failures(job_id, limit)

    def cancel_job(self, job_id: int) -> JobRow:
        """Stop a running job (it stays resumable), or mark a stopped one cancelled."""
        job = self.job(job_id)
        if job_id in self._stops:
            self._stops[job_id].set()
            return job
        if job["status"] in ("completed", "cancelled"):
            raise Conflict(f"job {job_id} is {job['status']} already")
        self.store.update_job(job_id, {"status": "cancelled"})
        return self.job(job_id)

    def settle_interrupted(self) -> None:
        """A job marked running that no thread of this process runs was killed: since DuckDB
        lets one process hold the file, its process is gone. A job of this process is running
        here from its claim until its end is stored, and the mark only changes a job that is
        still `running` when it is written, so a job ending right now is never marked."""
        from studio.generation import job_files

        for j in self.store.running_jobs():
            if not job_files.is_running_here(self.store.path, j["id"]):
                self.store.mark_job_interrupted(
                    j["id"], f"process {j['pid']} stopped while the job ran; resume it to go on")
