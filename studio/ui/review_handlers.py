"""The Review tab's handlers: functions of the studio and the widgets' plain values, returning
what the tab's outputs show. `queue` stands for the five queue widgets (task, status, source,
text, order); a handler that acts for someone takes the reviewer's name last (`who`)."""

import html

from studio.ui.common import filters, header_markdown, progress_reporter, quiet, score_rows

ORDERS = {"oldest first": "id", "uncertain first": "uncertainty"}


def view(studio, example_id, task, st, src, txt, order):
    """The card for one example (or an empty card when the queue is empty): id, badge, input,
    output, header, the open-duplicate button, the similar table, the scores."""
    import gradio as gr

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


def step(studio, example_id, task, st, src, txt, order, direction):
    """The id of the next (1) or previous (-1) example of the queue."""
    f = filters(task, st, src, txt)
    return studio.neighbor(None if example_id is None else int(example_id), direction,
                           order=ORDERS[order], **f)


def show(studio, example_id, task, st, src, txt, order):
    """The example typed in the id box; the queue's first when the box is empty."""
    if example_id is None:
        example_id = step(studio, None, task, st, src, txt, order, 1)
    return view(studio, example_id, task, st, src, txt, order)


def restart(studio, task, st, src, txt, order):
    """The queue's first example (the filters changed)."""
    return view(studio, step(studio, None, task, st, src, txt, order, 1), task, st, src, txt,
                order)


def move(studio, direction, example_id, *queue):
    """Skip / Next (1) and Previous (-1)."""
    return view(studio, step(studio, example_id, *queue, direction), *queue)


def _selected(example_id) -> int:
    import gradio as gr

    if example_id is None:
        raise gr.Error("No example selected.")
    return int(example_id)


def decide(studio, action, example_id, new_in, new_out, task, st, src, txt, order, who):
    """Approve or reject the card (with its edits, when approving), then show the next one."""
    row = studio.get(_selected(example_id))
    if action == "approve" and (new_in != row["input"] or new_out != (row["output"] or "")):
        studio.edit(row["id"], input=new_in, output=new_out, reviewer=who)
    studio.review(row["id"], action, reviewer=who)
    return view(studio, step(studio, row["id"], task, st, src, txt, order, 1), task, st, src,
                txt, order)


def save_edit(studio, example_id, new_in, new_out, task, st, src, txt, order, who):
    import gradio as gr

    eid = _selected(example_id)
    studio.edit(eid, input=new_in, output=new_out, reviewer=who)
    gr.Info(f"Saved #{eid}")
    return view(studio, example_id, task, st, src, txt, order)


def remove(studio, example_id, task, st, src, txt, order, who):
    """Delete the card's example and show the next one."""
    import gradio as gr

    eid = _selected(example_id)
    nxt_id = step(studio, example_id, task, st, src, txt, order, 1)
    studio.delete([eid], reviewer=who)
    gr.Info(f"Deleted #{eid}; U undoes it")
    return view(studio, None if nxt_id == eid else nxt_id, task, st, src, txt, order)


def undo_last(studio, task, st, src, txt, order, who):
    """Undo the reviewer's last action and show the example it touched (the last of them)."""
    import gradio as gr

    r = studio.undo(reviewer=who)
    gr.Info(f"Undid {r['undone']} on {len(r['example_ids'])} example(s)")
    return view(studio, r["example_ids"][-1], task, st, src, txt, order)


def prepare_bulk(studio, action, task, st, src, txt, order):
    """Bulk, step one: what would change, asked before anything does (pending, box, message)."""
    import gradio as gr

    f = filters(task, st, src, txt)
    n = studio.list(limit=0, **f)["total"]
    what = ", ".join(f"{k} {v!r}" for k, v in f.items() if v) or "no filter"
    msg = (f"**{action.capitalize()} {n} examples** matching {what}? "
           f"One undo reverts them all.")
    return {"action": action, "filters": f}, gr.update(visible=True), msg


def run_bulk(studio, pending, example_id, task, st, src, txt, order, who):
    """Bulk, step two (Confirm): act on the filters asked about, then restart the queue."""
    import gradio as gr

    if not pending:
        raise gr.Error("Nothing to confirm.")
    r = studio.bulk_review(pending["action"], reviewer=who, **pending["filters"])
    gr.Info(f"{pending['action']}: {r['changed']} changed, {r['skipped']} skipped")
    return (None, gr.update(visible=False),
            *view(studio, step(studio, None, task, st, src, txt, order, 1), task, st, src, txt,
                  order))


def cancel_bulk():
    """Bulk, Cancel: forget the question and hide it."""
    import gradio as gr

    return None, gr.update(visible=False)


def find_similar(studio, example_id, progress=quiet):
    """The table of the inputs nearest the card's."""
    import gradio as gr

    r = studio.similar(_selected(example_id), k=10, on_progress=progress_reporter(
        progress, "embedding the task's new rows"))
    rows = [[n["id"], n["similarity"], n["status"], n["source"], n["duplicate_of"],
             n["input"]] for n in r["neighbours"]]
    return gr.update(visible=True, value=rows)


def open_row(studio, row, task, st, src, txt, order):
    """A row of the similar table clicked: its example."""
    return view(studio, int(row[0]), task, st, src, txt, order)


def open_duplicated(studio, example_id, task, st, src, txt, order):
    """The row the card's example duplicates."""
    return view(studio, studio.get(int(example_id))["duplicate_of"], task, st, src, txt, order)


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
