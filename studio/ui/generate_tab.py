"""Generate tab: the teacher's endpoint (with a connection test), seeds, count, concurrency and
budget; a job runs in a background thread while a timer shows its progress, cost and newest rows.
The API key typed here stays in this browser session: it is passed to the job, never stored."""

import asyncio
import html
import threading

from studio.ui.common import header_markdown, ui_errors

JOB_COLUMNS = ["job", "status", "mode", "done", "failed", "remaining", "tokens", "cost $"]
RESUMABLE = ("cancelled", "budget_stopped", "interrupted", "failed", "completed")


def build_generate_tab(gr, settings, studio, task_box, header):
    gr.Markdown("Point the studio at any OpenAI-compatible endpoint (OpenAI, Groq, Together, "
                "vLLM, Ollama, llama.cpp). New rows land as **pending**, source **teacher**.")
    with gr.Row():
        urls = gr.Textbox(label="Base URL (one per line to share the job over several servers)",
                          value=settings.teacher_base_url or "https://api.openai.com/v1",
                          lines=1, max_lines=4, scale=3, elem_id="gen-urls")
        model = gr.Textbox(label="Model", value=settings.teacher_model or "", scale=2,
                           elem_id="gen-model")
        key = gr.Textbox(label="API key (this session only; blank: $OPENAI_API_KEY)",
                         type="password", scale=2, elem_id="gen-key")
        test = gr.Button("Test connection", scale=1, elem_id="btn-test-connection")
    conn = gr.Markdown(elem_id="gen-connection")
    with gr.Row():
        mode = gr.Radio(["outputs", "inputs", "both"], value="inputs", label="Mode",
                        info="outputs: label input-only rows · inputs: new examples from seeds "
                        "· both: the first, then new ones", scale=3)
        count = gr.Number(value=20, minimum=1, precision=0, label="Examples", scale=1,
                          elem_id="gen-count")
        conc = gr.Slider(1, 128, value=16, step=1, label="Concurrency", scale=2)
        budget = gr.Number(value=0, minimum=0, precision=0, label="Token budget (0: none)",
                           scale=1, elem_id="gen-budget")
    seeds = gr.Dropdown([], multiselect=True, label="Seed examples (blank: the task's complete "
                        "examples, approved first)", elem_id="gen-seeds")
    with gr.Row():
        start = gr.Button("Start generating", variant="primary", elem_id="btn-generate")
        cancel = gr.Button("Cancel", variant="stop", elem_id="btn-gen-cancel")
        pick = gr.Dropdown([], label="Stopped job", scale=1, elem_id="gen-resume-pick")
        resume = gr.Button("Resume", elem_id="btn-gen-resume")
    progress = gr.HTML(elem_id="gen-progress")
    newest = gr.Dataframe(headers=["id", "input", "output"], interactive=False, wrap=True,
                          label="Newest examples from this job", elem_id="gen-newest",
                          column_widths=["8%", "52%", "40%"])
    with gr.Accordion("Jobs", open=False):
        jobs_table = gr.Dataframe(headers=JOB_COLUMNS, interactive=False, elem_id="gen-jobs")
    job_state = gr.State(None)
    timer = gr.Timer(1.0, active=False)

    def teacher(url_text, model_name, api_key, job=None, concurrency=None):
        base_urls = [u.strip() for u in (url_text or "").splitlines() if u.strip()]
        return studio.teacher_config(job, model=(model_name or "").strip() or None,
                                     base_urls=base_urls, api_key=(api_key or "").strip() or None,
                                     concurrency=int(concurrency) if concurrency else None)

    @ui_errors
    def check(url_text, model_name, api_key):
        from generators.teacher import Teacher

        cfg = teacher(url_text, model_name, api_key)

        async def probe():
            async with Teacher(cfg) as t:
                return await t.check()

        lines = [f"**OK** `{r['base_url']}` answered in {r['latency_ms']} ms" if r["ok"] else
                 f"**Failed** `{r['base_url']}`: {html.escape(r['error'])}"
                 for r in asyncio.run(probe())]
        return "\n\n".join(lines)

    def launch(job_id, cfg):
        threading.Thread(target=_run_quietly, args=(studio, job_id, cfg), daemon=True,
                         name=f"ui-job-{job_id}").start()

    @ui_errors
    def start_job(task, url_text, model_name, api_key, md, n, c, tokens, seed_ids):
        cfg = teacher(url_text, model_name, api_key, concurrency=c)
        job = studio.start_job(cfg, task=task, mode=md, n=int(n) if n else None,
                               seed_ids=[int(s) for s in seed_ids] if seed_ids else None,
                               budget_tokens=int(tokens) if tokens else None)
        launch(job["id"], cfg)
        return (job["id"], *show(job["id"], task), gr.Timer(active=True))

    @ui_errors
    def resume_job(task, picked, url_text, model_name, api_key):
        if not picked:
            raise gr.Error("Pick a stopped job to resume.")
        job = studio.job(int(picked))
        cfg = teacher(url_text, model_name, api_key, job=job)
        studio.claim_job(job["id"])
        launch(job["id"], cfg)
        return (job["id"], *show(job["id"], task), gr.Timer(active=True))

    @ui_errors
    def cancel_job(job_id, task):
        if job_id is None:
            raise gr.Error("No job started in this session.")
        studio.cancel_job(int(job_id))
        return show(job_id, task)

    def show(job_id, task):
        return view(job_id, task)[:-1]

    def view(job_id, task):
        """What the tab shows, and whether the session's job is still running."""
        jobs = studio.jobs(limit=20)
        table = [[j["id"], j["status"], j["mode"], j["done"], j["failed"], j["remaining"],
                  j["tokens_in"] + j["tokens_out"], round(j["cost_usd"], 4)] for j in jobs]
        stopped = [(f"#{j['id']} {j['status']} ({j['remaining']} left)", j["id"]) for j in jobs
                   if j["status"] in RESUMABLE and (j["remaining"] or j["failed"])]
        rows, bar, running = [], "", False
        if job_id is not None:
            job = studio.job(int(job_id))
            bar, running = progress_html(job), job["status"] == "running"
            rows = [[r["id"], r["input"], r["output"] or ""] for r in
                    studio.store.job_examples(int(job_id), 10)]
        return (bar, gr.update(value=rows), gr.update(value=table),
                gr.update(choices=stopped, value=None), header_markdown(studio, task), running)

    def tick(job_id, task):
        *out, running = view(job_id, task)
        return (*out, gr.Timer(active=running))

    def refresh(task, job_id):
        choices = [(f"#{r['id']} {r['input'][:70]}", r["id"])
                   for r in studio.store.seed_candidates(task, limit=200)] if task else []
        return (gr.update(choices=choices), *show(job_id, task))

    shown = [progress, newest, jobs_table, pick, header]
    test.click(check, [urls, model, key], conn, api_name="test_connection")
    start.click(start_job, [task_box, urls, model, key, mode, count, conc, budget, seeds],
                [job_state, *shown, timer], api_name="generate")
    resume.click(resume_job, [task_box, pick, urls, model, key], [job_state, *shown, timer],
                 api_name="resume_job")
    cancel.click(cancel_job, [job_state, task_box], shown, api_name="cancel_job")
    timer.tick(tick, [job_state, task_box], [*shown, timer], api_name=False)
    return {"refresh": (refresh, [task_box, job_state], [seeds, *shown])}


def progress_html(job: dict) -> str:
    handled = job["done"] + job["failed"]
    rate = handled / job["active_seconds"] if job["active_seconds"] > 0.5 else 0.0
    eta = f" · ETA {job['remaining'] / rate:.0f}s" if rate and job["status"] == "running" else ""
    err = f"<br><b>Error:</b> {html.escape(job['error'])}" if job.get("error") else ""
    return (f"<div id='gen-status'><b>Job {job['id']} · {job['status']}</b> · "
            f"{job['done']} of {job['requested']} done · {job['failed']} failed · "
            f"{rate:.1f}/s{eta} · {job['tokens_in'] + job['tokens_out']:,} tokens · "
            f"${job['cost_usd']:.4f} · {job['requests']} requests, {job['cached']} from cache"
            f"{err}</div><progress value='{handled}' max='{max(1, job['requested'])}' "
            f"style='width:100%'></progress>")


def _run_quietly(studio, job_id, cfg):
    """A background job's end is recorded on the job (status and error) for the tab to show."""
    try:
        studio.run_job(job_id, cfg)
    except Exception:  # already stored as the job's error by generation.run
        pass
