"""Train tab: a model preset or any path/Hub id, the trainer's settings as typed controls filled
with the values the run would compute (each with its reason), Train / Cancel / Resume, a live
loss plot, progress, tokens/s and the log tail, and the history of runs side by side. The
handlers are module-level functions of (studio, plain values); the builder wires them."""

from __future__ import annotations

import html
from functools import partial
from pathlib import Path

from studio.errors import BadInput
from studio.ui.charts import line_chart
from studio.ui.common import bind, header_markdown, part_label
from studio.vocabulary import LIVE_RUN_STATUSES

RUN_COLUMNS = ["run", "status", "kind", "model", "steps", "train loss", "eval loss", "metric",
               "base", "tuned", "delta", "epochs", "lr", "LoRA r", "batch x accum"]
LIVE = LIVE_RUN_STATUSES


def _num(x, digits=4):
    return "" if x is None else round(x, digits)


def run_rows(runs: list[dict]) -> list[list]:
    rows = []
    for r in runs:
        c, e = r["config"] or {}, r["eval"] or {}
        rows.append([r["id"], r["status"], r["kind"], Path(r["model"]).name,
                     f"{r['step'] or 0}/{r['max_steps'] or '?'}", _num(r["train_loss"]),
                     _num(r["eval_loss"]), e.get("metric", ""), _num(e.get("base"), 3),
                     _num(e.get("tuned"), 3), _num(e.get("delta"), 3),
                     c.get("epochs") or "auto", c.get("learning_rate") or "auto",
                     c.get("lora_r"), f"{c.get('batch_size') or 'auto'} x "
                     f"{c.get('grad_accum') or 'auto'}"])
    return rows


def model_choices() -> tuple[list[tuple[str, str]], str]:
    """The presets as (label saying whether this machine has it, name), the tiny demo model
    first; and the default: the first preset this machine has, else the demo model."""
    from studio.training.models import PRESETS, TINY_DEMO, availability, label

    have = {p: availability(p)["available"] for p in PRESETS}
    return ([(label(TINY_DEMO), TINY_DEMO)] + [(label(p, have[p]), p) for p in PRESETS],
            next((p for p in PRESETS if have[p]), TINY_DEMO))


def _auto_box(gr, label: str, info: str, elem_id: str):
    """A setting the run computes unless one is typed: blank shows "auto" (a gr.Number would
    show 0 for none)."""
    return gr.Textbox(value="", label=label, info=info, placeholder="auto", max_lines=1,
                      elem_id=elem_id)


def loss_chart(metrics: list[dict]) -> str:
    """The train and eval loss against the step; a learning-curve run has a pair per part."""
    series: dict[str, list] = {}
    for m in metrics:
        part = f"{part_label(m['part'])}: " if m["part"] else ""
        for key, name in (("loss", "train loss"), ("eval_loss", "eval loss")):
            if m[key] is not None:
                series.setdefault(part + name, []).append((m["step"], m[key]))
    return line_chart(series, x_label="step", y_label="loss", title="Loss",
                      empty="The loss shows here once a run logs its first step.")


def progress_html(run: dict | None) -> str:
    if run is None:
        return "<div id='train-status'>No run yet: pick a model and press Train.</div>"
    step, total = run["step"] or 0, run["max_steps"] or 0
    bits = [f"<b>Run {run['id']} · {run['status']}</b>", f"step {step} of {total or '?'}"]
    if run.get("eta_s") is not None and run["status"] == "running":
        bits.append(f"ETA {run['eta_s']:.0f}s")
    if run.get("tokens_per_s"):
        bits.append(f"{run['tokens_per_s']:,.0f} tokens/s")
    for k in ("train_loss", "eval_loss"):
        if run[k] is not None:
            bits.append(f"{k.replace('_', ' ')} {run[k]:.4f}")
    if run["eval"]:
        e = run["eval"]
        bits.append(f"{e['metric']}: base {e['base']:.3f} → tuned {e['tuned']:.3f}"
                    if e["base"] is not None and e["tuned"] is not None else e["metric"])
    err = (f"<pre style='white-space:pre-wrap'>{html.escape(run['error'][-3000:])}</pre>"
           if run.get("error") and run["status"] == "failed" else "")
    return (f"<div id='train-status'>{' · '.join(bits)}</div><progress value='{step}' "
            f"max='{max(1, total)}' style='width:100%'></progress>{err}")


