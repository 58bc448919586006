"""Evaluate tab: a finished run's tuned-vs-base table, the outputs side by side (worst first), the
learning curve, and a playground where a typed input gets the base and the tuned answer. The
handlers are module-level functions of (studio, plain values); the builder wires them."""

from __future__ import annotations

from functools import partial

from studio.ui.charts import line_chart
from studio.ui.common import bind, bind_progress, quiet
from studio.vocabulary import LIVE_RUN_STATUSES

ROW_COLUMNS = ["id", "input", "reference", "base", "tuned", "base score", "tuned score"]
SUMMARY_COLUMNS = ["", "base", "tuned", "difference"]


def summary_rows(result: dict) -> list[list]:
    def f(x):
        return "" if x is None else round(x, 4)

    rows = [[result["metric"], f(result["base"]), f(result["tuned"]), f(result["delta"])]]
    b, t = result.get("base_summary") or {}, result.get("tuned_summary") or {}
    for key in ("accuracy", "exact_match", "invalid"):
        if key in t:
            d = None if b.get(key) is None or t[key] is None else t[key] - b[key]
            rows.append([key.replace("_", " "), f(b.get(key)), f(t[key]), f(d)])
    rows.append(["held-out rows", result["n"], result["n"], ""])
    return rows


def build_evaluate_tab(gr, settings, studio, task_box, header):
    gr.Markdown("### Evaluate\nThe base model and the tuned model answer the held-out test rows "
                "(greedy, with the chat template) and are scored with the task's metric: "
                "ROUGE-L for free text, macro-F1 and accuracy for labels.")
    with gr.Row():
        pick = gr.Dropdown([], label="Run", scale=2, elem_id="eval-run")
        eval_btn = gr.Button("Show evaluation", variant="primary", scale=1, elem_id="btn-eval")
        again_btn = gr.Button("Evaluate again", scale=1, elem_id="btn-eval-again")
    summary = gr.Dataframe(headers=SUMMARY_COLUMNS, interactive=False, elem_id="eval-summary")
    rows = gr.Dataframe(headers=ROW_COLUMNS, interactive=False, wrap=True, max_height=460,
                        label="Outputs side by side, worst first", elem_id="eval-rows",
                        column_widths=["6%", "24%", "18%", "18%", "18%", "8%", "8%"])
    gr.Markdown("#### Learning curve: how much data does the task need?")
    with gr.Row():
        curve_btn = gr.Button("Run the learning curve (25/50/100% of train, this run's "
                              "settings)", elem_id="btn-curve")
        curve_status = gr.Markdown(elem_id="curve-status")
    curve_plot = gr.HTML(curve_chart(None), elem_id="curve-plot")
    gr.Markdown("#### Playground")
    with gr.Row():
        text = gr.Textbox(label="Input", lines=3, scale=3, elem_id="play-input")
        play_btn = gr.Button("Ask both models", scale=1, elem_id="btn-play")
    with gr.Row():
        base_out = gr.Textbox(label="Base model", lines=4, interactive=False,
                              elem_id="play-base")
        tuned_out = gr.Textbox(label="Tuned model", lines=4, interactive=False,
                               elem_id="play-tuned")
    curve_run = gr.State(None)
    timer = gr.Timer(2.0, active=False)
    eval_btn.click(bind_progress(show_evaluation, studio), [pick], [summary, rows],
                   api_name="evaluation")
    again_btn.click(bind_progress(evaluate_again, studio), [pick], [summary, rows],
                    api_name=False)
    curve_btn.click(bind(start_curve, studio), [task_box, pick],
                    [curve_run, curve_status, curve_plot, timer], api_name="learning_curve")
    timer.tick(partial(curve_view, studio), [curve_run, task_box],
               [curve_status, curve_plot, timer], api_name=False)
    play_btn.click(bind(ask, studio), [pick, text], [base_out, tuned_out], api_name="try_model")
    return {"refresh": (partial(refresh, studio), [task_box, pick], [pick, curve_plot])}


