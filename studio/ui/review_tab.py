"""Review tab: one example at a time; approve, reject, skip, edit, delete, undo, bulk; keyboard."""

import html

from studio.ui.common import (
    SCORE_COLUMNS,
    SOURCE_CHOICES,
    STATUS_CHOICES,
    filters,
    header_markdown,
    progress_reporter,
    reviewer,
    score_rows,
    ui_errors,
)

KEY_HELP = ("Keys: **A** approve · **R** reject · **S** skip · **E** edit output "
            "(Esc leaves the box, Ctrl+Enter saves) · **U** undo · **J**/**K** next/previous · "
            "**F** find similar")
SIMILAR_COLUMNS = ["id", "cosine", "status", "source", "duplicate of", "input"]
ORDERS = {"oldest first": "id", "uncertain first": "uncertainty"}


def build_review_tab(gr, settings, studio, task_box, header):
    with gr.Row():
        status = gr.Dropdown(STATUS_CHOICES, value="pending", label="Queue: status", scale=1)
        source = gr.Dropdown(SOURCE_CHOICES, value="any", label="Source", scale=1)
        text = gr.Textbox(label="Text contains", scale=2, elem_id="review-text")
        order = gr.Dropdown(list(ORDERS), value="oldest first", label="Order", scale=1,
                            elem_id="review-order",
                            info="uncertain first: quality nearest the auto thresholds")
        eid = gr.Number(label="Example id (type one to jump)", precision=0, scale=1,
                        elem_id="review-id")
    with gr.Group(elem_id="review-card"):
        badge = gr.Markdown(elem_id="review-badge")
        inp = gr.Textbox(label="Input", lines=4, max_lines=12, elem_id="review-input")
        out = gr.Textbox(label="Output", lines=3, max_lines=12, elem_id="review-output")
    with gr.Row(elem_id="review-actions"):
        approve = gr.Button("Approve (A)", variant="primary", elem_id="btn-approve")
        reject = gr.Button("Reject (R)", variant="stop", elem_id="btn-reject")
        skip = gr.Button("Skip (S)", elem_id="btn-skip")
        save = gr.Button("Save edit", elem_id="btn-save")
        undo = gr.Button("Undo (U)", elem_id="btn-undo")
        prev = gr.Button("◀ Previous (K)", min_width=150, elem_id="btn-prev")
        nxt = gr.Button("Next (J) ▶", min_width=130, elem_id="btn-next")
        delete = gr.Button("Delete", elem_id="btn-delete", variant="secondary")
    with gr.Accordion("Scores of this row", open=False, elem_id="review-scores-box"):
        scores = gr.Dataframe(headers=SCORE_COLUMNS, interactive=False, wrap=True,
                              column_widths=["16%", "10%", "74%"], elem_id="review-scores")
    gr.Markdown(KEY_HELP)
    with gr.Row():
        similar = gr.Button("Find similar (F)", elem_id="btn-similar", scale=1)
        open_dup = gr.Button("Open the row it duplicates", elem_id="btn-open-dup", scale=1,
                             visible=False)
    # the short columns keep their headers on one line; the input takes the rest
    similar_table = gr.Dataframe(headers=SIMILAR_COLUMNS, interactive=False, wrap=True,
                                 visible=False, elem_id="similar-table",
                                 column_widths=["70px", "80px", "100px", "100px", "110px",
                                                "auto"],
                                 label="Nearest inputs in this task (click a row to open it)")
    with gr.Accordion("Bulk: act on everything in this queue", open=False):
        with gr.Row():
            bulk_approve = gr.Button("Approve all matching…", elem_id="btn-bulk-approve")
            bulk_reject = gr.Button("Reject all matching…", elem_id="btn-bulk-reject")
        with gr.Group(visible=False) as confirm_box:
            confirm_msg = gr.Markdown(elem_id="bulk-confirm-msg")
            with gr.Row():
                confirm = gr.Button("Confirm", variant="stop", elem_id="btn-bulk-confirm")
                cancel = gr.Button("Cancel", elem_id="btn-bulk-cancel")
    pending_bulk = gr.State(None)

    queue = [task_box, status, source, text, order]
    view_out = [eid, badge, inp, out, header, open_dup, similar_table, scores]

    def view(example_id, task, st, src, txt, order):
        """The card for one example (or an empty card when the queue is empty)."""
        f = filters(task, st, src, txt)
        head = header_markdown(studio, task)
        if example_id is None:
            return (None, "**The queue is empty.** Change the filters or import data.", "", "",
                    head, gr.update(visible=False), gr.update(visible=False, value=[]), [])
        row = studio.get(int(example_id))
        pos, total, matches = studio.position(row["id"], order=ORDERS[order], **f)
        in_queue = f"{pos} of {total} in this queue" if matches else \
            f"not in this queue ({total} are)"
        warn = ("\n\n⚠️ **Needs an output** before it can be approved: write one and press A."
                if row["output"] is None else "")
        explained = studio.explain_scores(row["id"])
        badge_md = (f"### #{row['id']} · {row['status']} · {row['source']} · "
                    f"{html.escape(row['task'])}\n{in_queue}{_score_line(explained)}"
                    f"{_duplicate_line(row)}{warn}")
        dup = row["duplicate_of"]
        return (row["id"], badge_md, row["input"], row["output"] or "", head,
                gr.update(visible=dup is not None,
                          value=f"Open #{dup}, the row it duplicates" if dup else None),
                gr.update(visible=False, value=[]), score_rows(explained))

    def step(example_id, task, st, src, txt, order, direction):
        f = filters(task, st, src, txt)
        return studio.neighbor(None if example_id is None else int(example_id), direction,
                               order=ORDERS[order], **f)

    @ui_errors
    def show(example_id, task, st, src, txt, order):
        if example_id is None:
            example_id = step(None, task, st, src, txt, order, 1)
        return view(example_id, task, st, src, txt, order)

    @ui_errors
    def restart(task, st, src, txt, order):
        return view(step(None, task, st, src, txt, order, 1), task, st, src, txt, order)

    def mover(direction):
        @ui_errors
        def move(example_id, *q):
            return view(step(example_id, *q, direction), *q)
        return move

    def actor(action):
        @ui_errors
        def act(example_id, new_in, new_out, task, st, src, txt, order, request: gr.Request):
            if example_id is None:
                raise gr.Error("No example selected.")
            who = reviewer(settings, request)
            row = studio.get(int(example_id))
            if action == "approve" and (new_in != row["input"] or new_out != (row["output"] or "")):
                studio.edit(row["id"], input=new_in, output=new_out, reviewer=who)
            studio.review(row["id"], action, reviewer=who)
            return view(step(row["id"], task, st, src, txt, order, 1), task, st, src, txt, order)
        return act

    @ui_errors
    def save_edit(example_id, new_in, new_out, task, st, src, txt, order, request: gr.Request):
        if example_id is None:
            raise gr.Error("No example selected.")
        studio.edit(int(example_id), input=new_in, output=new_out,
                    reviewer=reviewer(settings, request))
        gr.Info(f"Saved #{int(example_id)}")
        return view(example_id, task, st, src, txt, order)

    @ui_errors
    def remove(example_id, task, st, src, txt, order, request: gr.Request):
        if example_id is None:
            raise gr.Error("No example selected.")
        nxt_id = step(example_id, task, st, src, txt, order, 1)
        studio.delete([int(example_id)], reviewer=reviewer(settings, request))
        gr.Info(f"Deleted #{int(example_id)}; U undoes it")
        return view(None if nxt_id == int(example_id) else nxt_id, task, st, src, txt, order)

    @ui_errors
    def undo_last(task, st, src, txt, order, request: gr.Request):
        r = studio.undo(reviewer=reviewer(settings, request))
        gr.Info(f"Undid {r['undone']} on {len(r['example_ids'])} example(s)")
        return view(r["example_ids"][-1], task, st, src, txt, order)

    def preparer(action):
        @ui_errors
        def prepare(task, st, src, txt, order):
            f = filters(task, st, src, txt)
            n = studio.list(limit=0, **f)["total"]
            what = ", ".join(f"{k} {v!r}" for k, v in f.items() if v) or "no filter"
            msg = (f"**{action.capitalize()} {n} examples** matching {what}? "
                   f"One undo reverts them all.")
            return {"action": action, "filters": f}, gr.update(visible=True), msg
        return prepare

    @ui_errors
    def run_bulk(pending, example_id, task, st, src, txt, order, request: gr.Request):
        if not pending:
            raise gr.Error("Nothing to confirm.")
        r = studio.bulk_review(pending["action"], reviewer=reviewer(settings, request),
                               **pending["filters"])
        gr.Info(f"{pending['action']}: {r['changed']} changed, {r['skipped']} skipped")
        return (None, gr.update(visible=False),
                *view(step(None, task, st, src, txt, order, 1), task, st, src, txt, order))

    @ui_errors
    def find_similar(example_id, progress=gr.Progress()):
        if example_id is None:
            raise gr.Error("No example selected.")

        r = studio.similar(int(example_id), k=10, on_progress=progress_reporter(
            progress, "embedding the task's new rows"))
        rows = [[n["id"], n["similarity"], n["status"], n["source"], n["duplicate_of"],
                 n["input"]] for n in r["neighbours"]]
        return gr.update(visible=True, value=rows)

    @ui_errors
    def open_row(evt: gr.SelectData, task, st, src, txt, order):
        return view(int(evt.row_value[0]), task, st, src, txt, order)

    @ui_errors
    def open_duplicated(example_id, task, st, src, txt, order):
        return view(studio.get(int(example_id))["duplicate_of"], task, st, src, txt, order)

    card_in = [eid, inp, out, *queue]
    similar.click(find_similar, eid, similar_table, api_name="similar")
    similar_table.select(open_row, queue, view_out, api_name=False)
    open_dup.click(open_duplicated, [eid, *queue], view_out, api_name=False)
    for button, action in ((approve, "approve"), (reject, "reject")):
        button.click(actor(action), card_in, view_out, api_name=action)
    skip.click(mover(1), [eid, *queue], view_out, api_name="skip")
    nxt.click(mover(1), [eid, *queue], view_out, api_name="next")
    prev.click(mover(-1), [eid, *queue], view_out, api_name="previous")
    save.click(save_edit, card_in, view_out, api_name="save_edit")
    delete.click(remove, [eid, *queue], view_out, api_name="delete")
    undo.click(undo_last, queue, view_out, api_name="undo")
    eid.submit(show, [eid, *queue], view_out, api_name="show")
    for control in (status, source, order):
        control.change(restart, queue, view_out, api_name=False)
    text.submit(restart, queue, view_out, api_name=False)
    bulk_approve.click(preparer("approve"), queue, [pending_bulk, confirm_box, confirm_msg],
                       api_name=False)
    bulk_reject.click(preparer("reject"), queue, [pending_bulk, confirm_box, confirm_msg],
                      api_name=False)
    confirm.click(run_bulk, [pending_bulk, eid, *queue],
                  [pending_bulk, confirm_box, *view_out], api_name=False)
    cancel.click(lambda: (None, gr.update(visible=False)), None, [pending_bulk, confirm_box],
                 api_name=False)
    return {"restart": (restart, queue, view_out), "show": (show, queue, view_out)}


def _score_line(explained: list[dict]) -> str:
    """quality, judge and the flagged findings, in one line under the badge."""
    got = {e["name"]: e for e in explained}
    if "quality" not in got:
        return ""
    parts = [f"quality **{got['quality']['value']:.2f}**"]
    judge = got.get("judge")
    if judge and judge["value"] is not None:
        parts.append(f"judge {judge['value']:.0f}/5: {html.escape(judge['detail'] or '')}")
    elif judge:
        parts.append("judge failed")
    flags = got.get("heuristics", {}).get("detail")
    off = (got.get("faithfulness") or {}).get("detail")
    warn = "; ".join(html.escape(f) for f in (flags, off) if f)
    return "\n\n📊 " + " · ".join(parts) + (f" · ⚠️ {warn}" if warn else "")


def _duplicate_line(row: dict) -> str:
    if row["duplicate_of"] is not None:
        sim = "" if row["similarity"] is None else f", cosine {row['similarity']:.3f}"
        return (f"\n\n🔁 **Duplicate of #{row['duplicate_of']}** ({row['duplicate_kind']}{sim}): "
                "export and training skip it")
    if row["cluster_id"] is not None:
        return "\n\n✅ **Canonical row** of a duplicate cluster"
    return ""
