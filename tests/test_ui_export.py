"""The Export tab in a real browser: preview, the exact rows and the card, export, push."""

from dataclasses import replace

import pytest

from ui_helpers import open_tab, running_app

pytestmark = pytest.mark.browser
TASK = "tweet-summary"
TOKEN = "hf_typedINtheBROWSERsession77"


def test_preview_export_and_push_from_the_export_tab(studio, minilm, filled, hub, page,
                                                     tmp_path):
    from playwright.sync_api import expect

    studio.use_encoder(minilm)
    studio.settings = replace(studio.settings, hub_endpoint=hub.url)
    folder = tmp_path / "exported"
    with running_app(studio) as url:
        open_tab(page, url, "Export")
        expect(page.locator("#export-dir textarea")).to_have_value(f"exports/{TASK}")
        page.locator("#btn-export").click()  # nothing previewed yet
        expect(page.get_by_text("Preview first")).to_be_visible()
        page.locator("#btn-export-preview").click()
        counts = page.locator("#export-counts")
        expect(counts).to_contain_text("99 rows leave: train 79 · validation 10 · test 10")
        expect(counts).to_contain_text("45 input-only")
        checks = page.locator("#export-checks")
        expect(checks).to_contain_text("Leakage: 0 pairs")
        expect(checks).to_contain_text("2 e-mail addresses, 1 phone number, 5 @handles")
        expect(checks).to_contain_text("masked in 5 rows")
        expect(page.locator("#export-rows .virtual-row")).to_have_count(10)  # the test split
        expect(page.locator("#export-card")).to_contain_text("A supervised fine-tuning set of 99")
        expect(page.locator("#export-card-yaml")).to_contain_text("license: apache-2.0")

        # an option changed after the preview: the export refuses rather than write unseen rows
        page.locator("#export-pii label", has_text="drop").click()
        page.locator("#export-dir textarea").fill(str(folder))
        page.locator("#btn-export").click()
        expect(page.get_by_text("changed since the preview")).to_be_visible()
        assert not folder.exists()
        page.locator("#btn-export-preview").click()
        expect(checks).to_contain_text("5 rows dropped")
        expect(counts).to_contain_text("94 rows leave")
        page.locator("#btn-export").click()
        expect(page.locator("#export-result")).to_contain_text("Wrote 94 rows")
        expect(page.locator("#export-result")).to_contain_text("data/train-00000-of-00001.parquet")
        assert (folder / "README.md").is_file()

        page.locator("#push-repo textarea").fill("alice/tweets")
        page.locator("#btn-push-dry").click()
        expect(page.locator("#push-result")).to_contain_text("Would push 4 files")
        assert not hub.requests
        page.locator("#push-token input").fill(TOKEN)
        page.locator("#btn-push").click()
        expect(page.locator("#push-result")).to_contain_text("Pushed 4 files (private)")
    repo = hub.repos["alice/tweets"]
    assert repo["private"] and repo["files"]["README.md"] == (folder / "README.md").read_bytes()
    assert {r["authorization"] for r in hub.requests} == {f"Bearer {TOKEN}"}
    studio.store.close()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
