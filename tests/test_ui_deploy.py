"""The Deploy tab in a real browser, on a tiny model trained for real: export to GGUF (the
commands shown), serve it (llama.cpp on the GGUF), ask it, hand it to Generate as the teacher,
stop it."""

import json
import re

import pytest

from ui_helpers import open_tab, running_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_export_serve_ask_use_as_teacher_and_stop(studio, tiny, cli, page):
    pytest.importorskip("llama_cpp")
    from playwright.sync_api import expect

    code, out, err = cli("train", "--model", tiny, "--max-steps", 4, "--json")
    assert code == 0, err
    run = json.loads(out)
    with running_app(studio) as url:
        open_tab(page, url, "Deploy")
        expect(page.locator("#deploy-run input")).to_have_value(re.compile(r"^#1 tiny"))
        page.locator("#btn-export-model").click()
        result = page.locator("#deploy-result")
        expect(result).to_contain_text("Exported run 1 as gguf (q8_0)", timeout=180_000)
        expect(result).to_contain_text("llama-server -m")
        expect(page.locator("#deploy-exports .virtual-row")).to_have_count(1)
        exported = studio.model_exports(run["id"])
        assert len(exported) == 1 and exported[0]["gguf"].endswith(".gguf")

        page.locator("#btn-serve").click()
        status = page.locator("#deploy-status")
        expect(status).to_contain_text("Serving run 1 (llama.cpp)", timeout=120_000)
        served = studio.serving_now()
        assert [s["run"] for s in served] == [run["id"]]

        page.locator("#deploy-question textarea").fill("the 42 bus was late again")
        page.locator("#btn-deploy-ask").click()
        expect(page.locator("#deploy-answer textarea")).to_have_value(re.compile(r".+"),
                                                                     timeout=60_000)

        page.locator("#btn-use-teacher").click()
        expect(page.locator("#gen-urls textarea")).to_have_value(served[0]["url"])
        expect(page.locator("#gen-model textarea")).to_have_value(served[0]["model"])
        page.get_by_role("tab", name="Evaluate").click()
        expect(page.locator("#eval-judge-url textarea")).to_have_value(served[0]["url"])

        page.get_by_role("tab", name="Deploy").click()
        page.locator("#btn-serve-stop").click()
        expect(status).to_contain_text("Nothing served from here now.")
        assert studio.serving_now() == []
