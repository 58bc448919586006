"""Deploy tab: a completed run exported as a model people run (GGUF, an Ollama folder, or the
merged model) with the commands that serve it; served here on an OpenAI-compatible endpoint that
the Generate tab can use as its teacher (label new inputs with your own model, then review
them), and asked a question. The handlers are module-level functions of (studio, plain values);
the builder wires them."""

from __future__ import annotations

import html
from functools import partial

from studio.ui.common import bind, bind_progress, quiet

TARGETS = [("GGUF (llama.cpp, LM Studio)", "gguf"), ("Ollama folder (GGUF + Modelfile)", "ollama"),
           ("Merged model (safetensors)", "merged")]
QUANTS = ["f16", "q8_0", "q4_k_m", "f32"]
ENGINES = ["auto", "llama.cpp", "transformers"]
EXPORT_COLUMNS = ["#", "to", "quant", "folder", "size (MB)", "seconds"]


def build_deploy_tab(gr, settings, studio, task_box, header):
    gr.Markdown("### Deploy\nExport a trained run as a model people run, with the exact "
                "commands for llama.cpp, Ollama and vLLM; serve it here on an OpenAI-compatible "
                "endpoint and use it as the teacher that labels new inputs.")
    pick = gr.Dropdown([], label="Run", elem_id="deploy-run")
    gr.Markdown("#### Export model")
    with gr.Row():
        target = gr.Radio(TARGETS, value="gguf", label="Export as", scale=2,
                          elem_id="deploy-target")
        quant = gr.Dropdown(QUANTS, value="q8_0", label="GGUF weights", scale=1,
                            elem_id="deploy-quant", info="q8_0: half of f16's size, nearly "
                            "the same answers; q4_k_m needs llama-cpp-python")
        out_dir = gr.Textbox(label="Folder (blank: inside the run folder)", scale=2,
                             elem_id="deploy-out")
    export_btn = gr.Button("Export model", variant="primary", elem_id="btn-export-model")
    result = gr.Markdown(elem_id="deploy-result")
    exports = gr.Dataframe(headers=EXPORT_COLUMNS, interactive=False, elem_id="deploy-exports",
                           label="This run's exports, newest first")
    gr.Markdown("#### Serve")
    with gr.Row():
        engine = gr.Radio(ENGINES, value="auto", label="Engine", scale=2,
                          elem_id="deploy-engine", info="auto: llama.cpp on the newest GGUF "
                          "export when installed, else transformers with the adapter")
        port = gr.Number(value=0, precision=0, minimum=0, label="Port (0: a free one)",
                         scale=1, elem_id="deploy-port")
        serve_btn = gr.Button("Serve", variant="primary", scale=1, elem_id="btn-serve")
        stop_btn = gr.Button("Stop", scale=1, elem_id="btn-serve-stop")
    status = gr.Markdown(serving_markdown([]), elem_id="deploy-status")
    use_btn = gr.Button("Use as the teacher in Generate (and the judge in Evaluate)",
                        elem_id="btn-use-teacher")
    with gr.Row():
        question = gr.Textbox(label="Ask the served model", lines=2, scale=3,
                              elem_id="deploy-question")
        ask_btn = gr.Button("Ask", scale=1, elem_id="btn-deploy-ask")
    answer = gr.Textbox(label="Answer", lines=4, interactive=False, elem_id="deploy-answer")

    export_btn.click(bind_progress(export, studio), [pick, target, quant, out_dir],
                     [result, exports], api_name="export_model")
    pick.change(partial(export_rows, studio), [pick], [exports], api_name=False)
    serve_btn.click(bind(serve, studio), [pick, engine, port], [status], api_name="serve")
    stop_btn.click(bind(stop, studio), [pick], [status], api_name=False)
    ask_btn.click(bind(ask, studio), [pick, question], [answer], api_name="ask_served")
    return {"refresh": (partial(refresh, studio), [task_box, pick], [pick, exports, status]),
            "use_as_teacher": (use_btn, partial(teacher_fields, studio), [pick])}


