"""Data tab: a server-side paged table (DuckDB filters, sorts and pages) and file import. The
handlers are module-level functions of (studio, plain values); the builder wires them."""

import math
from pathlib import Path

from studio.ui.common import SOURCE_CHOICES, STATUS_CHOICES, bind, filters, header_markdown

COLUMNS = ["id", "status", "source", "task", "input", "output"]
SORTS = ["id", "status", "source", "updated_at", "created_at"]


def build_data_tab(gr, settings, studio, task_box, header):
    with gr.Accordion("Import a file", open=False, elem_id="import-accordion"):
        gr.Markdown("JSONL, JSON array, CSV/TSV, Parquet or a saved Hugging Face dataset. "
                    "Shapes: input/output, instruction/input/output, messages, conversations, "
                    "prompt/completion, text (with `label` for a label task). A row without an "
                    "output is input-only. All rows or none are imported, and a row imported "
                    "before (even if you edited or labelled it since) is never added again.")
        with gr.Row():
            upload = gr.File(label="File", file_count="single", elem_id="import-file",
                             file_types=[".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet"])
            with gr.Column():
                fmt = gr.Dropdown(["auto", "jsonl", "json", "csv", "parquet"], value="auto",
                                  label="Format")
                mapping = gr.Textbox(label="Column map (optional)",
                                     placeholder="input=tweet_text,output=summary")
                labels = gr.Textbox(label="Class names for number labels (optional)",
                                    placeholder="negative,positive  (0 is the first)",
                                    elem_id="import-labels")
                style = gr.Dropdown([("auto: input-only rows messy, complete rows clean", "auto"),
                                     ("messy: real inputs as users write them", "messy"),
                                     ("clean: text to corrupt from", "clean")], value="auto",
                                    label="The inputs are", elem_id="import-style")
                do_import = gr.Button("Import into the current task", variant="primary",
                                      elem_id="btn-import")
        import_msg = gr.Markdown(elem_id="import-result")
    with gr.Row():
        status = gr.Dropdown(STATUS_CHOICES, value="any", label="Status", scale=1)
        source = gr.Dropdown(SOURCE_CHOICES, value="any", label="Source", scale=1)
        text = gr.Textbox(label="Text contains (Enter to search)", scale=2, elem_id="data-text")
        sort = gr.Dropdown(SORTS, value="id", label="Sort by", scale=1)
        desc = gr.Checkbox(label="Newest first", value=False, scale=1)
    table = gr.Dataframe(headers=COLUMNS, interactive=False, wrap=True, elem_id="data-table",
                         column_widths=["6%", "9%", "9%", "12%", "40%", "24%"])
    with gr.Row():
        prev = gr.Button("◀ Previous page", elem_id="data-prev", scale=1)
        page = gr.Number(value=1, precision=0, minimum=1, label="Page", scale=1,
                         elem_id="data-page")
        size = gr.Dropdown([25, 50, 100, 250], value=50, label="Rows per page", scale=1)
        nxt = gr.Button("Next page ▶", elem_id="data-next", scale=1)
    info = gr.Markdown(elem_id="data-info")
    with gr.Row():
        ask_delete = gr.Button("Delete the rows of this filter…", size="sm", scale=0,
                               elem_id="btn-ask-delete")
        confirm_delete = gr.Button("Delete", variant="stop", size="sm", visible=False, scale=0,
                                   elem_id="btn-confirm-delete")
        undo_delete = gr.Button("Undo the delete", size="sm", visible=False, scale=0,
                                elem_id="btn-undo-delete")
        delete_msg = gr.Markdown(elem_id="delete-msg")
    delete_batch = gr.State(None)
    asked = gr.State(None)  # the filter and count the person was asked about

    query = [task_box, status, source, text, sort, desc, page, size]
    outputs = [table, page, info, header]
    load = bind(load_page, studio)
    for control in (status, source, sort, desc, size):
        control.change(load, query, outputs, api_name=False)
    text.submit(load, query, outputs, api_name=False)
    page.submit(load, query, outputs, api_name=False)
    prev.click(bind(turn_page, studio, -1), query, outputs, api_name=False)
    nxt.click(bind(turn_page, studio, 1), query, outputs, api_name=False)
    do_import.click(bind(import_file, studio),
                    [upload, task_box, fmt, mapping, labels, style, *query[1:]],
                    [import_msg, *outputs], api_name="import_file")
    ask_delete.click(bind(ask_delete_matching, studio), [task_box, status, source, text],
                     [confirm_delete, delete_msg, asked], api_name=False)
    confirm_delete.click(bind(delete_matching, studio),
                         [asked, task_box, status, source, text, *query[1:]],
                         [confirm_delete, undo_delete, delete_msg, delete_batch, *outputs],
                         api_name="delete_matching")
    undo_delete.click(bind(undo_delete_matching, studio), [delete_batch, task_box, *query[1:]],
                      [undo_delete, delete_msg, delete_batch, *outputs], api_name=False)
    return {"load": (load, query, outputs)}


