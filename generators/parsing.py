"""Reading a teacher's answer: strict JSON first, then leniently (code fences, prose around the
object). What cannot be read raises ParseError with the reason; nothing is ever made up."""

from __future__ import annotations

import json
import re

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


class ParseError(ValueError):
    pass


def schema_for(key: str, labels: tuple[str, ...] = ()) -> dict:
    """The JSON schema sent as response_format: one string field (an enum for labels)."""
    prop = {"type": "string", "enum": list(labels)} if labels else {"type": "string"}
    return {"type": "object", "properties": {key: prop}, "required": [key],
            "additionalProperties": False}


def parse_answer(text: str, key: str, *, labels: tuple[str, ...] = (),
                 finish_reason: str | None = None) -> str:
    """The value of `key` in the answer, or ParseError saying why not."""
    obj = json_object(text)
    if obj is None:
        cut = " (the answer was cut off at max_tokens)" if finish_reason == "length" else ""
        raise ParseError(f"no JSON object in the answer{cut}")
    value = obj.get(key)
    if not isinstance(value, str):
        found = ", ".join(sorted(map(str, obj))) or "none"
        raise ParseError(f"the JSON object has no string {key!r} (keys: {found})")
    value = value.strip()
    if not value:
        raise ParseError(f"{key!r} is empty")
    if labels:
        for label in labels:
            if value.lower() == label.lower():
                return label
        raise ParseError(f"{value!r} is not one of the labels {', '.join(labels)}")
    return value


def json_object(text: str) -> dict | None:
    text = text.strip()
    candidates = [text] + _FENCE.findall(text)
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start:end + 1])
    for c in candidates:
        try:
            obj = json.loads(c)
        except (ValueError, TypeError):
            continue
        if isinstance(obj, dict):
            return obj
    return None
