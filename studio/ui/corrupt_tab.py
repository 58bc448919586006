"""Corrupt tab: pick clean rows and a noise profile (built in, stored, or fitted here on real messy
texts), tune its rates with sliders, preview clean vs messy with each change highlighted, compare
the result with the real sample (plots, measures, classifier AUC), then store the messy rows."""

import html

from studio.ui.common import ANY, header_markdown, ui_errors

SOURCE_STATUSES = ["any but rejected", "pending", "approved"]
REAL_FROM_TASK = "the task's input-only imported rows"
COLOURS = {"abbrev": "#fde68a", "slang": "#fbcfe8", "apostrophe": "#bfdbfe", "misspell": "#fecaca",
           "spelling": "#fecaca", "typo": "#fca5a5", "phonetic": "#ddd6fe", "elongation": "#c7d2fe",
           "g_drop": "#bbf7d0", "vowel_drop": "#a7f3d0", "casing": "#e5e7eb",
           "punctuation": "#fed7aa", "spacing": "#fed7aa", "entity": "#99f6e4", "other": "#d1d5db"}
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
        status = gr.Dropdown(SOURCE_STATUSES, value=SOURCE_STATUSES[0], label="Clean rows",
                             scale=2, elem_id="cor-status")
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
    with gr.Accordion("Rates", open=False):
        sliders = []
        per_row = 4
        for i in range(0, len(fields), per_row):
            with gr.Row():
                for f in fields[i:i + per_row]:
                    sliders.append(gr.Slider(0, f.metadata["max"], step=0.001, label=f.name,
                                             info=f.metadata["help"],
                                             elem_id=f"rate-{f.name}"))
    with gr.Row():
        preview_btn = gr.Button("Preview and compare", elem_id="btn-cor-preview")
        apply_btn = gr.Button("Corrupt and store", variant="primary", elem_id="btn-corrupt")
    result = gr.Markdown(elem_id="cor-result")
    preview = gr.HTML(elem_id="cor-preview")
    with gr.Accordion("Realism: real sample vs this profile's output", open=True):
        verdict = gr.Markdown(elem_id="cor-verdict")
        with gr.Row():
            measures_plot = gr.BarPlot(x="bar", y="share", color="sample",
                                       label="Share of texts (of words for CAPS and OOV)",
                                       x_label_angle=-50, elem_id="cor-measures-plot")
            mix_plot = gr.BarPlot(x="bar", y="share", color="sample",
                                  label="Mix of change types", x_label_angle=-50,
                                  elem_id="cor-mix-plot")
            cer_plot = gr.BarPlot(x="bar", y="texts", color="sample",
                                  label="Character error rate per text", x_label_angle=-50, elem_id="cor-cer-plot")
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
        from studio.corruption import read_texts

        if file:
            messy, clean = read_texts(file)
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
    def compare(task, file, name, st, sd, *rates):
        profile = current(name, *rates)
        rows = studio.corrupt_preview(task=task, profile=profile, status=src_status(st),
                                      seed=int(sd or 0), limit=200)
        if not rows:
            raise gr.Error("No complete rows to corrupt in this task with that status.")
        from studio.corruption import read_texts

        real = read_texts(file)[0] if file else studio.messy_sample(task=task)
        out = [_preview_html(rows[:12], highlight), *_realism(studio, real, rows)]
        return out

    @ui_errors
    def apply(task, name, st, n, sd, *rates, progress=gr.Progress()):
        profile = current(name, *rates)
        r = studio.corrupt(task=task, profile=profile, status=src_status(st),
                           variants=int(n or 1), seed=int(sd or 0),
                           on_progress=lambda d, t: progress((d, t), desc="corrupting"))
        msg = (f"Stored **{r['created']}** corrupted rows from {r['parents']} clean rows "
               f"(profile `{r['profile']}`, seed {r['seed']}); {r['unchanged']} came out "
               f"unchanged and {r['repeated']} repeated an earlier copy, so were not stored.")
        return msg, header_markdown(studio, task)

    profile_pick.change(load_profile, profile_pick, sliders, api_name=False)
    fit_btn.click(fit, [task_box, real_file, fit_name], [profile_pick, fit_note, *sliders],
                  api_name="fit_noise")
    preview_btn.click(compare, [task_box, real_file, profile_pick, status, seed, *sliders],
                      [preview, verdict, measures_plot, mix_plot, cer_plot, table],
                      api_name="corrupt_preview")
    apply_btn.click(apply, [task_box, profile_pick, status, variants, seed, *sliders],
                    [result, header], api_name="corrupt")

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


def _realism(studio, real, rows):
    import pandas as pd

    from generators.noise import realism_report
    from generators.noise.realism import MEASURES

    synthetic = [r["messy"] for r in rows]
    if len(real) < 5:
        msg = ("Add at least 5 real messy texts (input-only rows of this task, or a file) to "
               "compare against.")
        empty = pd.DataFrame({"bar": [], "share": [], "sample": []})
        return msg, empty, empty, pd.DataFrame({"bar": [], "texts": [], "sample": []}), []
    rep = realism_report(real, synthetic)
    auc = rep["auc"]
    verdict = (f"**Classifier AUC** {auc['cased']:.2f} cased, {auc['lowercased']:.2f} lower-cased "
               f"({len(real)} real vs {len(synthetic)} corrupted texts). 0.5 means a classifier "
               "cannot tell them apart; above 0.7 the corrupted texts are easy to spot. The real "
               "and the clean texts are not the same texts here, so topic and length count too: "
               "for the noise alone, compare pairs with `sft-studio realism` and clean versions."
               if auc.get("cased") is not None else f"Classifier test skipped: {auc['error']}")
    # Bars side by side: one bar per (measure, sample), coloured by sample.
    m, mix, cer = [], [], []
    for k, label in PLOT_MEASURES:
        m += [{"bar": f"{label} · {side}", "share": rep[side][k], "sample": side}
              for side in ("real", "synthetic")]
    for k in sorted(set(rep["real"]["mix"]) | set(rep["synthetic"]["mix"])):
        mix += [{"bar": f"{k} · {side}", "share": rep[side]["mix"].get(k, 0.0), "sample": side}
                for side in ("real", "synthetic")]
    for b in range(8):
        lo = b * 0.04
        for side in ("real", "synthetic"):
            n = sum(lo <= x < lo + 0.04 or (b == 7 and x >= lo) for x in rep[side]["cer"])
            cer.append({"bar": f"{lo:.2f}{'+' if b == 7 else ''} · {side}", "texts": n,
                        "sample": side})
    table = [[label, round(rep["real"][k], 3), round(rep["synthetic"][k], 3)]
             for k, label in MEASURES]
    return verdict, pd.DataFrame(m), pd.DataFrame(mix), pd.DataFrame(cer), table
