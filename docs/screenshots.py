"""Make the README's screenshots: the app on the sample data, in Debian's chromium."""

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import expect, sync_playwright  # noqa: E402
from teacher_server import TeacherServer  # noqa: E402
from ui_helpers import CHROMIUM, CHROMIUM_ARGS, pick, retype, running_app  # noqa: E402

from studio import Studio  # noqa: E402


def main():
    with tempfile.TemporaryDirectory() as d, Studio.open(Path(d) / "studio.duckdb") as s:
        s.import_samples()
        for eid in (1, 2, 4):
            s.review(eid, "approve")
        s.review(3, "reject")
        # The loopback teacher answers as llama-cpp-python's server does: Test connection shows
        # auto settling on json_object + schema after json_schema is refused.
        with running_app(s) as url, sync_playwright() as p, \
                TeacherServer(latency=0.1, kind="llama-cpp-python") as srv:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(url)
            expect(page.locator("#data-info")).to_contain_text("of", timeout=30_000)
            page.get_by_text("Import a file").click()
            search = page.get_by_label("Text contains (Enter to search)")
            search.fill("bus")
            search.press("Enter")
            page.locator("#btn-ask-delete").click()  # the count first, then the confirmation
            expect(page.locator("#delete-msg")).to_contain_text("rows match", timeout=30_000)
            page.screenshot(path=str(ROOT / "docs" / "data-tab.png"), full_page=True)
            page.goto(url)
            page.get_by_role("tab", name="Review").click()
            expect(page.locator("#review-badge")).to_contain_text("#5", timeout=30_000)
            page.screenshot(path=str(ROOT / "docs" / "review-tab.png"))
            page.get_by_role("tab", name="Generate").click()
            page.locator("#gen-urls textarea").fill(srv.url)  # the loopback test teacher
            page.locator("#gen-model textarea").fill("teacher-test")
            page.locator("#btn-test-connection").click()
            expect(page.locator("#gen-connection")).to_contain_text("answered", timeout=30_000)
            page.locator("#gen-count input").fill("24")
            page.locator("#btn-generate").click()
            expect(page.locator("#gen-status")).to_contain_text("completed", timeout=60_000)
            page.screenshot(path=str(ROOT / "docs" / "generate-tab.png"), full_page=True)
            page.get_by_role("tab", name="Corrupt").click()
            page.get_by_text("Fit a profile on real messy texts").click()
            page.locator("#btn-fit").click()  # on the sample's input-only messy tweets
            expect(page.locator("#cor-fit-note")).to_contain_text("Fitted", timeout=30_000)
            page.locator("#btn-cor-preview").click()
            expect(page.locator("#cor-verdict")).to_contain_text("AUC", timeout=60_000)
            expect(page.locator("#cor-cer-plot svg")).to_be_visible()
            page.locator("#btn-corrupt").click()  # says how many rows it would store
            expect(page.locator("#btn-cor-confirm")).to_be_visible(timeout=30_000)
            page.screenshot(path=str(ROOT / "docs" / "corrupt-tab.png"), full_page=True)
            curate(page, srv)
            s.auto(task="tweet-summary", approve_above=0.8, reject_below=0.4)
            export(page)
            browser.close()
    train_only()
    deploy_only()
    print("wrote docs/data-tab.png, review-tab.png, generate-tab.png, corrupt-tab.png, "
          "curate-scores.png, curate-tab.png, curate-map.png and export-tab.png")


def export(page):
    """Preview the export of the approved rows."""
    page.get_by_role("tab", name="Export").click()
    page.locator("#btn-export-preview").click()
    expect(page.locator("#export-counts")).to_contain_text("rows leave", timeout=120_000)
    expect(page.locator("#export-rows .virtual-row").first).to_be_visible()
    page.screenshot(path=str(ROOT / "docs" / "export-tab.png"), full_page=True)


def export_only():
    """`python docs/screenshots.py export`: the Export tab's screenshot alone."""
    with tempfile.TemporaryDirectory() as d, Studio.open(Path(d) / "studio.duckdb") as s:
        s.import_samples()
        s.score(task="tweet-summary")
        s.auto(task="tweet-summary", approve_above=0.8, reject_below=0.4)
        with running_app(s) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(url)
            export(page)
            browser.close()
    print("wrote docs/export-tab.png")


def curate(page, srv):
    """Scores with the loopback judge, the auto-review counts, duplicates and the map."""
    page.get_by_role("tab", name="Curate").click()
    page.locator("#btn-dedupe").click()  # embeds the rows first
    expect(page.locator("#dedupe-note")).to_contain_text("Marked", timeout=120_000)
    page.locator("#dup-clusters .virtual-row").first.click()
    expect(page.locator("#dup-members .virtual-row").first).to_contain_text("canonical")
    page.locator("#dup-members .virtual-row").nth(1).click()
    page.locator("#cur-dedupe").screenshot(path=str(ROOT / "docs" / "curate-tab.png"))
    page.locator("#score-judge input").check()
    page.get_by_text("Judge: endpoint and rubric").click()
    retype(page.locator("#judge-url textarea"), "https://api.openai.com/v1", srv.url)
    retype(page.locator("#judge-model textarea"), "", "teacher-test")
    page.locator("#btn-score").click()
    expect(page.locator("#score-note")).to_contain_text("judge", timeout=120_000)
    expect(page.locator("#score-hist svg")).to_be_visible()
    page.get_by_text("Judge: endpoint and rubric").click()  # fold it away again
    page.locator("#cur-scores").screenshot(path=str(ROOT / "docs" / "curate-scores.png"))
    page.locator("#btn-map").click()
    expect(page.locator("#map-canvas circle").first).to_be_visible()
    pick(page, "map-color", "quality")
    expect(page.locator("#map-caption")).to_contain_text("quality")
    page.locator('#map-canvas circle[data-id="116"]').click()  # the looping draft
    expect(page.locator("#map-scores")).to_contain_text("repeat")
    page.locator("#cur-map").screenshot(path=str(ROOT / "docs" / "curate-map.png"))


