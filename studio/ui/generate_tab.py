"""Generate tab: the teacher's endpoint (with a connection test that finds the structured output
the server takes), what will be labelled before a job starts, seeds, count, concurrency and
budget; a job runs in a background thread while a timer shows its progress, cost and newest rows,
and a failed job says why. The API key typed here stays in this browser session: it is passed to
the job, never stored. The handlers are module-level functions of (studio, plain values)."""

import html
from functools import partial

from studio.ui.common import bind, header_markdown

JOB_COLUMNS = ["job", "status", "mode", "done", "failed", "remaining", "tokens", "cost $",
               "reason"]
RESUMABLE = ("cancelled", "budget_stopped", "interrupted", "failed", "completed")
STRUCTURED = [("auto: the best the server takes", "auto"), ("json_schema", "json_schema"),
              ("json_object + schema (llama.cpp)", "json_object"), ("off", "off")]
ALL_ROWS = "every input-only row of the task"


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
    with gr.Row():
        structured = gr.Dropdown(STRUCTURED, value=settings.teacher_structured or "auto",
                                 label="Structured output", scale=2, elem_id="gen-structured",
                                 info="auto moves on when the server refuses a format")
        refresh_box = gr.Checkbox(False, label="Ask again (do not reuse stored answers)",
                                  scale=1, elem_id="gen-refresh")
    conn = gr.Markdown(elem_id="gen-connection")
    with gr.Row():
        mode = gr.Radio(["outputs", "inputs", "both"], value="inputs", label="Mode",
                        info="outputs: label input-only rows · inputs: new examples from seeds "
                        "· both: the first, then new ones", scale=3)
        count = gr.Number(value=20, minimum=1, precision=0, scale=1, elem_id="gen-count",
                          label="Examples (inputs and both)")
        conc = gr.Slider(1, 128, value=16, step=1, label="Concurrency (also on resume)", scale=2)
        budget = gr.Number(value=0, minimum=0, precision=0, label="Token budget (0: none)",
                           scale=1, elem_id="gen-budget")
    with gr.Row():
        label_from = gr.Dropdown([(ALL_ROWS, "")], value="", scale=2, elem_id="gen-label-from",
                                 label="Rows to label (outputs and both)")
        plan_note = gr.Markdown(elem_id="gen-plan")
    seeds = gr.Dropdown([], multiselect=True, label="Seed examples (blank: the task's complete "
                        "examples, approved first)", elem_id="gen-seeds")
    with gr.Row():
        start = gr.Button("Start generating", variant="primary", elem_id="btn-generate")
        cancel = gr.Button("Cancel", variant="stop", visible=False,  # shown while a job runs
                           elem_id="btn-gen-cancel")
        pick = gr.Dropdown([], label="Stopped job", scale=1, elem_id="gen-resume-pick")
        resume = gr.Button("Resume", elem_id="btn-gen-resume")
    progress = gr.HTML(elem_id="gen-progress")
    newest = gr.Dataframe(headers=["id", "input", "output"], interactive=False, wrap=True,
                          label="Newest examples from this job", elem_id="gen-newest",
                          column_widths=["8%", "52%", "40%"])
    with gr.Accordion("Jobs", open=False):
        jobs_table = gr.Dataframe(headers=JOB_COLUMNS, interactive=False, wrap=True,
                                  elem_id="gen-jobs")
    job_state = gr.State(None)
    timer = gr.Timer(1.0, active=False)

    shown = [progress, newest, jobs_table, pick, header]
    test.click(bind(check_connection, studio), [urls, model, key, structured], conn,
               api_name="test_connection")
    start.click(bind(start_job, studio), [task_box, urls, model, key, structured, mode, count,
                                          conc, budget, seeds, label_from, refresh_box],
                [job_state, *shown, timer, cancel], api_name="generate")
    resume.click(bind(resume_job, studio),
                 [task_box, pick, urls, model, key, structured, conc, refresh_box],
                 [job_state, *shown, timer, cancel], api_name="resume_job")
    cancel.click(bind(cancel_job, studio), [job_state, task_box], shown, api_name="cancel_job")
    timer.tick(partial(tick, studio), [job_state, task_box], [*shown, timer, cancel],
               api_name=False)
    for box in (mode, label_from):
        box.change(partial(planned, studio), [task_box, mode, label_from],
                   [label_from, plan_note], api_name=False, show_progress="hidden")
    return {"refresh": (partial(refresh, studio), [task_box, job_state, mode, label_from],
                        [seeds, label_from, plan_note, *shown]),
            "teacher": (urls, model), "mode_count": (mode, count)}


