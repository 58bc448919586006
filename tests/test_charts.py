"""The app's charts are pure functions of their points: every series drawn and named in the
legend, in its colour, whatever came first; values on hover; names escaped."""

import re

from studio.ui.charts import PALETTE, bar_chart, line_chart, nice_ticks
from studio.ui.curate_tab import nearest_chart
from studio.ui.evaluate_tab import curve_chart
from studio.ui.train_tab import loss_chart


def _legend(chart: str) -> list[str]:
    return re.findall(r'<li data-series="([^"]*)"', chart)


def _series_color(chart: str, name: str, tag: str = "polyline") -> str:
    return re.search(rf'<{tag} data-series="{re.escape(name)}"[^>]*?(?:stroke|fill)="(#\w+)"',
                     chart).group(1)


def test_the_loss_chart_draws_the_eval_loss_that_came_after_the_first_steps():
    metrics = [{"part": "", "step": s, "loss": 3.0 - s / 10, "eval_loss": None}
               for s in range(1, 5)]
    assert _legend(loss_chart(metrics)) == ["train loss"]
    metrics.append({"part": "", "step": 4, "loss": None, "eval_loss": 2.9})
    chart = loss_chart(metrics)
    assert _legend(chart) == ["train loss", "eval loss"]
    assert chart.count("<polyline") == 2
    assert _series_color(chart, "train loss") == PALETTE[0]
    assert _series_color(chart, "eval loss") == PALETTE[1]
    assert "<title>eval loss: step 4, loss 2.9</title>" in chart


def test_a_learning_curve_run_has_a_pair_of_lines_per_part():
    metrics = [{"part": p, "step": s, "loss": 2.0, "eval_loss": 2.5 if s == 2 else None}
               for p in ("p025", "p050") for s in (1, 2)]
    assert _legend(loss_chart(metrics)) == ["25% of train: train loss", "25% of train: eval loss",
                                            "50% of train: train loss", "50% of train: eval loss"]


def test_nothing_to_draw_says_so():
    assert 'data-chart="empty"' in loss_chart([]) and "first step" in loss_chart([])
    assert "Run the learning curve" in curve_chart(None)
    assert 'data-chart="empty"' in bar_chart([], y_label="rows", title="t")


def test_the_learning_curve_chart_puts_base_beside_tuned():
    chart = curve_chart({"metric": "rougeL", "base": 0.2, "points": [
        {"n_train": 16, "value": 0.25}, {"n_train": 32, "value": 0.31}]})
    assert _legend(chart) == ["tuned (rougeL)", "base"]
    assert "<title>tuned (rougeL): train examples 32, score 0.31</title>" in chart


def test_missing_and_non_finite_points_are_left_out_and_names_are_escaped():
    chart = line_chart({"<b>a</b>": [(1, 1.0), (2, float("nan")), (3, None)], "empty": []},
                       x_label="x", y_label="y", title="T & U")
    assert _legend(chart) == ["&lt;b&gt;a&lt;/b&gt;"] and "<b>a" not in chart
    assert chart.count("<circle") == 1 and "T &amp; U" in chart


def test_bars_group_by_their_first_field_and_take_the_given_colours():
    chart = bar_chart([("lower", "real", 0.5), ("lower", "synthetic", 0.25),
                       ("caps", "real", 0.1), ("caps", "synthetic", 0.0)],
                      y_label="share", title="t", colors={"synthetic": "#123456"})
    assert _legend(chart) == ["real", "synthetic"]
    assert _series_color(chart, "synthetic", "rect") == "#123456"
    assert _series_color(chart, "real", "rect") == PALETTE[0]
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', chart)]
    assert heights[0] == 2 * heights[1] and heights[3] == 0
    narrow = bar_chart([("a", "real", 1.0)] * 3, y_label="share", title="t", width=460)
    assert 'viewBox="0 0 460 300"' in narrow and "max-width:460px" in narrow


def test_the_nearest_histogram_colours_the_bars_at_or_above_the_threshold():
    hist = {"step": 0.05, "bins": ["<0.80", "0.80", "0.85", "0.90", "0.95"],
            "counts": [4, 3, 2, 1, 1]}
    assert _legend(nearest_chart(hist, 1.0)) == ["below"]
    assert _legend(nearest_chart(hist, 0.9)) == ["below", "at or above"]
    assert re.findall(r'<rect data-series="([^"]+)"', nearest_chart(hist, 0.9)) == [
        "below", "below", "below", "at or above", "at or above"]


def test_ticks_are_round_and_cover_the_values():
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    ticks = nice_ticks(4.87, 7.41)
    assert ticks[0] <= 4.87 and ticks[-1] >= 7.41 and ticks == [4, 5, 6, 7, 8]
    assert nice_ticks(3, 3)[0] < 3 < nice_ticks(3, 3)[-1]
    assert nice_ticks(0, 0) == [-1, -0.5, 0, 0.5, 1]
