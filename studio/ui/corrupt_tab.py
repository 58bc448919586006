"""Corrupt tab: pick clean rows and a noise profile (built in, stored, or fitted here on real messy
texts), tune its rates with sliders, preview clean vs messy with each change highlighted, compare
the result with the real sample (plots, measures, classifier AUC), then store the messy rows."""

import html
from pathlib import Path

from studio.ui.charts import bar_chart
from studio.ui.common import ANY, header_markdown, ui_errors

SOURCE_STATUSES = ["any but rejected", "pending", "approved"]
REAL_FROM_TASK = "the task's real messy inputs (imported as messy, labelled since or not)"
INPUT_CHOICES = [("clean inputs (teacher-written or imported as clean)", "clean"),
                 ("clean and your real messy inputs", "any"),
                 ("only your real messy inputs", "messy")]
INPUT_CHOICES_BY_VALUE = [(v, label) for label, v in INPUT_CHOICES]
COLOURS = {"abbrev": "#fde68a", "slang": "#fbcfe8", "apostrophe": "#bfdbfe", "misspell": "#fecaca",
           "spelling": "#fecaca", "typo": "#fca5a5", "phonetic": "#ddd6fe", "elongation": "#c7d2fe",
           "g_drop": "#bbf7d0", "vowel_drop": "#a7f3d0", "casing": "#e5e7eb",
           "punctuation": "#fed7aa", "spacing": "#fed7aa", "entity": "#99f6e4", "other": "#d1d5db"}
BAR_WIDTH = 460  # three charts side by side
PLOT_MEASURES = (("unchanged", "unchanged"), ("lower", "lower case"), ("sentence", "sentence case"),
                 ("caps_word_rate", "CAPS words"), ("oov_rate", "out-of-vocab"),
                 ("emoji", "emoji"), ("hashtag", "hashtag"), ("mention", "mention"),
                 ("url", "url"))