# -- handlers: functions of (studio, plain values) ---------------------------------------------

def start_job(studio, task, url_text, model_name, api_key, fmt, md, n, c, tokens, seed_ids,
              source, again):
    """Start a job and run it in a background thread (the job id, what the tab shows, the
    timer on, the Cancel button shown)."""
    import gradio as gr

    cfg = teacher_config(studio, url_text, model_name, api_key, fmt, concurrency=c)
    job = studio.start_job(cfg, task=task, mode=md,
                           n=int(n) if n and md != "outputs" else None,
                           seed_ids=[int(s) for s in seed_ids] if seed_ids else None,
                           budget_tokens=int(tokens) if tokens else None,
                           import_file=(source or None) if md != "inputs" else None)
    studio.run_job_in_background(job["id"], cfg, refresh=bool(again))
    return (job["id"], *job_view(studio, job["id"], task)[:-1], gr.Timer(active=True),
            gr.update(visible=True))


def resume_job(studio, task, picked, url_text, model_name, api_key, fmt, c, again):
    """Resume the stopped job picked, in a background thread."""
    import gradio as gr

    if not picked:
        raise gr.Error("Pick a stopped job to resume.")
    job = studio.job(int(picked))
    cfg = teacher_config(studio, url_text, model_name, api_key, fmt, job=job, concurrency=c)
    studio.claim_job(job["id"])
    studio.run_job_in_background(job["id"], cfg, refresh=bool(again))
    return (job["id"], *job_view(studio, job["id"], task)[:-1], gr.Timer(active=True),
            gr.update(visible=True))


def cancel_job(studio, job_id, task):
    import gradio as gr

    if job_id is None:
        raise gr.Error("No job started in this session.")
    studio.cancel_job(int(job_id))
    return job_view(studio, job_id, task)[:-1]


def tick(studio, job_id, task):
    """The timer: the job's progress; the timer and Cancel stay while it runs."""
    import gradio as gr

    *out, running = job_view(studio, job_id, task)
    return (*out, gr.Timer(active=running), gr.update(visible=running))


def refresh(studio, task, job_id, md, source):
    """The tab opened or the task changed: seeds, rows to label, the plan, the jobs."""
    import gradio as gr

    choices = [(f"#{r['id']} {r['input'][:70]}", r["id"])
               for r in studio.seed_candidates(task, limit=200)] if task else []
    sources, value, note = plan_view(studio, task, md, source)
    return (gr.update(choices=choices), gr.update(choices=sources, value=value), note,
            *job_view(studio, job_id, task)[:-1])


def planned(studio, task, md, source):
    """The mode or the rows to label changed: what a job would label."""
    import gradio as gr

    sources, value, note = plan_view(studio, task, md, source)
    return gr.update(choices=sources, value=value), note


def teacher_config(studio, url_text, model_name, api_key, fmt, job=None, concurrency=None):
    base_urls = [u.strip() for u in (url_text or "").splitlines() if u.strip()]
    return studio.teacher_config(job, model=(model_name or "").strip() or None,
                                 base_urls=base_urls, api_key=(api_key or "").strip() or None,
                                 structured=fmt or None,
                                 concurrency=int(concurrency) if concurrency else None)


def check_connection(studio, url_text, model_name, api_key, fmt) -> str:
    """Test connection: the same service as `sft-studio teacher-check`."""
    cfg = teacher_config(studio, url_text, model_name, api_key, fmt)
    return "\n\n".join(connection_line(r) for r in studio.check_teacher(cfg))