def _longer_answer(req) -> dict:
    """A judge's verdict that prefers the longer of the two answers (a stand-in for a real
    judge in the screenshot; the figures are not a measurement)."""
    prompt = req["messages"][-1]["content"]
    a = prompt.split("\n\nAnswer A:\n", 1)[1].split("\n\nAnswer B:\n", 1)[0]
    b = prompt.split("\n\nAnswer B:\n", 1)[1].split("\n\nWhich answer", 1)[0]
    return {"verdict": "tie" if len(a) == len(b) else "A" if len(a) > len(b) else "B",
            "reason": "more complete"}


def approved_samples_and_tiny_model(s, folder: Path) -> Path:
    """The sample data, the tweets approved, and a tiny model whose tokenizer learned them."""
    from trainer.tiny import build_tiny_model

    s.import_samples()
    s.bulk_review("approve", task="tweet-summary")
    rows = s.list(task="tweet-summary", limit=500)["rows"]
    return build_tiny_model(folder / "tiny-llama",
                            [r["input"] for r in rows] + [r["output"] or "" for r in rows])


def train_only():
    """`python docs/screenshots.py train`: the Train and Evaluate tabs, on a tiny model built
    here (no download), trained for real on the approved sample tweets."""
    with tempfile.TemporaryDirectory() as d, Studio.open(Path(d) / "studio.duckdb") as s:
        tiny = approved_samples_and_tiny_model(s, Path(d))
        with running_app(s) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(url)
            page.get_by_role("tab", name="Train").click()
            page.locator("#train-model input").fill(str(tiny))
            page.locator("#train-model input").press("Enter")
            page.locator("#btn-train-fill").click()
            expect(page.locator("#train-why")).to_contain_text("tokenizer", timeout=60_000)
            for elem, value in (("train-max-steps", "60"), ("train-lr", "0.003"),
                                ("train-eval-steps", "10")):
                box = page.locator(f"#{elem} input, #{elem} textarea")
                box.fill(value)
                box.press("Tab")
            page.locator("#btn-train").click()
            expect(page.locator("#train-progress")).to_contain_text("completed", timeout=300_000)
            expect(page.locator("#train-plot polyline")).to_have_count(2)
            page.screenshot(path=str(ROOT / "docs" / "train-tab.png"), full_page=True)
            page.get_by_role("tab", name="Evaluate").click()
            page.locator("#btn-eval").click()
            expect(page.locator("#eval-rows .virtual-row").first).to_be_visible(timeout=60_000)
            # a loopback judge that prefers the longer answer, in either order
            with TeacherServer(answer=_longer_answer) as judge:
                page.locator("#eval-judge-url textarea").fill(judge.url)
                page.locator("#eval-judge-model textarea").fill("judge-test")
                page.locator("#btn-judge").click()
                expect(page.locator("#eval-judge")).to_contain_text("Tuned wins",
                                                                    timeout=120_000)
            for elem, value in (("curve-points", "4"), ("curve-seeds", "1")):
                box = page.locator(f"#{elem} input")
                box.fill(value)
                box.press("Tab")
            page.locator("#btn-curve").click()
            expect(page.locator("#curve-status")).to_contain_text("completed", timeout=900_000)
            expect(page.locator("#curve-answer")).not_to_be_empty()
            page.locator("#play-input textarea").fill("the 42 bus was late AGAIN, missed class")
            page.locator("#btn-play").click()
            expect(page.locator("#play-tuned textarea")).not_to_have_value("", timeout=60_000)
            page.screenshot(path=str(ROOT / "docs" / "evaluate-tab.png"), full_page=True)
            browser.close()
    print("wrote docs/train-tab.png and docs/evaluate-tab.png")


def deploy_only():
    """`python docs/screenshots.py deploy`: the Deploy tab on a tiny model trained here: an
    Ollama export, the model served by llama.cpp and asked a question."""
    with tempfile.TemporaryDirectory() as d, Studio.open(Path(d) / "studio.duckdb") as s:
        tiny = approved_samples_and_tiny_model(s, Path(d))
        s.train(model=str(tiny), max_steps=20)
        with running_app(s) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(url)
            page.get_by_role("tab", name="Deploy").click()
            page.get_by_label("Ollama folder (GGUF + Modelfile)").check()
            page.locator("#btn-export-model").click()
            expect(page.locator("#deploy-result")).to_contain_text("Exported", timeout=300_000)
            page.locator("#btn-serve").click()
            expect(page.locator("#deploy-status")).to_contain_text("Serving", timeout=120_000)
            page.locator("#deploy-question textarea").fill("the 42 bus was late AGAIN lol")
            page.locator("#btn-deploy-ask").click()
            expect(page.locator("#deploy-answer textarea")).not_to_have_value("",
                                                                         timeout=60_000)
            page.screenshot(path=str(ROOT / "docs" / "deploy-tab.png"), full_page=True)
            page.locator("#btn-serve-stop").click()
            browser.close()
    print("wrote docs/deploy-tab.png")


if __name__ == "__main__":
    {"export": export_only, "train": train_only, "deploy": deploy_only}.get(
        " ".join(sys.argv[1:]), main)()
