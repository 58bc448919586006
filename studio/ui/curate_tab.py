"""Curate tab: embed the task's rows; scores and auto-review (scores_panel); exact and
near-duplicates with a threshold slider (a dry-run count first), the clusters and a different
canonical row in one click; the map (map_panel). The handlers are module-level functions of
(studio, plain values); the builders wire them."""

import html
from functools import partial

from studio.display import shorten
from studio.ui.charts import PALETTE, bar_chart
from studio.ui.common import (
    bind_progress,
    bind_reviewer,
    bind_selection,
    header_markdown,
    progress_reporter,
    quiet,
)
from studio.vocabulary import DUPLICATE_THRESHOLD

CLUSTER_COLUMNS = ["cluster", "rows", "kinds", "lowest cosine", "canonical row", "status"]
NEAREST_COLORS = {"below": PALETTE[0], "at or above": PALETTE[1]}
MEMBER_COLUMNS = ["id", "role", "cosine", "status", "source", "input"]


def build_curate_tab(gr, settings, studio, task_box, header):
    """Embeddings, then scores, duplicates and the map, each a section of the tab."""
    from studio.ui.map_panel import build_map_panel
    from studio.ui.scores_panel import build_scores_panel

    gr.Markdown("### Embeddings\nEvery input and output gets a vector (cached: unchanged text "
                "is never embedded again).")
    with gr.Row():
        model = gr.Textbox(label="Embedding model", scale=3, elem_id="cur-model",
                           info="a sentence-transformers id or folder; blank: the store's model")
        embed_btn = gr.Button("Embed new rows", scale=1, elem_id="btn-embed")
    embed_note = gr.Markdown(elem_id="cur-embed-note")
    embed_btn.click(bind_progress(embed_rows, studio), [model, task_box], embed_note,
                    api_name="embed")
    with gr.Column(elem_id="cur-scores"):
        scores = build_scores_panel(gr, settings, studio, task_box, header)
    with gr.Column(elem_id="cur-dedupe"):
        dedupe = _build_dedupe(gr, settings, studio, task_box, header, model)
    with gr.Column(elem_id="cur-map"):
        the_map = build_map_panel(gr, settings, studio, task_box)
    return {"refresh": dedupe["refresh"], "scores": scores["refresh"], "open": the_map["open"]}


def _build_dedupe(gr, settings, studio, task_box, header, model):
    gr.Markdown("### Duplicates\n**Dedupe** marks rows that repeat another row of the task: the "
                "**canonical** row stays, the others point at it and are skipped by export and "
                "training. Statuses never change, and variants of one parent are not duplicates "
                "of each other.")
    with gr.Row():
        threshold = gr.Slider(0.80, 1.0, value=DUPLICATE_THRESHOLD, step=0.005,
                              label="Duplicate at cosine ≥", scale=3, elem_id="dup-threshold")
        cap = gr.Number(value=0, minimum=0, precision=0, scale=1, elem_id="dup-cap",
                        label="Variants kept per parent (0: no cap)")
        dry_btn = gr.Button("Count (dry run)", scale=1, elem_id="btn-dedupe-dry")
        run_btn = gr.Button("Mark duplicates", variant="primary", scale=1, elem_id="btn-dedupe")
    dedupe_note = gr.Markdown(elem_id="dedupe-note")
    nearest_plot = gr.HTML(visible=False, elem_id="dup-nearest-plot")
    clusters = gr.Dataframe(headers=CLUSTER_COLUMNS, interactive=False, wrap=True,
                            label="Duplicate clusters (click one to see its rows)",
                            column_widths=["9%", "6%", "14%", "10%", "51%", "10%"],
                            elem_id="dup-clusters")
    members = gr.Dataframe(headers=MEMBER_COLUMNS, interactive=False, wrap=True,
                           label="Rows of the cluster (click one to pick it)",
                           column_widths=["8%", "10%", "8%", "9%", "10%", "55%"],
                           elem_id="dup-members")
    with gr.Row():
        picked = gr.Textbox(label="Picked row", interactive=False, scale=1,
                            placeholder="click a row of the cluster", elem_id="dup-picked")
        canon_btn = gr.Button("Make it the canonical row", scale=2, elem_id="btn-canonical")
    cluster_state = gr.State(None)

    dedupe_in = [model, task_box, threshold, cap]
    dedupe_out = [dedupe_note, nearest_plot, clusters, header]
    dry_btn.click(bind_progress(mark_duplicates, studio, True), dedupe_in, dedupe_out,
                  api_name="dedupe_dry_run")
    run_btn.click(bind_progress(mark_duplicates, studio, False), dedupe_in, dedupe_out,
                  api_name="dedupe")
    clusters.select(bind_selection(open_cluster, studio, errors=False), None,
                    [cluster_state, members, picked], api_name=False)
    members.select(bind_selection(pick_member, errors=False), None, picked, api_name=False)
    canon_btn.click(bind_reviewer(make_canonical, settings, studio), [picked, task_box],
                    [cluster_state, members, clusters], api_name="choose_canonical")
    task_box.change(partial(refresh, studio), [task_box, model], [clusters, model],
                    api_name=False)
    return {"refresh": (partial(refresh, studio), [task_box, model], [clusters, model])}


