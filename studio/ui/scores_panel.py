"""Curate tab, scores: compute them (optionally with the LLM judge), see their histograms, set
the auto-review thresholds with sliders that show the counts they imply, apply, undo, and see
how far the judge agrees with people. The handlers are module-level functions of (studio, plain
values); the builder wires them."""

import html
from functools import partial

from studio.ui.charts import bar_chart
from studio.ui.common import (
    bind,
    bind_progress,
    bind_reviewer,
    header_markdown,
    progress_reporter,
    quiet,
)

SCORE_CHOICES = ["quality", "heuristics", "faithfulness", "novelty", "judge"]
ZONE_COLORS = {"reject": "#dc2626", "review": "#f59e0b", "approve": "#16a34a",
               **{name: "#2563eb" for name in SCORE_CHOICES if name != "quality"}}
CONFUSION_COLUMNS = ["judge rating", "people approved", "people rejected"]


def build_scores_panel(gr, settings, studio, task_box, header):
    from studio.scoring.scores import DEFAULT_THRESHOLDS, DESCRIBE
    from studio.ui.generate_tab import STRUCTURED

    gr.Markdown("### Scores\nEvery complete row gets cheap checks (length, copying, repetition, "
                "broken characters, leftover template markers, labels), **faithfulness** (is "
                "the output about its input?), **novelty** and, if you ask, an **LLM judge**'s "
                "1-5 rating. They combine into one **quality** score; rows far from the "
                "thresholds can be decided in one batch (one undo reverts it), the rest wait "
                "for you in Review, nearest the thresholds first.")
    with gr.Row():
        use_judge = gr.Checkbox(label="Ask the LLM judge too", value=False, scale=1,
                                elem_id="score-judge")
        score_btn = gr.Button("Score rows", variant="primary", scale=1, elem_id="btn-score")
    with gr.Accordion("Judge: endpoint and rubric", open=False):
        with gr.Row():
            j_model = gr.Textbox(label="Judge model", value=settings.teacher_model or "",
                                 scale=2, elem_id="judge-model")
            j_url = gr.Textbox(label="Base URL", scale=3, elem_id="judge-url",
                               value=settings.teacher_base_url or "https://api.openai.com/v1")
            j_key = gr.Textbox(label="API key (this session only, never stored)", scale=2,
                               type="password", elem_id="judge-key")
        with gr.Row():
            j_structured = gr.Dropdown(STRUCTURED, value=settings.teacher_structured or "auto",
                                       label="Structured output", elem_id="judge-structured")
            j_again = gr.Checkbox(False, label="Ask again (do not reuse stored ratings)",
                                  elem_id="judge-refresh")
        rubric = gr.Textbox(label="Rubric for this task (kept per task; blank: the built-in)",
                            lines=5, max_lines=14, elem_id="judge-rubric")
    score_note = gr.Markdown(elem_id="score-note")
    with gr.Row():
        which = gr.Dropdown(SCORE_CHOICES, value="quality", label="Histogram of", scale=1,
                            elem_id="score-which")
        about = gr.Markdown(DESCRIBE["quality"], elem_id="score-about")
    plot = gr.HTML(visible=False, elem_id="score-hist")
    with gr.Row():
        low = gr.Slider(0, 1, value=DEFAULT_THRESHOLDS[0], step=0.01, scale=2,
                        label="Reject pending rows below", elem_id="auto-reject")
        high = gr.Slider(0, 1, value=DEFAULT_THRESHOLDS[1], step=0.01, scale=2,
                         label="Approve pending rows at or above", elem_id="auto-approve")
    counts = gr.Markdown(elem_id="auto-counts")
    with gr.Row():
        apply_btn = gr.Button("Apply to pending rows", variant="stop", elem_id="btn-auto-apply")
        undo_btn = gr.Button("Undo the last auto batch", elem_id="btn-auto-undo")
    gr.Markdown("#### Does the judge agree with you?")
    agree_note = gr.Markdown(elem_id="judge-agreement")
    confusion = gr.Dataframe(headers=CONFUSION_COLUMNS, interactive=False,
                             elem_id="judge-confusion")

    slider_in = [task_box, which, low, high]
    score_btn.click(bind_progress(score, studio),
                    [task_box, use_judge, j_model, j_url, j_key, j_structured, j_again, rubric,
                     which, low, high],
                    [score_note, plot, counts, agree_note, confusion, header], api_name="score")
    for s in (low, high):
        s.change(bind(moved, studio), slider_in, [counts, plot], api_name=False,
                 show_progress="hidden")
    which.change(partial(describe, studio), slider_in, [about, plot], api_name=False)
    apply_btn.click(bind_reviewer(apply, settings, studio), slider_in,
                    [counts, agree_note, confusion, header], api_name="auto")
    undo_btn.click(bind_reviewer(undo, settings, studio), [task_box, low, high],
                   [counts, agree_note, confusion, header], api_name="undo_auto")
    return {"refresh": (partial(refresh, studio), slider_in,
                        [counts, plot, rubric, agree_note, confusion, low, high])}


