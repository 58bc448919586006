"""The run's configuration: one dataclass with a help string per field, saved as TOML with the run.

A field left at `None` is "auto": `trainer.defaults.resolve` fills it from the data and the
hardware when the run starts, and writes the concrete values, with the reason for each, to
`resolved.toml` beside the config. Paths in the config are relative to the config's folder, so a
run folder can be copied to a GPU box and run there as it is.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path

METHODS = ("lora", "qlora", "full")
CURVE_POINTS = 5
# tracker -> (modules any of which makes it work, the pip package to install)
TRACKERS = {"tensorboard": (("tensorboard", "tensorboardX"), "tensorboard"),
            "trackio": (("trackio",), "trackio"),
            "wandb": (("wandb",), "wandb"),
            "mlflow": (("mlflow",), "mlflow")}
PRECISIONS = ("auto", "bf16", "fp16", "fp32")


class ConfigError(ValueError):
    """A config value that cannot work; the message names the field and what it accepts."""


def _f(default, help: str, *, factory=None):
    if factory is not None:
        return field(default_factory=factory, metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    base_model: str = _f("Qwen/Qwen2.5-0.5B-Instruct",
                         "Base model: a Hugging Face Hub id or a local folder.")
    data_dir: str = _f("dataset", "Folder with data/{train,validation,test}.jsonl or .parquet "
                       "(an SFT Studio export, messages schema), relative to this file.")
    output_dir: str = _f(".", "Where checkpoints, adapter/, metrics.jsonl and eval.json go, "
                         "relative to this file.")
    method: str = _f("lora", "lora (adapters on a frozen base), qlora (4-bit base; needs CUDA "
                     "and bitsandbytes) or full (every weight trains).")
    lora_r: int = _f(16, "LoRA rank: the adapters' width. 8-64; more learns more, costs more.")
    lora_alpha: int | None = _f(None, "LoRA scale numerator (auto: 2 x lora_r).")
    lora_dropout: float = _f(0.05, "Dropout on the LoRA path; a little helps small sets.")
    target_modules: str = _f("all-linear", "Which layers get adapters: all-linear, or a comma "
                             "list such as q_proj,v_proj.")
    learning_rate: float | None = _f(None, "Peak learning rate (auto: 2e-4 for LoRA, 2e-5 full).")
    epochs: float | None = _f(None, "Passes over the train split (auto: from the set size, "
                              "more for small sets).")
    max_steps: int | None = _f(None, "Stop after this many optimizer steps (overrides epochs).")
    batch_size: int | None = _f(None, "Examples per device per step (auto: from memory).")
    grad_accum: int | None = _f(None, "Steps whose gradients add up before an update (auto: "
                                "reaches an effective batch of 16).")
    max_length: int | None = _f(None, "Longest sequence in tokens; longer ones are cut (auto: "
                                "covers the longest example, rounded up to 64).")
    packing: bool | None = _f(None, "Pack several examples into each sequence (auto: on with "
                              "a CUDA GPU and flash attention).")
    assistant_only_loss: bool = _f(True, "Learn only from the assistant's tokens, not the "
                                   "prompt (needs {% generation %} markers; patched if missing).")
    eval_steps: int | None = _f(None, "Validation loss every N steps (auto: about 10 times a run).")
    early_stopping_patience: int = _f(3, "Stop after this many evaluations without a better "
                                      "validation loss; 0 turns early stopping off.")
    save_steps: int | None = _f(None, "Checkpoint every N steps (auto: at each evaluation).")
    save_total_limit: int = _f(2, "Checkpoints kept on disk (the best and the latest).")
    seed: int = _f(42, "Seed for data order, LoRA init and subsets.")
    precision: str = _f("auto", "auto (bf16 where the GPU supports it, fp32 on CPU), bf16, fp16 "
                        "or fp32.")
    gradient_checkpointing: bool | None = _f(None, "Recompute activations to save memory (auto: "
                                             "on for GPU models over 1B parameters).")
    attn_implementation: str | None = _f(None, "Attention kernel (auto: flash_attention_2 when "
                                         "installed on CUDA, else sdpa).")
    liger_kernel: bool | None = _f(None, "Liger fused kernels (auto: off; TRL 1.x fuses the "
                                   "LM head and the loss itself).")
    logging_steps: int | None = _f(None, "Log loss every N steps (auto: about 50 lines a run).")
    merge: bool = _f(False, "Also write merged/: the base with the adapter folded in.")
    evaluate: bool = _f(True, "After training, compare base and tuned on the test split.")
    eval_max_new_tokens: int | None = _f(None, "Generation budget in evaluation (auto: 1.5 x "
                                         "the longest reference, at most 512).")
    eval_batch_size: int = _f(16, "Prompts generated at once in evaluation.")
    train_fraction: float = _f(1.0, "Share of the train split to use (the learning curve sets it).")
    curve_points: int = _f(CURVE_POINTS, "Learning curve: how many nested train-set sizes, "
                           "spaced geometrically from 8 rows up to the whole train split.")
    curve_seeds: int | str = _f("auto", "Learning curve: repeats of every size, each with its "
                                "own subsets and seed (auto: 3 under 200 train rows, else 1).")
    curve_target: float | str = _f("auto", "Learning curve: the score to estimate the data "
                                   "needed for (auto: a tenth of the way from the tuned score "
                                   "to the maximum).")
    curve_fractions: list = _f(None, "Learning curve as train-split shares, e.g. [0.25, 0.5, "
                               "1.0] (older configs); empty: use curve_points.", factory=list)
    labels: list = _f(None, "The task's labels; when set, evaluation scores accuracy and "
                      "macro-F1 instead of ROUGE-L.", factory=list)
    task: dict = _f(None, "The task (name, instruction), for the model card.", factory=dict)
    dataset: dict = _f(None, "The export trained on (export_id, fingerprint, repo_id), for the "
                       "model card.", factory=dict)
    report_to: list = _f(None, "Experiment trackers to log to as well: tensorboard, trackio, "
                         "wandb, mlflow (each needs its package); they write under logs/ in "
                         "the run folder.", factory=list)

    def __post_init__(self):
        if self.method not in METHODS:
            raise ConfigError(f"method {self.method!r}: choose one of {', '.join(METHODS)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision {self.precision!r}: choose one of "
                              f"{', '.join(PRECISIONS)}")
        for name in ("lora_r", "lora_alpha", "max_steps", "batch_size", "grad_accum",
                     "max_length", "eval_steps", "save_steps", "logging_steps",
                     "eval_max_new_tokens"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a whole number of at least 1, not {value!r}")
        for name in ("learning_rate", "epochs"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and value > 0
                                          and math.isfinite(value)):
                raise ConfigError(f"{name} must be a positive number, not {value!r}")
        if not 0 <= self.lora_dropout < 1:
            raise ConfigError(f"lora_dropout must be in [0, 1), not {self.lora_dropout!r}")
        if not 0 < self.train_fraction <= 1:
            raise ConfigError(f"train_fraction must be in (0, 1], not {self.train_fraction!r}")
        if self.early_stopping_patience < 0 or self.save_total_limit < 1:
            raise ConfigError("early_stopping_patience must be >= 0 and save_total_limit >= 1")
        if self.merge and self.method == "qlora":
            raise ConfigError("merge = true with method = qlora would fold the adapter into a "
                              "4-bit base; train with lora to merge, or merge the adapter into "
                              "the full-precision base yourself")
        self._check_curve()
        self._check_report_to()
        if not str(self.base_model).strip():
            raise ConfigError("base_model is empty: give a Hub id or a local folder")

    def _check_curve(self) -> None:
        if isinstance(self.curve_points, bool) or not isinstance(self.curve_points, int) \
                or self.curve_points < 1:
            raise ConfigError(f"curve_points must be a whole number of at least 1, not "
                              f"{self.curve_points!r}")
        seeds = self.curve_seeds
        if seeds != "auto" and (isinstance(seeds, bool) or not isinstance(seeds, int)
                                or seeds < 1):
            raise ConfigError(f"curve_seeds must be \"auto\" or a whole number of at least 1, "
                              f"not {seeds!r}")
        target = self.curve_target
        if target != "auto" and (isinstance(target, bool) or not isinstance(target, (int, float))
                                 or not 0 < target <= 1):
            raise ConfigError(f"curve_target must be \"auto\" or a score in (0, 1], not "
                              f"{target!r}")
        shares = self.curve_fractions
        if not isinstance(shares, list) or not all(
                isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f <= 1
                for f in shares):
            raise ConfigError(f"curve_fractions must be a list of shares in (0, 1], not "
                              f"{shares!r}")
        if shares and self.curve_points != CURVE_POINTS:
            raise ConfigError("set curve_points or curve_fractions, not both (curve_fractions "
                              "is the older way; empty it to use curve_points)")

    def _check_report_to(self) -> None:
        names = self.report_to
        if isinstance(names, str):  # report_to = "tensorboard, wandb" from a form or --set
            names = [] if names.strip().lower() in ("", "none") else names.split(",")
        if not isinstance(names, list):
            raise ConfigError(f"report_to must be a list of trackers, not {names!r}")
        names = [str(n).strip().lower() for n in names if str(n).strip()]
        unknown = [n for n in names if n not in TRACKERS]
        if unknown:
            raise ConfigError(f"report_to: unknown tracker(s) {', '.join(unknown)}; choose from "
                              f"{', '.join(TRACKERS)}")
        self.report_to = list(dict.fromkeys(names))

    def curve_seed_count(self, n_train: int) -> int:
        """curve_seeds as a number: "auto" is 3 under 200 train rows (small sets are noisy),
        else 1."""
        if self.curve_seeds == "auto":
            return 3 if n_train < 200 else 1
        return int(self.curve_seeds)

    # --- paths -----------------------------------------------------------------------------

    def path(self, name: str, root: Path) -> Path:
        """`data_dir` or `output_dir` made absolute against the config's folder `root`."""
        p = Path(getattr(self, name)).expanduser()
        return p if p.is_absolute() else (root / p).resolve()

    # --- TOML ------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"no config at {path}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path} is not valid TOML: {e}") from None
        return cls.from_dict(data, where=str(path))

    @classmethod
    def from_dict(cls, data: dict, where: str = "config") -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(known))}")
        auto = {f.name for f in fields(cls) if f.default is None}
        data = {k: (None if v == "auto" and k in auto else v) for k, v in data.items()}
        try:
            return cls(**data)
        except TypeError as e:
            raise ConfigError(f"{where}: {e}") from None

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: str | Path, notes: dict[str, str] | None = None) -> Path:
        """Write the config as commented TOML; auto fields are written as `"auto"`, and `notes`
        (field -> why) become a comment after the help line."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps(self, notes or {}), encoding="utf-8")
        return path

    def replace(self, **changes) -> TrainConfig:
        return replace(self, **changes)


def _wandb_logged_in() -> bool:
    netrc = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    try:
        return "api.wandb.ai" in netrc.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def check_trackers(names: list[str], env: dict | None = None) -> dict[str, str]:
    """Can each of `report_to`'s trackers log here? A ConfigError names what is missing (the
    pip package, or wandb's login); else tracker -> where it logs, for resolved.toml.

    Checked when a run starts, not when a config is read: a config written on one machine may
    run on another."""
    import importlib.util

    env = os.environ if env is None else env
    notes = {}
    for name in names:
        modules, package = TRACKERS[name]
        if not any(importlib.util.find_spec(m) is not None for m in modules):
            raise ConfigError(f"report_to = {name}: the {package} package is not installed "
                              f"(pip install {package}), or take {name} out of report_to")
        if name == "wandb":
            mode = (env.get("WANDB_MODE") or "").lower()
            if not (env.get("WANDB_API_KEY") or mode in ("offline", "disabled", "dryrun")
                    or _wandb_logged_in()):
                raise ConfigError("report_to = wandb: no W&B login here; set WANDB_API_KEY (or "
                                  "run `wandb login`), or WANDB_MODE=offline to log into the "
                                  "run folder's logs/ and `wandb sync` it later")
            notes[name] = (f"W&B {mode or 'online'}, local files under logs/wandb"
                           if not env.get("WANDB_DIR") else f"W&B, files under {env['WANDB_DIR']}")
        elif name == "mlflow":
            notes[name] = (f"MLflow at MLFLOW_TRACKING_URI {env['MLFLOW_TRACKING_URI']}"
                           if env.get("MLFLOW_TRACKING_URI") else
                           "MLflow: MLFLOW_TRACKING_URI is not set, so it logs to logs/mlruns "
                           "(mlflow ui --backend-store-uri logs/mlruns)")
        elif name == "trackio":
            notes[name] = (f"Trackio, locally under {env['TRACKIO_DIR']}"
                           if env.get("TRACKIO_DIR") else
                           "Trackio, locally under logs/ (TRACKIO_DIR=logs trackio show)")
        else:
            notes[name] = "TensorBoard event files under logs/ (tensorboard --logdir runs/)"
    return notes


def defaults() -> dict:
    """Every field's default value (factories called), for forms and docs."""
    out = {}
    for f in fields(TrainConfig):
        out[f.name] = f.default_factory() if f.default is MISSING else f.default
    return out


def help_text() -> dict[str, str]:
    return {f.name: f.metadata["help"] for f in fields(TrainConfig)}


def _toml_value(value) -> str:
    if value is None:
        return '"auto"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a TOML basic string once DEL is escaped too (JSON escapes the
        # other control characters; a raw \r would make the file unreadable)
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()
                                if v is not None) + " }"
    raise ConfigError(f"cannot write {value!r} to TOML")


def dumps(config: TrainConfig, notes: dict[str, str] | None = None) -> str:
    notes = notes or {}
    lines = ["# SFT Studio training run. Run it with: python -m trainer THIS_FILE", ""]
    for f in fields(TrainConfig):
        lines.append(f"# {f.metadata['help']}")
        if f.name in notes:
            lines.append(f"#   -> {notes[f.name]}")
        lines.append(f"{f.name} = {_toml_value(getattr(config, f.name))}")
    return "\n".join(lines) + "\n"
