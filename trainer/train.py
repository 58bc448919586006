"""One training run: read the config and the splits, resolve the defaults, train with TRL's
SFTTrainer (LoRA through PEFT, or full fine-tuning), save the adapter, tokenizer and model card.

Layout of a run folder (paths relative to the config's folder):

    config.toml          what was asked ("auto" where the trainer chooses)
    resolved.toml        what was used, with why for every computed value
    metrics.jsonl        start / log / checkpoint / eval_progress / end events
    checkpoints/         checkpoint-N/ folders; a run started again resumes from the last one
    logs/                with report_to: the trackers' files (TensorBoard event files, Trackio's
                         database, wandb/, mlruns/), so `tensorboard --logdir runs/` sees them
    adapter/             the LoRA adapter (the whole model for method = full) + tokenizer + card
    merged/              with merge = true: base and adapter folded into one model
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from trainer import data as D
from trainer.config import ConfigError, TrainConfig, check_trackers
from trainer.defaults import DataStats, Hardware, ModelShape, resolve
from trainer.progress import NullLog, StopFlag


def prepare(config: TrainConfig, root: Path, hw: Hardware | None = None):
    """Load the tokenizer (patched for training) and the splits, and resolve every auto field.
    Returns (config, notes, tokenizer, splits)."""
    from transformers import AutoConfig, AutoTokenizer

    splits = D.load_splits(config.path("data_dir", root))
    splits["train"] = D.subset(splits["train"], config.train_fraction, config.seed)
    tokenizer = _load(AutoTokenizer, config.base_model)
    notes = {}
    if config.assistant_only_loss:
        template, notes["assistant_only_loss"] = D.training_template(tokenizer)
        if template:
            tokenizer.chat_template = template
    pad, notes["pad_token"] = D.pad_token(tokenizer)
    if pad:
        tokenizer.pad_token = pad
    shape = ModelShape.from_config(_load(AutoConfig, config.base_model))
    stats = DataStats(
        n_train=len(splits["train"]),  # after train_fraction
        n_validation=len(splits["validation"]),
        lengths=tuple(D.token_lengths(tokenizer, splits["train"], None)),
        reference_lengths=tuple(len(tokenizer(D.answer(r))["input_ids"])
                                for r in splits["test"]),
    )
    config, resolved = resolve(config, stats, hw or Hardware.probe(), shape)
    return config, {**resolved, **notes}, tokenizer, splits


def _load(cls, name: str, **kw):
    try:
        return cls.from_pretrained(name, **kw)
    except OSError as e:
        raise ConfigError(f"cannot load {name!r}: {str(e).splitlines()[0]} (give a local folder, "
                          "or a Hub id this machine can download)") from None


def _dtype(config: TrainConfig):
    import torch

    if config.method == "full":  # full fine-tuning keeps fp32 master weights; autocast casts
        return torch.float32
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.precision, torch.float32)


def load_model(config: TrainConfig, hw: Hardware):
    from transformers import AutoModelForCausalLM

    kw = {"dtype": _dtype(config), "attn_implementation": config.attn_implementation}
    if config.method == "qlora":
        if hw.device != "cuda" or not hw.bitsandbytes:
            raise ConfigError("method = qlora needs a CUDA GPU and the bitsandbytes package; "
                              "use method = lora here")
        import torch
        from transformers import BitsAndBytesConfig

        kw["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
        kw["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if hw.bf16 else torch.float16)
    return _load(AutoModelForCausalLM, config.base_model, **kw)


def lora_config(config: TrainConfig):
    if config.method == "full":
        return None
    from peft import LoraConfig

    targets = config.target_modules
    if targets != "all-linear":
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout, target_modules=targets,
                      task_type="CAUSAL_LM")


def sft_args(config: TrainConfig, out: Path, hw: Hardware, has_validation: bool,
             run_name: str | None = None):
    from trl import SFTConfig

    evaluate = has_validation
    best = (evaluate and config.early_stopping_patience > 0
            and config.save_steps % config.eval_steps == 0)
    return SFTConfig(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=best,
        metric_for_best_model="eval_loss" if best else None,
        greater_is_better=False if best else None,
        bf16=config.precision == "bf16",
        fp16=config.precision == "fp16",
        use_cpu=hw.device == "cpu",
        activation_checkpointing=bool(config.gradient_checkpointing),
        max_length=config.max_length,
        packing=bool(config.packing),
        assistant_only_loss=config.assistant_only_loss,
        use_liger_kernel=bool(config.liger_kernel),
        seed=config.seed,
        data_seed=config.seed,
        report_to=list(config.report_to),
        run_name=run_name or out.name,
        project="sft-studio",
        ddp_find_unused_parameters=False,  # LoRA and full fine-tuning use every trainable weight
        disable_tqdm=not sys.stderr.isatty(),
    )


@contextmanager
def tracking(config: TrainConfig, logs: Path):
    """While a run builds and trains: the trackers in `report_to` log under `logs` (set through
    their environment variables, restored afterwards; one the user set is left alone). Yields
    tracker -> where it logs. TensorBoard's folder is set on its callback (`build_trainer`).

    Trackio reads TRACKIO_DIR once, when first imported, into module constants: when it is
    imported already (an earlier part of a learning curve, or any other run in this process),
    those constants are pointed at `logs` too for the run, and restored after it."""
    notes = check_trackers(config.report_to)
    wanted = {}
    if "trackio" in config.report_to:
        wanted["TRACKIO_DIR"] = str(logs)
    if "wandb" in config.report_to:
        wanted["WANDB_DIR"] = str(logs)
    if "mlflow" in config.report_to:
        wanted["MLFLOW_TRACKING_URI"] = (logs / "mlruns").as_uri()
    added = {k: v for k, v in wanted.items() if not os.environ.get(k)}
    if wanted:
        logs.mkdir(parents=True, exist_ok=True)
    os.environ.update(added)
    moved = _point_trackio(Path(os.environ["TRACKIO_DIR"])) if "TRACKIO_DIR" in added else []
    try:
        yield notes
    finally:
        for k in added:
            os.environ.pop(k, None)
        for module, old in moved:
            module.TRACKIO_DIR = old


def _point_trackio(folder: Path) -> list:
    """Trackio's modules already imported keep TRACKIO_DIR as a constant: point each at
    `folder`; returns (module, old value) pairs to restore."""
    moved = []
    for name, module in list(sys.modules.items()):
        if (name == "trackio" or name.startswith("trackio.")) and \
                isinstance(getattr(module, "TRACKIO_DIR", None), Path):
            moved.append((module, module.TRACKIO_DIR))
            module.TRACKIO_DIR = folder
    return moved


def _point_tensorboard(trainer, logs: Path) -> None:
    from transformers.integrations import TensorBoardCallback

    for cb in trainer.callback_handler.callbacks:
        if isinstance(cb, TensorBoardCallback) and not os.environ.get("TENSORBOARD_LOGGING_DIR"):
            cb.logging_dir = str(logs)


def _dataset(rows: list[dict]):
    from datasets import Dataset

    return Dataset.from_list([{"messages": r["messages"]} for r in rows]) if rows else None


def build_trainer(config: TrainConfig, root: Path, *, log=None, stop: StopFlag | None = None,
                  hw: Hardware | None = None, logs: Path | None = None):
    """(trainer, resolved config, notes, splits): everything ready for `.train()`. `logs`: where
    report_to's trackers write (default: logs/ in the run folder); see `tracking`."""
    from transformers import EarlyStoppingCallback, PrinterCallback
    from trl import SFTTrainer

    from trainer.callback import ProgressCallback

    hw = hw or Hardware.probe()
    out = config.path("output_dir", root)
    previous = out / "resolved.toml"
    if last_checkpoint(out) and previous.exists():
        # A resume keeps the batch, steps and schedule the checkpoint was made with; only
        # values set in config.toml since (a new max_steps, say) replace them.
        before = TrainConfig.load(previous)
        config = config.replace(**{k: getattr(before, k) for k in before.to_dict()
                                   if getattr(config, k) is None})
    logs = logs or out / "logs"
    trackers = check_trackers(config.report_to)  # before the model loads: fail at once
    config, notes, tokenizer, splits = prepare(config, root, hw)
    if trackers:
        notes["report_to"] = "; ".join(trackers.values())
    if int(os.environ.get("RANK", "0")) == 0:
        config.save(out / "resolved.toml", notes)
    model = load_model(config, hw)
    args = sft_args(config, out, hw, bool(splits["validation"]), run_name=logs.name
                    if logs != out / "logs" else out.name)
    callbacks = [ProgressCallback(log or NullLog(), stop or StopFlag())]
    if args.load_best_model_at_end:
        callbacks.append(EarlyStoppingCallback(config.early_stopping_patience))
    trainer = SFTTrainer(model=model, args=args, processing_class=tokenizer,
                         train_dataset=_dataset(splits["train"]),
                         eval_dataset=_dataset(splits["validation"]),
                         peft_config=lora_config(config), callbacks=callbacks)
    trainer.remove_callback(PrinterCallback)  # metrics.jsonl has the logs; keep the log readable
    _point_tensorboard(trainer, logs)
    return trainer, config, notes, splits


