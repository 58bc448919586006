"""The text of an Ollama Modelfile: its values written as Ollama's parser reads them, and read back.

Why apart: this is Modelfile syntax, whatever the model family. Ollama's parser silently drops
characters Go does not count printable and cannot escape a triple quote, so each value is
checked before it is written (TEMPLATE and SYSTEM in triple quotes, FROM and PARAMETER values on
one line), and `parse_modelfile` follows its state machine (parser.ParseFile) so the written
text is read back the way Ollama will read it before it ships.
"""

from __future__ import annotations

import unicodedata


def _go_printable(ch: str) -> bool:
    """Go's strconv.IsPrint: Ollama's Modelfile parser silently drops every other character."""
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


def quoted_block(value: str, what: str) -> str:
    if '"""' in value:
        raise ValueError(f'{what} cannot hold """: an Ollama Modelfile has no way to escape it')
    bad = next((c for c in value if not _go_printable(c) and c not in "\n\t\r"), None)
    if bad is not None:
        raise ValueError(f"{what} holds {bad!r}, which Ollama's Modelfile parser would drop")
    return f'"""{value}"""'


def _one_line(value: str, what: str) -> str:
    if any(not _go_printable(c) and c != "\t" for c in value):
        raise ValueError(f"{what} {value!r}: one line of printable text needed")
    return value


def from_argument(gguf_name: str) -> str:
    name = _one_line(gguf_name, "GGUF file name")
    if not name or "/" in name or "\\" in name or '"' in name or name in (".", ".."):
        raise ValueError(f"{gguf_name!r}: a plain file name next to the Modelfile is needed")
    return f'"./{name}"' if " " in name or "\t" in name else f"./{name}"


def param_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = _one_line(str(value), "PARAMETER value")
    if isinstance(value, str):
        return f'"{text}"'
    return text


def round_trip(text: str, template: str, system: str, stop: list[str]) -> None:
    """Read the text back as Ollama's parser does: a quoting slip must not ship."""
    commands = parse_modelfile(text)
    got = {name: [a for n, a in commands if n == name] for name in ("template", "system", "stop")}
    want = {"template": [template], "system": [system] if system else [], "stop": stop}
    if got != want:
        raise ValueError(f"Ollama would read this Modelfile differently: {got} != {want}")


def parse_modelfile(text: str) -> list[tuple[str, str]]:
    """[(command, argument)] as Ollama's parser.ParseFile reads `text` ("model" for FROM, the
    parameter's name for PARAMETER); ValueError where Ollama would refuse it."""
    commands: list[tuple[str, str]] = []
    state, buf, name = "nil", [], ""
    for ch in text:
        nxt, keep = _next_state(state, ch)
        if nxt != state:
            if state == "name":
                word = "".join(buf).lower()
                if word not in _COMMANDS:
                    raise ValueError(f"unknown Modelfile command {word!r}")
                nxt = "parameter" if word == "parameter" else nxt
                name = "model" if word == "from" else word
            elif state == "parameter":
                name = "".join(buf)
            elif state == "value":
                value, ok = _unquote("".join(buf).strip())
                if not ok or ch in " \t":  # a space never ends a value; a newline may
                    buf.append(ch)
                    continue
                commands.append((name, value))
            buf, state = [], nxt
        if keep and _go_printable(ch):
            buf.append(ch)
    if state == "value":
        value, ok = _unquote("".join(buf).strip())
        if not ok:
            raise ValueError("unterminated quoted value at the end of the Modelfile")
        commands.append((name, value))
    elif state not in ("nil", "comment"):
        raise ValueError("the Modelfile ends inside a command")
    if not any(n == "model" for n, _ in commands):
        raise ValueError("no FROM line")
    return commands


_COMMANDS = {"from", "license", "template", "system", "adapter", "draft", "renderer", "parser",
             "parameter", "requires"}  # MESSAGE lines are not written here


def _next_state(state: str, ch: str) -> tuple[str, bool]:
    """Ollama's parseRuneForState: the next state, and whether `ch` goes into the buffer."""
    space, newline = ch in " \t", ch in "\r\n"
    if state == "nil":
        if ch == "#":
            return "comment", False
        return ("nil", False) if space or newline else ("name", True)
    if state == "name":
        if ch.isascii() and ch.isalpha():
            return "name", True
        if space:
            return "value", False
        raise ValueError(f"unexpected {ch!r} in a Modelfile command name")
    if state == "parameter":
        if ch.isascii() and (ch.isalnum() or ch == "_"):
            return "parameter", True
        if space:
            return "value", False
        raise ValueError(f"unexpected {ch!r} in a PARAMETER name")
    if state == "value":
        return ("nil", True) if space or newline else ("value", True)
    return ("nil", False) if newline else ("comment", False)


def _unquote(s: str) -> tuple[str, bool]:
    if s.startswith('"""'):
        return (s[3:-3], True) if len(s) >= 6 and s.endswith('"""') else ("", False)
    if s.startswith('"'):
        return (s[1:-1], True) if len(s) >= 2 and s.endswith('"') else ("", False)
    return s, True