def build_train_tab(gr, settings, studio, task_box, header):
    from trainer.config import help_text

    helps = help_text()
    gr.Markdown("### Train\nFine-tunes the model on the **approved** rows with LoRA: the rows "
                "are exported into a new run folder and `python -m trainer` runs there in its "
                "own process, so this page stays usable. Values below are what the run would "
                "compute from your data and this machine; change any of them.")
    with gr.Row():
        choices, default = model_choices()
        model = gr.Dropdown(choices, value=default, allow_custom_value=True, scale=3,
                            label="Base model (a preset, a Hub id or a local folder; a model "
                            "not cached here is downloaded when training starts)",
                            elem_id="train-model")
        suggest_btn = gr.Button("Fill in computed settings", scale=1, elem_id="btn-train-fill")
    with gr.Row():
        method = gr.Dropdown(["lora", "qlora", "full"], value="lora", label="Method",
                             info=helps["method"], elem_id="train-method")
        epochs = _auto_box(gr, "Epochs", helps["epochs"], "train-epochs")
        max_steps = gr.Number(value=0, precision=0, label="Max steps (0: by epochs)",
                              info=helps["max_steps"], elem_id="train-max-steps")
        lr = _auto_box(gr, "Learning rate", helps["learning_rate"], "train-lr")
    with gr.Row():
        lora_r = gr.Slider(4, 128, value=16, step=4, label="LoRA rank", info=helps["lora_r"],
                           elem_id="train-lora-r")
        batch = _auto_box(gr, "Batch size", helps["batch_size"], "train-batch")
        accum = _auto_box(gr, "Gradient accumulation", helps["grad_accum"], "train-accum")
        max_len = _auto_box(gr, "Max length (tokens)", helps["max_length"], "train-max-length")
    with gr.Row():
        eval_steps = _auto_box(gr, "Evaluate every N steps", helps["eval_steps"],
                               "train-eval-steps")
        patience = gr.Slider(0, 10, value=3, step=1, label="Early-stopping patience",
                             info=helps["early_stopping_patience"], elem_id="train-patience")
        precision = gr.Dropdown(["auto", "bf16", "fp16", "fp32"], value="auto",
                                label="Precision", info=helps["precision"],
                                elem_id="train-precision")
        merge = gr.Checkbox(value=False, label="Also save a merged model", info=helps["merge"],
                            elem_id="train-merge")
        answer_only = gr.Checkbox(value=True, label="Loss on the answer only",
                                  info=helps["assistant_only_loss"], elem_id="train-answer-only")
    report_to = gr.CheckboxGroup(["tensorboard", "trackio", "wandb", "mlflow"], value=[],
                                 label="Also log to (off by default; the run folder keeps the "
                                 "logs: tensorboard --logdir runs/)", info=helps["report_to"],
                                 elem_id="train-report-to")
    why = gr.Markdown(elem_id="train-why")
    with gr.Row():
        train_btn = gr.Button("Train", variant="primary", elem_id="btn-train")
        cancel_btn = gr.Button("Cancel", variant="stop", visible=False,  # while a run is live
                               elem_id="btn-train-cancel")
        pick = gr.Dropdown([], label="Run", scale=1, elem_id="train-run-pick")
        resume_btn = gr.Button("Resume", elem_id="btn-train-resume")
    status = gr.HTML(progress_html(None), elem_id="train-progress")
    plot = gr.HTML(loss_chart([]), elem_id="train-plot")
    log_tail = gr.Code(label="Log (last lines)", language=None, max_lines=12, interactive=False,
                       elem_id="train-log")
    with gr.Accordion("Runs", open=True):
        # no wrapping: fifteen columns keep their headers whole and the table scrolls sideways
        runs_table = gr.Dataframe(headers=RUN_COLUMNS, interactive=False, wrap=False,
                                  elem_id="train-runs")
    run_state = gr.State(None)
    timer = gr.Timer(1.0, active=False)
    fields = [method, epochs, max_steps, lr, lora_r, batch, accum, max_len, eval_steps,
              patience, precision, merge, answer_only, report_to]
    shown = [status, plot, log_tail, runs_table, pick, timer, cancel_btn]
    filled = [epochs, lr, batch, accum, max_len, eval_steps, precision, why]
    fill_in = bind(fill, studio)
    suggest_btn.click(fill_in, [task_box, model, *fields], filled, api_name="train_settings")
    model.input(fill_in, [task_box, model, *fields], filled, api_name=False)  # a model picked
    train_btn.click(bind(start, studio), [task_box, model, *fields], [run_state, *shown, header],
                    api_name="train")
    cancel_btn.click(bind(cancel, studio), [run_state], shown, api_name="cancel_run")
    resume_btn.click(bind(resume, studio), [pick], [run_state, *shown], api_name="resume_run")
    timer.tick(partial(show, studio), [run_state, pick], shown,
               api_name=False)  # a picked run stays picked
    return {"refresh": (partial(refresh, studio), [run_state], [run_state, *shown])}


