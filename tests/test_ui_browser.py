"""The app in a real browser: Debian's chromium driven by Playwright, against the app on loopback.
Every wait is on what the page shows (Playwright's retrying assertions), never a sleep."""

import pytest

from helpers import REVIEW_ROWS, write_jsonl
from ui_helpers import running_app, upload

pytestmark = pytest.mark.browser


@pytest.fixture
def loaded(studio, tmp_path):
    studio.import_file(write_jsonl(tmp_path / "rows.jsonl", REVIEW_ROWS))
    return studio


def test_review_with_keys_buttons_edit_undo_and_bulk(loaded, page):
    from playwright.sync_api import expect

    badge = page.locator("#review-badge")
    output = page.locator("#review-output textarea")
    with running_app(loaded) as url:
        page.goto(url)
        page.get_by_role("tab", name="Review").click()
        expect(badge).to_contain_text("#1 · pending")
        expect(page.get_by_text("Keys: A approve")).to_be_visible()

        page.keyboard.press("a")  # approve with the key
        expect(badge).to_contain_text("#2 · pending")
        assert loaded.get(1)["status"] == "approved"

        page.locator("#btn-reject").click()  # reject with the button
        expect(badge).to_contain_text("#3 · pending")
        assert loaded.get(2)["status"] == "rejected"

        page.keyboard.press("e")  # edit: E focuses the output box
        expect(output).to_be_focused()
        output.fill("cats nap all afternoon")
        page.keyboard.press("a")  # typing: keys do nothing
        expect(output).to_have_value("cats nap all afternoona")
        output.fill("cats nap all afternoon")
        page.keyboard.press("Control+Enter")
        expect(page.get_by_text("Saved #3")).to_be_visible()
        assert loaded.get(3)["output"] == "cats nap all afternoon"
        assert loaded.get(3)["status"] == "pending"

        page.keyboard.press("u")  # undo the edit
        expect(page.get_by_text("Undid edit")).to_be_visible()
        expect(output).to_have_value("cats nap")
        assert loaded.get(3)["output"] == "cats nap"

        # Bulk reject everything matching a text filter, with the count confirmed first.
        text = page.locator("#review-text textarea")
        text.fill("radar")  # 'a' and 'r' typed into a box must not approve or reject
        text.press("Enter")
        expect(badge).to_contain_text("#4 · pending")
        expect(badge).to_contain_text("1 of 2 in this queue")
        page.get_by_text("Bulk: act on everything in this queue").click()
        page.locator("#btn-bulk-reject").click()
        expect(page.locator("#bulk-confirm-msg")).to_contain_text("Reject 2 examples")
        page.locator("#btn-bulk-confirm").click()
        expect(page.get_by_text("reject: 2 changed")).to_be_visible()
        expect(badge).to_contain_text("The queue is empty")

        # An input-only row says it needs an output, and approving it is refused.
        page.locator("#review-id input").fill("6")
        page.locator("#review-id input").press("Enter")
        expect(badge).to_contain_text("Needs an output")
        page.locator("#btn-approve").click()
        expect(page.get_by_text("has no output yet")).to_be_visible()
        # a toast, with advice the app can follow; the card is left as it was
        expect(page.get_by_text("write one and save it")).to_be_visible()
        expect(badge).to_contain_text("Needs an output")
        expect(page.locator("#review-input textarea")).to_have_value(
            "a messy tweet with no summary")
        expect(page.locator("#review-card .error")).to_have_count(0)

    assert [loaded.get(i)["status"] for i in range(1, 7)] == [
        "approved", "rejected", "pending", "rejected", "rejected", "pending"]
    audit = [(a["example_id"], a["action"]) for a in loaded.history()]
    assert audit == [(1, "approve"), (2, "reject"), (3, "edit"), (3, "undo"),
                     (4, "reject"), (5, "reject")]
    assert all(a["reviewer"] == "tester" for a in loaded.history())


