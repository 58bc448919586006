"""The Generate tab in a real browser, against the loopback teacher server."""

import pytest

from teacher_server import TeacherServer
from ui_helpers import running_app

pytestmark = pytest.mark.browser


def test_generate_tab_runs_a_job_and_shows_rows_arriving(studio, page):
    from playwright.sync_api import expect

    studio.import_samples()
    status = page.locator("#gen-status")
    with TeacherServer(latency=0.2) as srv, running_app(studio) as url:
        page.goto(url)
        page.get_by_role("tab", name="Generate").click()
        page.locator("#gen-urls textarea").fill(srv.url)
        page.locator("#gen-model textarea").fill("teacher-test")
        page.locator("#btn-test-connection").click()
        expect(page.locator("#gen-connection")).to_contain_text("answered in")

        page.locator("#gen-count input").fill("12")
        page.locator("#btn-generate").click()
        expect(status).to_contain_text("Job 1 · running")  # live, while the rows come in
        expect(status).to_contain_text("Job 1 · completed")
        expect(status).to_contain_text("12 of 12 done · 0 failed")
        expect(page.locator("#gen-newest")).to_contain_text("new post")
        expect(page.locator("#studio-header")).to_contain_text("12 teacher")
        assert studio.stats("tweet-summary")["by_source"]["teacher"] == 12
        assert srv.requests == 24 + 1  # two per example, and the connection test


def test_generate_tab_says_what_is_wrong(studio, page):
    from playwright.sync_api import expect

    with running_app(studio) as url:
        page.goto(url)
        page.get_by_role("tab", name="Generate").click()
        page.locator("#gen-urls textarea").fill("http://127.0.0.1:9/v1")
        page.locator("#gen-model textarea").fill("teacher-test")
        page.locator("#btn-test-connection").click()
        expect(page.locator("#gen-connection")).to_contain_text("APIConnectionError")
        page.locator("#btn-generate").click()  # the store has no seeds yet
        expect(page.get_by_text("has no example with an output to use as a seed")).to_be_visible()
