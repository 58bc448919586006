"""The app without a browser: concurrent API clients, host and auth rules, a light first paint."""

import subprocess
import sys

import pytest

from helpers import ROOT, assert_status_chain, run_cli, run_together, write_jsonl
from studio.errors import BadInput, StudioError
from studio.ui.serve import check_host, is_loopback, load_auth
from ui_helpers import free_port, running_app


def test_four_gradio_clients_at_once_lose_no_update(studio, tmp_path):
    from gradio_client import Client

    rows = [{"input": f"tweet {i}", "output": f"summary {i}"} for i in range(6)]
    studio.import_file(write_jsonl(tmp_path / "r.jsonl", rows))
    ids = [r["id"] for r in studio.list()["rows"]]
    texts = {r["id"]: (r["input"], r["output"]) for r in studio.list()["rows"]}
    per_client = 25
    with running_app(studio) as url:
        clients = [Client(url, verbose=False) for _ in range(4)]

        def work(n):
            for i in range(per_client):
                eid = ids[(n + i) % len(ids)]
                action = "/approve" if (n + i) % 2 else "/reject"
                clients[n].predict(eid, *texts[eid], "tweet-summary", "any", "any", "",
                                   api_name=action)

        errors = run_together(work, 4)
    assert errors == []
    audit = studio.history()
    assert len(audit) == 4 * per_client
    assert {a["action"] for a in audit} == {"approve", "reject"}  # nothing was edited
    for eid in ids:
        assert_status_chain(studio, eid, audit)

@pytest.mark.parametrize("host,ok", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                     ("127.0.0.5", True), ("0.0.0.0", False),
                                     ("192.168.1.20", False), ("example.org", False)])
def test_loopback_hosts(host, ok):
    assert is_loopback(host) is ok


def test_non_loopback_host_needs_auth():
    with pytest.raises(StudioError, match="refusing to serve on 0.0.0.0 without authentication"):
        check_host("0.0.0.0", None)
    check_host("0.0.0.0", [("ann", "pw")])


def test_cli_refuses_network_host_without_auth(tmp_path):
    r = run_cli("--db", tmp_path / "s.duckdb", "ui", "--host", "0.0.0.0")
    assert r.returncode == 1
    assert "refusing to serve on 0.0.0.0" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("--db", tmp_path / "s.duckdb", "ui", env={"GRADIO_SERVER_NAME": "0.0.0.0"})
    assert r.returncode == 1 and "refusing to serve on 0.0.0.0" in r.stderr
    assert not (tmp_path / "s.duckdb").exists()  # refused before touching the store


def test_auth_from_env_and_file(tmp_path):
    f = tmp_path / "users.txt"
    f.write_text("# reviewers\nann:pw1\n\nbob:pw:with:colons\n")
    assert load_auth({"SFT_STUDIO_AUTH": "cid:x,dee:y"}, f) == [
        ("ann", "pw1"), ("bob", "pw:with:colons"), ("cid", "x"), ("dee", "y")]
    assert load_auth({}) is None
    with pytest.raises(BadInput, match="SFT_STUDIO_AUTH: expected user:password"):
        load_auth({"SFT_STUDIO_AUTH": "justaname"})
    f.write_text("ann\n")
    with pytest.raises(BadInput, match=r"users.txt:1: expected user:password"):
        load_auth({}, f)


def test_building_the_app_imports_no_heavy_library(tmp_path):
    code = (
        "import sys\nfrom studio import Studio\nfrom studio.ui import build_app\n"
        f"s = Studio.open({str(tmp_path / 'x.duckdb')!r})\nbuild_app(s.settings, s)\n"
        "print('HEAVY', [m for m in ('torch', 'transformers', 'sentence_transformers', 'trl', "
        "'peft') if m in sys.modules])\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert "HEAVY []" in r.stdout, r.stdout + r.stderr[-2000:]


def test_default_host_is_loopback_and_run_history_is_off(studio):
    from studio.ui import build_app, serve

    demo = build_app(studio.settings, studio)
    serve(demo, port=free_port(), block=False, quiet=True)
    try:
        assert demo.run_history is False and demo.server_name == "127.0.0.1"
    finally:
        demo.close()