def test_data_tab_pages_filters_and_imports(studio, page, tmp_path):
    from playwright.sync_api import expect

    studio.import_file(write_jsonl(tmp_path / "many.jsonl", [
        {"input": f"row number {i}", "output": f"out {i}"} for i in range(1, 121)]))
    good = write_jsonl(tmp_path / "good.jsonl", [{"input": "fresh one", "output": "x"},
                                                 {"input": "fresh two"}])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": "fine"}\n{"input": 12}\n')
    info = page.locator("#data-info")
    with running_app(studio) as url:
        page.goto(url)
        expect(info).to_contain_text("Rows 1–50 of 120")
        page.locator("#data-next").click()
        expect(info).to_contain_text("Rows 51–100 of 120 · page 2 of 3")
        expect(page.locator("#data-table")).to_contain_text("row number 51")
        search = page.get_by_label("Text contains (Enter to search)")
        search.fill("number 7")
        search.press("Enter")
        expect(info).to_contain_text("of 11")  # 7 and 70-79

        page.get_by_text("Import a file").click()
        upload(page, bad)
        page.locator("#btn-import").click()
        # the message names the file picked, never the server's temporary copy of it
        toast = page.get_by_text("bad.jsonl:2: 'input' must be text, got a number")
        expect(toast).to_have_text("bad.jsonl:2: 'input' must be text, got a number")
        assert studio.stats()["total"] == 120

        page.locator("#import-file button[aria-label='Clear']").click()
        upload(page, good)
        page.locator("#btn-import").click()
        expect(page.locator("#import-result")).to_contain_text(
            "Imported 2 rows into task tweet-summary from good.jsonl")
        expect(page.locator("#studio-header")).to_contain_text("122 examples")
    assert studio.stats()["input_only"] == 1


def test_data_tab_deletes_a_filter_after_the_count_and_one_click_puts_it_back(studio, page):
    from playwright.sync_api import expect

    studio.import_samples()
    before = studio.list(limit=10_000)["rows"]
    total = studio.stats("tweet-summary")["total"]  # the header counts the current task
    msg = page.locator("#delete-msg")
    with running_app(studio) as url:
        page.goto(url)
        expect(page.locator("#studio-header")).to_contain_text(f"{total} examples")
        search = page.get_by_label("Text contains (Enter to search)")
        search.fill("the")
        search.press("Enter")
        n = studio.list(task="tweet-summary", text="the", limit=0)["total"]
        expect(page.locator("#data-info")).to_contain_text(f"of **{n}**".replace("**", ""))
        page.locator("#btn-ask-delete").click()  # the count first: nothing deleted yet
        expect(msg).to_contain_text(f"{n} rows match this filter")
        assert len(studio.list(limit=10_000)["rows"]) == len(before)
        page.locator("#btn-confirm-delete").click()
        expect(msg).to_contain_text(f"Deleted {n} rows")
        expect(page.locator("#studio-header")).to_contain_text(f"{total - n} examples")
        assert studio.stats("sentiment")["total"] == 16  # other tasks' rows are not touched
        page.locator("#btn-undo-delete").click()
        expect(msg).to_contain_text(f"Put back {n} rows")
        expect(page.locator("#studio-header")).to_contain_text(f"{total} examples")
        expect(page.locator("#btn-undo-delete")).to_be_hidden()
    assert studio.list(limit=10_000)["rows"] == before


def test_login_is_required_and_names_the_reviewer(studio, page, tmp_path):
    from playwright.sync_api import expect

    studio.import_file(write_jsonl(tmp_path / "r.jsonl", [{"input": "t", "output": "s"}]))
    with running_app(studio, auth=[("ann", "s3cret")]) as url:
        page.goto(url)
        page.get_by_label("username").fill("ann")
        page.get_by_label("password").fill("wrong")
        page.get_by_role("button", name="Login").click()
        expect(page.get_by_text("Incorrect Credentials")).to_be_visible()
        page.get_by_label("username").fill("ann")  # the form clears after a failure
        page.get_by_label("password").fill("s3cret")
        page.get_by_role("button", name="Login").click()
        page.get_by_role("tab", name="Review").click()
        expect(page.locator("#review-badge")).to_contain_text("#1 · pending")
        page.keyboard.press("a")
        expect(page.locator("#review-badge")).to_contain_text("The queue is empty")
    assert [(a["reviewer"], a["action"]) for a in studio.history()] == [("ann", "approve")]
