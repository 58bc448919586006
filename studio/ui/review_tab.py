"""Review tab: one example at a time; approve, reject, skip, edit, delete, undo, bulk; keyboard.
The handlers are in studio/ui/review_handlers.py; this module builds the widgets and wires them."""

from studio.ui import review_handlers as h
from studio.ui.common import (
    SCORE_COLUMNS,
    SOURCE_CHOICES,
    STATUS_CHOICES,
    bind,
    bind_progress,
    bind_reviewer,
    bind_selection,
)
from studio.ui.review_handlers import ORDERS

KEY_HELP = ("Keys: **A** approve · **R** reject · **S** skip · **E** edit output "
            "(Esc leaves the box, Ctrl+Enter saves) · **U** undo · **J**/**K** next/previous · "
            "**F** find similar")
SIMILAR_COLUMNS = ["id", "cosine", "status", "source", "duplicate of", "input"]


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
    card_in = [eid, inp, out, *queue]
    show = bind(h.show, studio)
    restart = bind(h.restart, studio)
    similar.click(bind_progress(h.find_similar, studio), eid, similar_table, api_name="similar")
    similar_table.select(bind_selection(h.open_row, studio), queue, view_out, api_name=False)
    open_dup.click(bind(h.open_duplicated, studio), [eid, *queue], view_out, api_name=False)
    for button, action in ((approve, "approve"), (reject, "reject")):
        button.click(bind_reviewer(h.decide, settings, studio, action), card_in, view_out,
                     api_name=action)
    skip.click(bind(h.move, studio, 1), [eid, *queue], view_out, api_name="skip")
    nxt.click(bind(h.move, studio, 1), [eid, *queue], view_out, api_name="next")
    prev.click(bind(h.move, studio, -1), [eid, *queue], view_out, api_name="previous")
    save.click(bind_reviewer(h.save_edit, settings, studio), card_in, view_out,
               api_name="save_edit")
    delete.click(bind_reviewer(h.remove, settings, studio), [eid, *queue], view_out,
                 api_name="delete")
    undo.click(bind_reviewer(h.undo_last, settings, studio), queue, view_out, api_name="undo")
    eid.submit(show, [eid, *queue], view_out, api_name="show")
    for control in (status, source, order):
        control.change(restart, queue, view_out, api_name=False)
    text.submit(restart, queue, view_out, api_name=False)
    asked = [pending_bulk, confirm_box, confirm_msg]
    bulk_approve.click(bind(h.prepare_bulk, studio, "approve"), queue, asked, api_name=False)
    bulk_reject.click(bind(h.prepare_bulk, studio, "reject"), queue, asked, api_name=False)
    confirm.click(bind_reviewer(h.run_bulk, settings, studio), [pending_bulk, eid, *queue],
                  [pending_bulk, confirm_box, *view_out], api_name=False)
    cancel.click(h.cancel_bulk, None, [pending_bulk, confirm_box], api_name=False)
    return {"restart": (restart, queue, view_out), "show": (show, queue, view_out)}
