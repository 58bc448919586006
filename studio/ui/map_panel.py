"""Curate tab, the map: the task's inputs in two dimensions (PCA of their vectors), coloured by
status, source, duplicate cluster or quality; click a point to see the example and its scores.
The handlers are module-level functions of (studio, plain values); the builder wires them."""

import html

from studio.display import shorten
from studio.ui.common import (
    SCORE_COLUMNS,
    bind,
    bind_progress,
    progress_reporter,
    quiet,
    score_rows,
)

COLOR_BY = ["status", "source", "cluster", "quality"]
PALETTE = {"pending": "#9ca3af", "approved": "#16a34a", "rejected": "#dc2626",
           "imported": "#2563eb", "teacher": "#9333ea", "corrupted": "#ea580c"}
CYCLE = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04",
         "#db2777", "#4f46e5", "#65a30d"]
W, H, PAD = 760, 420, 14
CLICK_JS = """
element.addEventListener('click', (e) => {
  const dot = e.target.closest('[data-id]');
  if (!dot) return;
  element.querySelectorAll('circle[data-picked]').forEach((c) => {
    c.removeAttribute('data-picked'); c.setAttribute('r', '5'); c.setAttribute('stroke', '#fff');
  });
  dot.setAttribute('data-picked', '1'); dot.setAttribute('r', '8');
  dot.setAttribute('stroke', '#111');
  trigger('click', {id: dot.dataset.id});
});
"""


def build_map_panel(gr, settings, studio, task_box):
    gr.Markdown("### Map\nEach dot is an input, placed by the two main directions of its "
                "vector (PCA): near dots say similar things. Click one to see it.")
    with gr.Row():
        color = gr.Dropdown(COLOR_BY, value="status", label="Colour by", scale=1,
                            elem_id="map-color")
        draw_btn = gr.Button("Draw the map", scale=1, elem_id="btn-map")
    caption = gr.Markdown(elem_id="map-caption")
    canvas = gr.HTML("", js_on_load=CLICK_JS, elem_id="map-canvas")
    picked = gr.Number(visible=False, precision=0, elem_id="map-picked")
    card = gr.Markdown(elem_id="map-card")
    scores = gr.Dataframe(headers=SCORE_COLUMNS, interactive=False, wrap=True, visible=False,
                          column_widths=["16%", "10%", "74%"], elem_id="map-scores")
    open_btn = gr.Button("Open it in Review", visible=False, elem_id="btn-map-open")

    draw = bind_progress(draw_map, studio)
    show = bind(show_point, studio)

    def clicked(evt: gr.EventData):  # the dot's id, sent by CLICK_JS
        return show(evt.id)

    draw_btn.click(draw, [task_box, color], [caption, canvas], api_name="map")
    color.change(draw, [task_box, color], [caption, canvas], api_name=False)
    canvas.click(clicked, None, [picked, card, scores, open_btn], api_name=False)
    return {"open": (open_btn, picked)}


# -- handlers: functions of (studio, plain values) ---------------------------------------------

def draw_map(studio, task, by, progress=quiet):
    """Embed the task's new rows and draw them: the caption and the SVG."""
    if not task:
        return "", ""
    studio.embed(task=task, on_progress=progress_reporter(progress, "embedding"))
    m = studio.map_points(task=task)
    if not m["points"]:
        return "Nothing to map yet: the task needs two embedded rows.", ""
    shown = len(m["points"])
    sample = f" (a sample of {shown} of {m['total']})" if shown < m["total"] else ""
    cap = (f"**{shown}** inputs{sample}; the two axes hold {m['explained']:.0%} of the "
           f"variance. Colour: {by}.")
    return cap, svg(m["points"], by)


def show_point(studio, example_id):
    """A dot clicked: its id, a card, its scores and the Open-in-Review button."""
    import gradio as gr

    eid = int(example_id)
    row = studio.get(eid)
    lines = [f"**#{eid}** · {row['status']} · {row['source']}"
             + (f" · duplicate of #{row['duplicate_of']}" if row["duplicate_of"] else ""),
             f"**Input:** {html.escape(shorten(row['input'], 400))}",
             f"**Output:** {html.escape(shorten(row['output'] or '(none yet)', 400))}"]
    table = score_rows(studio.explain_scores(eid))
    return (eid, "\n\n".join(lines), gr.update(value=table, visible=bool(table)),
            gr.update(visible=True))


def svg(points: list[dict], by: str) -> str:
    xs, ys = [p["x"] for p in points], [p["y"] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = (W - 2 * PAD) / ((x1 - x0) or 1)
    sy = (H - 2 * PAD) / ((y1 - y0) or 1)
    colors, legend = _colors(points, by)
    dots = []
    for p, c in zip(points, colors):
        cx, cy = PAD + (p["x"] - x0) * sx, H - PAD - (p["y"] - y0) * sy
        q = "" if p["quality"] is None else f", quality {p['quality']:.2f}"
        tip = html.escape(f"#{p['id']} {p['status']}{q}: {shorten(p['input'], 90)}")
        dots.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{c}" fill-opacity="0.8" '
                    f'stroke="#fff" stroke-width="0.8" data-id="{p["id"]}" '
                    f'style="cursor:pointer"><title>{tip}</title></circle>')
    keys = "".join(f'<span style="margin-right:14px"><span style="display:inline-block;'
                   f'width:10px;height:10px;border-radius:5px;background:{c}"></span> '
                   f'{html.escape(str(k))}</span>' for k, c in legend)
    return (f'<svg viewBox="0 0 {W} {H}" width="100%" style="max-width:{W}px;border:1px solid '
            f'#e5e7eb;border-radius:6px" role="img" aria-label="map of the inputs">'
            f'{"".join(dots)}</svg><div style="font-size:13px;margin-top:4px">{keys}</div>')


def _colors(points: list[dict], by: str) -> tuple[list[str], list[tuple[str, str]]]:
    if by == "quality":
        cols = [("#9ca3af" if p["quality"] is None else _ramp(p["quality"])) for p in points]
        return cols, [("0", _ramp(0.0)), ("0.5", _ramp(0.5)), ("1", _ramp(1.0)),
                      ("not scored", "#9ca3af")]
    if by == "cluster":
        ids = sorted({p["cluster_id"] for p in points if p["cluster_id"] is not None})
        pick = {c: CYCLE[k % len(CYCLE)] for k, c in enumerate(ids)}
        cols = [pick.get(p["cluster_id"], "#d1d5db") for p in points]
        return cols, [("in a duplicate cluster (one colour each)", CYCLE[0]),
                      ("no duplicate", "#d1d5db")]
    values = [p[by] for p in points]
    seen = sorted(set(values))
    return [PALETTE.get(v, "#6b7280") for v in values], [(v, PALETTE.get(v, "#6b7280"))
                                                         for v in seen]


def _ramp(q: float) -> str:
    """Red (0) through amber (0.5) to green (1)."""
    q = min(1.0, max(0.0, q))
    a, b = ((220, 38, 38), (234, 179, 8)) if q < 0.5 else ((234, 179, 8), (22, 163, 74))
    t = q * 2 if q < 0.5 else (q - 0.5) * 2
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))
