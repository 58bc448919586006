"""The Train and Evaluate tabs in a real browser, on a tiny model trained for real: settings
filled from the data, Train, the live curve, the finished run, its evaluation, the playground,
and a second run cancelled."""

import re
from pathlib import Path

import pytest

from ui_helpers import expect_legend, open_tab, pick, running_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _number(page, elem_id, value):
    box = page.locator(f"#{elem_id} input, #{elem_id} textarea")
    box.fill(str(value))
    box.press("Tab")


def test_train_watch_evaluate_try_and_cancel(studio, minilm, tiny, page):
    from playwright.sync_api import expect

    studio.use_encoder(minilm)
    with running_app(studio) as url:
        open_tab(page, url, "Train")
        expect(page.locator("#train-progress")).to_contain_text("No run yet")
        expect(page.locator("#btn-train-cancel")).to_be_hidden()  # nothing to cancel
        for box in ("epochs", "lr", "batch"):  # computed unless set: blank, never "0"
            expect(page.locator(f"#train-{box} input")).to_have_value("")
            expect(page.locator(f"#train-{box} input")).to_have_attribute("placeholder",
                                                                             "auto")
        model = page.locator("#train-model input")
        model.fill(str(tiny))
        model.press("Enter")
        page.locator("#btn-train-fill").click()
        why = page.locator("#train-why")
        expect(why).to_contain_text("measured with tiny's tokenizer")
        expect(why).to_contain_text("small sets need more passes")
        expect(page.locator("#train-epochs input")).to_have_value(re.compile(r"^5(\.0)?$"))
        expect(page.locator("#train-max-length input")).to_have_value(re.compile(r"^\d+$"))
        _number(page, "train-max-steps", 8)
        _number(page, "train-eval-steps", 4)

        page.locator("#btn-train").click()
        progress = page.locator("#train-progress")
        expect(progress).to_contain_text("Run 1 · completed", timeout=180_000)
        expect(progress).to_contain_text("step 8 of 8")
        expect(page.locator("#btn-train-cancel")).to_be_hidden()  # the run is over
        expect(progress).to_contain_text("rougeL: base")
        # drawn first before any evaluation: the eval loss came later and is drawn as well
        expect_legend(page, "train-plot", ["train loss", "eval loss"])
        expect(page.locator("#train-plot polyline")).to_have_count(2)
        runs = page.locator("#train-runs .virtual-row")
        expect(runs).to_have_count(1)
        expect(runs.first).to_contain_text("completed")
        run = studio.runs()[0]
        assert run["status"] == "completed" and run["step"] == 8

        page.get_by_role("tab", name="Evaluate").click()
        expect(page.locator("#eval-run input")).to_have_value(re.compile(r"^#1 tiny"))
        page.locator("#btn-eval").click()
        expect(page.locator("#eval-summary")).to_contain_text("rougeL")
        expect(page.locator("#eval-rows .virtual-row")).to_have_count(run["eval"]["n"])
        page.locator("#play-input textarea").fill("the 42 bus was late again, missed class")
        page.locator("#btn-play").click()
        expect(page.locator("#play-base textarea")).to_have_value(re.compile(r".+"),
                                                                 timeout=60_000)
        expect(page.locator("#play-tuned textarea")).to_have_value(re.compile(r".+"))

        page.get_by_role("tab", name="Train").click()
        _number(page, "train-max-steps", 5000)
        _number(page, "train-eval-steps", 10000)
        page.locator("#btn-train").click()
        expect(progress).to_contain_text("Run 2 · running", timeout=60_000)
        expect(progress).to_contain_text(re.compile(r"step [1-9]\d* of 5000"), timeout=120_000)
        page.locator("#btn-train-cancel").click()
        expect(progress).to_contain_text("Run 2 · cancelled", timeout=60_000)
        expect(runs).to_have_count(2)
        expect(runs.first).to_contain_text("cancelled")
        assert studio.run(2)["status"] == "cancelled"

        stopped_at = studio.run(2)["step"]
        pick(page, "train-run-pick", "#2 cancelled")  # resume from its checkpoint, stop again
        page.locator("#btn-train-resume").click()
        expect(progress).to_contain_text("Run 2 · running")
        expect(progress).not_to_contain_text(f"step {stopped_at} of", timeout=120_000)
        page.locator("#btn-train-cancel").click()
        expect(progress).to_contain_text("Run 2 · cancelled", timeout=60_000)
    starts = [line for line in (Path(studio.run(2)["run_dir"]) / "metrics.jsonl")
              .read_text().splitlines() if '"event": "start"' in line]
    assert len(starts) == 2 and '"resumed": true' in starts[1]