# -- handlers: functions of (studio, plain values) ---------------------------------------------

def completed(studio, task):
    return [r for r in studio.runs(task) if r["status"] == "completed"
            and r["kind"] == "train"]


def refresh(studio, task, current):
    """The tab opened or the task changed: the completed runs (the picked one kept) and the
    newest learning curve."""
    import gradio as gr

    runs = completed(studio, task)
    ids = [r["id"] for r in runs]
    value = current if current in ids else (ids[0] if ids else None)
    choices = [(f"#{r['id']} {r['model'].rsplit('/', 1)[-1]} · " + (
        f"{r['eval']['metric']} {r['eval']['tuned']:.3f}" if r["eval"] and
        r["eval"]["tuned"] is not None else "not evaluated"), r["id"]) for r in runs]
    return gr.update(choices=choices, value=value), curve_frame(studio, task)


def curve_frame(studio, task):
    curves = [r for r in studio.runs(task) if r["kind"] == "curve" and r["curve"]]
    return curve_chart(curves[0]["curve"] if curves else None)


def show_evaluation(studio, run_id, again=False, progress=quiet):
    """The run's tuned-vs-base summary and its rows, worst first."""
    import gradio as gr

    if run_id is None:
        raise gr.Error("No completed run yet: train one in the Train tab.")
    progress(0, desc="scoring base and tuned on the test split")
    result = studio.evaluate_run(int(run_id), again=again)
    table = [[r["id"], r["input"], r["reference"], r["base"], r["tuned"],
              round(r["base_score"], 3), round(r["tuned_score"], 3)] for r in result["rows"]]
    return summary_rows(result), table


def evaluate_again(studio, run_id, progress=quiet):
    return show_evaluation(studio, run_id, True, progress)


def start_curve(studio, task, run_id):
    """A learning-curve run with the picked run's model and settings."""
    import gradio as gr

    if run_id is None:
        raise gr.Error("Pick a completed run: its model and settings are reused.")
    base = studio.run(int(run_id))
    keep = ("method", "epochs", "max_steps", "learning_rate", "lora_r", "batch_size",
            "grad_accum", "max_length", "eval_steps", "precision")
    given = {k: v for k, v in (base["config"] or {}).items() if k in keep and v is not None}
    run = studio.learning_curve(model=base["model"], task=task, settings=given, detach=True)
    return run["id"], *curve_view(studio, run["id"], task)


def curve_view(studio, run_id, task):
    """The learning-curve run's status line, the chart, the timer on while it is live."""
    import gradio as gr

    run = studio.run(int(run_id))
    live = run["status"] in LIVE_RUN_STATUSES
    parts = [m["part"] for m in studio.run_metrics(run["id"]) if m["part"]]
    part = f"training on {int(parts[-1][1:])}% of the train split, " if live and parts \
        else ""
    text = (f"Learning-curve run {run['id']}: **{run['status']}**"
            + (f" ({part}step {run['step'] or 0} of {run['max_steps'] or '?'})"
               if live else ""))
    return text, curve_frame(studio, task), gr.Timer(active=live)


def ask(studio, run_id, question):
    """Playground: the base and the tuned model's answers."""
    import gradio as gr

    if run_id is None:
        raise gr.Error("Pick a completed run first.")
    out = studio.try_model(int(run_id), question)
    empty = "(no text: the model ended its answer at once)"
    return out["base"] or empty, out["tuned"] or empty


def curve_chart(curve: dict | None) -> str:
    """The tuned model's score against the train examples it saw, the base model's beside it."""
    points = (curve or {}).get("points") or []
    series = {f"tuned ({curve['metric']})": [(p["n_train"], p["value"]) for p in points],
              "base": [(p["n_train"], curve["base"]) for p in points]} if points else {}
    return line_chart(series, x_label="train examples", y_label="score",
                      title="Score against train examples",
                      empty="Run the learning curve to see the score against the train size.")