# -- handlers: functions of (studio, plain values) ---------------------------------------------

def embed_rows(studio, name, task, progress=quiet):
    """Embed the task's new rows: what was done."""
    # said before the model loads: the first time, loading exports it to ONNX (~20 s)
    progress(0.0, desc="loading the embedding model (the first time on this machine it is "
                       "exported to ONNX once, about 20 s)")
    r = studio.embed(model=name.strip() or None, task=task or None,
                     on_progress=progress_reporter(progress, "embedding"))
    held = ", ".join(f"{m['name']}: {m['vectors']} vectors of {m['dim']}" for m in r["cached"])
    how = f" on {r['device']} in {r['precision']}" if r["embedded"] else ""
    return (f"Embedded **{r['embedded']}** new texts with `{html.escape(r['model'])}`{how} "
            f"in {r['seconds']:.1f}s. Cached: {held}.")


def cluster_table(studio, task):
    if not task:
        return []
    r = studio.clusters(task=task, limit=200)
    return [[c["cluster_id"], c["size"], c["kinds"], round(c["min_similarity"] or 1.0, 3),
             shorten(c["canonical_input"]), c["canonical_status"]] for c in r["clusters"]]


def member_rows(studio, cluster_id):
    if cluster_id is None:
        return []
    return [[m["id"], "canonical" if m["duplicate_of"] is None else m["duplicate_kind"],
             None if m["similarity"] is None else round(m["similarity"], 3), m["status"],
             m["source"], shorten(m["input"])] for m in studio.cluster(int(cluster_id))]


def mark_duplicates(studio, dry_run, name, task, t, k, progress=quiet):
    """Count (dry run) or mark the duplicates: a note, the histogram, the clusters, the
    header."""
    import gradio as gr

    if not task:
        raise gr.Error("Pick a task first.")
    model_name = name.strip() or None
    studio.embed(model=model_name, task=task, on_progress=progress_reporter(progress,
                                                                            "embedding"))
    r = studio.dedupe(task=task, threshold=float(t), max_variants=int(k) or None,
                      dry_run=dry_run, model=model_name, histogram=True,
                      on_progress=progress_reporter(progress, "comparing"))
    dups = r["exact"] + r["semantic"] + r["variants"]
    verb = "Would mark" if dry_run else "Marked"
    note = (f"{verb} **{dups}** of {r['rows']} rows as duplicates in **{r['clusters']}** "
            f"clusters at cosine ≥ {r['threshold']}: {r['exact']} exact, "
            f"{r['semantic']} semantic, {r['variants']} variants over the cap · "
            f"{r['changed']} rows change")
    return note, _nearest_plot(r["tasks"][0]["nearest"], float(t)), cluster_table(studio, task), \
        header_markdown(studio, task)


def open_cluster(studio, row):
    """A cluster clicked: its id, its rows, no row picked."""
    cid = row[0] if row else None
    return cid, member_rows(studio, cid), ""


def pick_member(row):
    return str(row[0]) if row else ""


def make_canonical(studio, example_id, task, who):
    import gradio as gr

    if not (example_id or "").strip():
        raise gr.Error("Click a row of the cluster first.")
    r = studio.choose_canonical(int(example_id), reviewer=who)
    gr.Info(f"#{int(example_id)} is now the canonical row")
    return r["cluster_id"], member_rows(studio, r["cluster_id"]), cluster_table(studio, task)


def refresh(studio, task, name):
    return cluster_table(studio, task), name or studio.embedding_model()


def _nearest_plot(hist: dict | None, threshold: float):
    """The nearest-neighbour histogram, bars at or above the threshold in their own colour."""
    import gradio as gr

    if not hist:  # too many rows to compare all pairs for a picture
        return gr.update(visible=False)
    return gr.update(value=nearest_chart(hist, threshold), visible=True)


def nearest_chart(hist: dict, threshold: float) -> str:
    bars = [(b, "below" if b.startswith("<") or float(b) + hist["step"] <= threshold + 1e-9
             else "at or above", n) for b, n in zip(hist["bins"], hist["counts"])]
    return bar_chart(bars, y_label="rows", colors=NEAREST_COLORS,
                     title="Rows by the cosine of their nearest row of another family")
