"""The Corrupt tab's handlers: functions of the studio and the widgets' plain values. `rates`
are the rate sliders' values, in the order of generators.noise.rate_fields()."""

import html
from pathlib import Path

from studio.ui.charts import bar_chart
from studio.ui.common import ANY, header_markdown, quiet

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


def _fields():
    from generators.noise import rate_fields

    return rate_fields()


def current_profile(studio, name, *rates):
    """The named profile with the sliders' rates."""
    from generators.noise import NoiseProfile

    base = studio.noise_profile(name)
    return NoiseProfile(name=base.name, lexicon=base.lexicon, fitted=base.fitted,
                        **{f.name: float(v) for f, v in zip(_fields(), rates)})


def source_status(value):
    return None if value in (SOURCE_STATUSES[0], ANY) else value


def load_profile(studio, name):
    """A profile picked: its rates, for the sliders."""
    p = studio.noise_profile(name)
    return [getattr(p, f.name) for f in _fields()]


def fit_profile(studio, task, file, name):
    """Fit a profile on the uploaded texts (none: the task's real messy inputs) and save it:
    the picker, a note, the sliders."""
    import gradio as gr

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
    return (gr.update(choices=profile_names(studio), value=p.name), note,
            *[getattr(p, f.name) for f in _fields()])


def compare(studio, task, file, name, st, which, sd, *rates):
    """Preview and compare: the clean vs messy table, the verdict, three charts, the measures
    table, the realism box opened."""
    import gradio as gr

    from generators.noise import highlight

    profile = current_profile(studio, name, *rates)
    rows = studio.corrupt_preview(task=task, profile=profile, status=source_status(st),
                                  inputs=which, seed=int(sd or 0), limit=200)
    if not rows:
        raise gr.Error("No complete rows to corrupt in this task with that status and "
                       "those inputs.")
    from studio.corruption.rows import read_texts

    real = read_texts(file, name=Path(file).name)[0] if file else \
        studio.messy_sample(task=task)
    return [preview_html(rows[:12], highlight), *realism(real, rows), gr.update(open=True)]


def count(studio, task, name, st, which, n, sd, *rates):
    """The count first: nothing is written until the person confirms."""
    import gradio as gr

    r = studio.corrupt(task=task, profile=current_profile(studio, name, *rates),
                       status=source_status(st), inputs=which, variants=int(n or 1),
                       seed=int(sd or 0), dry_run=True)
    if not r["created"]:
        return (f"Nothing to store: {r['unchanged']} copies came out unchanged and "
                f"{r['repeated']} repeated an earlier one.", gr.update(visible=False))
    return (f"This stores **{r['created']}** corrupted rows made from {r['parents']} rows "
            f"({dict(INPUT_CHOICES_BY_VALUE)[which]}). Press **Store {r['created']} rows** "
            "to write them; one undo removes the batch.",
            gr.update(value=f"Store {r['created']} rows", visible=True))


def store_rows(studio, task, name, st, which, n, sd, *rates, progress=quiet):
    """Store the corrupted rows (the message, the header, Store hidden, Undo, the batch)."""
    import gradio as gr

    profile = current_profile(studio, name, *rates)
    r = studio.corrupt(task=task, profile=profile, status=source_status(st), inputs=which,
                       variants=int(n or 1), seed=int(sd or 0),
                       on_progress=lambda d, t: progress((d, t), desc="corrupting"))
    msg = (f"Stored **{r['created']}** corrupted rows from {r['parents']} rows "
           f"(profile `{r['profile']}`, seed {r['seed']}); {r['unchanged']} came out "
           f"unchanged and {r['repeated']} repeated an earlier copy, so were not stored.")
    return (msg, header_markdown(studio, task), gr.update(visible=False),
            gr.update(visible=r["batch_id"] is not None), r["batch_id"])


def undo(studio, task, batch_id):
    """Remove the stored batch."""
    import gradio as gr

    if batch_id is None:
        return "Nothing to undo.", header_markdown(studio, task), gr.update(visible=False), None
    r = studio.undo_batch(batch_id)
    return (f"Removed the batch's **{len(r['example_ids'])}** corrupted rows.",
            header_markdown(studio, task), gr.update(visible=False), None)


def refresh(studio, name):
    """The tab opened: the profiles (the picked one kept if it is still there) and its rates."""
    import gradio as gr

    names = profile_names(studio)
    value = name if name in names else "tweet"
    return gr.update(choices=names, value=value), *load_profile(studio, value)


def profile_names(studio) -> list[str]:
    return [p["name"] for p in studio.noise_profiles()]


def preview_html(rows, highlight) -> str:
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


def realism(real, rows):
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
