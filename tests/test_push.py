"""Push to the Hub through the real huggingface_hub client against a loopback Hub, secrets that
never reach a file, the CLI, and the exported train split feeding trl.SFTTrainer."""

import json
import os
from dataclasses import replace

import pytest

from studio.errors import BadInput, HubFailed

TASK = "tweet-summary"
TOKEN = "hf_TESTsecretTOKEN1234567890"
TEACHER_KEY = "sk-TESTteacherKEY0987654321"


@pytest.fixture
def hub_studio(db, hub):
    """A Studio whose settings point at the loopback Hub."""
    from studio import Studio
    from studio.settings import Settings

    with Studio.open(db, Settings.from_env(hub_endpoint=hub.url)) as s:
        yield s


def test_push_creates_a_private_repo_and_replaces_old_shards(hub_studio, hub, tmp_path,
                                                            monkeypatch):
    s = hub_studio
    s.import_samples()
    s.bulk_review("approve", task=TASK)
    out = tmp_path / "out"
    s.export(out, task=TASK)
    dry = s.push("alice/tweets", dry_run=True)
    assert not hub.requests and dry["private"] and dry["delete_patterns"] == "data/*"
    assert [f["path"] for f in dry["files"]] == [
        "README.md", "data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet",
        "data/validation-00000-of-00001.parquet"]
    with pytest.raises(BadInput, match="HF_TOKEN"):
        s.push("alice/tweets")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    sent = s.push("alice/tweets")
    repo = hub.repos["alice/tweets"]
    assert repo["type"] == "dataset" and repo["private"] is True
    assert repo["files"] == {p.relative_to(out).as_posix(): p.read_bytes()
                             for p in out.rglob("*") if p.is_file()}
    create = next(r for r in hub.requests if r["path"] == "/api/repos/create")
    assert create["json"]["visibility"] == "private" and create["json"]["type"] == "dataset"
    assert {r["authorization"] for r in hub.requests} == {f"Bearer {TOKEN}"}
    assert sent["url"].endswith("/datasets/alice/tweets") and sent["export_id"] == 1
    # a re-export in another format: the old Parquet shards go, the new files come
    s.export(out, task=TASK, fmt="jsonl")
    s.push("alice/tweets", folder=out)
    assert sorted(repo["files"]) == ["README.md", "data/test.jsonl", "data/train.jsonl",
                                     "data/validation.jsonl"]
    assert set(repo["commits"][-1]["deleted"]) == {
        "data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet",
        "data/validation-00000-of-00001.parquet"}
    assert [p["repo_id"] for p in s.store.pushes()] == ["alice/tweets", "alice/tweets"]
    s.push("alice/open", private=False, token="hf_session_token")
    assert hub.repos["alice/open"]["private"] is False


def test_push_refusals_name_the_cause_and_never_echo_the_token(hub_studio, hub, tmp_path):
    s = hub_studio
    s.import_samples()
    s.bulk_review("approve", task=TASK)
    s.export(tmp_path / "out", task=TASK)
    hub.tokens = {"hf_the_only_good_one"}
    with pytest.raises(HubFailed, match="refused the token") as e:
        s.push("alice/tweets", token=TOKEN)
    assert TOKEN not in str(e.value) and e.value.exit_code == 5
    assert not s.store.pushes()
    for bad in ("tweets", "alice/", "a/b/c", "alice/../x", "alice/x y"):
        with pytest.raises(BadInput, match="OWNER/NAME"):
            s.push(bad, token=TOKEN)
    with pytest.raises(BadInput, match="not an export folder"):
        s.push("alice/x", folder=tmp_path, token=TOKEN)
    s.settings = replace(s.settings, hub_endpoint="http://127.0.0.1:9")  # nothing listens
    with pytest.raises(HubFailed, match="cannot reach the Hub"):
        s.push("alice/tweets", token="hf_the_only_good_one")


def test_no_secret_in_any_written_file(hub_studio, hub, tmp_path, monkeypatch, filled):  
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("OPENAI_API_KEY", TEACHER_KEY)
    s = hub_studio
    s.export(tmp_path / "out", task=TASK)
    s.push("alice/tweets")
    s.push("alice/other", token="hf_typedINtheUIsession42")
    s.store.close()
    needles = [t.encode() for t in (TOKEN, TEACHER_KEY, "hf_typedINtheUIsession42")]
    checked = 0
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(n in data for n in needles), path
            checked += 1
    assert checked >= 5  # the store, the card and the data files were read
    for repo in hub.repos.values():
        for name, data in repo["files"].items():
            assert not any(n in data for n in needles), name


