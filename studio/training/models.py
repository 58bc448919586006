"""Base models: the presets, whether this machine has each one (a local folder, the Hugging Face
cache, or the tiny demo model built here), known in well under a second and never by trying a
download, and the tiny demo model itself (random weights, built on first use, no download), so
the whole path (train, evaluate, the learning curve, the playground) runs on any machine."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from studio.errors import BadInput

TINY_DEMO = "tiny-demo"
TINY_DEMO_LABEL = "tiny demo model (random weights, built here, no download)"
PRESETS = ["Qwen/Qwen2.5-0.5B-Instruct", "HuggingFaceTB/SmolLM2-360M-Instruct",
           "Qwen/Qwen2.5-1.5B-Instruct", "HuggingFaceTB/SmolLM2-1.7B-Instruct",
           "meta-llama/Llama-3.2-1B-Instruct", "google/gemma-3-1b-it",
           "Qwen/Qwen2.5-3B-Instruct", "meta-llama/Llama-3.2-3B-Instruct"]
# What the demo model's tokenizer learns from: any short English text does.
_DEMO_TEXTS = [
    "The Green Line is running late this morning because of a signal failure.",
    "omg the 42 bus is late AGAIN, third time this week lol",
    "Summarise the tweet in one short clean sentence.",
    "How often should I descale my espresso machine? Every two to three months.",
    "positive negative neutral", "Thanks for reaching out! Here is what to do next.",
]


def availability(name: str) -> dict:
    """{"name", "available", "where"}: whether training can load `name` without a download."""
    if name == TINY_DEMO:
        return {"name": name, "available": True, "where": "built here on first use"}
    folder = Path(name).expanduser()
    if folder.exists():
        ok = (folder / "config.json").is_file()
        return {"name": name, "available": ok,
                "where": "a local folder" if ok else "a local folder without config.json"}
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json")
    except Exception:  # not a repo id at all
        cached = None
    if isinstance(cached, str):
        return {"name": name, "available": True, "where": "in the Hugging Face cache"}
    return {"name": name, "available": False,
            "where": "not cached here: training downloads it from the Hub"}


def label(name: str, available: bool | None = None) -> str:
    """How the Train tab lists a model: the demo's plain label, or the name and whether this
    machine has it (`available`, when the caller looked already)."""
    if name == TINY_DEMO:
        return TINY_DEMO_LABEL
    if available is None:
        available = availability(name)["available"]
    return f"{name} ({'available' if available else 'not cached here'})"


def hub_reachable(timeout: float = 1.5) -> bool:
    """Whether the Hub answers a TCP connection now (HF_HUB_OFFLINE=1 says no at once)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def resolve(name: str, cache_dir: Path) -> str:
    """The path or Hub id training loads: a local folder as an absolute path, the demo model
    built into the cache on first use; a model this machine does not have is refused at once
    when the Hub cannot be reached."""
    if name == TINY_DEMO:
        folder = cache_dir / "tiny-demo"
        if not (folder / "config.json").is_file():
            from trainer.tiny import build_tiny_model

            build_tiny_model(folder, _DEMO_TEXTS)
        return str(folder)
    folder = Path(name).expanduser()
    if folder.exists():  # the trainer says what is wrong with a folder that is not a model
        return str(folder.resolve())
    if not availability(name)["available"]:
        if not hub_reachable():
            raise BadInput(f"{name} is not cached here and the Hugging Face Hub cannot be "
                           f"reached from this machine; pick the {TINY_DEMO_LABEL}, a model in "
                           "the Hugging Face cache, or a local folder")
    return name