# -- handlers: functions of (studio, plain values); lo and hi are the reject-below and
# approve-at sliders, name the score the histogram shows ----------------------------------------

def count_line(studio, task, lo, hi):
    """What the thresholds would do to the pending rows."""
    if not task:
        return ""
    r = studio.auto(task=task, approve_above=float(hi), reject_below=float(lo), dry_run=True)
    unscored = (f" · {r['unscored_pending']} pending rows have no score yet"
                if r["unscored_pending"] else "")
    return (f"Would **approve {r['approve']}** · **reject {r['reject']}** · leave "
            f"**{r['left_for_review']}** for review (pending, complete, non-duplicate rows)"
            f"{unscored}")


def histogram(studio, task, name, lo, hi):
    import gradio as gr

    if not task:
        return gr.update(visible=False)
    h = studio.score_histogram(task, name)
    if not h:
        return gr.update(visible=False)
    edges = h["edges"]
    if name == "judge":
        labels, zones = [str(k) for k in range(1, 6)], ["judge"] * 5
    else:
        labels = [f"{a:.2f}" for a in edges[:-1]]
        zones = [("reject" if b <= lo + 1e-9 else "approve" if a >= hi - 1e-9 else "review")
                 if name == "quality" else name for a, b in zip(edges[:-1], edges[1:])]
    chart = bar_chart(list(zip(labels, zones, h["counts"])), y_label="rows",
                      colors=ZONE_COLORS, title=f"Rows by {name} ({sum(h['counts'])} rows, "
                      "duplicates left out)")
    return gr.update(value=chart, visible=True)


def agreement_view(studio, task):
    """How far the judge agrees with people: a line and the confusion table."""
    if not task:
        return "", []
    a = studio.agreement(task=task)
    j = a["judge"]
    if not j["n"]:
        return (f"No rows are both rated by the judge and decided by a person yet "
                f"({a['decided']} decided). Ask the judge, review a few rows, and the "
                "agreement shows here."), []
    rows = [[r, v["approved"], v["rejected"]] for r, v in j["confusion"].items()]
    if not j["enough"]:
        return (f"Only **{j['n']}** rows are both rated by the judge and decided by a person: "
                f"{j['verdict']}. Review more rows and the agreement shows here."), rows
    kappa = "n/a" if j["kappa"] is None else f"{j['kappa']:.2f}"
    line = (f"Over **{j['n']}** rows people decided: Cohen's kappa **{kappa}** "
            f"({j['verdict']}) with ratings ≥ {j['cut']} taken as approve; they agree on "
            f"{j['agreement']:.0%}.")
    best = max((c for c in j["by_cut"] if c["kappa"] is not None),
               key=lambda c: c["kappa"], default=None)
    if best and best["cut"] != j["cut"] and (j["kappa"] is None
                                              or best["kappa"] > j["kappa"] + 1e-9):
        line += f" The judge agrees best with you at ratings ≥ {best['cut']} " \
                f"(kappa {best['kappa']:.2f})."
    rows = [[r, v["approved"], v["rejected"]] for r, v in j["confusion"].items()]
    return line, rows


