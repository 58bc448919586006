"""Export tab: split ratios and options, the preview (the exact rows per split, counts, the leakage
and personal-data checks, the card), export to a folder, push to the Hub. The handlers are
module-level functions of (studio, plain values); the builder wires them."""

from __future__ import annotations

import html
from functools import partial

from studio.ui.common import bind, bind_progress, quiet

ROW_COLUMNS = ["id", "source", "input (as written)", "output (as written)"]
SHOWN = 200  # rows of a split shown in the table


def build_export_tab(gr, settings, studio, task_box, header):
    from studio.export import FORMATS, LICENSES, SCHEMAS

    gr.Markdown("### Export\nOnly rows that were **approved**, have an output and are nobody's "
                "duplicate leave. Each family (a seed and what was generated or corrupted from "
                "it), duplicate cluster and group of near-identical inputs goes whole to one "
                "split, so nothing leaks from train into test. What the preview shows is "
                "exactly what is written.")
    with gr.Row():
        val = gr.Slider(0, 0.5, value=0.1, step=0.05, label="Validation share", scale=2,
                        elem_id="export-val")
        test = gr.Slider(0, 0.5, value=0.1, step=0.05, label="Test share", scale=2,
                         elem_id="export-test")
        seed = gr.Number(value=0, precision=0, label="Seed", scale=1, elem_id="export-seed")
    with gr.Row():
        schema = gr.Dropdown(list(SCHEMAS), value="messages", label="Schema", scale=1,
                             elem_id="export-schema")
        fmt = gr.Dropdown(list(FORMATS), value="hf", label="Format (hf: Parquet + card)",
                          scale=1, elem_id="export-format")
        pii = gr.Radio(["mask", "drop", "keep"], value="mask", scale=2, elem_id="export-pii",
                       label="Personal data (e-mails, phones, @handles, URLs with secrets)")
    with gr.Row():
        license_ = gr.Dropdown(list(LICENSES), value="apache-2.0", label="License", scale=1,
                               elem_id="export-license")
        language = gr.Textbox(value="en", label="Language(s), e.g. en or en,fr", scale=1,
                              elem_id="export-language")
        test_from = gr.Radio([("real rows first", "real"), ("any rows", "any")], value="real",
                             label="Test split takes", scale=1, elem_id="export-test-from")
        stratify = gr.Checkbox(value=False, label="Split each label on its own", scale=1,
                               elem_id="export-stratify")
    preview_btn = gr.Button("Preview", variant="primary", elem_id="btn-export-preview")
    counts = gr.Markdown(elem_id="export-counts")
    checks = gr.Markdown(elem_id="export-checks")
    with gr.Row():
        split_pick = gr.Radio(["train", "validation", "test"], value="test", label="Rows of",
                              elem_id="export-split")
    rows = gr.Dataframe(headers=ROW_COLUMNS, interactive=False, wrap=True, max_height=420,
                        column_widths=["7%", "10%", "48%", "35%"], elem_id="export-rows")
    with gr.Accordion("Dataset card (README.md)", open=True):
        card = gr.Markdown(elem_id="export-card")
        card_yaml = gr.Code(language="yaml", label="Card metadata", max_lines=14,
                            elem_id="export-card-yaml")
    with gr.Row():
        out_dir = gr.Textbox(label="Folder to write", scale=3, elem_id="export-dir")
        export_btn = gr.Button("Export", variant="primary", scale=1, elem_id="btn-export")
    result = gr.Markdown(elem_id="export-result")
    gr.Markdown("#### Push to the Hugging Face Hub")
    with gr.Row():
        repo = gr.Textbox(label="Dataset repo (OWNER/NAME)", scale=2, elem_id="push-repo")
        token = gr.Textbox(label="Token (this session only, never stored; blank: $HF_TOKEN)",
                           type="password", scale=2, elem_id="push-token")
        public = gr.Checkbox(value=False, label="Public (new repos are private otherwise)",
                             scale=1, elem_id="push-public")
    with gr.Row():
        dry_btn = gr.Button("What would be pushed", elem_id="btn-push-dry")
        push_btn = gr.Button("Push", variant="stop", elem_id="btn-push")
    pushed = gr.Markdown(elem_id="push-result")
    plan_state = gr.State(None)
    options = [task_box, val, test, seed, schema, fmt, pii, license_, language, test_from,
               stratify]

    preview_btn.click(bind_progress(preview, studio), options,
                      [plan_state, counts, checks, split_pick, rows, card, card_yaml],
                      api_name="export_preview")
    split_pick.change(split_rows, [plan_state, split_pick], rows, api_name=False)
    export_btn.click(bind(export, studio), [plan_state, out_dir, *options], result,
                     api_name="export")
    dry_btn.click(bind(push, studio, True), [out_dir, repo, token, public], pushed,
                  api_name=False)
    push_btn.click(bind(push, studio, False), [out_dir, repo, token, public], pushed,
                   api_name=False)
    return {"refresh": (partial(refresh, studio), [task_box], [stratify, out_dir, result])}


# -- handlers: functions of (studio, plain values); `values` are the options' values: task,
# validation and test shares, seed, schema, format, personal data, license, language, test
# split from, stratify ---------------------------------------------------------------------------

def options_of(task, v, t, sd, sch, fm, pi, lic, lang, tf, strat) -> dict:
    """The options' values as keywords of Studio.export_plan and Studio.export."""
    return {"task": task, "splits": (round(1 - v - t, 6), v, t), "seed": int(sd or 0),
            "schema": sch, "fmt": fm, "pii": pi, "license": lic, "language": lang,
            "test_from": tf, "stratify": strat}


