"""The run's data and tokenizer: read the export's splits, check them, make the tokenizer fit to
train on (a chat template with `{% generation %}` markers, a pad token that is not EOS).

Splits are read straight from the export's files (JSONL or Parquet under `data/`), not through
`datasets.load_dataset`, whose cache keys on folder names (see the export notes).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from trainer.config import ConfigError

SPLITS = ("train", "validation", "test")
ROLES = {"system", "user", "assistant"}

# A ChatML template with generation markers around the assistant's content and its <|im_end|>,
# used when a ChatML tokenizer's own template has no markers and TRL has no patch for it.
CHATML_TRAINING = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- generation -%}{{- message['content'] + '<|im_end|>' -}}{%- endgeneration -%}"
    "{{- '\\n' -}}"
    "{%- else -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


class DataError(ValueError):
    """The run's data is missing or malformed; the message names the file and the row."""


def _split_files(data_dir: Path, split: str) -> list[Path]:
    base = data_dir / "data" if (data_dir / "data").is_dir() else data_dir
    found = sorted(base.glob(f"{split}.jsonl")) + sorted(base.glob(f"{split}-*.parquet"))
    return found + sorted(base.glob(f"{split}.parquet"))


def _read(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DataError(f"{path}, line {n}: not JSON ({e.msg})") from None
    return rows


def _check(rows: list[dict], where: str) -> list[dict]:
    out = []
    for n, row in enumerate(rows, 1):
        messages = row.get("messages")
        if not isinstance(messages, list) or not messages:
            raise DataError(f"{where}, row {n}: no 'messages' list (export with the messages "
                            "schema)")
        for m in messages:
            if not isinstance(m, dict) or m.get("role") not in ROLES \
                    or not isinstance(m.get("content"), str):
                raise DataError(f"{where}, row {n}: each message needs a role (system, user, "
                                f"assistant) and text content; got {str(m)[:80]!r}")
        if messages[-1]["role"] != "assistant":
            raise DataError(f"{where}, row {n}: the last message must be the assistant's answer")
        out.append({"messages": messages, "id": row.get("id"), "source": row.get("source")})
    return out


def load_splits(data_dir: Path) -> dict[str, list[dict]]:
    """{split: rows}; train must exist and be non-empty, validation and test may be empty."""
    if not data_dir.is_dir():
        raise DataError(f"no data folder at {data_dir}")
    splits = {}
    for split in SPLITS:
        rows = []
        for path in _split_files(data_dir, split):
            rows += _check(_read(path), str(path))
        splits[split] = rows
    if not splits["train"]:
        raise DataError(f"no train rows under {data_dir} (expected data/train.jsonl or "
                        "data/train-*.parquet)")
    return splits


def subset(rows: list[dict], fraction: float, seed: int) -> list[dict]:
    """A seeded share of rows; smaller shares are prefixes of larger ones (nested subsets)."""
    if fraction >= 1:
        return list(rows)
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    keep = sorted(order[:max(1, round(len(rows) * fraction))])
    return [rows[i] for i in keep]


def has_generation_markers(template) -> bool:
    if isinstance(template, dict):
        template = template.get("default", "")
    return bool(template) and re.search(r"\{%-?\s*generation\s*-?%\}", template) is not None


def training_template(tokenizer) -> tuple[str | None, str]:
    """(template to use or None to keep the tokenizer's, why) for assistant-only loss."""
    template = tokenizer.chat_template
    if has_generation_markers(template):
        return None, "the chat template has {% generation %} markers"
    if template:
        try:
            from trl.chat_template_utils import get_training_chat_template

            patched = get_training_chat_template(tokenizer)
            if patched:
                return patched, "TRL's training version of the model's chat template"
        except ValueError:
            pass
    vocab = tokenizer.get_vocab()
    if "<|im_start|>" in vocab and "<|im_end|>" in vocab:
        return CHATML_TRAINING, "ChatML with {% generation %} markers (the model's tokens)"
    raise ConfigError("the model's chat template has no {% generation %} markers and no known "
                      "patch; set assistant_only_loss = false to train on whole conversations "
                      "(untick 'Loss on the answer only' in the Train tab, or "
                      "--set assistant_only_loss=false)")


def pad_token(tokenizer) -> tuple[str | None, str]:
    """A pad token distinct from EOS (padding as EOS teaches the model never to stop):
    (token to set or None to keep, why)."""
    eos, pad = tokenizer.eos_token, tokenizer.pad_token
    if pad is not None and pad != eos:
        return None, f"the tokenizer's pad token {pad}"
    vocab = tokenizer.get_vocab()
    for name in ("<|pad|>", "<pad>", "<|finetune_right_pad_id|>", "<|endoftext|>", "[PAD]"):
        if name in vocab and name != eos:
            return name, f"{name}, an existing token distinct from EOS {eos}"
    if tokenizer.unk_token and tokenizer.unk_token != eos:
        return tokenizer.unk_token, f"the unknown token {tokenizer.unk_token}"
    raise ConfigError(f"the tokenizer has no pad token distinct from EOS {eos!r}; add one to "
                      "the model folder's tokenizer")


def prompt_messages(row: dict) -> list[dict]:
    """The conversation up to (not including) the final assistant answer."""
    return row["messages"][:-1]


def answer(row: dict) -> str:
    return row["messages"][-1]["content"]


def token_lengths(tokenizer, rows: list[dict], template: str | None) -> list[int]:
    kw = {"chat_template": template} if template else {}
    out = []
    for row in rows:
        ids = tokenizer.apply_chat_template(row["messages"], tokenize=True, **kw)
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        out.append(len(ids))
    return out