# -- handlers: functions of (studio, plain values) ---------------------------------------------

def refresh(studio, task, current):
    """The completed runs of the task (the picked one kept), its exports, what is served."""
    import gradio as gr

    runs = [r for r in studio.runs(task) if r["status"] == "completed" and r["kind"] == "train"]
    ids = [r["id"] for r in runs]
    value = current if current in ids else (ids[0] if ids else None)
    choices = [(f"#{r['id']} {r['model'].rsplit('/', 1)[-1]}", r["id"]) for r in runs]
    return (gr.update(choices=choices, value=value), export_rows(studio, value),
            serving_markdown(studio.serving_now()))


def export_rows(studio, run_id) -> list[list]:
    if run_id is None:
        return []
    return [[e["id"], e["to"], e["quant"] or "", e["out_dir"], round(e["bytes"] / 1e6, 1),
             round(e["seconds"], 1)] for e in studio.model_exports(int(run_id))]


def export(studio, run_id, target, quant, out_dir, progress=quiet):
    """Export the picked run; the files, their size and the commands that serve them."""
    import gradio as gr

    if run_id is None:
        raise gr.Error("No completed run yet: train one in the Train tab.")

    def report(stage, done, total):
        if total:
            progress((done, total), desc=stage)

    r = studio.export_model(int(run_id), (out_dir or "").strip() or None, to=target,
                            quant=quant, on_progress=report)
    return export_markdown(r), export_rows(studio, run_id)


def export_markdown(r: dict) -> str:
    what = r["to"] + (f" ({r['quant']})" if r["quant"] else "")
    files = "\n".join(f"- `{html.escape(f)}`" for f in r["files"])
    commands = "\n".join(f"{name}:\n\n```bash\n{c}\n```" for name, c in r["commands"].items())
    return (f"**Exported run {r['run']} as {what}** to `{html.escape(r['out_dir'])}` in "
            f"{r['seconds']:.1f} s ({r['bytes'] / 1e6:.1f} MB):\n\n{files}\n\n{commands}")


def serve(studio, run_id, engine, port):
    import gradio as gr

    if run_id is None:
        raise gr.Error("Pick a completed run to serve.")
    studio.start_serving(int(run_id), engine=None if engine == "auto" else engine,
                         port=int(port or 0))
    return serving_markdown(studio.serving_now())


def stop(studio, run_id):
    studio.stop_serving(None if run_id is None else int(run_id))
    return serving_markdown(studio.serving_now())


def serving_markdown(served: list[dict]) -> str:
    if not served:
        return "Nothing served from here now."
    return "\n".join(f"**Serving run {s['run']}** ({s['engine']}) at `{s['url']}` as model "
                     f"`{s['model']}`" for s in served)


def _served(studio, run_id) -> dict:
    import gradio as gr

    found = [s for s in studio.serving_now() if run_id is not None and s["run"] == int(run_id)]
    if not found:
        raise gr.Error("Serve the run first (Serve, above).")
    return found[0]


def teacher_fields(studio, run_id):
    """The Generate tab's endpoint and model and the Evaluate tab's judge, set to the served
    run, and the Generate tab opened."""
    import gradio as gr

    s = _served(studio, run_id)
    return s["url"], s["model"], s["url"], s["model"], gr.Tabs(selected="generate")


def ask(studio, run_id, question):
    """One chat turn to the served model, as any OpenAI client would ask it."""
    import gradio as gr
    from openai import OpenAI

    if not (question or "").strip():
        raise gr.Error("Type a question first.")
    s = _served(studio, run_id)
    client = OpenAI(base_url=s["url"], api_key="local", timeout=120, max_retries=0)
    reply = client.chat.completions.create(
        model=s["model"], temperature=0, max_tokens=256,
        messages=[{"role": "user", "content": question}])
    return reply.choices[0].message.content or "(no text: the model ended its answer at once)"
