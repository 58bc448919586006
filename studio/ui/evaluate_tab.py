"""Evaluate tab: a finished run's tuned-vs-base table, the outputs side by side (worst first), the
learning curve, and a playground where a typed input gets the base and the tuned answer. The
handlers are module-level functions of (studio, plain values); the builder wires them."""

from __future__ import annotations

from functools import partial

from studio.ui.charts import line_chart
from studio.ui.common import bind, bind_progress, part_label, progress_reporter, quiet
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
    ci = (result.get("delta_ci") or {}).get("ci")
    if ci and None not in ci:
        rows.append(["difference, 95% interval", "", "", f"{ci[0]:+.4f} to {ci[1]:+.4f}"])
    test = result.get("test") or {}
    if test.get("p_value") is not None:
        rows.append(["paired test, p", "", "", f"{test['p_value']:.3g}"])
    rows.append(["held-out rows", result["n"], result["n"], ""])
    return rows


def judge_markdown(result: dict) -> str:
    j = result.get("judge")
    if not j:
        return "Not judged yet: give a judge endpoint and model, then **Judge base vs tuned**."
    if j["win_rate"] is None:
        return f"**The judge counted no row** ({j['failed']} answers could not be read)."
    lo, hi = j["win_rate_ci"]
    return (f"**Tuned wins {j['win_rate']:.0%}** of {j['n']} rows against base (95% interval "
            f"{lo:.0%} to {hi:.0%}): {j['wins']} wins, {j['ties']} ties (half a win each), "
            f"{j['losses']} losses" + (f", {j['failed']} unreadable (not counted)"
                                       if j["failed"] else "")
            + f". Judge: `{j['model']}`, both orders asked; {j['cached']} answers from the "
            "cache.")


SLICE_COLUMNS = ["slice", "group", "rows", "base", "tuned", "difference", "95% interval",
                 "win rate"]


def slice_rows(result: dict) -> list[list]:
    """Every slice's group: its figures, or "too few rows" under ten."""
    def f(x):
        return "" if x is None else round(x, 4)

    out = []
    for kind, groups in (result.get("slices") or {}).items():
        for name, g in groups.items():
            if g.get("too_few"):
                out.append([kind, name, g["n"], "too few rows", "", "", "", ""])
                continue
            ci = g.get("delta_ci") or [None, None]
            interval = "" if None in ci else f"{ci[0]:+.3f} to {ci[1]:+.3f}"
            rate = g.get("win_rate")
            out.append([kind, name, g["n"], f(g["base"]), f(g["tuned"]), f(g["delta"]),
                        interval, "" if rate is None else f"{rate:.0%}"])
    return out


