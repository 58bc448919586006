"""Make the README's screenshots: the app on the sample data, in Debian's chromium."""

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import expect, sync_playwright  # noqa: E402
from ui_helpers import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402

from studio import Studio  # noqa: E402


def main():
    with tempfile.TemporaryDirectory() as d, Studio.open(Path(d) / "studio.duckdb") as s:
        s.import_samples()
        for eid in (1, 2, 4):
            s.review(eid, "approve")
        s.review(3, "reject")
        with running_app(s) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(url)
            expect(page.locator("#data-info")).to_contain_text("of", timeout=30_000)
            page.screenshot(path=str(ROOT / "docs" / "data-tab.png"))
            page.get_by_role("tab", name="Review").click()
            expect(page.locator("#review-badge")).to_contain_text("#5", timeout=30_000)
            page.screenshot(path=str(ROOT / "docs" / "review-tab.png"))
            browser.close()
    print("wrote docs/data-tab.png and docs/review-tab.png")


if __name__ == "__main__":
    main()
