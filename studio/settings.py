"""Settings are read once (from the environment and the command line) into one typed object."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_DB = "studio.duckdb"
DEFAULT_TASK = "tweet-summary"


def _default_reviewer() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "cli"


@dataclass(frozen=True)
class Settings:
    db_path: Path = field(default_factory=lambda: Path(DEFAULT_DB))
    task: str = DEFAULT_TASK
    reviewer: str = field(default_factory=_default_reviewer)
    # The teacher's endpoint and model (the key is read only when a job starts, never kept here).
    teacher_base_url: str | None = None
    teacher_model: str | None = None
    # Structured output for the teacher and the judge: auto | json_schema | json_object | off.
    teacher_structured: str | None = None
    # A TOML price table for the cost meter and dollar budgets: [models."NAME"] in = X, out = Y
    # (USD per million tokens).
    prices_file: Path | None = None
    # Where derived model files go (the embedding model's ONNX export); None: ~/.cache/sft-studio.
    cache_dir: Path | None = None
    # The embedding model for embed, dedupe and similar (None: the store's last, else MiniLM).
    embed_model: str | None = None
    # The Hugging Face Hub to push to (None: huggingface.co). The token is never kept here.
    hub_endpoint: str | None = None
    # Where training runs get their folders (None: `runs/` beside the store file).
    runs_dir: Path | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        env = os.environ if environ is None else environ
        s = cls(
            db_path=Path(env.get("SFT_STUDIO_DB") or DEFAULT_DB),
            task=env.get("SFT_STUDIO_TASK") or DEFAULT_TASK,
            reviewer=env.get("SFT_STUDIO_REVIEWER") or _default_reviewer(),
            teacher_base_url=env.get("OPENAI_BASE_URL") or None,
            teacher_model=env.get("OPENAI_MODEL") or None,
            teacher_structured=env.get("SFT_STUDIO_STRUCTURED") or None,
            prices_file=Path(env["SFT_STUDIO_PRICES"]) if env.get("SFT_STUDIO_PRICES") else None,
            cache_dir=Path(env["SFT_STUDIO_CACHE"]) if env.get("SFT_STUDIO_CACHE") else None,
            embed_model=env.get("SFT_STUDIO_EMBED_MODEL") or None,
            hub_endpoint=env.get("HF_ENDPOINT") or None,
            runs_dir=Path(env["SFT_STUDIO_RUNS"]) if env.get("SFT_STUDIO_RUNS") else None,
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        for key in ("db_path", "runs_dir"):
            if key in given:
                given[key] = Path(given[key])
        return replace(s, **given)