def connection_line(r: dict) -> str:
    url = html.escape(r["base_url"])
    if r.get("latency_ms") is None:
        return f"**Failed** `{url}`: {html.escape(r['error'])}"
    line = (f"**OK** `{url}` answered in {r['latency_ms']:.0f} ms as model "
            f"`{html.escape(str(r['model']))}`" if r["ok"] else
            f"**Failed** `{url}`: {html.escape(r['error'])}")
    if r.get("structured"):
        line += f" · structured output: **{r['structured']}**"
    if r.get("refused"):
        line += " (refused: " + html.escape("; ".join(r["refused"])) + ")"
    return line


def plan_view(studio, task, md, source):
    """The 'Rows to label' choices and what an outputs job would label, before it starts."""
    if not task:
        return [(ALL_ROWS, "")], "", ""
    p = studio.outputs_preview(task, import_file=source or None)
    total = sum(i["rows"] for i in p["imports"])
    choices = [(f"{ALL_ROWS} ({total})", "")] + [
        (f"imported from {i['file']} ({i['rows']})", i["file"]) for i in p["imports"]
        if i["file"]]
    value = source if source in [v for _, v in choices] else ""
    if value != (source or ""):
        p = studio.outputs_preview(task)
    if md == "inputs":
        return choices, value, ""
    if not p["rows"]:
        return choices, value, f"No row of **{task}** needs an output."
    first = "; ".join(f"#{r['id']} {html.escape(r['input'][:60])}" for r in p["first"][:3])
    where = f" imported from `{html.escape(value)}`" if value else ""
    return choices, value, (f"Will label **{p['rows']}** input-only rows of **{task}**{where}, "
                            f"oldest first: {first}…")


def job_view(studio, job_id, task):
    """What the tab shows, and whether the session's job is still running."""
    import gradio as gr

    jobs = studio.jobs(limit=20)
    table = [[j["id"], j["status"], j["mode"], j["done"], j["failed"], j["remaining"],
              j["tokens_in"] + j["tokens_out"], round(j["cost_usd"], 4), j["error"] or ""]
             for j in jobs]
    stopped = [(f"#{j['id']} {j['status']} ({j['remaining']} left)", j["id"]) for j in jobs
               if j["status"] in RESUMABLE and (j["remaining"] or j["failed"])]
    rows, bar, running = [], "", False
    if job_id is not None:
        job = studio.job(int(job_id))
        running = job["status"] == "running"
        note = studio.live_job_note(int(job_id)) if running else settled_note(job)
        bar = progress_html(job, note)
        rows = [[r["id"], r["input"], r["output"] or ""] for r in
                studio.job_examples(int(job_id), 10)]
    return (bar, gr.update(value=rows), gr.update(value=table),
            gr.update(choices=stopped, value=None), header_markdown(studio, task), running)


def settled_note(job: dict) -> str | None:
    """A finished job's structured output, as its endpoints settled on it."""
    formats = sorted(set((job["params"].get("formats") or {}).values()))
    return f"structured output: {', '.join(formats)}" if formats else None


def progress_html(job: dict, note: str | None = None) -> str:
    handled = job["done"] + job["failed"]
    rate = handled / job["active_seconds"] if job["active_seconds"] > 0.5 else 0.0
    eta = f" · ETA {job['remaining'] / rate:.0f}s" if rate and job["status"] == "running" else ""
    label = "Stopped because" if job["status"] == "failed" else "Note"
    err = f"<br><b>{label}:</b> {html.escape(job['error'])}" if job.get("error") else ""
    if job["status"] == "completed" and job["requested"] and not job["done"]:
        err += ("<br><b>Nothing was done:</b> every item failed; the jobs table and "
                "<code>sft-studio jobs --failures</code> say why.")
    live = f" · {html.escape(note)}" if note else ""
    return (f"<div id='gen-status'><b>Job {job['id']} · {job['status']}</b> · "
            f"{job['done']} of {job['requested']} done · {job['failed']} failed · "
            f"{rate:.1f}/s{eta} · {job['tokens_in'] + job['tokens_out']:,} tokens · "
            f"${job['cost_usd']:.4f} · {job['requests']} requests, {job['cached']} from cache"
            f"{live}{err}</div><progress value='{handled}' max='{max(1, job['requested'])}' "
            f"style='width:100%'></progress>")
