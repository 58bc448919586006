"""Curate tab: embed the task's rows; scores and auto-review (scores_panel); exact and
near-duplicates with a threshold slider (a dry-run count first), the clusters and a different
canonical row in one click; the map (map_panel)."""

import html

from studio.display import shorten
from studio.ui.charts import PALETTE, bar_chart
from studio.ui.common import header_markdown, progress_reporter, reviewer, ui_errors
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

    @ui_errors
    def embed(name, task, progress=gr.Progress()):
        # said before the model loads: the first time, loading exports it to ONNX (~20 s)
        progress(0.0, desc="loading the embedding model (the first time on this machine it is "
                           "exported to ONNX once, about 20 s)")
        r = studio.embed(model=name.strip() or None, task=task or None,
                         on_progress=progress_reporter(progress, "embedding"))
        held = ", ".join(f"{m['name']}: {m['vectors']} vectors of {m['dim']}" for m in r["cached"])
        how = f" on {r['device']} in {r['precision']}" if r["embedded"] else ""
        return (f"Embedded **{r['embedded']}** new texts with `{html.escape(r['model'])}`{how} "
                f"in {r['seconds']:.1f}s. Cached: {held}.")

    embed_btn.click(embed, [model, task_box], embed_note, api_name="embed")
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

    def table(task):
        if not task:
            return []
        r = studio.clusters(task=task, limit=200)
        return [[c["cluster_id"], c["size"], c["kinds"], round(c["min_similarity"] or 1.0, 3),
                 shorten(c["canonical_input"]), c["canonical_status"]] for c in r["clusters"]]

    def member_rows(cluster_id):
        if cluster_id is None:
            return []
        return [[m["id"], "canonical" if m["duplicate_of"] is None else m["duplicate_kind"],
                 None if m["similarity"] is None else round(m["similarity"], 3), m["status"],
                 m["source"], shorten(m["input"])] for m in studio.cluster(int(cluster_id))]

    def dedupe(dry_run):
        @ui_errors
        def go(name, task, t, k, progress=gr.Progress()):
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
            return note, _nearest_plot(gr, r["tasks"][0]["nearest"], float(t)), table(task), \
                header_markdown(studio, task)
        return go

    def open_cluster(evt: gr.SelectData):
        cid = evt.row_value[0] if evt.row_value else None
        return cid, member_rows(cid), ""

    def pick(evt: gr.SelectData):
        return str(evt.row_value[0]) if evt.row_value else ""

    @ui_errors
    def make_canonical(example_id, task, request: gr.Request):
        if not (example_id or "").strip():
            raise gr.Error("Click a row of the cluster first.")
        r = studio.choose_canonical(int(example_id), reviewer=reviewer(settings, request))
        gr.Info(f"#{int(example_id)} is now the canonical row")
        return r["cluster_id"], member_rows(r["cluster_id"]), table(task)

    def refresh(task, name):
        return table(task), name or studio.embedding_model()

    dedupe_in = [model, task_box, threshold, cap]
    dedupe_out = [dedupe_note, nearest_plot, clusters, header]
    dry_btn.click(dedupe(True), dedupe_in, dedupe_out, api_name="dedupe_dry_run")
    run_btn.click(dedupe(False), dedupe_in, dedupe_out, api_name="dedupe")
    clusters.select(open_cluster, None, [cluster_state, members, picked], api_name=False)
    members.select(pick, None, picked, api_name=False)
    canon_btn.click(make_canonical, [picked, task_box], [cluster_state, members, clusters],
                    api_name="choose_canonical")
    task_box.change(refresh, [task_box, model], [clusters, model], api_name=False)
    return {"refresh": (refresh, [task_box, model], [clusters, model])}


def _nearest_plot(gr, hist: dict | None, threshold: float):
    """The nearest-neighbour histogram, bars at or above the threshold in their own colour."""
    if not hist:  # too many rows to compare all pairs for a picture
        return gr.update(visible=False)
    return gr.update(value=nearest_chart(hist, threshold), visible=True)


def nearest_chart(hist: dict, threshold: float) -> str:
    bars = [(b, "below" if b.startswith("<") or float(b) + hist["step"] <= threshold + 1e-9
             else "at or above", n) for b, n in zip(hist["bins"], hist["counts"])]
    return bar_chart(bars, y_label="rows", colors=NEAREST_COLORS,
                     title="Rows by the cosine of their nearest row of another family")