def test_the_tiny_demo_model_runs_the_whole_path_with_no_download(studio, filled, page,
                                                                  monkeypatch, server):
    """Offline (HF_HUB_OFFLINE): every preset says whether this machine has it, a model it does
    not have is refused at once, and the tiny demo model (built here) trains, evaluates (the
    interval, the slices, the judge's win rate), answers in the playground and runs the
    learning curve (its plain answer)."""
    from playwright.sync_api import expect

    from studio.training.models import TINY_DEMO_LABEL, label
    from studio.ui.train_tab import model_choices

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with running_app(studio) as url:
        open_tab(page, url, "Train")
        model = page.locator("#train-model input")
        choices, default = model_choices()  # what this machine has decides the default
        expect(model).to_have_value(dict((v, k) for k, v in choices)[default])
        model.click()  # every preset says whether this machine has it
        preset = label("Qwen/Qwen2.5-0.5B-Instruct")
        expect(page.get_by_role("option", name=preset)).to_be_visible()
        model.press("Escape")
        model.fill("sft-studio-tests/never-published-model")  # cached on no machine
        model.press("Enter")
        page.locator("#btn-train-fill").click()
        expect(page.get_by_text("is not cached here and the Hugging Face Hub cannot be "
                                "reached").first).to_be_visible()
        pick(page, "train-model", TINY_DEMO_LABEL)
        expect(page.locator("#train-why")).to_contain_text("measured with tiny-demo's tokenizer")
        _number(page, "train-max-steps", 6)
        _number(page, "train-eval-steps", 3)
        page.locator("#btn-train").click()
        progress = page.locator("#train-progress")
        expect(progress).to_contain_text("Run 1 · completed", timeout=180_000)
        expect(progress).to_contain_text("rougeL: base")

        page.get_by_role("tab", name="Evaluate").click()
        expect(page.locator("#eval-run input")).to_have_value(re.compile(r"^#1 tiny-demo"))
        # the evaluation: the interval, the paired test, the slices, the judge's win rate
        page.locator("#btn-eval").click()
        n = studio.runs()[0]["eval"]["n"]
        expect(page.locator("#eval-rows .virtual-row")).to_have_count(n)
        expect(page.locator("#eval-summary")).to_contain_text("difference, 95% interval")
        expect(page.locator("#eval-summary")).to_contain_text("paired test, p")
        slices = page.locator("#eval-slices")
        expect(slices).to_contain_text("length")
        expect(slices).to_contain_text("source")
        # the default test split is real rows only: the tab says why, and offers another run
        expect(page.locator("#eval-slice-note")).to_contain_text("--test-from any")
        expect(page.locator("#btn-train-any")).to_be_visible()
        # the pairwise judge on the loopback teacher: a tie on every row is half a win
        judge = server(answer=lambda req: {"verdict": "tie", "reason": "as good"})
        page.locator("#eval-judge-url textarea").fill(judge.url)
        page.locator("#eval-judge-model textarea").fill("judge-test")
        page.locator("#btn-judge").click()
        expect(page.locator("#eval-judge")).to_contain_text("Tuned wins 50%", timeout=60_000)
        expect(page.locator("#eval-judge")).to_contain_text(f"{n} ties")
        page.locator("#play-input textarea").fill("the 42 bus was late again")
        page.locator("#btn-play").click()
        expect(page.locator("#play-tuned textarea")).to_have_value(re.compile(r".+"),
                                                                  timeout=60_000)
        _number(page, "curve-points", 3)
        _number(page, "curve-seeds", 1)
        page.locator("#btn-curve").click()
        curve = page.locator("#curve-status")
        expect(curve).to_contain_text("completed", timeout=300_000)
        keys = page.locator("#curve-plot .chart-legend li")
        expect(keys.first).to_have_text("tuned (rougeL)")
        expect(keys.nth(1)).to_have_text("base")
        # the plain answer: how many examples a target needs, or that the curve is flat
        expect(page.locator("#curve-answer")).to_contain_text(
            re.compile(r"examples to reach|flat|levels off|already|fit"))
    runs = studio.runs()
    assert [r["status"] for r in runs] == ["completed", "completed"]
    assert all(Path(r["model"]).name == "tiny-demo" for r in runs)