# -- handlers: functions of (studio, plain values); `page_query` is the rest of the query
# after the task: status, source, text, sort, newest first, page, rows per page ----------------

def load_page(studio, task, st, src, txt, order, newest, pg, per):
    """The table, the page number, the "Rows a-b of n" line and the header."""
    import gradio as gr

    per = int(per or 50)
    f = filters(task, st, src, txt)
    pg = max(1, int(pg or 1))
    r = studio.list(limit=per, offset=(pg - 1) * per, order_by=order, descending=newest, **f)
    total = r["total"]
    pages = max(1, math.ceil(total / per))
    if pg > pages:  # past the end (the filter shrank the set): show the last page
        pg = pages
        r = studio.list(limit=per, offset=(pg - 1) * per, order_by=order, descending=newest,
                        **f)
    rows = [[x["id"], x["status"], x["source"], x["task"], x["input"],
             "" if x["output"] is None else x["output"]] for x in r["rows"]]
    first = (pg - 1) * per + 1 if rows else 0
    last = first + len(rows) - 1 if rows else 0
    msg = f"Rows {first}–{last} of **{total}** · page {pg} of {pages}"
    return gr.update(value=rows, headers=COLUMNS), pg, msg, header_markdown(studio, task)


def turn_page(studio, delta, task, st, src, txt, order, newest, pg, per):
    """Previous (-1) and next (1) page."""
    return load_page(studio, task, st, src, txt, order, newest, int(pg or 1) + delta, per)


def import_file(studio, file, task, form, cols, names, in_style, *page_query):
    """Import the uploaded file into the task: what happened, then the table again."""
    from studio.importing import describe_import, parse_map

    if not file:
        return ("Choose a file first.", *load_page(studio, task, *page_query))
    path = Path(file if isinstance(file, str) else file.name)
    # the upload is a temporary copy under the name the user picked: messages use that name
    r = studio.import_file(path, task=task, fmt=form, mapping=parse_map(cols), name=path.name,
                           labels=[x.strip() for x in names.split(",") if x.strip()] or None,
                           input_style=in_style)
    msg = describe_import(r)
    return (msg[0].upper() + msg[1:], *load_page(studio, task, *page_query))


def ask_delete_matching(studio, task, st, src, txt):
    """Delete, step one: how many rows the filter holds (the Delete button, a message, what
    was asked)."""
    import gradio as gr

    f = filters(task, st, src, txt)
    n = studio.delete_matching(dry_run=True, **f)["matched"]
    if not n:
        return gr.update(visible=False), "No rows match this filter.", None
    return (gr.update(value=f"Delete {n} rows", visible=True),
            f"**{n}** rows match this filter (task `{task}`). Delete them? One undo puts "
            "them all back.", {"filters": f, "n": n})


def delete_matching(studio, question, task, st, src, txt, *page_query):
    """Delete, step two: only the rows asked about (refused when the filter or its rows
    changed since), then the table again."""
    import gradio as gr

    f = filters(task, st, src, txt)
    again = (studio, task, *page_query)
    if question is None or question["filters"] != f or \
            studio.delete_matching(dry_run=True, **f)["matched"] != question["n"]:
        return (gr.update(visible=False), gr.update(), "The filter or its rows changed "
                "since you asked: ask again.", gr.update(), *load_page(*again))
    r = studio.delete_matching(**f)
    return (gr.update(visible=False), gr.update(visible=r["deleted"] > 0),
            f"Deleted **{r['deleted']}** rows.", r.get("batch_id"), *load_page(*again))


def undo_delete_matching(studio, batch, task, *page_query):
    """Put the deleted batch back."""
    import gradio as gr

    if batch is None:
        return (gr.update(visible=False), "Nothing to undo.", None,
                *load_page(studio, task, *page_query))
    r = studio.undo_batch(batch)
    return (gr.update(visible=False), f"Put back **{len(r['example_ids'])}** rows.", None,
            *load_page(studio, task, *page_query))
