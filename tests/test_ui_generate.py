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
        cancel = page.locator("#btn-gen-cancel")
        expect(cancel).to_be_hidden()  # no job yet: nothing to cancel
        page.locator("#btn-generate").click()
        expect(cancel).to_be_visible()
        expect(status).to_contain_text("Job 1 · running")  # live, while the rows come in
        expect(status).to_contain_text("Job 1 · completed")
        expect(cancel).to_be_hidden()
        expect(status).to_contain_text("12 of 12 done · 0 failed")
        expect(page.locator("#gen-newest")).to_contain_text("new post")
        expect(page.locator("#studio-header")).to_contain_text("12 teacher")
        assert studio.stats("tweet-summary")["by_source"]["teacher"] == 12
        # two per example, and the connection test's two (an answer, then the structured probe)
        assert srv.requests == 24 + 2


def test_generate_tab_on_a_real_llama_cpp_server_labels_the_users_own_import(
        studio, page, llama_server, tmp_path):
    """A newcomer's path: their own 22 tweets imported on top of the samples, a real llama.cpp
    server, default settings: Test connection finds the structured output it takes, the tab says
    what will be labelled before the job starts, and every one of their rows gets an output."""
    from playwright.sync_api import expect

    from helpers import write_jsonl

    studio.import_samples()
    own = write_jsonl(tmp_path / "my_tweets.jsonl",
                      [{"input": f"stuck on the 42 bus again lol #{i}"} for i in range(22)])
    studio.import_file(own, task="tweet-summary")
    with running_app(studio) as url:
        page.goto(url)
        page.get_by_role("tab", name="Generate").click()
        page.locator("#gen-urls textarea").fill(llama_server.url)
        page.locator("#gen-model textarea").fill("teacher-test")
        page.locator("#btn-test-connection").click()
        expect(page.locator("#gen-connection")).to_contain_text(
            "structured output: json_object+schema")
        page.get_by_role("radio", name="outputs").check()
        expect(page.locator("#gen-plan")).to_contain_text("input-only rows of tweet-summary")
        page.locator("#gen-label-from input").click()
        page.get_by_role("option", name="imported from my_tweets.jsonl (22)").click()
        expect(page.locator("#gen-plan")).to_contain_text(
            "Will label 22 input-only rows of tweet-summary imported from my_tweets.jsonl")
        page.locator("#btn-generate").click()
        status = page.locator("#gen-status")
        expect(status).to_contain_text("completed")
        expect(status).to_contain_text("22 of 22 done · 0 failed")
    mine = studio.list(task="tweet-summary", text="stuck on the 42 bus", limit=50)["rows"]
    assert len(mine) == 22 and all(r["output"] for r in mine)
    assert studio.stats("tweet-summary")["input_only"] > 0  # the samples' rows were not asked


def test_generate_tab_says_what_is_wrong(studio, page):
    """A dead endpoint: Test connection says so; a job on an empty store is refused with the
    reason; a job on the samples stops as failed after a short probe, and the progress line and
    the jobs table say why; the page stays usable."""
    from playwright.sync_api import expect

    with running_app(studio) as url:
        page.goto(url)
        page.get_by_role("tab", name="Generate").click()
        page.locator("#gen-urls textarea").fill("http://127.0.0.1:9/v1")
        page.locator("#gen-model textarea").fill("teacher-test")
        page.locator("#btn-test-connection").click()
        expect(page.locator("#gen-connection")).to_contain_text(
            "Failed http://127.0.0.1:9/v1: cannot connect")
        page.locator("#btn-generate").click()  # the store has no seeds yet
        expect(page.get_by_text("has no example with an output to use as a seed")).to_be_visible()
        studio.import_samples()
        page.locator("#btn-generate").click()
        status = page.locator("#gen-status")
        expect(status).to_contain_text("failed")
        expect(status).to_contain_text("Stopped because: cannot connect to http://127.0.0.1:9/v1")
        page.get_by_text("Jobs", exact=True).click()
        expect(page.locator("#gen-jobs")).to_contain_text("no answer in 3 tries")
        page.locator("#gen-count input").fill("3")  # still usable
        expect(page.locator("#gen-count input")).to_have_value("3")
