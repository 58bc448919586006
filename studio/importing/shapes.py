"""Turn one record of a known shape into (input, output, meta), or say exactly what is wrong.

Shapes: `input`/`output`, alpaca (`instruction`/`input`/`output`), OpenAI `messages`, ShareGPT
`conversations`, `prompt`/`completion`, and `text` (input-only). A record without an output
(missing, null or blank) is input-only.
"""

from __future__ import annotations

from studio.errors import BadInput

MAX_FIELD_CHARS = 100_000
SHAPES = ("messages", "sharegpt", "alpaca", "prompt-completion", "input-output", "text")
ROLES = {"system": "system", "user": "user", "assistant": "assistant", "human": "user",
         "gpt": "assistant", "chatgpt": "assistant", "model": "assistant", "bot": "assistant"}


def parse_map(spec: str | None) -> dict[str, str] | None:
    """`input=COL,output=COL` -> {"input": COL, "output": COL}."""
    if not spec:
        return None
    out = {}
    for part in spec.split(","):
        key, sep, col = part.partition("=")
        key, col = key.strip(), col.strip()
        if not sep or key not in ("input", "output") or not col:
            raise BadInput(f"--map takes input=COL,output=COL; cannot read {part!r}")
        out[key] = col
    if "input" not in out:
        raise BadInput("--map needs input=COL")
    return out


def detect_shape(where: str, record, mapping: dict | None) -> str:
    if mapping:
        return "mapped"
    if not isinstance(record, dict):
        raise BadInput(f"{where}: expected an object, got {_kind(record)}")
    keys = set(record)
    if "messages" in keys:
        return "messages"
    if "conversations" in keys:
        return "sharegpt"
    if "instruction" in keys:
        return "alpaca"
    if "prompt" in keys:
        return "prompt-completion"
    if "input" in keys:
        return "input-output"
    if "text" in keys:
        return "text"
    cols = ", ".join(sorted(map(str, keys))) or "none"
    raise BadInput(
        f"{where}: cannot tell the shape from the columns ({cols}); expected input/output, "
        "instruction/input/output, messages, conversations, prompt/completion or text, "
        "or pass --map input=COL,output=COL"
    )


def convert(where: str, record, shape: str, mapping: dict | None = None):
    """-> (input, output or None, meta)."""
    if not isinstance(record, dict):
        raise BadInput(f"{where}: expected an object, got {_kind(record)}")
    if shape == "mapped":
        _need(where, record, mapping["input"])
        inp = _text(where, record, mapping["input"])
        out = (_text(where, record, mapping["output"], optional=True)
               if "output" in mapping else None)
        return inp, out, {}
    if shape == "input-output":
        _need(where, record, "input")
        return _text(where, record, "input"), _text(where, record, "output", optional=True), {}
    if shape == "text":
        _need(where, record, "text")
        return _text(where, record, "text"), None, {}
    if shape == "prompt-completion":
        _need(where, record, "prompt")
        return (_text(where, record, "prompt"),
                _text(where, record, "completion", optional=True), {})
    if shape == "alpaca":
        _need(where, record, "instruction")
        instruction = _text(where, record, "instruction")
        extra = _text(where, record, "input", optional=True)
        inp = f"{instruction}\n\n{extra}" if extra else instruction
        return inp, _text(where, record, "output", optional=True), {}
    if shape in ("messages", "sharegpt"):
        return _conversation(where, record, shape)
    raise AssertionError(shape)


def _conversation(where: str, record: dict, shape: str):
    key, role_key, text_key = (("messages", "role", "content") if shape == "messages"
                               else ("conversations", "from", "value"))
    _need(where, record, key)
    turns = record[key]
    if not isinstance(turns, list) or not turns:
        raise BadInput(f"{where}: '{key}' must be a non-empty list of turns, got {_kind(turns)}")
    parsed = []
    for i, turn in enumerate(turns, 1):
        if not isinstance(turn, dict) or role_key not in turn or text_key not in turn:
            raise BadInput(f"{where}: turn {i} of '{key}' needs '{role_key}' and '{text_key}'")
        role = ROLES.get(str(turn[role_key]).lower()) if isinstance(turn[role_key], str) else None
        if role is None:
            raise BadInput(f"{where}: turn {i} has unknown role {turn[role_key]!r} "
                           f"(expected one of {', '.join(sorted(set(ROLES)))})")
        content = turn[text_key]
        if not isinstance(content, str):
            raise BadInput(f"{where}: turn {i} content must be text, got {_kind(content)}")
        _check_size(where, f"turn {i}", content)
        parsed.append((role, content))
    last_assistant = max((i for i, (r, _) in enumerate(parsed) if r == "assistant"), default=None)
    if last_assistant is None:
        raise BadInput(f"{where}: the conversation has no assistant turn")
    users = [i for i, (r, _) in enumerate(parsed[:last_assistant]) if r == "user"]
    if not users:
        raise BadInput(f"{where}: the conversation has no user turn before the assistant's")
    inp, out = parsed[users[-1]][1], parsed[last_assistant][1]
    if not inp.strip():
        raise BadInput(f"{where}: the user turn is blank")
    meta = {}
    system = [c for r, c in parsed if r == "system"]
    if system:
        meta["system"] = system[0]
    if users[-1] > 0 and len(parsed[: users[-1]]) > len(system):
        meta["history"] = [{"role": r, "content": c}
                           for r, c in parsed[: users[-1]] if r != "system"]
    return inp, (out if out.strip() else None), meta


def _need(where: str, record: dict, col: str) -> None:
    if col not in record:
        have = ", ".join(sorted(map(str, record))) or "none"
        raise BadInput(f"{where}: missing column '{col}' (columns: {have})")


def _text(where: str, record: dict, col: str, optional: bool = False) -> str | None:
    value = record.get(col)
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise BadInput(f"{where}: '{col}' is blank")
    if not isinstance(value, str):
        raise BadInput(f"{where}: '{col}' must be text, got {_kind(value)}")
    _check_size(where, f"'{col}'", value)
    return value


def _check_size(where: str, what: str, value: str) -> None:
    if len(value) > MAX_FIELD_CHARS:
        raise BadInput(f"{where}: {what} is {len(value):,} characters; the limit is "
                       f"{MAX_FIELD_CHARS:,}")


def _kind(value) -> str:
    return {dict: "an object", list: "an array", str: "text", bool: "true/false",
            int: "a number", float: "a number", type(None): "null"}.get(type(value),
                                                                         type(value).__name__)
