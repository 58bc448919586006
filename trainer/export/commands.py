"""The commands that serve what an export wrote, and the run facts they (and the export) read.

`serving_commands(run_dir, export_result)` gives, as shell strings, whichever apply:

    vllm_lora         vllm serve BASE --enable-lora --lora-modules NAME=ADAPTER --max-lora-rank R
    vllm              vllm serve MERGED_DIR      (or the run's adapter/ for a full fine-tune)
    llama_server      llama-server -m FILE.gguf --jinja          (llama.cpp's own server)
    llama_cpp_python  python -m llama_cpp.server --model FILE.gguf
    ollama            ollama create NAME -f DIR/Modelfile && ollama run NAME   (NAME lowercased)

vLLM only takes LoRA ranks of 8, 16, 32, 64, 128, 256, 320 or 512 as --max-lora-rank, and its
default is 16: a run with lora_r = 32 fails to load its adapter without the flag, so it is always
given, rounded up to the next allowed value. With `relative_to` (the export folder) the paths are
written relative to it and a local base model by its folder name only: what a model card shows.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
VLLM_DEFAULT_MAX_LORA_RANK = 16
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(?:/[A-Za-z0-9][\w.-]*)?")
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


class ExportError(ValueError):
    """The export cannot be made: the message says what is wrong and where (defined here, where
    the run is read; trainer.export.model re-exports it)."""


def _error(message: str) -> Exception:
    return ExportError(message)


@dataclass
class RunInfo:
    """A run folder as the export reads it (config.toml / resolved.toml and adapter/)."""

    run_dir: Path
    config_file: Path | None
    out: Path                # where adapter/, eval.json and summary.json are
    method: str              # lora, qlora or full (adapter/ then holds the whole model)
    base_model: str          # as the run records it: a Hub id or a folder
    base_dir: Path | None    # the base as a local folder, when it is one
    lora_r: int | None
    task_name: str
    instruction: str

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def adapter_dir(self) -> Path:
        return self.out / "adapter"

    @property
    def base_path(self) -> str:
        return str(self.base_dir) if self.base_dir is not None else self.base_model

    @property
    def tokenizer_dir(self) -> str:
        """The run's tokenizer (saved with the adapter, chat template as trained), else the
        base's."""
        if any((self.adapter_dir / f).is_file() for f in TOKENIZER_FILES):
            return str(self.adapter_dir)
        return self.base_path

    def base_file(self, filename: str, *, download: bool = False) -> Path | None:
        """A file of the base model: from its folder, else the Hugging Face cache, else (with
        `download`) fetched from the Hub; None where it is not to be had."""
        if self.base_dir is not None:
            path = self.base_dir / filename
            return path if path.is_file() else None
        if not HUB_ID.fullmatch(self.base_model or ""):
            return None
        from huggingface_hub import hf_hub_download, try_to_load_from_cache

        cached = try_to_load_from_cache(self.base_model, filename)
        if isinstance(cached, str):
            return Path(cached)
        try:
            return Path(hf_hub_download(self.base_model, filename)) if download else None
        except Exception:  # offline, no such repo or file, gated: the caller says what is missing
            return None

    def check(self) -> None:
        """ExportError unless the run has a trained adapter (or whole model) and a base."""
        a = self.adapter_dir
        if self.method == "full":
            if not (a / "config.json").is_file() or not any(a.glob("*.safetensors")):
                raise _error(f"{self.run_dir} has no trained model: {a} should hold the full "
                             "fine-tune (config.json and *.safetensors); has the run finished?")
            return
        if not (a / "adapter_config.json").is_file() or not any(
                (a / f).is_file() for f in ("adapter_model.safetensors", "adapter_model.bin")):
            raise _error(f"{self.run_dir} has no trained adapter: {a} should hold "
                         "adapter_config.json and adapter_model.safetensors; has the run "
                         "finished?")
        if self.base_dir is None and (not self.base_model or Path(self.base_model).is_absolute()
                                      or not HUB_ID.fullmatch(self.base_model)):
            raise _error(f"the base model {self.base_model!r} (from {self.config_file or a}) is "
                         "neither a folder here nor a Hugging Face Hub id")


def read_run(run_dir) -> RunInfo:
    """The run folder's facts; ExportError when it is not a run folder. Checks nothing about
    the adapter (RunInfo.check does)."""
    from trainer.config import ConfigError, TrainConfig

    root = Path(run_dir).expanduser().absolute()
    if not root.is_dir():
        raise _error(f"no run folder {root}")
    config_file = next((p for p in (root / "resolved.toml", root / "config.toml")
                        if p.is_file()), None)
    config = None
    if config_file is not None:
        try:
            config = TrainConfig.load(config_file)
        except ConfigError as e:
            raise _error(f"{config_file}: {e}") from None
    out = config.path("output_dir", root) if config else root
    adapter_cfg = _json(out / "adapter" / "adapter_config.json")
    if config:
        method = config.method
    else:
        method = "full" if (out / "adapter" / "config.json").is_file() and not adapter_cfg \
            else "lora"
    base = (config.base_model if config else "") or adapter_cfg.get("base_model_name_or_path", "")
    ranks = [adapter_cfg.get("r"), *(adapter_cfg.get("rank_pattern") or {}).values()]
    ranks = [r for r in ranks if isinstance(r, int)]
    task = (config.task if config else {}) or {}
    return RunInfo(run_dir=root, config_file=config_file, out=out, method=method,
                   base_model=str(base), base_dir=_local(str(base), root),
                   lora_r=max(ranks) if ranks else (config.lora_r if config else None),
                   task_name=str(task.get("name") or ""),
                   instruction=str(task.get("instruction") or "").strip())


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _local(base: str, root: Path) -> Path | None:
    if not base:
        return None
    p = Path(base).expanduser()
    for candidate in [p] if p.is_absolute() else [root / p, p]:
        if (candidate / "config.json").is_file():
            return candidate.absolute()
    return None