def build_evaluate_tab(gr, settings, studio, task_box, header):
    gr.Markdown("### Evaluate\nThe base model and the tuned model answer the held-out test rows "
                "(greedy, with the chat template) and are scored with the task's metric: "
                "ROUGE-L for free text, macro-F1 and accuracy for labels.")
    with gr.Row():
        pick = gr.Dropdown([], label="Run", scale=2, elem_id="eval-run")
        eval_btn = gr.Button("Show evaluation", variant="primary", scale=1, elem_id="btn-eval")
        again_btn = gr.Button("Evaluate again", scale=1, elem_id="btn-eval-again")
    summary = gr.Dataframe(headers=SUMMARY_COLUMNS, interactive=False, elem_id="eval-summary")
    gr.Markdown("#### Which answer is better? The pairwise judge")
    with gr.Row():
        judge_url = gr.Textbox(label="Judge base URL", scale=3, elem_id="eval-judge-url",
                               value=settings.teacher_base_url or "https://api.openai.com/v1")
        judge_model = gr.Textbox(label="Judge model", value=settings.teacher_model or "",
                                 scale=2, elem_id="eval-judge-model")
        judge_key = gr.Textbox(label="API key (this session only)", type="password", scale=2,
                               elem_id="eval-judge-key")
        judge_btn = gr.Button("Judge base vs tuned", scale=1, elem_id="btn-judge")
    verdict = gr.Markdown(elem_id="eval-judge")
    slices = gr.Dataframe(headers=SLICE_COLUMNS, interactive=False, elem_id="eval-slices",
                          label="Where the model helps or hurts: every slice of the test rows")
    with gr.Row():
        slice_note = gr.Markdown(elem_id="eval-slice-note")
        any_btn = gr.Button("Train again, testing on any rows", visible=False, scale=0,
                            elem_id="btn-train-any")
    rows = gr.Dataframe(headers=ROW_COLUMNS, interactive=False, wrap=True, max_height=460,
                        label="Outputs side by side, worst first", elem_id="eval-rows",
                        column_widths=["6%", "24%", "18%", "18%", "18%", "8%", "8%"])
    gr.Markdown("#### Learning curve: how much data does the task need?")
    with gr.Row():
        points = gr.Number(value=5, minimum=3, maximum=12, precision=0, label="Sizes",
                           scale=1, elem_id="curve-points")
        seeds = gr.Number(value=None, minimum=1, maximum=5, precision=0, scale=1,
                          label="Seeds per size (blank: 3 under 200 rows)", elem_id="curve-seeds")
        curve_btn = gr.Button("Run the learning curve (nested subsets, this run's settings)",
                              scale=2, elem_id="btn-curve")
        curve_status = gr.Markdown(elem_id="curve-status")
    curve_plot = gr.HTML(curve_chart(None), elem_id="curve-plot")
    with gr.Row():
        curve_answer = gr.Markdown(elem_id="curve-answer")
        more_btn = gr.Button("Generate that many more", visible=False, scale=0,
                             elem_id="btn-generate-more")
    more_count = gr.State(None)
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
    shown = [summary, rows, verdict, slices, slice_note, any_btn]
    eval_btn.click(bind_progress(show_evaluation, studio), [pick], shown,
                   api_name="evaluation")
    again_btn.click(bind_progress(evaluate_again, studio), [pick], shown, api_name=False)
    judge_btn.click(bind_progress(judge, studio), [pick, judge_url, judge_model, judge_key],
                    shown, api_name="judge")
    any_btn.click(bind(train_any, studio), [task_box, pick], [slice_note], api_name=False)
    curve_out = [curve_status, curve_plot, timer, curve_answer, more_btn, more_count]
    curve_btn.click(bind(start_curve, studio), [task_box, pick, points, seeds],
                    [curve_run, *curve_out], api_name="learning_curve")
    timer.tick(partial(curve_view, studio), [curve_run, task_box], curve_out, api_name=False)
    play_btn.click(bind(ask, studio), [pick, text], [base_out, tuned_out], api_name="try_model")
    return {"refresh": (partial(refresh, studio), [task_box, pick],
                        [pick, curve_plot, curve_answer, more_btn, more_count]),
            "generate_more": (more_btn, more_count), "judge": (judge_url, judge_model)}


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
    return gr.update(choices=choices, value=value), *curve_parts(studio, task)


def newest_curve(studio, task) -> dict | None:
    curves = [r for r in studio.runs(task) if r["kind"] == "curve" and r["curve"]]
    return studio.run_curve(curves[0]["id"]) or curves[0]["curve"] if curves else None


def curve_frame(studio, task):
    return curve_chart(newest_curve(studio, task))


def curve_parts(studio, task):
    """The chart, the plain answer, and the Generate button with the count it would ask for."""
    import gradio as gr

    curve = newest_curve(studio, task)
    answer = (curve or {}).get("answer") or ""
    need = ((curve or {}).get("needed_for_target") or {}).get("n")
    have = max((p["n_train"] for p in (curve or {}).get("points") or []), default=0)
    more = need - have if need and not (curve or {}).get("flat") and need > have else None
    label = f"Generate {more:,} more examples" if more else "Generate that many more"
    return (curve_chart(curve), answer, gr.update(visible=bool(more), value=label), more)


def show_evaluation(studio, run_id, again=False, progress=quiet):
    """The run's tuned-vs-base summary and its rows, worst first."""
    import gradio as gr

    if run_id is None:
        raise gr.Error("No completed run yet: train one in the Train tab.")
    progress(0, desc="scoring base and tuned on the test split")
    return evaluation_view(studio.evaluate_run(int(run_id), again=again))


def evaluation_view(result: dict):
    """Everything the tab shows of one evaluation."""
    import gradio as gr

    table = [[r["id"], r["input"], r["reference"], r["base"], r["tuned"],
              round(r["base_score"], 3), round(r["tuned_score"], 3)] for r in result["rows"]]
    note = result.get("slices_note") or ""
    return (summary_rows(result), table, judge_markdown(result), slice_rows(result), note,
            gr.update(visible=bool(note)))


