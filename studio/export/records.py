"""The shapes a row leaves in, and the Arrow schema of each.

- messages: TRL's conversational form, {"messages": [system, user, assistant]}.
- prompt-completion: TRL's conversational prompt-completion, {"prompt": [system, user],
  "completion": [assistant]} (TRL then computes the loss on the completion only).
- alpaca: {"instruction", "input", "output"}.
Every record also carries the studio's `id` and the row's `source` (imported, teacher or
corrupted), so a result can be traced back and evaluation can look at real rows alone.
"""

from __future__ import annotations

import hashlib
import json

from studio.export import SCHEMAS


def record(schema: str, system: str, row: dict) -> dict:
    user = {"role": "user", "content": row["input"]}
    assistant = {"role": "assistant", "content": row["output"]}
    sys_msg = {"role": "system", "content": system}
    if schema == "messages":
        body = {"messages": [sys_msg, user, assistant]}
    elif schema == "prompt-completion":
        body = {"prompt": [sys_msg, user], "completion": [assistant]}
    elif schema == "alpaca":
        body = {"instruction": system, "input": row["input"], "output": row["output"]}
    else:
        raise ValueError(f"unknown schema {schema!r}; use {', '.join(SCHEMAS)}")
    return {**body, "id": int(row["id"]), "source": row["source"]}


def record_hash(rec: dict) -> str:
    return hashlib.sha256(canonical(rec).encode()).hexdigest()


def canonical(rec: dict) -> str:
    return json.dumps(rec, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def arrow_schema(schema: str):
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    fields = {
        "messages": [("messages", pa.list_(message))],
        "prompt-completion": [("prompt", pa.list_(message)), ("completion", pa.list_(message))],
        "alpaca": [("instruction", pa.string()), ("input", pa.string()), ("output", pa.string())],
    }[schema]
    return pa.schema(fields + [("id", pa.int64()), ("source", pa.string())])


def arrow_table(schema: str, rows: list[dict]):
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=arrow_schema(schema))


def features(schema: str) -> list[dict]:
    """The `datasets` features of a schema, as the card's dataset_info lists them."""
    message = [{"name": "role", "dtype": "string"}, {"name": "content", "dtype": "string"}]
    body = {
        "messages": [{"name": "messages", "list": message}],
        "prompt-completion": [{"name": "prompt", "list": message},
                              {"name": "completion", "list": message}],
        "alpaca": [{"name": n, "dtype": "string"} for n in ("instruction", "input", "output")],
    }[schema]
    return body + [{"name": "id", "dtype": "int64"}, {"name": "source", "dtype": "string"}]
