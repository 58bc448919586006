"""Start the real app on loopback and drive it with Playwright in Debian's chromium."""

import contextlib
import re
import os
import shutil
import socket

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(studio, auth=None):
    """Serve build_app over `studio` on a free loopback port; yield its URL."""
    from studio.ui import build_app, serve

    demo = build_app(studio.settings, studio)
    port = free_port()
    serve(demo, host="127.0.0.1", port=port, auth=auth, block=False, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):  # CI installs it: a missing browser there is a failure
            pytest.fail(f"{CHROMIUM} is missing; .ci/run should have installed it")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()


def pick(page, elem_id: str, option: str) -> None:
    """Choose an option of a gr.Dropdown: open its combobox, click the option."""
    page.locator(f"#{elem_id} input[role=combobox]").click()
    page.get_by_role("option", name=option, exact=True).click()


def open_tab(page, url: str, name: str) -> None:
    """Load the app and switch to one of its tabs."""
    page.goto(url)
    page.get_by_role("tab", name=name).click()


def settled(page) -> None:
    """Wait until no event of the page is queued or running (Gradio shows "queue: N" or
    "processing" on each output it is updating). A key pressed or a field typed while the
    handlers of a tab just opened are still running can be lost: a button's event does not
    start twice, and a section drawn again takes the old value back."""
    from playwright.sync_api import expect

    expect(page.get_by_text(re.compile(r"^\s*(processing|queue: \d)"))).to_have_count(0)


def retype(box, old: str, new: str, tries: int = 5) -> None:
    """Replace a box's text once it shows `old`, then check that it took. A section that has
    just opened can draw its fields again a moment later (seen on a loaded machine: the new
    field shows `old` and what was typed is lost), so the text is typed again, a few times at
    most, until the field keeps it."""
    from playwright.sync_api import expect

    expect(box).to_have_value(old)
    for _ in range(tries - 1):
        box.fill(new)
        box.press("Tab")
        try:
            expect(box).to_have_value(new, timeout=3000)
            return
        except AssertionError:
            continue
    box.fill(new)
    box.press("Tab")
    expect(box).to_have_value(new)


def expect_legend(page, elem_id: str, entries: list[str]) -> None:
    """Wait until the chart's legend names exactly `entries`, in order, each shown, and each
    drawn in the chart (a line, a point or a bar of that series, which may be 0 high)."""
    from playwright.sync_api import expect

    keys = page.locator(f"#{elem_id} .chart-legend li")
    expect(keys).to_have_text(entries)
    for k, name in enumerate(entries):
        expect(keys.nth(k)).to_be_visible()
        expect(page.locator(f'#{elem_id} svg [data-series="{name}"]')).not_to_have_count(0)


def upload(page, path):
    """Choose a file the way a person does: click the drop zone, pick in the file chooser."""
    with page.expect_file_chooser() as chooser:
        page.locator("#import-file button.upload-container").click()
    chooser.value.set_files(str(path))
    from playwright.sync_api import expect

    # the file's link, by its name (the name's text can be drawn "stem .ext", split in two)
    expect(page.locator(f'#import-file a[href$="/{path.name}"]')).to_have_count(1)