def split_rows(plan, split):
    """The table of one split's rows (the first SHOWN)."""
    if plan is None:
        return []
    out = []
    for i, sp, rec in zip(plan.ids, plan.splits, plan.records):
        if sp == split and len(out) < SHOWN:
            inp, outp = _texts(rec)
            out.append([i, rec["source"], inp, outp])
    return out


def preview(studio, *values, progress=quiet):
    """The plan (kept for Export), counts, checks, the split shown, its rows, the card's body
    and its metadata."""
    import gradio as gr

    o = options_of(*values)
    if not o["task"]:
        raise gr.Error("Pick a task first.")
    if 1 - o["splits"][1] - o["splits"][2] <= 0:
        raise gr.Error("Validation and test take everything: leave some rows for train.")
    progress(0, desc="checking splits and personal data")
    plan = studio.export_plan(**o)
    front, body = _split_card(plan.card)
    split = next((s for s in ("test", "validation", "train")
                  if plan.counts["splits"][s]), "train")
    return (plan, _counts_md(plan), _checks_md(plan), gr.update(value=split),
            split_rows(plan, split), body, front)


def export(studio, plan, folder, *values):
    """Write exactly what the preview showed (refused when the rows changed since)."""
    import gradio as gr

    if plan is None:
        raise gr.Error("Preview first: the export writes exactly what the preview shows.")
    folder = (folder or "").strip()
    if not folder:
        raise gr.Error("Give a folder to write.")
    r = studio.export(folder, expect=plan.fingerprint, **options_of(*values))
    files = "\n".join(f"- `{html.escape(p)}` ({f['bytes']:,} bytes)"
                      for p, f in r["files"].items())
    same = " (identical to the previous export there)" if r["unchanged"] else ""
    return (f"Wrote **{sum(r['counts']['splits'].values())}** rows to "
            f"`{html.escape(r['out_dir'])}`{same} · export #{r['export_id']}\n\n{files}")


def push(studio, dry, folder, repo_id, tok, pub):
    """Push the folder to the Hub (dry: say what would be pushed)."""
    r = studio.push(repo_id, folder=(folder or "").strip() or None, token=tok or None,
                    private=not pub, dry_run=dry)
    files = "\n".join(f"- `{html.escape(f['path'])}` ({f['bytes']:,} bytes)"
                      for f in r["files"])
    what = "private" if r["private"] else "public"
    if dry:
        return (f"Would push **{len(r['files'])} files** from `{html.escape(r['folder'])}` "
                f"to the {what} dataset `{html.escape(r['repo_id'])}`; its files under "
                f"`{r['delete_patterns']}` that are not here are deleted.\n\n{files}")
    return (f"Pushed **{len(r['files'])} files** ({what}): "
            f"[{html.escape(r['url'])}]({r['url']})\n\n{files}")


def refresh(studio, task):
    """The tab opened: stratify only for a label task, the folder to write, the last export."""
    import gradio as gr

    if not task:
        return gr.update(), "", ""
    t = studio.task(task)
    last = studio.exports(task, limit=1)
    note = (f"Last export: #{last[0]['id']} of {last[0]['rows']} rows to "
            f"`{html.escape(last[0]['out_dir'])}` at {last[0]['created_at'][:19]} UTC"
            if last else "")
    return (gr.update(value=bool(t.labels), interactive=bool(t.labels)),
            last[0]["out_dir"] if last else f"exports/{task}", note)


def _texts(rec: dict) -> tuple[str, str]:
    if "messages" in rec:
        return rec["messages"][1]["content"], rec["messages"][2]["content"]
    if "prompt" in rec:
        return rec["prompt"][-1]["content"], rec["completion"][0]["content"]
    return rec["input"], rec["output"]


def _split_card(card: str) -> tuple[str, str]:
    """(the YAML between the --- lines, the Markdown body)."""
    _, front, body = card.split("---\n", 2)
    return front, body


def _counts_md(plan) -> str:
    c = plan.counts
    total = sum(c["splits"].values())
    splits = " · ".join(f"{k} **{v}**" for k, v in c["splits"].items())
    left = ", ".join(f"{v} {k.replace('_', '-')}" for k, v in c["left_out"].items() if v)
    return (f"**{total}** rows leave: {splits}, in {c['groups']} groups · left out: "
            f"{left or 'nothing'}")


def _checks_md(plan) -> str:
    from studio.export.pii import describe, outcome

    leak, pii = plan.checks["leakage"], plan.checks["pii"]
    mark = "✓" if leak["cross_split"] == 0 else "⚠"
    lines = [f"{mark} **Leakage:** {leak['cross_split']} pairs of inputs in different splits at "
             f"cosine ≥ {leak['threshold']:g}"]
    lines += [f"  - #{p['a']} and #{p['b']} ({p['similarity']:.3f})" for p in leak["pairs"][:5]]
    mark = "✓" if not pii["rows_with_pii"] or pii["mode"] != "keep" else "⚠"
    lines.append(f"{mark} **Personal data:** {describe(pii['found'])}; {outcome(pii)}")
    if plan.moved:
        lines.append(f"⚠ **{len(plan.moved)} rows change split** since the last export: "
                     + ", ".join(f"#{m['id']} {m['from']}→{m['to']}" for m in plan.moved[:8])
                     + (" …" if len(plan.moved) > 8 else ""))
    return "\n\n".join(lines)
