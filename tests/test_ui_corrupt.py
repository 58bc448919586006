"""The Corrupt tab in a real browser: fit, preview with highlights, realism report, store."""

import json

import pytest

from ui_helpers import expect_legend, open_tab, retype, running_app, settled

pytestmark = pytest.mark.browser


def test_corrupt_tab_fits_previews_compares_and_stores(studio, page):
    from playwright.sync_api import expect

    studio.import_samples()
    with running_app(studio) as url:
        page.goto(url)
        # the page's load events (header, tabs' refreshes) end before any field is typed in
        expect(page.locator("#studio-header")).to_contain_text("examples")
        page.get_by_role("tab", name="Corrupt").click()
        expect(page.locator("#cor-profile input")).to_have_value("tweet")
        page.get_by_text("Fit a profile on real messy texts").click()
        retype(page.locator("#cor-fit-name textarea"), "fitted", "my-tweets")
        page.locator("#btn-fit").click()  # on the sample's 59 real messy tweets and drafts
        expect(page.locator("#cor-fit-note")).to_contain_text("Fitted my-tweets")
        expect(page.locator("#cor-profile input")).to_have_value("my-tweets")
        assert studio.store.get_noise_profile("my-tweets")["fitted"]["texts"] == 59

        page.get_by_text("Rates", exact=True).click()
        unchanged = page.locator("#rate-unchanged input[type=number]")
        expect(unchanged).not_to_have_value("0")
        settled(page)  # the fitted profile's rates are drawn: typing now is not drawn over
        unchanged.fill("0")  # every row changes
        unchanged.press("Enter")
        settled(page)
        expect(unchanged).to_have_value("0")
        page.locator("#btn-cor-preview").click()
        expect(page.locator("#cor-preview-table mark").first).to_be_visible()
        expect(page.locator("#cor-verdict")).to_contain_text("Classifier AUC")
        expect(page.locator("#cor-verdict")).to_contain_text("What tells them apart")
        expect(page.locator("#cor-table")).to_contain_text("mean CER")
        for plot in ("cor-measures-plot", "cor-mix-plot", "cor-cer-plot"):
            expect_legend(page, plot, ["real", "synthetic"])

        page.locator("#cor-variants input").fill("2")
        page.locator("#btn-corrupt").click()  # the count first: nothing is written yet
        expect(page.locator("#cor-result")).to_contain_text("This stores")
        assert studio.stats("tweet-summary")["by_source"]["corrupted"] == 0
        page.locator("#btn-cor-confirm").click()
        expect(page.locator("#cor-result")).to_contain_text("Stored")
        rows = studio.list(task="tweet-summary", source="corrupted", limit=500)
        expect(page.locator("#studio-header")).to_contain_text(f"{rows['total']} corrupted")
        parents = {r["parent_id"] for r in rows["rows"]}
        assert all(studio.get(p)["input_style"] == "clean" for p in parents)
    assert rows["total"] > 66  # 66 clean rows, two copies each, a few identical
    r = rows["rows"][0]
    parent = studio.get(r["parent_id"])
    assert r["output"] == parent["output"] and r["input"] != parent["input"]
    assert r["status"] == "pending" and r["meta"]["seed"] in (0, 1)
    # the edited rates were saved under a name of their own, which the rows point to
    stored = studio.store.get_noise_profile(r["meta"]["profile"])
    assert r["meta"]["profile"].startswith("my-tweets@") and stored["unchanged"] == 0
    json.dumps(r["meta"]["ops"])


def test_one_click_undoes_a_corrupt_batch(studio, page):
    from playwright.sync_api import expect

    studio.import_samples()
    with running_app(studio) as url:
        open_tab(page, url, "Corrupt")
        # the tab has drawn its profile and no event is left to run: a click now is not lost
        expect(page.locator("#cor-profile input")).to_have_value("tweet")
        settled(page)
        page.locator("#btn-corrupt").click()
        expect(page.locator("#cor-result")).to_contain_text("This stores", timeout=60_000)
        page.locator("#btn-cor-confirm").click()
        expect(page.locator("#cor-result")).to_contain_text("Stored")
        assert studio.stats("tweet-summary")["by_source"]["corrupted"] > 0
        page.locator("#btn-cor-undo").click()
        expect(page.locator("#cor-result")).to_contain_text("Removed the batch")
        expect(page.locator("#studio-header")).to_contain_text("0 corrupted")
        expect(page.locator("#btn-cor-undo")).to_be_hidden()
    assert studio.stats("tweet-summary")["by_source"]["corrupted"] == 0


def test_the_rates_are_drawn_with_the_page_not_after_it(studio):
    """The sliders start at the default profile's rates: a click on Corrupt before the tab's
    refresh has run corrupts with them, not with zeros (which stored nothing)."""
    from generators.noise import BUILTIN_PROFILES
    from studio.ui import build_app

    demo = build_app(studio.settings, studio)
    rates = {b.elem_id: b.value for b in demo.blocks.values()
             if (b.elem_id or "").startswith("rate-")}
    tweet = BUILTIN_PROFILES["tweet"].rates()
    assert rates and rates == {f"rate-{k}": v for k, v in tweet.items()}
