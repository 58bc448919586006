"""The trainer on a tiny model built in the test: the loss falls, only the adapter changes, the
loss mask covers the assistant's answer alone, outputs load back, and the evaluation runs."""

import json

import pytest

from train_data import SYSTEM, make_run

CHATML_NO_MARKERS = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


def _weights(model, lora: bool) -> dict:
    return {n: p.detach().clone() for n, p in model.named_parameters()
            if ("lora_" in n) == lora}


@pytest.mark.slow
def test_loss_falls_and_only_the_adapter_changes(tmp_path):
    import torch

    from trainer.config import TrainConfig
    from trainer.train import build_trainer

    path = make_run(tmp_path, max_steps=30)
    trainer, config, notes, _ = build_trainer(TrainConfig.load(path), tmp_path)
    assert config.precision == "fp32" and config.max_length % 64 == 0
    assert "longest example" in notes["max_length"] and "max_steps" not in notes
    base_before, lora_before = _weights(trainer.model, False), _weights(trainer.model, True)
    assert lora_before and all(float(w.abs().sum()) == 0 for n, w in lora_before.items()
                               if "lora_B" in n)
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5, losses
    base_after, lora_after = _weights(trainer.model, False), _weights(trainer.model, True)
    assert all(torch.equal(base_before[n], base_after[n]) for n in base_before)
    changed = [n for n in lora_before if not torch.equal(lora_before[n], lora_after[n])]
    assert len(changed) == len(lora_before)


@pytest.mark.slow
def test_assistant_mask_with_a_patched_template(tmp_path):
    """A ChatML model whose template has no {% generation %} markers gets a patched one; the
    labels keep exactly the answer and its <|im_end|>."""
    from trainer.config import TrainConfig
    from trainer.train import build_trainer

    path = make_run(tmp_path, max_steps=1, template=CHATML_NO_MARKERS)
    trainer, _, notes, splits = build_trainer(TrainConfig.load(path), tmp_path)
    assert "ChatML" in notes["assistant_only_loss"]
    tok = trainer.processing_class
    assert tok.pad_token == "<|pad|>" != tok.eos_token
    for k in range(3):
        batch = trainer.data_collator([trainer.train_dataset[k]])
        kept = batch["labels"][0][batch["labels"][0] != -100]
        answer = splits["train"][k]["messages"][-1]["content"]
        assert tok.decode(kept) == answer + "<|im_end|>"
        whole = tok.decode(batch["input_ids"][0])
        assert SYSTEM in whole and splits["train"][k]["messages"][1]["content"] in whole