def build_corrupt_tab(gr, settings, studio, task_box, header):
    from generators.noise import NoiseProfile, highlight, rate_fields

    fields = rate_fields()
    gr.Markdown("Turn clean rows into messy inputs like your real ones. Each messy copy lands as "
                "a **pending** row, source **corrupted**, with the clean row's output and a link "
                "to it. Fit a profile on your real messy texts for the closest match.")
    with gr.Row():
        profile_pick = gr.Dropdown(_profile_names(studio), value="tweet", label="Noise profile",
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

    def current(name, *rates):
        base = studio.noise_profile(name)
        return NoiseProfile(name=base.name, lexicon=base.lexicon, fitted=base.fitted,
                            **{f.name: float(v) for f, v in zip(fields, rates)})

    def src_status(value):
        return None if value in (SOURCE_STATUSES[0], ANY) else value

    @ui_errors
    def load_profile(name):
        p = studio.noise_profile(name)
        return [getattr(p, f.name) for f in fields]

    @ui_errors
    def fit(task, file, name):
        from studio.corruption.rows import read_texts

        if file:
            messy, clean = read_texts(file, name=Path(file).name)
            where = "the uploaded file"
        else:
            messy, clean = studio.messy_sample(task=task), None
            where = f"{len(messy)} {REAL_FROM_TASK}"
        p = studio.fit_noise(messy, clean, name=(name or "fitted").strip())
        note = (f"Fitted **{p.name}** on {where} ({len(messy)} texts, "
                f"{'with' if clean else 'without'} clean versions) and saved it.")
        return (gr.update(choices=_profile_names(studio), value=p.name), note,
                *[getattr(p, f.name) for f in fields])

    @ui_errors
    def compare(task, file, name, st, which, sd, *rates):
        profile = current(name, *rates)
        rows = studio.corrupt_preview(task=task, profile=profile, status=src_status(st),
                                      inputs=which, seed=int(sd or 0), limit=200)
        if not rows:
            raise gr.Error("No complete rows to corrupt in this task with that status and "
                           "those inputs.")
        from studio.corruption.rows import read_texts

        real = read_texts(file, name=Path(file).name)[0] if file else \
            studio.messy_sample(task=task)
        return [_preview_html(rows[:12], highlight), *_realism(real, rows),
                gr.update(open=True)]

    @ui_errors
    def count(task, name, st, which, n, sd, *rates):
        """The count first: nothing is written until the person confirms."""
        r = studio.corrupt(task=task, profile=current(name, *rates), status=src_status(st),
                           inputs=which, variants=int(n or 1), seed=int(sd or 0), dry_run=True)
        if not r["created"]:
            return (f"Nothing to store: {r['unchanged']} copies came out unchanged and "
                    f"{r['repeated']} repeated an earlier one.", gr.update(visible=False))
        return (f"This stores **{r['created']}** corrupted rows made from {r['parents']} rows "
                f"({dict(INPUT_CHOICES_BY_VALUE)[which]}). Press **Store {r['created']} rows** "
                "to write them; one undo removes the batch.",
                gr.update(value=f"Store {r['created']} rows", visible=True))

    @ui_errors
    def apply(task, name, st, which, n, sd, *rates, progress=gr.Progress()):
        profile = current(name, *rates)
        r = studio.corrupt(task=task, profile=profile, status=src_status(st), inputs=which,
                           variants=int(n or 1), seed=int(sd or 0),
                           on_progress=lambda d, t: progress((d, t), desc="corrupting"))
        msg = (f"Stored **{r['created']}** corrupted rows from {r['parents']} rows "
               f"(profile `{r['profile']}`, seed {r['seed']}); {r['unchanged']} came out "
               f"unchanged and {r['repeated']} repeated an earlier copy, so were not stored.")
        return (msg, header_markdown(studio, task), gr.update(visible=False),
                gr.update(visible=r["batch_id"] is not None), r["batch_id"])

    @ui_errors
    def undo(task, batch_id):
        if batch_id is None:
            return "Nothing to undo.", header_markdown(studio, task), gr.update(visible=False), None
        r = studio.undo_batch(batch_id)
        return (f"Removed the batch's **{len(r['example_ids'])}** corrupted rows.",
                header_markdown(studio, task), gr.update(visible=False), None)

    profile_pick.change(load_profile, profile_pick, sliders, api_name=False)
    fit_btn.click(fit, [task_box, real_file, fit_name], [profile_pick, fit_note, *sliders],
                  api_name="fit_noise")
    preview_btn.click(compare, [task_box, real_file, profile_pick, status, inputs, seed,
                                *sliders],
                      [preview, verdict, measures_plot, mix_plot, cer_plot, table, realism_box],
                      api_name="corrupt_preview")
    apply_btn.click(count, [task_box, profile_pick, status, inputs, variants, seed, *sliders],
                    [result, confirm_btn], api_name="corrupt_count")
    confirm_btn.click(apply, [task_box, profile_pick, status, inputs, variants, seed, *sliders],
                      [result, header, confirm_btn, undo_btn, batch], api_name="corrupt")
    undo_btn.click(undo, [task_box, batch], [result, header, undo_btn, batch],
                   api_name="corrupt_undo")

    def refresh(name):
        names = _profile_names(studio)
        value = name if name in names else "tweet"
        return gr.update(choices=names, value=value), *load_profile(value)

    return {"refresh": (refresh, [profile_pick], [profile_pick, *sliders])}


def _profile_names(studio) -> list[str]:
    return [p["name"] for p in studio.noise_profiles()]


def _preview_html(rows, highlight) -> str:
    body = []
    for r in rows:
        segs = []
        for text, label in highlight(r["clean"], r["messy"]):
            t = html.escape(text)
            segs.append(t if label is None else
                        f'<mark title="{label}" style="background:{COLOURS.get(label, "#ddd")};'
                        f'padding:0 2px;border-radius:3px">{t}</mark>')
        body.append(f"<tr><td>#{r['parent_id']}</td><td>{html.escape(r['clean'])}</td>"
                    f"<td class='messy'>{''.join(segs)}</td></tr>")
    legend = " ".join(f'<mark style="background:{c};padding:0 4px">{k}</mark>'
                      for k, c in COLOURS.items())
    return (f"<div style='font-size:0.9em'>{legend}</div><table id='cor-preview-table'>"
            "<tr><th>row</th><th>clean</th><th>messy (changes highlighted)</th></tr>"
            + "".join(body) + "</table>")


def _realism(real, rows):
    from generators.noise import realism_report
    from generators.noise.realism import MEASURES, giveaway_line

    synthetic = [r["messy"] for r in rows]
    if len(real) < 5:
        msg = ("Add at least 5 real messy texts (imported as messy in this task, or a file) to "
               "compare against.")
        return msg, "", "", "", []
    rep = realism_report(real, synthetic)
    auc = rep["auc"]
    verdict = (f"**Classifier AUC** {auc['cased']:.2f} cased, {auc['lowercased']:.2f} lower-cased "
               f"({len(real)} real vs {len(synthetic)} corrupted texts). 0.5 means a classifier "
               "cannot tell them apart; above 0.7 the corrupted texts are easy to spot. The real "
               "and the clean texts are not the same texts here, so topic and length count too: "
               "for the noise alone, compare pairs with `sft-studio realism` and clean versions."
               if auc.get("cased") is not None else f"Classifier test skipped: {auc['error']}")
    line = giveaway_line(rep)
    if line:
        verdict += (f"\n\n**What tells them apart** (a word-level classifier): "
                    f"{html.escape(line)}. Turn down the rates behind the first, up those behind "
                    "the second.")
    table = [[label, round(rep["real"][k], 3), round(rep["synthetic"][k], 3)]
             for k, label in MEASURES]
    return (verdict, *realism_charts(rep), table)


def realism_charts(rep: dict) -> tuple[str, str, str]:
    """The real and the corrupted sample side by side: measures, change mix, CER per text."""
    sides = ("real", "synthetic")
    measures = [(label, side, rep[side][k]) for k, label in PLOT_MEASURES for side in sides]
    kinds = sorted(set(rep["real"]["mix"]) | set(rep["synthetic"]["mix"]))
    mix = [(k, side, rep[side]["mix"].get(k, 0.0)) for k in kinds for side in sides]
    cer = []
    for b in range(8):
        lo = b * 0.04
        for side in sides:
            n = sum(lo <= x < lo + 0.04 or (b == 7 and x >= lo) for x in rep[side]["cer"])
            cer.append((f"{lo:.2f}{'+' if b == 7 else ''}", side, n))
    return (bar_chart(measures, y_label="share", title="Share of texts (of words for CAPS and "
                      "OOV)", width=BAR_WIDTH),
            bar_chart(mix, y_label="share", title="Mix of change types", width=BAR_WIDTH),
            bar_chart(cer, y_label="texts", title="Character error rate per text",
                      width=BAR_WIDTH))
