"""Scores, auto-review thresholds and the map in the Curate tab, in a real browser."""

import pytest

from helpers import load_hand_made
from ui_helpers import expect_legend, open_tab, pick, retype, running_app, settled

pytestmark = pytest.mark.browser
TASK = "tweet-summary"


@pytest.fixture
def scored(studio, minilm):
    studio.use_encoder(minilm)
    return load_hand_made(studio)


def set_slider(page, elem_id: str, value: float) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def test_thresholds_show_counts_then_apply_and_undo(scored, studio, page):
    from playwright.sync_api import expect

    counts = page.locator("#auto-counts")
    with running_app(studio) as url:
        open_tab(page, url, "Curate")
        page.locator("#btn-score").click()
        expect(page.locator("#score-note")).to_contain_text("Scored 5 complete rows of 6")
        expect(page.locator("#score-note")).to_contain_text("flagged: copy 1")
        expect(page.locator("#score-hist svg")).to_be_visible()
        expect_legend(page, "score-hist", ["reject", "review", "approve"])
        expect(counts).to_contain_text("Would approve 3 · reject 1 · leave 1 for review")

        set_slider(page, "auto-approve", 0.95)  # stricter: the good rows still pass
        set_slider(page, "auto-reject", 0.6)    # the copied row (0.5) now falls below
        expect(counts).to_contain_text("Would approve 3 · reject 2 · leave 0 for review")
        set_slider(page, "auto-reject", 0.4)
        expect(counts).to_contain_text("Would approve 3 · reject 1 · leave 1 for review")
        assert studio.stats(TASK)["by_status"]["pending"] == 6  # counting wrote nothing

        page.locator("#btn-auto-apply").click()
        expect(page.get_by_text("Approved 3 and rejected 1 rows")).to_be_visible()
        expect(page.locator("#studio-header")).to_contain_text("3 approved, 1 rejected")
        expect(counts).to_contain_text("Would approve 0 · reject 0 · leave 1 for review")
        assert [studio.get(i)["status"] for i in (1, 2, 3)] == ["approved", "rejected",
                                                               "pending"]

        page.locator("#btn-auto-undo").click()
        expect(page.get_by_text("4 rows are pending again")).to_be_visible()
        expect(counts).to_contain_text("Would approve 3 · reject 1 · leave 1 for review")
        expect(page.locator("#studio-header")).to_contain_text("0 approved, 0 rejected")
    assert studio.stats(TASK)["by_status"]["pending"] == 6


def test_map_click_shows_the_example_and_opens_it_in_review(scored, studio, page):
    from playwright.sync_api import expect

    studio.score(task=TASK)
    with running_app(studio) as url:
        open_tab(page, url, "Curate")
        page.locator("#btn-map").click()
        expect(page.locator("#map-caption")).to_contain_text("6 inputs")
        dots = page.locator("#map-canvas circle")
        expect(dots).to_have_count(6)
        pick(page, "map-color", "quality")
        expect(page.locator("#map-caption")).to_contain_text("Colour: quality")
        page.locator('#map-canvas circle[data-id="3"]').click()
        expect(page.locator("#map-card")).to_contain_text("#3")
        expect(page.locator("#map-card")).to_contain_text("library late fees")
        expect(page.locator("#map-scores")).to_contain_text("copied from the input")
        page.locator("#btn-map-open").click()
        expect(page.locator("#review-badge")).to_contain_text("#3")
        expect(page.locator("#review-badge")).to_contain_text("quality 0.50")
        expect(page.locator("#review-input textarea")).to_have_value(
            "reminder: library late fees are gone starting Monday, bring books back")


def test_review_queue_orders_by_uncertainty(scored, studio, page):
    from playwright.sync_api import expect

    studio.score(task=TASK)
    with running_app(studio) as url:
        open_tab(page, url, "Review")
        badge = page.locator("#review-badge")
        expect(badge).to_contain_text("#1 ·")  # oldest first by default
        pick(page, "review-order", "uncertain first")
        # the copied row (0.50) is nearest a threshold (0.40), then the good ones (1.0)
        expect(badge).to_contain_text("#3 ·")
        expect(badge).to_contain_text("1 of 6 in this queue")
        page.locator("#btn-next").click()
        expect(badge).to_contain_text("#1 ·")


def test_judge_from_the_app_and_its_agreement_with_people(scored, studio, page, server):
    from playwright.sync_api import expect

    srv = server()  # rates 5 an output of 4+ words that is not its input, else 2
    studio.review(1, "approve")
    studio.review(3, "approve")  # the copied row: the judge says 2, a disagreement
    studio.review(2, "reject")   # off-topic, but long enough for this judge's 5
    with running_app(studio) as url:
        open_tab(page, url, "Curate")
        settled(page)  # the tab's refresh has drawn the panel: what is typed now stays
        page.locator("#score-judge input").check()
        page.get_by_text("Judge: endpoint and rubric").click()
        settled(page)
        retype(page.locator("#judge-url textarea"), "https://api.openai.com/v1", srv.url)
        retype(page.locator("#judge-model textarea"), "", "judge-test")
        retype(page.locator("#judge-key input"), "", "sk-session-only-123")
        page.locator("#btn-score").click()
        note = page.locator("#score-note")
        expect(note).to_contain_text("judge judge-test: 5 rated, 0 failed, 0 from the cache")
        # three decisions: no kappa from so few
        expect(page.locator("#judge-agreement")).to_contain_text("Only 3 rows are both rated")
        expect(page.locator("#judge-agreement")).to_contain_text("too few decisions")
        expect(page.locator("#judge-agreement")).not_to_contain_text("kappa")
        expect(page.locator("#judge-confusion")).to_contain_text("people approved")
        page.locator("#btn-score").click()  # again: every answer from the cache
        expect(note).to_contain_text("5 from the cache")
    assert srv.requests == 5
    stored = [studio.store.path, studio.store.path.with_name(studio.store.path.name + ".wal")]
    assert not any(b"sk-session-only-123" in f.read_bytes() for f in stored if f.exists())