# -- handlers: functions of (studio, plain values); `values` are the settings' values, in the
# order of chosen() -------------------------------------------------------------------------------

def chosen(m, ep, ms, rate, r, b, a, ml, es, pat, prec, mg, ao, rt=()) -> dict:
    """The settings typed, as the trainer's keywords (blank or 0: None, computed by the run)."""
    def pos(x, cast=int):
        """A typed setting: blank (or 0) is auto, the value the run computes."""
        text = str(x).strip() if x is not None else ""
        if not text or text == "auto":
            return None
        try:
            value = float(text)
        except ValueError:
            raise BadInput(f"{text!r} is not a number: type one, or leave the box blank "
                           "for the computed value") from None
        return cast(value) if value > 0 else None

    return {"method": m, "epochs": pos(ep, float), "max_steps": pos(ms),
            "learning_rate": pos(rate, float), "lora_r": int(r), "batch_size": pos(b),
            "grad_accum": pos(a), "max_length": pos(ml), "eval_steps": pos(es),
            "early_stopping_patience": int(pat), "precision": prec, "merge": bool(mg),
            "assistant_only_loss": bool(ao), "report_to": list(rt or [])}


def fill(studio, task, m, *values):
    """The values the run would compute for this model and data, each with its reason."""
    given = chosen(*values)
    given = {k: given[k] for k in ("method", "max_steps", "lora_r",
                                   "early_stopping_patience", "precision", "merge")}
    s = studio.train_settings(model=m, task=task, **given)
    v = s["settings"]
    reasons = "\n".join(f"- **{k.replace('_', ' ')}** {v.get(k, '')}: {s['why'][k]}"
                        for k in ("epochs", "learning_rate", "batch_size", "grad_accum",
                                  "max_length", "eval_steps", "precision")
                        if k in s["why"])
    note = (f"Computed for about {s['n_train']} train rows; token lengths "
            f"{s['tokens']}.\n\n{reasons}")
    return (v["epochs"], v["learning_rate"], v["batch_size"], v["grad_accum"],
            v["max_length"], v["eval_steps"], v["precision"], note)


def view(studio, run_id, picked=None):
    """Progress, loss chart, log tail, runs table, the resumable runs, and whether it is live."""
    import gradio as gr

    from studio.training import process

    runs = studio.runs()
    run = next((r for r in runs if r["id"] == run_id), None) if run_id else None
    # runs() above folded the run's metrics in
    chart = loss_chart(studio.run_metrics(run["id"]) if run else [])
    tail = process.log_tail(Path(run["run_dir"]) / "train.log", 12) if run else ""
    stoppable = [(f"#{r['id']} {r['status']}", r["id"]) for r in runs
                 if r["status"] in ("failed", "cancelled", "interrupted")]
    keep = picked if picked in [v for _, v in stoppable] else None
    return (progress_html(run), chart, tail, run_rows(runs),
            gr.update(choices=stoppable, value=keep), run is not None and
            run["status"] in LIVE)


def show(studio, run_id, picked=None):
    """The run's view; the timer and Cancel stay while it is live."""
    import gradio as gr

    *out, live = view(studio, run_id, picked)
    return (*out, gr.Timer(active=live), gr.update(visible=live))


def start(studio, task, m, *values):
    """Train: a run starts in its own process."""
    import gradio as gr

    if not (m or "").strip():
        raise gr.Error("Pick or type a base model.")
    s = {k: v for k, v in chosen(*values).items() if v is not None}
    run = studio.train(model=m.strip(), task=task, settings=s, detach=True)
    return (run["id"], *show(studio, run["id"]), header_markdown(studio, task))


def cancel(studio, run_id):
    import gradio as gr

    if run_id is None:
        raise gr.Error("No run started in this session.")
    studio.cancel_run(int(run_id), wait=False)
    return show(studio, run_id)


def resume(studio, picked):
    import gradio as gr

    if not picked:
        raise gr.Error("Pick a cancelled, interrupted or failed run to resume.")
    run = studio.resume_run(int(picked), detach=True)
    return (run["id"], *show(studio, run["id"]))


def refresh(studio, run_id):
    """The tab opened: the session's run, else the newest, live or not."""
    if run_id is None:  # a new page shows the newest run, live or not
        newest = studio.runs()
        run_id = newest[0]["id"] if newest else None
    return (run_id, *show(studio, run_id))