def judge(studio, run_id, url_text, model_name, api_key, progress=quiet):
    """The pairwise judge over the picked run's test rows."""
    import gradio as gr

    if run_id is None:
        raise gr.Error("No completed run yet: train one in the Train tab.")
    urls = [u.strip() for u in (url_text or "").splitlines() if u.strip()]
    teacher = studio.teacher_config(model=(model_name or "").strip() or None, base_urls=urls,
                                    api_key=(api_key or "").strip() or None)
    result = studio.judge_run(int(run_id), teacher,
                              on_progress=progress_reporter(progress, "judging rows"))
    return evaluation_view(result)


def train_any(studio, task, run_id):
    """A new run with the picked run's model and settings whose test split may hold any rows."""
    import gradio as gr

    if run_id is None:
        raise gr.Error("Pick a completed run: its model and settings are reused.")
    base = studio.run(int(run_id))
    run = studio.train(model=base["model"], task=task, settings=_kept(base), detach=True,
                       test_from="any")
    return (f"Run {run['id']} started with a test split of any rows: follow it in the Train "
            "tab, then evaluate it here.")


def _kept(run: dict) -> dict:
    keep = ("method", "epochs", "max_steps", "learning_rate", "lora_r", "batch_size",
            "grad_accum", "max_length", "eval_steps", "precision")
    return {k: v for k, v in (run["config"] or {}).items() if k in keep and v is not None}


def evaluate_again(studio, run_id, progress=quiet):
    return show_evaluation(studio, run_id, True, progress)


def start_curve(studio, task, run_id, points=None, seeds=None):
    """A learning-curve run with the picked run's model and settings."""
    import gradio as gr

    if run_id is None:
        raise gr.Error("Pick a completed run: its model and settings are reused.")
    base = studio.run(int(run_id))
    given = _kept(base)
    if points:
        given["curve_points"] = int(points)
    if seeds:
        given["curve_seeds"] = int(seeds)
    run = studio.learning_curve(model=base["model"], task=task, settings=given, detach=True)
    return run["id"], *curve_view(studio, run["id"], task)


def curve_view(studio, run_id, task):
    """The learning-curve run's status line, the chart, the timer on while it is live."""

    run = studio.run(int(run_id))
    live = run["status"] in LIVE_RUN_STATUSES
    parts = [m["part"] for m in studio.run_metrics(run["id"]) if m["part"]]
    part = f"training on {part_label(parts[-1])}, " if live and parts \
        else ""
    text = (f"Learning-curve run {run['id']}: **{run['status']}**"
            + (f" ({part}step {run['step'] or 0} of {run['max_steps'] or '?'})"
               if live else ""))
    return text, *_with_timer(curve_parts(studio, task), live)


def _with_timer(parts, live: bool):
    import gradio as gr

    chart, answer, button, more = parts
    return chart, gr.Timer(active=live), answer, button, more


def ask(studio, run_id, question):
    """Playground: the base and the tuned model's answers."""
    import gradio as gr

    if run_id is None:
        raise gr.Error("Pick a completed run first.")
    out = studio.try_model(int(run_id), question)
    empty = "(no text: the model ended its answer at once)"
    return out["base"] or empty, out["tuned"] or empty


def curve_chart(curve: dict | None) -> str:
    """The tuned model's score against the train examples it saw (the mean over seeds at each
    size), the fitted law drawn through them, and the base model's score beside them."""
    points = [p for p in (curve or {}).get("points") or [] if p["value"] is not None]
    if not points:
        return line_chart({}, x_label="train examples", y_label="score",
                          title="Score against train examples",
                          empty="Run the learning curve to see the score against the train "
                          "size.")
    by_n: dict = {}
    for p in points:
        by_n.setdefault(p["n_train"], []).append(p["value"])
    sizes = sorted(by_n)
    series = {f"tuned ({curve['metric']})": [(n, sum(v) / len(v)) for n, v in
                                             ((n, by_n[n]) for n in sizes)],
              "base": [(n, curve["base"]) for n in sizes]}
    params = ((curve.get("fit") or {}).get("params") or {})
    if all(params.get(k) is not None for k in ("a", "b", "c")):
        a, b, c = params["a"], params["b"], params["c"]
        top = sizes[-1] * 2
        grid = sorted({int(sizes[0] * (top / sizes[0]) ** (k / 24)) for k in range(25)})
        series["fitted a - b·n^-c"] = [(n, a - b * n ** -c) for n in grid]
    return line_chart(series, x_label="train examples", y_label="score",
                      title="Score against train examples")
