"""Line and bar charts drawn here as inline SVG for gr.HTML: pure functions of their points.

gradio 6.31's LinePlot and BarPlot clip a legend below their fixed height and keep the colour
domain of their first drawing: a series that appears later (the eval loss after the first
evaluation, the next part of a learning curve, the zone a threshold opens) was drawn without a
colour or a legend entry. Here every call draws the whole chart, the legend is HTML that wraps,
and each point says its value on hover. Hooks for tests and styles: `data-chart`, and
`data-series` on each line, bar and legend entry."""

from __future__ import annotations

import html
import math

# Vega's ten categorical colours (tableau10): a series takes the next one not named in `colors`.
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2",
           "#ff9da6", "#9d755d", "#bab0ac")
W, H = 900, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 12, 44
FONT = "font-family:ui-sans-serif,system-ui,sans-serif"


def line_chart(series: dict[str, list[tuple[float, float]]], *, x_label: str, y_label: str,
               title: str, colors: dict | None = None, empty: str = "Nothing to draw yet.") -> str:
    """Lines of (x, y) points, one per series, in the order given."""
    series = {name: sorted(p for p in pts if _finite(p[0]) and _finite(p[1]))
              for name, pts in series.items()}
    series = {name: pts for name, pts in series.items() if pts}
    if not series:
        return _empty(title, empty)
    xs = [x for pts in series.values() for x, _ in pts]
    ys = [y for pts in series.values() for _, y in pts]
    xt, yt = nice_ticks(min(xs), max(xs)), nice_ticks(min(ys), max(ys))
    sx, sy = _scale(xt, LEFT, W - RIGHT), _scale(yt, H - BOTTOM, TOP)
    cmap = assign_colors(list(series), colors)
    marks = []
    for name, pts in series.items():
        c, n = cmap[name], _e(name)
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        marks.append(f'<polyline data-series="{n}" points="{coords}" fill="none" stroke="{c}" '
                     f'stroke-width="2"/>')
        marks += [f'<circle data-series="{n}" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" '
                  f'fill="{c}"><title>{n}: {_e(x_label)} {_num(x)}, {_e(y_label)} {_num(y)}'
                  f'</title></circle>' for x, y in pts]
    axes = _axes(xt, yt, sx, sy, x_label, y_label, [(_num(t), sx(t)) for t in xt])
    return _frame(title, _svg("line", axes + marks, title) + legend(cmap))


def bar_chart(bars: list[tuple[str, str, float]], *, y_label: str, title: str,
              colors: dict | None = None, empty: str = "Nothing to draw yet.",
              width: int = W) -> str:
    """Grouped bars from (group, series, value): the groups along the x axis in the order
    given, inside each group one bar per series it has (a histogram: one bar per bin, its
    series the zone it falls in)."""
    bars = [(g, s, max(0.0, v)) for g, s, v in bars if _finite(v)]  # counts and shares
    if not bars:
        return _empty(title, empty)
    groups = list(dict.fromkeys(g for g, _, _ in bars))
    names = list(dict.fromkeys(s for _, s, _ in bars))
    cmap = assign_colors(names, colors)
    yt = nice_ticks(0.0, max(max(v for _, _, v in bars), 1e-9))
    sy = _scale(yt, H - BOTTOM - 24, TOP)
    step = (width - LEFT - RIGHT) / len(groups)
    marks, labels = [], []
    for k, group in enumerate(groups):
        inside = [(s, v) for g, s, v in bars if g == group]
        bar = step * 0.8 / len(inside)
        x0 = LEFT + k * step + step * 0.1
        for j, (name, value) in enumerate(inside):
            top = sy(value)
            marks.append(f'<rect data-series="{_e(name)}" x="{x0 + j * bar:.1f}" '
                         f'y="{top:.1f}" width="{max(bar - 1, 1):.1f}" '
                         f'height="{sy(0) - top:.1f}" fill="{cmap[name]}"><title>{_e(group)}'
                         f' · {_e(name)}: {_num(value)}</title></rect>')
        labels.append((group, LEFT + (k + 0.5) * step))
    axes = _axes(None, yt, None, sy, None, y_label, labels, rotate=len(groups) > width / 110,
                 w=width)
    return _frame(title, _svg("bar", axes + marks, title, width) + legend(cmap))


