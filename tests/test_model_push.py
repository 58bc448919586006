"""Pushing a trained adapter folder as a model repo, through the real huggingface_hub client
against the loopback fake Hub (tests/hub_server.py)."""

import json

import pytest

from trainer.hub import PushError, push_model

TOKEN = "hf_TESTmodelTOKEN1234567890"
KEPT = ["README.md", "adapter_config.json", "adapter_model.safetensors"]


@pytest.fixture
def adapter(tmp_path):
    """An adapter folder as a run leaves it: the adapter, a card, a checkpoint and the log."""
    import torch
    from safetensors.torch import save_file

    folder = tmp_path / "run" / "adapter"
    (folder / "checkpoint-2").mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps(
        {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "base_model_name_or_path": "tiny"}))
    save_file({"base_model.model.layer.lora_A.weight": torch.ones(4, 8)},
              folder / "adapter_model.safetensors")
    (folder / "README.md").write_text("---\nlibrary_name: peft\n---\n# tiny adapter\n")
    (folder / "checkpoint-2" / "adapter_model.safetensors").write_bytes(b"old weights")
    (folder / "checkpoint-2" / "trainer_state.json").write_text("{}")
    (folder / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0}\n')
    (folder / "train.log").write_text("step 1\n")
    return folder


def test_push_makes_a_private_model_repo_without_checkpoints(adapter, hub, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    sent = push_model(adapter, "alice/tiny-lora", token=TOKEN, endpoint=hub.url)
    repo = hub.repos["alice/tiny-lora"]
    assert repo["type"] == "model" and repo["private"] is True
    assert repo["files"] == {name: (adapter / name).read_bytes() for name in KEPT}
    assert [f["path"] for f in sent["files"]] == KEPT
    assert sent["files"][2]["bytes"] == (adapter / "adapter_model.safetensors").stat().st_size
    assert {r["authorization"] for r in hub.requests} == {f"Bearer {TOKEN}"}
    create = next(r for r in hub.requests if r["path"] == "/api/repos/create")
    assert create["json"]["type"] == "model" and create["json"]["visibility"] == "private"
    assert sent["url"].rstrip("/").endswith("/alice/tiny-lora") and "/datasets/" not in sent["url"]
    assert "/alice/tiny-lora/commit/" in sent["commit_url"] and sent["private"] is True
    # again, public, with the token from the environment read at call time
    monkeypatch.setenv("HF_TOKEN", "hf_fromTHEenvironment99")
    push_model(adapter, "alice/open-lora", private=False, endpoint=hub.url)
    assert hub.repos["alice/open-lora"]["private"] is False
    assert hub.requests[-1]["authorization"] == "Bearer hf_fromTHEenvironment99"


def test_a_merged_model_folder_is_pushed_too(tmp_path, hub):
    folder = tmp_path / "merged"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "llama"}')
    (folder / "model.safetensors").write_bytes(b"\0" * 64)
    push_model(folder, "alice/merged", token=TOKEN, endpoint=hub.url)
    assert sorted(hub.repos["alice/merged"]["files"]) == ["config.json", "model.safetensors"]


def test_dry_run_lists_the_files_and_contacts_nothing(adapter, hub, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    dry = push_model(adapter, "alice/tiny-lora", endpoint=hub.url, dry_run=True)
    assert dry["dry_run"] is True and dry["private"] is True and dry["repo_id"] == "alice/tiny-lora"
    assert [f["path"] for f in dry["files"]] == KEPT and not hub.requests


def test_refusals_before_any_request(adapter, tmp_path, hub, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(PushError, match="no Hub token: set HF_TOKEN or pass one"):
        push_model(adapter, "alice/tiny-lora", endpoint=hub.url)
    monkeypatch.setenv("HF_TOKEN", "")
    with pytest.raises(PushError, match="HF_TOKEN"):
        push_model(adapter, "alice/tiny-lora", endpoint=hub.url)
    for bad in ("tiny-lora", "alice/", "a/b/c", "alice/../x", "alice/x y", ""):
        with pytest.raises(PushError, match="OWNER/NAME") as e:
            push_model(adapter, bad, token=TOKEN, endpoint=hub.url)
        assert repr(bad) in str(e.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.md").write_text("# nothing\n")
    with pytest.raises(PushError, match="adapter_config.json.*config.json"):
        push_model(empty, "alice/x", token=TOKEN, endpoint=hub.url)
    with pytest.raises(PushError, match="no folder"):
        push_model(tmp_path / "missing", "alice/x", token=TOKEN, endpoint=hub.url)
    assert not hub.requests and not hub.repos


def test_refused_or_unreachable_hub_never_echoes_the_token(adapter, hub):
    hub.tokens = {"hf_the_only_good_one"}
    with pytest.raises(PushError, match=r"the Hub refused the token \(401\)") as e:
        push_model(adapter, "alice/tiny-lora", token=TOKEN, endpoint=hub.url)
    assert TOKEN not in str(e.value) and "\n" not in str(e.value)
    assert not hub.repos
    with pytest.raises(PushError, match="cannot reach the Hub at http://127.0.0.1:9") as e:
        push_model(adapter, "alice/tiny-lora", token=TOKEN, endpoint="http://127.0.0.1:9")
    assert TOKEN not in str(e.value)
