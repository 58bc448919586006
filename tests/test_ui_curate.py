"""Dedupe from the Curate tab and find-similar from the Review tab, in a real browser."""

import pytest

from helpers import PLANTED
from helpers import TWEET_TASK as TASK
from helpers import load_rows as load
from ui_helpers import expect_legend, open_tab, running_app

pytestmark = pytest.mark.browser


@pytest.fixture
def planted(studio, minilm, tmp_path):
    studio.use_encoder(minilm)
    return load(studio, tmp_path, PLANTED)


def test_dedupe_panel_counts_marks_and_changes_the_canonical_row(planted, studio, page):
    from playwright.sync_api import expect

    a, exact, para, _, _ = planted
    note = page.locator("#dedupe-note")
    with running_app(studio) as url:
        open_tab(page, url, "Curate")
        page.locator("#btn-embed").click()
        expect(page.locator("#cur-embed-note")).to_contain_text("Embedded 10 new texts")

        page.locator("#btn-dedupe-dry").click()  # the count first, nothing written
        expect(note).to_contain_text("Would mark 2 of 5 rows as duplicates in 1 clusters")
        expect(page.locator("#dup-nearest-plot svg")).to_be_visible()  # the histogram
        expect_legend(page, "dup-nearest-plot", ["below", "at or above"])
        assert studio.stats(TASK)["duplicates"] == 0

        slider = page.locator("#dup-threshold input[type=number]")
        slider.fill("0.999")
        slider.press("Enter")
        page.locator("#btn-dedupe-dry").click()
        expect(note).to_contain_text("Would mark 1 of 5 rows")  # only the exact copy

        slider.fill("0.95")
        slider.press("Enter")
        page.locator("#btn-dedupe").click()
        expect(note).to_contain_text("Marked 2 of 5 rows as duplicates")
        expect(page.locator("#studio-header")).to_contain_text("2 duplicates")
        assert studio.get(para)["duplicate_of"] == a

        page.locator("#dup-clusters .virtual-row").first.click()  # open the cluster
        members = page.locator("#dup-members .virtual-row")
        expect(members).to_have_count(3)
        expect(members.first).to_contain_text("canonical")
        members.filter(has_text="lengthy debate").click()  # pick the paraphrase
        expect(page.locator("#dup-picked textarea")).to_have_value(str(para))
        page.locator("#btn-canonical").click()
        expect(page.get_by_text(f"#{para} is now the canonical row")).to_be_visible()
        expect(members.first).to_contain_text("lengthy debate")
    assert studio.get(para)["duplicate_of"] is None
    assert {studio.get(a)["duplicate_of"], studio.get(exact)["duplicate_of"]} == {para}
    assert studio.get(a)["status"] == "pending"  # statuses never change


def test_review_tab_finds_similar_rows_and_shows_duplicate_status(planted, studio, page):
    from playwright.sync_api import expect

    a, exact, para, _, _ = planted
    studio.dedupe(task=TASK)
    badge = page.locator("#review-badge")
    with running_app(studio) as url:
        open_tab(page, url, "Review")
        expect(badge).to_contain_text(f"#{a} · pending")
        expect(badge).to_contain_text("Canonical row")
        page.keyboard.press("f")  # find similar with the key
        table = page.locator("#similar-table")
        expect(table.locator(".virtual-row")).to_have_count(4)
        expect(table.locator(".virtual-row").first).to_contain_text(str(exact))

        table.locator(".virtual-row").filter(has_text="lengthy debate").click()  # open a neighbour
        expect(badge).to_contain_text(f"#{para} ·")
        expect(badge).to_contain_text(f"Duplicate of #{a}")
        expect(badge).to_contain_text("semantic, cosine 0.9")
        page.locator("#btn-open-dup").click()
        expect(badge).to_contain_text(f"#{a} · pending")