def legend(cmap: dict[str, str]) -> str:
    keys = "".join(f'<li data-series="{_e(name)}" style="display:inline-flex;align-items:center;'
                   f'gap:5px;margin-right:16px"><span style="width:12px;height:12px;'
                   f'border-radius:2px;background:{c}"></span>{_e(name)}</li>'
                   for name, c in cmap.items())
    return (f'<ul class="chart-legend" style="list-style:none;margin:4px 0 0 {LEFT}px;'
            f'padding:0;font-size:13px">{keys}</ul>')


def assign_colors(names: list[str], colors: dict | None = None) -> dict[str, str]:
    """Each name its colour from `colors`, else the next palette colour not named there."""
    colors = colors or {}
    spare = [c for c in PALETTE if c not in colors.values()] or list(PALETTE)
    out, k = {}, 0
    for name in names:
        if name in colors:
            out[name] = colors[name]
        else:
            out[name], k = spare[k % len(spare)], k + 1
    return out


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten."""
    lo, hi = max(lo, -1e300), min(hi, 1e300)
    if hi - lo <= max(abs(lo), abs(hi)) * 1e-9:  # one value (or too close to tell apart)
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step + 1e-9)
    digits = max(0, 2 - math.floor(math.log10(step)))
    ticks = [round((first + k) * step, digits) for k in range(count * 3)
             if (first + k - 1) * step < hi - step * 1e-9]
    return ticks if len(ticks) > 1 else [first * step, (first + 1) * step]


def _scale(ticks: list[float], a: float, b: float):
    lo, hi = ticks[0], ticks[-1]
    return lambda v: a + (v - lo) / ((hi - lo) or 1) * (b - a)


def _axes(xt, yt, sx, sy, x_label, y_label, x_labels, rotate: bool = False,
          w: int = W) -> list[str]:
    out = []
    for t in yt:
        y = sy(t)
        out.append(f'<line x1="{LEFT}" x2="{w - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="#e5e7eb"/><text x="{LEFT - 6}" y="{y + 4:.1f}" '
                   f'text-anchor="end">{_num(t)}</text>')
    base = sy(yt[0])
    for text, x in x_labels:
        if xt is not None:
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{base:.1f}" '
                       f'stroke="#f3f4f6"/>')
        anchor = (f'text-anchor="end" transform="rotate(-40 {x:.1f} {base + 14:.1f})"'
                  if rotate else 'text-anchor="middle"')
        out.append(f'<text x="{x:.1f}" y="{base + 14:.1f}" {anchor}>{_e(text)}</text>')
    if x_label:
        out.append(f'<text x="{(LEFT + w - RIGHT) / 2:.0f}" y="{H - 8}" text-anchor="middle">'
                   f'{_e(x_label)}</text>')
    out.append(f'<text x="12" y="{(TOP + base) / 2:.0f}" text-anchor="middle" '
               f'transform="rotate(-90 12 {(TOP + base) / 2:.0f})">{_e(y_label)}</text>')
    return out


def _svg(kind: str, parts: list[str], title: str, w: int = W) -> str:
    return (f'<svg data-chart="{kind}" viewBox="0 0 {w} {H}" width="100%" role="img" '
            f'aria-label="{_e(title)}" style="display:block;width:100%;height:auto;'
            f'max-width:{w}px;font-size:12px;fill:#374151;'
            f'{FONT}">{"".join(parts)}</svg>')


def _frame(title: str, body: str) -> str:
    return (f'<div class="chart" style="{FONT}"><div style="font-size:14px;color:#6b7280;'
            f'margin-bottom:4px">{_e(title)}</div>{body}</div>')


def _empty(title: str, text: str) -> str:
    return _frame(title, f'<p data-chart="empty" style="margin:8px 0">{_e(text)}</p>')


def _finite(v) -> bool:
    return v is not None and math.isfinite(v)


def _num(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() and abs(v) < 1e6 else f"{v:.4g}"


def _e(text) -> str:
    return html.escape(str(text))