def refresh(studio, task, name, lo, hi):
    """The tab opened or the task changed: the counts, the histogram, the rubric, the
    agreement and the task's stored thresholds."""
    import gradio as gr

    if not task:
        return "", gr.update(visible=False), "", "", [], lo, hi
    lo, hi = studio.thresholds(task)
    note, table = agreement_view(studio, task)
    return (count_line(studio, task, lo, hi), histogram(studio, task, name, lo, hi),
            studio.rubric(task), note, table, lo, hi)


def score(studio, task, judge, model, url, key, fmt, again, rubric_text, name, lo, hi,
          progress=quiet):
    """Score the task's rows (and ask the judge): a note, then everything scores change."""
    import gradio as gr

    if not task:
        raise gr.Error("Pick a task first.")
    teacher = None
    if judge:
        teacher = studio.teacher_config(model=model.strip() or None,
                                        base_urls=[url.strip()] if url.strip() else None,
                                        api_key=key.strip() or None,
                                        structured=fmt or None)
    r = studio.score(task=task, judge=judge, teacher=teacher,
                     rubric=rubric_text if judge else None, refresh=bool(again),
                     on_progress=progress_reporter(progress, "scoring"))
    flags = ", ".join(f"{k} {v}" for k, v in sorted(r["flagged"].items())) or "none"
    note = (f"Scored **{r['scored']}** complete rows of {r['rows']} in {r['seconds']:.1f}s · "
            f"flagged: {flags}")
    if r["judge"]:
        j = r["judge"]
        formats = ", ".join(sorted(set(j.get("structured", {}).values()))) or "none"
        note += (f" · judge `{html.escape(j['model'])}`: {j['judged']} rated, "
                 f"{j['failed']} failed, {j['cached']} from the cache · structured "
                 f"output: {formats}")
        for url, why in j.get("dropped", {}).items():
            note += f"\n\n- dropped `{html.escape(url)}`: {html.escape(why)}"
        if j["failures"]:
            note += "\n\n" + "\n".join(f"- #{f['example_id']}: {html.escape(f['detail'])}"
                                       for f in j["failures"])
    agree, table = agreement_view(studio, task)
    return (note, histogram(studio, task, name, lo, hi), count_line(studio, task, lo, hi),
            agree, table, header_markdown(studio, task))


def moved(studio, task, name, lo, hi):
    """A threshold slider moved: stored for the task, the counts and the histogram again."""
    import gradio as gr

    if lo > hi:
        return "**Reject below** is above **approve at**: move one of them.", gr.skip()
    if task:  # the Review tab's "uncertain first" order follows the sliders
        studio.set_thresholds(task, float(lo), float(hi))
    return count_line(studio, task, lo, hi), histogram(studio, task, name, lo, hi)


def describe(studio, task, name, lo, hi):
    """Another score picked: what it measures and its histogram."""
    from studio.scoring.scores import DESCRIBE

    return DESCRIBE.get(name, ""), histogram(studio, task, name, lo, hi)


def apply(studio, task, name, lo, hi, who):
    """Approve and reject the pending rows far from the thresholds, in one undoable batch."""
    import gradio as gr

    if not task:
        raise gr.Error("Pick a task first.")
    r = studio.auto(task=task, approve_above=float(hi), reject_below=float(lo), reviewer=who)
    gr.Info(f"Approved {r['approve']} and rejected {r['reject']} rows; undo reverts them all")
    note, table = agreement_view(studio, task)
    return count_line(studio, task, lo, hi), note, table, header_markdown(studio, task)


def undo(studio, task, lo, hi, who):
    """Undo the last auto batch."""
    import gradio as gr

    if not task:
        raise gr.Error("Pick a task first.")
    r = studio.undo_auto(task=task, reviewer=who)
    gr.Info(f"{len(r['example_ids'])} rows are pending again")
    note, table = agreement_view(studio, task)
    return count_line(studio, task, lo, hi), note, table, header_markdown(studio, task)