@pytest.mark.slow
def test_run_writes_adapter_merged_model_card_and_evaluation(tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from trainer.__main__ import run
    from trainer.config import TrainConfig
    from trainer.progress import MetricsLog, StopFlag

    path = make_run(tmp_path, max_steps=12, merge=True,
                    dataset={"export_id": 7, "repo_id": "alice/copy-set"})
    log = MetricsLog(tmp_path / "metrics.jsonl")
    result = run(path, "train", log, StopFlag())
    assert result["status"] == "completed" and result["step"] == 12
    assert result["eval"]["metric"] == "rougeL" and result["eval"]["n"] == 8
    events = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and "checkpoint" in kinds and kinds[-1] == "eval"
    logs = [e for e in events if e["event"] == "log" and "loss" in e]
    assert [e["step"] for e in logs] == list(range(1, 13))
    assert logs[-1]["progress"] == 1.0 and logs[-1]["eta_s"] == 0.0
    assert any(e.get("tokens_per_s") for e in logs) and any("eval_loss" in e for e in events)
    # between logs, where the run is (at the first step, then every 2 s): the app's progress
    # never waits for the next logging step
    progress = [e for e in events if e["event"] == "progress"]
    assert progress and progress[0]["step"] == 1 and progress[0]["max_steps"] == 12
    from studio.training.fold import fold

    assert fold(progress[:1])[0] == {"step": 1, "max_steps": 12, "progress": round(1 / 12, 4),
                                     "eta_s": progress[0]["eta_s"]}

    resolved = TrainConfig.load(tmp_path / "resolved.toml")
    assert None not in (resolved.epochs, resolved.max_length, resolved.eval_max_new_tokens)
    assert "# " in (tmp_path / "resolved.toml").read_text()

    base = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    tuned = PeftModel.from_pretrained(base, tmp_path / "adapter")
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    ids = torch.tensor([[2, 5, 9, 12, 3]])
    with torch.no_grad():
        assert torch.allclose(tuned(ids).logits, merged(ids).logits, atol=1e-4)
        with tuned.disable_adapter():
            assert not torch.allclose(tuned(ids).logits, merged(ids).logits, atol=1e-4)

    card = (tmp_path / "adapter" / "README.md").read_text()
    assert "library_name: peft" in card and "alice/copy-set" in card
    assert "rougeL" in card and str(tmp_path) not in card
    assert "library_name: transformers" in (tmp_path / "merged" / "README.md").read_text()
    ev = json.loads((tmp_path / "eval.json").read_text())
    scores = [r["tuned_score"] for r in ev["rows"]]
    assert scores == sorted(scores) and len(ev["rows"]) == 8
    assert {"input", "reference", "base", "tuned", "delta"} <= set(ev["rows"][0])


@pytest.mark.slow
def test_label_task_is_scored_with_accuracy_and_macro_f1(tmp_path):
    from trainer.config import TrainConfig
    from trainer.evaluate import evaluate
    from trainer.train import train

    from train_data import write_split

    path = make_run(tmp_path, max_steps=2, labels=["cat", "dog"])
    for split, n in (("train", 16), ("validation", 4), ("test", 6)):
        write_split(tmp_path, split, [{"messages": [
            {"role": "user", "content": f"a {'cat' if k % 2 else 'dog'} sat"},
            {"role": "assistant", "content": "cat" if k % 2 else "dog"}]} for k in range(n)])
    config = TrainConfig.load(path)
    assert train(config, tmp_path)["status"] == "completed"
    result = evaluate(config, tmp_path)
    assert result["metric"] == "macro_f1" and result["n"] == 6
    assert {"accuracy", "macro_f1", "invalid"} <= set(result["tuned_summary"])


@pytest.mark.slow
def test_the_loss_curve_moves_every_few_seconds_whatever_the_logging_steps(tmp_path,
                                                                          monkeypatch):
    """logging_steps=1000 on a 4-step run logs no loss by steps; a clock that moves 6 s a call
    (past LOSS_SECONDS) makes the callback ask for a log at every step's end, and the real
    Trainer honours it: a loss point per step."""
    import trainer.callback as callback
    from trainer.config import TrainConfig
    from trainer.train import train

    class Clock:
        t = 1000.0

        def time(self):
            self.t += 6.0
            return self.t

    class Events:  # not a list: an empty one is falsy and `log or NullLog()` would drop it
        def __init__(self):
            self.seen = []

        def write(self, event, **fields):
            self.seen.append({"event": event, **fields})

    assert callback.LOSS_SECONDS < 6.0
    monkeypatch.setattr(callback, "time", Clock())
    events = Events()
    path = make_run(tmp_path, max_steps=4, logging_steps=1000, eval_steps=1000)
    assert train(TrainConfig.load(path), tmp_path, log=events)["status"] == "completed"
    assert [e["step"] for e in events.seen if e["event"] == "log" and "loss" in e] == [1, 2, 3, 4]


def test_defaults_follow_data_and_hardware():
    from trainer.config import TrainConfig
    from trainer.defaults import GIB, DataStats, Hardware, ModelShape, resolve

    qwen = ModelShape(params=494_000_000, hidden=896, layers=24, vocab=151936,
                      max_positions=32768)
    small = DataStats(n_train=60, n_validation=8, lengths=(90, 120, 301),
                      reference_lengths=(20,))
    cpu, notes = resolve(TrainConfig(), small, Hardware(), qwen)
    assert (cpu.max_length, cpu.epochs, cpu.precision, cpu.batch_size) == (320, 5.0, "fp32", 4)
    assert cpu.grad_accum == 4 and cpu.lora_alpha == 32 and cpu.learning_rate == 2e-4
    assert cpu.eval_max_new_tokens == 38 and cpu.packing is False
    assert [k for k in TrainConfig.__dataclass_fields__ if getattr(cpu, k) is None] == [
        "max_steps"]  # epochs decide the length unless max_steps is asked for
    assert set(notes) >= {"max_length", "epochs", "batch_size", "eval_steps", "precision"}

    outliers = DataStats(5000, 100, tuple([200] * 4990 + [3000] * 10))
    h100 = Hardware("cuda", 78 * GIB, bf16=True, flash_attn=True)
    gpu, notes = resolve(TrainConfig(), outliers, h100, qwen)
    assert gpu.max_length == 256 and "99%" in notes["max_length"]
    assert gpu.epochs == 2 and gpu.precision == "bf16" and gpu.packing is True
    assert gpu.attn_implementation == "flash_attention_2"
    assert gpu.batch_size >= 8 and gpu.batch_size * gpu.grad_accum >= 16
    tight, _ = resolve(TrainConfig(max_length=2048), outliers,
                       Hardware("cuda", 8 * GIB, bf16=True), qwen)
    assert tight.batch_size < gpu.batch_size and tight.packing is False
    asked, _ = resolve(TrainConfig(batch_size=2, epochs=1.0), small, h100, qwen)
    assert (asked.batch_size, asked.grad_accum, asked.epochs) == (2, 8, 1.0)


def test_config_round_trip_and_clear_errors(tmp_path):
    from trainer.config import ConfigError, TrainConfig, help_text

    cfg = TrainConfig(base_model="./m", lora_r=8, labels=["a", "b"],
                      task={"name": "t", "instruction": 'CRLF\r\n "quoted" \\ \x7f \x01 é'})
    loaded = TrainConfig.load(cfg.save(tmp_path / "c.toml"))
    assert loaded == cfg and loaded.epochs is None
    text = (tmp_path / "c.toml").read_text()
    assert 'epochs = "auto"' in text and "# Passes over the train split" in text
    assert all(help_text().values())
    for bad, match in (({"lora_r": 0}, "lora_r"), ({"method": "dpo"}, "method"),
                       ({"learning_rate": -1.0}, "learning_rate"),
                       ({"train_fraction": 1.5}, "train_fraction"),
                       ({"lora_rank": 8}, "unknown setting")):
        with pytest.raises(ConfigError, match=match):
            TrainConfig.from_dict(bad)
    (tmp_path / "broken.toml").write_text("lora_r = = 3")
    with pytest.raises(ConfigError, match="broken.toml is not valid TOML"):
        TrainConfig.load(tmp_path / "broken.toml")


def test_bad_data_is_named_by_file_and_line(tmp_path):
    from trainer.data import DataError, load_splits, pad_token

    data = tmp_path / "data"
    data.mkdir()
    with pytest.raises(DataError, match="no train rows"):
        load_splits(tmp_path)
    (data / "train.jsonl").write_text('{"messages": []}\n')
    with pytest.raises(DataError, match=r"train.jsonl, row 1: no 'messages'"):
        load_splits(tmp_path)
    ok = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    (data / "train.jsonl").write_text(json.dumps(ok) + "\n{oops\n")
    with pytest.raises(DataError, match=r"train.jsonl, line 2: not JSON"):
        load_splits(tmp_path)
    (data / "train.jsonl").write_text(json.dumps({"messages": ok["messages"][:1]}) + "\n")
    with pytest.raises(DataError, match="last message must be the assistant"):
        load_splits(tmp_path)

    class Tok:  # the attributes pad_token reads, as a tokenizer with pad == eos has them
        eos_token = pad_token_ = "<|im_end|>"
        pad_token = "<|im_end|>"
        unk_token = None

        def get_vocab(self):
            return {"<|im_end|>": 3, "<|endoftext|>": 1}

    assert pad_token(Tok())[0] == "<|endoftext|>"


@pytest.mark.slow
def test_two_processes_train_the_same_config(tmp_path):
    """`torchrun -m trainer` (DDP over gloo on CPU here; `accelerate launch -m trainer` does the
    same over NCCL on GPUs) trains with no change to the config: the effective batch is shared
    across ranks, and only rank 0 writes metrics, the resolved config and the adapter."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    path = make_run(tmp_path, max_steps=4, batch_size=4, grad_accum=None, evaluate=False)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                           "2", "-m", "trainer", str(path)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("train: completed") == 2
    events = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events].count("start") == 1
    assert events[-1]["status"] == "completed" and events[-1]["step"] == 4
    resolved = (tmp_path / "resolved.toml").read_text()
    assert "\ngrad_accum = 2\n" in resolved  # 4 per device x 2 processes x 2 = 16
    assert (tmp_path / "adapter" / "adapter_model.safetensors").exists()


@pytest.mark.slow
def test_full_fine_tuning_saves_a_whole_model_and_evaluates_it(tmp_path):
    from transformers import AutoModelForCausalLM

    from trainer.config import TrainConfig
    from trainer.evaluate import evaluate
    from trainer.train import train

    path = make_run(tmp_path, max_steps=3, method="full", learning_rate=1e-3)
    config = TrainConfig.load(path)
    assert train(config, tmp_path)["status"] == "completed"
    assert not (tmp_path / "adapter" / "adapter_config.json").exists()
    tuned = AutoModelForCausalLM.from_pretrained(tmp_path / "adapter")
    base = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    changed = [n for n, p in tuned.named_parameters()
               if not (p == base.get_parameter(n)).all()]
    assert len(changed) == len(list(base.parameters()))
    assert "library_name: transformers" in (tmp_path / "adapter" / "README.md").read_text()
    assert evaluate(config, tmp_path)["n"] == 8


@pytest.mark.slow
def test_early_stopping_keeps_the_best_checkpoint(tmp_path):
    """A learning rate far too high makes the validation loss rise: training stops long before
    max_steps, and the run reports (and saved) the best evaluation, not the last."""
    from trainer.config import TrainConfig
    from trainer.progress import MetricsLog
    from trainer.train import train

    path = make_run(tmp_path, max_steps=40, eval_steps=2, early_stopping_patience=1,
                    learning_rate=0.3, evaluate=False)
    result = train(TrainConfig.load(path), tmp_path, log=MetricsLog(tmp_path / "m.jsonl"))
    evals = [json.loads(x)["eval_loss"] for x in (tmp_path / "m.jsonl").read_text().splitlines()
             if '"eval_loss"' in x]
    assert result["step"] < 40 and len(evals) >= 2
    assert result["eval_loss"] == min(evals) < evals[-1]