def last_checkpoint(out: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    folder = out / "checkpoints"
    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def train(config: TrainConfig, root: Path, *, log=None, stop: StopFlag | None = None,
          hw: Hardware | None = None, logs: Path | None = None) -> dict:
    """Train (resuming from the last checkpoint if there is one) and save the outputs.
    Returns the end event's fields: status completed or stopped, step, losses, paths.
    `logs`: where report_to's trackers write (default: logs/ in the run folder)."""
    log, stop = log or NullLog(), stop or StopFlag()
    out = config.path("output_dir", root)
    done = out / "summary.json"
    if done.exists() and (out / "adapter").is_dir():  # trained before; only evaluation was left
        return {"status": "completed", **json.loads(done.read_text(encoding="utf-8")),
                "adapter_path": str(out / "adapter"),
                "merged_path": str(out / "merged") if (out / "merged").is_dir() else None}
    logs = logs or out / "logs"
    with tracking(config, logs):
        trainer, config, notes, splits = build_trainer(config, root, log=log, stop=stop, hw=hw,
                                                       logs=logs)
        resume = last_checkpoint(out)
        if stop.signal:  # stopped while loading: nothing new to save, the last checkpoint stands
            return {"status": "stopped", "signal": stop.signal, "step": None,
                    "resumed_from": resume}
        started = time.time()
        result = trainer.train(resume_from_checkpoint=resume)
    state = trainer.state
    losses = [h["loss"] for h in state.log_history if "loss" in h]
    evals = [h["eval_loss"] for h in state.log_history if "eval_loss" in h]
    summary = {
        "step": state.global_step, "max_steps": state.max_steps,
        "train_loss": losses[-1] if losses else result.training_loss,
        "eval_loss": state.best_metric if state.best_metric is not None
        else (evals[-1] if evals else None),
        "runtime_s": round(time.time() - started, 2), "resumed_from": resume,
        "n_train": len(splits["train"]),
    }
    if stop.signal:
        return {"status": "stopped", "signal": stop.signal, **summary}
    if not trainer.is_world_process_zero():
        return {"status": "completed", **summary}
    from trainer import outputs

    paths = outputs.save(trainer, config, out, summary)
    return {"status": "completed", **summary, **paths}
