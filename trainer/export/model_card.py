"""The model card (README.md) of an export folder: YAML front matter the Hub reads (base_model,
library_name, tags, license when the base's card has one), what the model is and does, how it
scored (eval.json), the files in the folder with their sizes, and the commands that serve them.

Like the run's own card (trainer/card.py) it holds no date, no absolute path (paths are relative
to the folder; a local base model is named by its folder name) and no token-looking string.
"""

from __future__ import annotations

import json
from pathlib import Path

from trainer.card import clean
from trainer.export.commands import HUB_ID, RunInfo, serving_commands

FORMATS = {".gguf": "GGUF", ".safetensors": "safetensors"}
LABELS = {"vllm": "vLLM", "llama_server": "llama.cpp's server",
          "llama_cpp_python": "llama-cpp-python's server", "ollama": "Ollama"}


def base_license(run: RunInfo) -> str | None:
    """The license in the base model's card front matter (a local folder or the Hub cache)."""
    import yaml

    path = run.base_file("README.md")
    if path is None:
        return None
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return None
    try:
        meta = yaml.safe_load(text.split("---", 2)[1]) or {}
    except (yaml.YAMLError, IndexError):
        return None
    value = meta.get("license") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def files(folder: Path, result: dict) -> list[list[str]]:
    """[name, format, size] for what the folder holds (the merged model as one row)."""
    rows = []
    weights = sorted(folder.glob("*.safetensors"))
    if weights:
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        rows.append(["./ (config.json, *.safetensors, tokenizer)",
                     "Hugging Face model (safetensors)", _size(size)])
    for p in sorted(folder.glob("*.gguf")):
        rows.append([p.name, f"GGUF {result.get('quant')}", _size(p.stat().st_size)])
    if (folder / "Modelfile").is_file():
        rows.append(["Modelfile", "Ollama Modelfile", _size((folder / "Modelfile").stat().st_size)])
    return rows


def _evaluation(run: RunInfo) -> list[str]:
    try:
        ev = json.loads((run.out / "eval.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(ev, dict) or "metric" not in ev:
        return []

    def cell(v) -> str:
        return "—" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)

    return ["## Evaluation", "",
            f"On {cell(ev.get('n'))} held-out rows, the base model against the tuned one:", "",
            "| metric | base | tuned | delta |", "|---|---|---|---|",
            f"| {ev['metric']} | {cell(ev.get('base'))} | {cell(ev.get('tuned'))} | "
            f"{cell(ev.get('delta'))} |", ""]


def render(folder: Path, run: RunInfo, result: dict, *, license: str | None = None,
           version: str = "dev") -> str:
    """The card's text for the export folder `folder` (its files as they are now) of `run`,
    described by export_model's `result` (paths as they will be once the folder is in place)."""
    import yaml

    to, quant = result["to"], result.get("quant")
    base = clean(run.base_model) if run.base_model else "(not recorded)"
    adapter = run.method in ("lora", "qlora")
    tags = ["sft", "sft-studio", "lora" if adapter else "full"]
    tags += ["merged"] if to == "merged" and adapter else ["gguf", quant]
    tags += ["ollama"] if to == "ollama" else []
    meta = {}
    if run.base_dir is None and HUB_ID.fullmatch(run.base_model or ""):
        meta["base_model"] = run.base_model
    meta.update(library_name="transformers" if to == "merged" else "gguf",
                pipeline_tag="text-generation", tags=tags)
    if license:
        meta["license"] = license
    kind = "A LoRA adapter folded into" if adapter else "A full fine-tune of"
    what = {"merged": "a standalone Hugging Face model (safetensors): it loads like any causal "
                      "language model, no adapter needed",
            "gguf": f"one GGUF file at {quant} for llama.cpp and the tools built on it",
            "ollama": f"a GGUF file at {quant} with an Ollama Modelfile whose TEMPLATE builds "
                      "the prompt exactly as in training"}[to]
    task = clean(run.task_name) or "SFT"
    body = [f"# {task} ({Path(base).name}, {to}{f' {quant}' if quant else ''})", "",
            f"{kind} `{base}`, exported as {what}.", "", "## What it does", "",
            clean(run.instruction) or "(no instruction recorded)", ""]
    body += _evaluation(run)
    body += ["## Files", "", "| file | format | size |", "|---|---|---|",
             *(f"| {' | '.join(r)} |" for r in files(folder, result)), ""]
    commands = serving_commands(run.run_dir, result, relative_to=result["out_dir"])
    lora = commands.pop("vllm_lora", None)
    body += ["## How to serve it", "", "From this folder:", ""]
    for key, command in commands.items():
        body += [f"{LABELS.get(key, key)}:", "", "```sh", clean(command), "```", ""]
    if lora:
        body += [f"Or, without this export, vLLM can serve the run's LoRA adapter on its base "
                 f"(from the folder that holds `{run.name}`):", "", "```sh", clean(lora), "```",
                 ""]
    body += [f"Exported with SFT Studio {version}."]
    front = yaml.safe_dump(clean(meta), sort_keys=False, allow_unicode=True)
    return f"---\n{front}---\n\n" + "\n".join(body) + "\n"


def write_card(folder: Path, run: RunInfo, result: dict) -> Path:
    """Write README.md into `folder`; returns its path."""
    from trainer.outputs import version

    text = render(folder, run, result, license=base_license(run), version=version())
    path = Path(folder) / "README.md"
    path.write_text(text, encoding="utf-8")
    return path
