"""Data tab: a server-side paged table (DuckDB filters, sorts and pages) and file import."""


import math
from pathlib import Path

from studio.ui.common import SOURCE_CHOICES, STATUS_CHOICES, filters, header_markdown, ui_errors

COLUMNS = ["id", "status", "source", "task", "input", "output"]
SORTS = ["id", "status", "source", "updated_at", "created_at"]


def build_data_tab(gr, settings, studio, task_box, header):
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

    with gr.Accordion("Import a file", open=False):
        gr.Markdown("JSONL, JSON array, CSV/TSV or Parquet. Shapes: input/output, "
                    "instruction/input/output, messages, conversations, prompt/completion, text. "
                    "A row without an output is input-only. All rows or none are imported.")
        with gr.Row():
            upload = gr.File(label="File", file_count="single", elem_id="import-file",
                             file_types=[".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet"])
            with gr.Column():
                fmt = gr.Dropdown(["auto", "jsonl", "json", "csv", "parquet"], value="auto",
                                  label="Format")
                mapping = gr.Textbox(label="Column map (optional)",
                                     placeholder="input=tweet_text,output=summary")
                do_import = gr.Button("Import into the current task", variant="primary",
                                      elem_id="btn-import")
        import_msg = gr.Markdown(elem_id="import-result")

    query = [task_box, status, source, text, sort, desc, page, size]

    @ui_errors
    def load(task, st, src, txt, order, newest, pg, per):
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
        msg = f"Rows {first}–{first + len(rows) - 1 if rows else 0} of **{total}** · page {pg} of {pages}"
        return gr.update(value=rows, headers=COLUMNS), pg, msg, header_markdown(studio, task)

    def turner(delta):
        @ui_errors
        def turn(task, st, src, txt, order, newest, pg, per):
            return load(task, st, src, txt, order, newest, int(pg or 1) + delta, per)
        return turn

    @ui_errors
    def run_import(file, task, form, cols, *rest):
        from studio.importing import parse_map

        if not file:
            raise gr.Error("Choose a file first.")
        path = Path(file if isinstance(file, str) else file.name)
        r = studio.import_file(path, task=task, fmt=form, mapping=parse_map(cols))
        msg = (f"Imported **{r['imported']}** rows from `{path.name}` into `{r['task']}` · "
               f"{r['skipped_duplicates']} duplicates skipped · {r['input_only']} input-only")
        return (msg, *load(task, *rest))

    outputs = [table, page, info, header]
    for control in (status, source, sort, desc, size):
        control.change(load, query, outputs, api_name=False)
    text.submit(load, query, outputs, api_name=False)
    page.submit(load, query, outputs, api_name=False)
    prev.click(turner(-1), query, outputs, api_name=False)
    nxt.click(turner(1), query, outputs, api_name=False)
    do_import.click(run_import, [upload, task_box, fmt, mapping, *query[1:]],
                    [import_msg, *outputs], api_name="import_file")
    return {"load": (load, query, outputs)}