def test_folders_of_the_same_name_load_their_own_rows(studio, tmp_path):
    """`datasets` keys its cache on the card's YAML, not on the data files: two exports into
    folders both called `out` must still load their own rows."""
    from datasets import load_dataset

    studio.import_samples()
    studio.bulk_review("approve", task=TASK)
    studio.export(tmp_path / "a" / "out", task=TASK)
    studio.bulk_review("reject", ids=[r["id"] for r in studio.list(task=TASK, limit=10)["rows"]])
    studio.export(tmp_path / "b" / "out", task=TASK)
    cache = str(tmp_path / "cache")
    a = load_dataset(str(tmp_path / "a" / "out"), cache_dir=cache)
    b = load_dataset(str(tmp_path / "b" / "out"), cache_dir=cache)
    assert sum(len(x) for x in a.values()) == 80 and sum(len(x) for x in b.values()) == 70


def test_cli_export_push_and_exports(cli, hub, tmp_path, monkeypatch):
    cli("init", "--sample")
    cli("bulk", "approve", "--yes", "--task", TASK)
    code, out, err = cli("export", tmp_path / "out", "--json", "--splits", "0.7,0.15,0.15",
                         "--seed", "3", "--license", "mit", "--language", "en", "--pii", "drop")
    assert code == 0, err
    r = json.loads(out)
    assert r["counts"]["splits"] == {"train": 53, "validation": 11, "test": 12}
    assert r["checks"]["pii"]["dropped"] == 4 and r["options"]["license"] == "mit"
    code, out, err = cli("export", tmp_path / "out", "--dry-run")
    assert code == 0 and "would write 80 rows" in out and "personal data: 4 @handle" in out
    code, out, err = cli("export", tmp_path / "bad", "--splits", "0.9,0.2,0.1")
    assert code == 1 and "add up to 1" in err
    code, out, err = cli("push", "alice/tweets", "--dry-run")
    assert code == 0 and "would push 4 files" in out and "private dataset alice/tweets" in out
    monkeypatch.delenv("HF_TOKEN", raising=False)
    code, out, err = cli("push", "alice/tweets")
    assert code == 1 and "HF_TOKEN" in err
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    code, out, err = cli("push", "alice/tweets", "--public", "--json")
    assert code == 0, err
    assert json.loads(out)["private"] is False and hub.repos["alice/tweets"]["private"] is False
    hub.tokens = {"another"}
    code, out, err = cli("push", "alice/tweets")
    assert code == 5 and "refused the token" in err and TOKEN not in err + out
    code, out, err = cli("exports", "--json")
    assert [e["rows"] for e in json.loads(out)["exports"]] == [76]  # the dry run left none


@pytest.mark.skipif(not (os.environ.get("HF_TOKEN") and os.environ.get("HUB_TEST_REPO")),
                    reason="a real push needs HF_TOKEN and HUB_TEST_REPO (a dataset repo id)")
def test_real_push_to_the_hub(studio, tmp_path):
    """Against huggingface.co itself, only when a token and a scratch repo are given."""
    from huggingface_hub import HfApi

    studio.import_samples()
    studio.bulk_review("approve", task=TASK)
    studio.export(tmp_path / "out", task=TASK)
    repo = os.environ["HUB_TEST_REPO"]
    sent = studio.push(repo)
    assert sent["url"].rstrip("/").endswith(repo)
    files = HfApi(token=os.environ["HF_TOKEN"]).list_repo_files(repo, repo_type="dataset")
    assert {f["path"] for f in sent["files"]} <= set(files)


@pytest.mark.slow
def test_messages_train_split_feeds_sft_trainer(studio, filled, tmp_path):  
    """The exported folder, loaded by `datasets`, trains a tiny chat model for two steps."""
    from datasets import load_dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from trainer.tiny import build_tiny_model

    studio.export(tmp_path / "out", task=TASK)
    ds = load_dataset(str(tmp_path / "out"), cache_dir=str(tmp_path / "cache"))
    texts = [m["content"] for row in ds["train"] for m in row["messages"]]
    model_dir = build_tiny_model(tmp_path / "tiny", texts)
    args = SFTConfig(output_dir=str(tmp_path / "run"), max_steps=2, per_device_train_batch_size=2,
                     learning_rate=1e-3, report_to=[], use_cpu=True, bf16=False, logging_steps=1,
                     save_strategy="no", assistant_only_loss=True, activation_checkpointing=False,
                     max_length=256)
    trainer = SFTTrainer(model=str(model_dir), args=args, train_dataset=ds["train"],
                         peft_config=LoraConfig(r=4, lora_alpha=8, target_modules="all-linear",
                                                task_type="CAUSAL_LM"))
    result = trainer.train()
    assert result.global_step == 2
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 2 and all(0 < x < 20 for x in losses)
    batch = trainer.data_collator([trainer.train_dataset[0]])
    kept = batch["labels"][0][batch["labels"][0] != -100]
    tok = trainer.processing_class
    assert tok.decode(kept) == ds["train"][0]["messages"][2]["content"] + "<|im_end|>"
