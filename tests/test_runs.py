"""Training runs from the studio: the approved rows exported into a run folder, the trainer as a
real subprocess on a tiny model, its metrics folded into the store, and the CLI verbs."""

import json
import os
import signal
import time
from pathlib import Path

import pytest

from studio.training.service import PUBLIC

pytestmark = pytest.mark.slow
TASK = "tweet-summary"


def _events(run_dir) -> list[dict]:
    return [json.loads(x) for x in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]


def _until(studio, run_id, check, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = studio.run(run_id)
        if check(run):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never got there: {studio.run(run_id)}")


def test_train_from_the_cli_records_the_run_and_pushes_the_adapter(studio, tiny, cli, hub,
                                                                   monkeypatch):
    code, out, err = cli("train", "--model", tiny, "--max-steps", 6, "--set", "eval_steps=3",
                         "--json")
    assert code == 0, err
    run = json.loads(out)
    assert list(run) == list(PUBLIC) and run["status"] == "completed"
    assert run["step"] == run["max_steps"] == 6 and run["train_loss"] > 0 and run["eval_loss"] > 0
    assert set(run["eval"]) == {"metric", "base", "tuned", "delta", "n"}
    assert run["eval"]["metric"] == "rougeL" and run["eval"]["n"] > 0
    run_dir = Path(run["run_dir"])
    assert (run_dir / "dataset" / "data" / "train.jsonl").exists()
    assert Path(run["adapter_path"], "adapter_model.safetensors").exists()
    config = (run_dir / "config.toml").read_text()
    export = studio.exports()[0]
    assert f"export_id = {export['id']}" in config and export["out_dir"] == str(run_dir / "dataset")

    code, out, _ = cli("runs", "--json")
    assert json.loads(out) == {"runs": [run]}
    metrics = studio.run_metrics(run["id"])
    assert [m["step"] for m in metrics if m["loss"] is not None] == list(range(1, 7))
    assert [m["step"] for m in metrics if m["eval_loss"] is not None] == [3, 6]

    code, out, _ = cli("eval", run["id"], "--json")
    ev = json.loads(out)
    assert ev["tuned"] == run["eval"]["tuned"] and len(ev["rows"]) == run["eval"]["n"]
    code, out, _ = cli("eval", run["id"])
    assert code == 0 and "worst first" in out and "reference:" in out
    assert not (run_dir / "eval.log").exists()  # shown from eval.json, not computed again
    code, out, err = cli("eval", run["id"], "--again", "--json")
    assert code == 0, err
    assert json.loads(out)["rows"] == ev["rows"]  # greedy decoding: the same answers
    assert "eval: completed" in (run_dir / "eval.log").read_text()
    assert studio.runs()[0]["status"] == "completed"  # the eval-only end event changes nothing

    code, out, _ = cli("push-model", run["id"], "alice/copy-lora", "--dry-run")
    assert code == 0 and "adapter_model.safetensors" in out and not hub.requests
    monkeypatch.setenv("HF_TOKEN", "hf_TESTmodelTOKEN123456")
    from dataclasses import replace

    studio.settings = replace(studio.settings, hub_endpoint=hub.url)
    sent = studio.push_model(run["id"], "alice/copy-lora")
    repo = hub.repos["alice/copy-lora"]
    assert repo["type"] == "model" and repo["private"] is True and sent["url"]
    assert {"adapter_model.safetensors", "adapter_config.json", "README.md"} <= set(repo["files"])
    assert not any(p.startswith("checkpoints") for p in repo["files"])
    assert b"hf_TEST" not in b"".join(repo["files"].values())


def test_killed_cancelled_and_resumed_runs(studio, tiny, cli):
    """kill -9 leaves an interrupted run; cancel (SIGTERM) saves a checkpoint and stops; resume
    goes on from that checkpoint's step."""
    slow = {"save_steps": 10000, "eval_steps": 10000, "logging_steps": 1}
    run = studio.train(model=str(tiny), max_steps=5000, settings=slow, detach=True)
    assert run["status"] == "running"
    _until(studio, run["id"], lambda r: (r["step"] or 0) >= 1)
    os.killpg(run["pid"], signal.SIGKILL)
    run = _until(studio, run["id"], lambda r: r["status"] != "running")
    assert run["status"] == "interrupted" and "gone" in run["error"]

    run = studio.resume_run(run["id"], detach=True)
    _until(studio, run["id"], lambda r: (r["step"] or 0) >= 3)
    run = studio.cancel_run(run["id"])
    assert run["status"] == "cancelled", run
    run_dir = Path(run["run_dir"])
    stopped = [e for e in _events(run_dir) if e["event"] == "end"][-1]
    assert stopped["status"] == "stopped" and stopped["signal"] == "SIGTERM"
    step = stopped["step"]
    assert (run_dir / "checkpoints" / f"checkpoint-{step}").is_dir()
    assert "Traceback" not in (run_dir / "train.log").read_text()
    code, _, err = cli("cancel-run", run["id"])
    assert code == 1 and "already ended (cancelled)" in err

    code, out, err = cli("train", "--resume", run["id"], "--max-steps", step + 4, "--json")
    assert code == 0, err
    done = json.loads(out)
    assert done["status"] == "completed" and done["step"] == step + 4
    assert f"max_steps = {step + 4}" in (run_dir / "config.toml").read_text()
    events = _events(run_dir)
    start = [e for e in events if e["event"] == "start"][-1]
    assert start["step"] == step and start["resumed"] is True
    after = [e["step"] for e in events[events.index(start):] if e["event"] == "log"
             and "loss" in e]
    assert after == list(range(step + 1, step + 5))
    code, _, err = cli("train", "--resume", run["id"])
    assert code == 1 and "only a failed, cancelled or interrupted run" in err


def test_a_crash_is_failed_with_the_log_tail(studio, tiny, cli):
    (tiny / "model.safetensors").write_bytes(b"\x00" * 64)
    code, _, err = cli("train", "--model", tiny, "--max-steps", 2)
    assert code == 6 and "failed" in err, err
    assert "log tail" in err and "Traceback" in err, err
    code, out, _ = cli("runs", "--json")
    (run,) = json.loads(out)["runs"]
    assert run["status"] == "failed" and "Error" in run["error"]


def test_nothing_to_train_leaves_no_run(studio, cli, tmp_path):
    studio.import_samples()
    code, _, err = cli("train", "--model", tmp_path, "--max-steps", 1)
    assert code == 1 and "nothing to export" in err
    assert studio.runs() == [] and not any((tmp_path / "runs").glob("*"))
    code, _, err = cli("train", "--set", "lora_r=0")
    assert code == 1 and "lora_r must be a whole number" in err


def test_learning_curve(studio, tiny, cli):
    """Nested sizes with their seeds, the fitted law, and the plain answer."""
    import re

    code, out, err = cli("learning-curve", "--model", tiny, "--max-steps", 3, "--points", 3,
                         "--seeds", 2, "--target", 0.9, "--json")
    assert code == 0, err
    curve = json.loads(out)["curve"]
    sizes = sorted({p["n_train"] for p in curve["points"]})
    assert len(sizes) == 3 and len(curve["points"]) == 6
    assert len({p["seed"] for p in curve["points"]}) == 2
    assert curve["metric"] == "rougeL" and curve["base"] is not None and curve["n"] > 0
    assert curve["target"] == 0.9 and set(curve["needed_for_target"]) >= {"n", "ci", "reachable"}
    assert curve["fit"]["law"] == "a - b * n^-c" and isinstance(curve["flat"], bool)
    assert curve["answer"] and (str(sizes[-1]) in curve["answer"] or "0.9" in curve["answer"]
                                or "flat" in curve["answer"] or "levels off" in curve["answer"])
    run = studio.runs()[0]
    assert run["kind"] == "curve" and run["curve"]["points"] == curve["points"]
    parts = {m["part"] for m in studio.run_metrics(run["id"])}
    assert len(parts) == 6 and all(re.fullmatch(r"n\d{4}-s\d+", p) for p in parts)


def test_a_model_this_machine_lacks_is_refused_at_once_when_offline(filled, studio, cli,
                                                                     monkeypatch, tmp_path):
    """Availability comes from the Hub cache or a folder, never from a download attempt; with
    the Hub out of reach a missing model is refused before any run exists."""
    from studio.training.models import TINY_DEMO, availability, label

    missing = "sft-studio-tests/never-published-model"  # cached on no machine
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert availability(missing)["available"] is False
    assert label(missing) == f"{missing} (not cached here)"
    assert availability(TINY_DEMO)["available"] is True
    assert availability(str(tmp_path))["where"] == "a local folder without config.json"
    code, _, err = cli("train", "--model", missing, "--max-steps", 1)
    assert code == 1 and "is not cached here and the Hugging Face Hub cannot be reached" in err
    assert "tiny demo model" in err and studio.runs() == []
