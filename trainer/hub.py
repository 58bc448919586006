"""Pushing a trained output folder (a LoRA adapter, a full/merged model, or a GGUF export with
its Modelfile) as a Hub model repo.

The repo is created if needed (private unless asked otherwise) and the folder uploaded in one
commit, leaving out intermediate checkpoints and logs. The token is used for these calls only:
never stored or logged, and scrubbed from any error message.
"""

from __future__ import annotations

import os
import re
from fnmatch import fnmatchcase
from pathlib import Path

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
# training_args.bin (Trainer.save_model writes it) is a pickle that holds local paths
IGNORE = ("checkpoint-*/**", "*.log", "metrics.jsonl", "training_args.bin")
# what upload_folder always leaves out besides (huggingface_hub's DEFAULT_IGNORE_PATTERNS)
ALWAYS_IGNORED = (".git", ".git/*", "*/.git", "**/.git/**", ".cache/huggingface",
                  ".cache/huggingface/*", "*/.cache/huggingface", "**/.cache/huggingface/**")
MARKERS = ("adapter_config.json", "config.json")


class PushError(Exception):
    """The push cannot start (no token, bad repo id, not a model folder) or the Hub failed."""


class PushFailed(PushError):
    """The Hub refused the push or could not be reached (the checks before sending passed)."""


def check_repo_id(repo_id: str) -> str:
    """The repo id, stripped, or PushError saying what a Hub repo id looks like (the studio's
    dataset push checks with this too)."""
    repo_id = (repo_id or "").strip()
    if not REPO_ID.match(repo_id) or ".." in repo_id or repo_id.endswith((".git", ".")):
        raise PushError(f"a Hub repo id is OWNER/NAME (letters, digits, '-', '_', '.'); "
                        f"got {repo_id!r}")
    return repo_id


def _ignored(path: str) -> bool:
    return any(fnmatchcase(path, p) for p in (*IGNORE, *ALWAYS_IGNORED))


def model_files(folder: Path) -> list[dict]:
    """What an upload of `folder` sends: each file not ignored, by relative path, with its size."""
    files = ((p.relative_to(folder).as_posix(), p) for p in sorted(folder.rglob("*")))
    return [{"path": rel, "bytes": p.stat().st_size} for rel, p in files
            if p.is_file() and not _ignored(rel)]


def check_folder(folder: str | Path) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise PushError(f"no folder {folder} to push")
    if not any((folder / m).is_file() for m in MARKERS) and not any(folder.glob("*.gguf")):
        raise PushError(f"{folder} is not a trained model folder: it has no adapter_config.json "
                        f"(a LoRA adapter), no config.json (a full model) and no .gguf file")
    return folder


def push_model(folder: str | Path, repo_id: str, *, token: str | None = None,
               private: bool = True, endpoint: str | None = None,
               dry_run: bool = False) -> dict:
    """Create the model repo if needed and upload the folder. A dry run lists the files it
    would send and contacts nothing (and needs no token)."""
    repo_id = check_repo_id(repo_id)
    folder = check_folder(folder)
    files = model_files(folder)
    if dry_run:
        return {"repo_id": repo_id, "private": private, "dry_run": True, "files": files}
    token = token or os.environ.get("HF_TOKEN") or None
    if not token:
        raise PushError("no Hub token: set HF_TOKEN or pass one")
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(endpoint=endpoint, token=token)
    where = endpoint or "https://huggingface.co"
    try:
        url = api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        # a fresh list: upload_folder appends its default patterns to the one it is given
        commit = api.upload_folder(folder_path=folder, repo_id=repo_id, repo_type="model",
                                   ignore_patterns=list(IGNORE),
                                   commit_message="Upload model from SFT Studio")
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else None
        why = (f"the Hub refused the token ({status})" if status in (401, 403)
               else f"the Hub answered {status}: {scrub(str(e), token)}")
        raise PushFailed(f"push to {repo_id} failed: {why}") from None
    except Exception as e:  # the HTTP client's own errors (connection refused, DNS, timeouts)
        if _is_connection_error(e):
            raise PushFailed(f"push to {repo_id} failed: cannot reach the Hub at {where} "
                            f"({type(e).__name__})") from None
        raise PushFailed(f"push to {repo_id} failed: {type(e).__name__}: "
                        f"{scrub(str(e), token)}") from None
    return {"repo_id": repo_id, "private": private, "url": str(url),
            "commit_url": getattr(commit, "commit_url", None), "files": files}


def _is_connection_error(e: Exception) -> bool:
    """httpx's transport errors (connect, read, timeout; huggingface_hub 2.x vendors httpx as
    `httpx2`), without importing httpx."""
    names = {c.__name__ for c in type(e).__mro__}
    return bool(names & {"TransportError", "ConnectionError", "TimeoutError"})


def scrub(text: str, token: str | None) -> str:
    """The first line of an error (300 characters at most) with the token masked."""
    text = text.replace(token, "***") if token else text
    return text.strip().splitlines()[0][:300] if text.strip() else text
