"""Corrupt tab: pick clean rows and a noise profile (built in, stored, or fitted here on real messy
texts), tune its rates with sliders, preview clean vs messy with each change highlighted, compare
the result with the real sample (plots, measures, classifier AUC), then store the messy rows. The
handlers are in studio/ui/corrupt_handlers.py; this module builds the widgets and wires them."""

from functools import partial

from studio.ui import corrupt_handlers as h
from studio.ui.common import bind, bind_progress
from studio.ui.corrupt_handlers import INPUT_CHOICES, REAL_FROM_TASK, SOURCE_STATUSES


def build_corrupt_tab(gr, settings, studio, task_box, header):
    from generators.noise import rate_fields

    fields = rate_fields()
    gr.Markdown("Turn clean rows into messy inputs like your real ones. Each messy copy lands as "
                "a **pending** row, source **corrupted**, with the clean row's output and a link "
                "to it. Fit a profile on your real messy texts for the closest match.")
    with gr.Row():
        profile_pick = gr.Dropdown(h.profile_names(studio), value="tweet", label="Noise profile",
                                   scale=2, elem_id="cor-profile")
        status = gr.Dropdown(SOURCE_STATUSES, value=SOURCE_STATUSES[0], label="Rows with status",
                             scale=2, elem_id="cor-status")
        inputs = gr.Dropdown(INPUT_CHOICES, value="clean", label="Start from", scale=2,
                             elem_id="cor-inputs")
        variants = gr.Number(value=1, minimum=1, maximum=100, precision=0,
                             label="Messy copies per row", scale=1, elem_id="cor-variants")
        seed = gr.Number(value=0, minimum=0, precision=0, label="Seed", scale=1,
                         elem_id="cor-seed")
    with gr.Accordion("Fit a profile on real messy texts", open=False):
        with gr.Row():
            real_file = gr.File(label="Real messy texts (JSONL with text/input, optional "
                                "clean; or one per line). Empty: " + REAL_FROM_TASK,
                                file_types=[".jsonl", ".txt", ".json"], scale=3,
                                elem_id="cor-real-file")
            fit_name = gr.Textbox(value="fitted", label="Save as", scale=1, elem_id="cor-fit-name")
            fit_btn = gr.Button("Fit profile", scale=1, elem_id="btn-fit")
        fit_note = gr.Markdown(elem_id="cor-fit-note")
    start = studio.noise_profile("tweet")  # drawn with the page: a quick click never sees zeros
    with gr.Accordion("Rates", open=False):
        sliders = []
        per_row = 4
        for i in range(0, len(fields), per_row):
            with gr.Row():
                for f in fields[i:i + per_row]:
                    sliders.append(gr.Slider(0, f.metadata["max"], step=0.001, label=f.name,
                                             value=getattr(start, f.name),
                                             info=f.metadata["help"],
                                             elem_id=f"rate-{f.name}"))
    with gr.Row():
        preview_btn = gr.Button("Preview and compare", elem_id="btn-cor-preview")
        apply_btn = gr.Button("Corrupt and store…", variant="primary", elem_id="btn-corrupt")
        confirm_btn = gr.Button("Store", variant="primary", visible=False,
                                elem_id="btn-cor-confirm")
        undo_btn = gr.Button("Undo this batch", visible=False, elem_id="btn-cor-undo")
    result = gr.Markdown(elem_id="cor-result")
    batch = gr.State(None)
    preview = gr.HTML(elem_id="cor-preview")
    # closed until a preview fills it: no blank charts on a tab just opened
    with gr.Accordion("Realism: real sample vs this profile's output (Preview and compare "
                      "fills it)", open=False, elem_id="cor-realism") as realism_box:
        verdict = gr.Markdown(elem_id="cor-verdict")
        with gr.Row():
            measures_plot = gr.HTML(elem_id="cor-measures-plot")
            mix_plot = gr.HTML(elem_id="cor-mix-plot")
            cer_plot = gr.HTML(elem_id="cor-cer-plot")
        table = gr.Dataframe(headers=["measure", "real", "synthetic"], interactive=False,
                             elem_id="cor-table")

    profile_pick.change(bind(h.load_profile, studio), profile_pick, sliders, api_name=False)
    fit_btn.click(bind(h.fit_profile, studio), [task_box, real_file, fit_name],
                  [profile_pick, fit_note, *sliders], api_name="fit_noise")
    preview_btn.click(bind(h.compare, studio),
                      [task_box, real_file, profile_pick, status, inputs, seed, *sliders],
                      [preview, verdict, measures_plot, mix_plot, cer_plot, table, realism_box],
                      api_name="corrupt_preview")
    choice = [task_box, profile_pick, status, inputs, variants, seed, *sliders]
    apply_btn.click(bind(h.count, studio), choice, [result, confirm_btn],
                    api_name="corrupt_count")
    confirm_btn.click(bind_progress(h.store_rows, studio), choice,
                      [result, header, confirm_btn, undo_btn, batch], api_name="corrupt")
    undo_btn.click(bind(h.undo, studio), [task_box, batch], [result, header, undo_btn, batch],
                   api_name="corrupt_undo")
    return {"refresh": (partial(h.refresh, studio), [profile_pick], [profile_pick, *sliders])}