def model_params(run: RunInfo, config: dict) -> tuple[int, str]:
    """(parameter count, stored dtype): from the weights' sizes (a local folder or the Hub
    cache), else from config.json's shapes."""
    dtype = str(config.get("dtype") or config.get("torch_dtype") or "float32")
    folder = run.adapter_dir if run.method == "full" else run.base_dir
    total = 0
    if folder is not None:
        files = list(folder.glob("*.safetensors")) or list(folder.glob("*.bin"))
        total = sum(f.stat().st_size for f in files if not f.name.startswith("adapter_"))
    elif index := run.base_file("model.safetensors.index.json"):
        total = json.loads(index.read_text()).get("metadata", {}).get("total_size", 0)
    elif single := run.base_file("model.safetensors"):
        total = single.stat().st_size
    if total:
        return total // DTYPE_BYTES.get(dtype, 4), dtype
    c = {**config, **config.get("text_config", {})}
    h, heads = c.get("hidden_size", 0), c.get("num_attention_heads", 1)
    hd, kv = c.get("head_dim") or h // heads, c.get("num_key_value_heads") or heads
    layer = 2 * h * hd * (heads + kv) + 3 * h * c.get("intermediate_size", 0) + 2 * h
    embed = c.get("vocab_size", 0) * h * (1 if c.get("tie_word_embeddings") else 2)
    return embed + c.get("num_hidden_layers", 0) * layer + h, dtype


def check_name(name: str) -> str:
    """A model name usable as a file name stem, an Ollama model name and a vLLM LoRA name."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise _error(f"model name {name!r}: use letters, digits, '.', '_' and '-' (starting with "
                     "a letter or digit, 128 at most)")
    return name


def vllm_lora_rank(r: int) -> int:
    """The smallest --max-lora-rank vLLM accepts that holds rank `r`."""
    for allowed in VLLM_LORA_RANKS:
        if r <= allowed:
            return allowed
    raise ValueError(f"LoRA rank {r} is over vLLM's largest --max-lora-rank "
                     f"({VLLM_LORA_RANKS[-1]})")


def serving_commands(run_dir, export_result: dict, *, relative_to=None) -> dict[str, str]:
    """The commands for the run and what `export_result` (export_model's result) holds; see
    the module docstring."""
    run = read_run(run_dir)
    name = export_result.get("name") or Path(export_result.get("out_dir") or run.name).name
    root = Path(relative_to).absolute() if relative_to is not None else None

    def show(path) -> str:
        path = Path(path).absolute()
        if root is None:
            return shlex.quote(str(path))
        if path == root or root in path.parents:
            rel = os.path.relpath(path, root)
            return shlex.quote(rel if rel == "." else f"./{rel}")
        if run.run_dir == path or run.run_dir in path.parents:
            return shlex.quote(f"{run.name}/{path.relative_to(run.run_dir).as_posix()}")
        return shlex.quote(path.name)

    commands = {}
    if run.method != "full" and run.lora_r and run.lora_r <= VLLM_LORA_RANKS[-1]:
        base = show(run.base_dir) if run.base_dir else shlex.quote(run.base_model)
        if root is not None and run.base_dir is None and Path(run.base_model).is_absolute():
            base = shlex.quote(Path(run.base_model).name)
        commands["vllm_lora"] = (f"vllm serve {base} --enable-lora --lora-modules "
                                 f"{name}={show(run.adapter_dir)} "
                                 f"--max-lora-rank {vllm_lora_rank(run.lora_r)}")
    if export_result.get("merged"):
        commands["vllm"] = f"vllm serve {show(export_result['merged'])}"
    elif run.method == "full":
        commands["vllm"] = f"vllm serve {show(run.adapter_dir)}"
    if export_result.get("gguf"):
        gguf = show(export_result["gguf"])
        commands["llama_server"] = f"llama-server -m {gguf} --jinja"
        commands["llama_cpp_python"] = f"python -m llama_cpp.server --model {gguf}"
    if export_result.get("modelfile"):
        modelfile, name = export_result["modelfile"], name.lower()  # Ollama's names are lowercase
        if root is None:
            from trainer.export.modelfile import ollama_create_command

            create = ollama_create_command(name, Path(modelfile).parent)
        else:
            create = f"ollama create {name} -f {show(modelfile)}"
        commands["ollama"] = f"{create} && ollama run {name}"
    return commands
