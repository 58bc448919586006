"""Pushing an export folder to the Hugging Face Hub as a dataset repo.

The repo is created if needed (private unless asked otherwise), then the folder is uploaded in one
commit with `delete_patterns="data/*"`, so the repo's old shards are replaced rather than joined
by new ones. The token is used for these calls only: never stored, logged or written anywhere,
and scrubbed from any error message.
"""

from __future__ import annotations

from pathlib import Path

from studio.errors import BadInput, HubFailed
from studio.records import PushedFile
from trainer import hub as model_hub
from trainer.hub import scrub

DELETE_PATTERNS = "data/*"


def check_repo_id(repo_id: str) -> str:
    """The model push's check (trainer.hub), as the studio's BadInput."""
    try:
        return model_hub.check_repo_id(repo_id)
    except model_hub.PushError as e:
        raise BadInput(str(e)) from None


def folder_files(folder: Path) -> list[PushedFile]:
    """What an upload of `folder` sends: every file, by relative path, with its size."""
    return [{"path": p.relative_to(folder).as_posix(), "bytes": p.stat().st_size}
            for p in sorted(folder.rglob("*")) if p.is_file()]


def push(folder: Path, repo_id: str, token: str, *, private: bool = True,
         endpoint: str | None = None, message: str = "Upload dataset from SFT Studio") -> dict:
    """Create the repo (if needed) and upload the folder; returns the repo and commit URLs."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(endpoint=endpoint, token=token, library_name="sft-studio")
    try:
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        commit = api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=folder,
                                   delete_patterns=DELETE_PATTERNS, commit_message=message)
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else None
        why = ("the Hub refused the token (check HF_TOKEN or the token you typed; it needs "
               "write access)" if status in (401, 403) else f"the Hub answered {status}")
        raise HubFailed(f"push to {repo_id} failed: {why}: {scrub(str(e), token)}") from None
    except Exception as e:  # the HTTP client's own errors: connection refused, DNS, timeouts
        raise HubFailed(f"push to {repo_id} failed: cannot reach the Hub at "
                        f"{endpoint or 'huggingface.co'} ({type(e).__name__}: "
                        f"{scrub(str(e), token)})") from None
    return {"url": str(url), "commit_url": getattr(commit, "commit_url", None)}
