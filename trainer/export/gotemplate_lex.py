"""The lexer of the Go text/template subset (trainer/export/gotemplate.py): source -> items.

Why apart: Go's lexical rules are the fiddly part (`{{-`/`-}}` trimming of all adjacent
whitespace, comments, interpreted strings whose \\x and octal escapes are bytes, integer-only
numbers) and the parser only wants their result: text items with the trimming applied and one
token list per action. GoTemplateError, and the line-and-column message every stage raises it
with, live here, the lowest of the template modules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class GoTemplateError(ValueError):
    """The template is outside the supported subset, or Go would fail to parse or run it."""


_SPACE = " \t\r\n"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[+-]?[0-9]+")


def _is_space(ch: str) -> bool:
    return ch != "" and ch in _SPACE


def _where(src: str, pos: int) -> str:
    line = src.count("\n", 0, pos) + 1
    return f"line {line}, column {pos - (src.rfind(chr(10), 0, pos) + 1) + 1}"


def error_at(src: str, pos: int, message: str) -> GoTemplateError:
    return GoTemplateError(f"template {_where(src, pos)}: {message}")


@dataclass(frozen=True)
class Tok:
    kind: str  # ident field var dot lit ( ) | , := =
    value: object
    pos: int
    end: int


# -- lexing -------------------------------------------------------------------------------------


def _right_delim(src: str, i: int) -> tuple[bool, int] | None:
    """(trim, position after) when `}}` or ` -}}` starts at i."""
    if src.startswith("}}", i):
        return False, i + 2
    if _is_space(src[i:i + 1]) and src.startswith("-}}", i + 1):
        return True, i + 4
    return None


def split(src: str) -> list[tuple]:
    """Text and action items, with the trim markers already applied to the text."""
    items: list[tuple] = []
    pos, trim_next = 0, False
    while True:
        start = src.find("{{", pos)
        text = src[pos:] if start < 0 else src[pos:start]
        if trim_next:
            text = text.lstrip(_SPACE)
        if start < 0:
            if text:
                items.append(("text", text, pos))
            return items
        i = start + 2
        if src[i:i + 1] == "-" and _is_space(src[i + 1:i + 2]):
            text, i = text.rstrip(_SPACE), i + 2
        if text:
            items.append(("text", text, pos))
        if src.startswith("/*", i):
            end = src.find("*/", i + 2)
            delim = _right_delim(src, end + 2) if end >= 0 else None
            if delim is None:
                raise error_at(src, start, "comment without */ right before the closing }}")
            trim_next, pos = delim
            continue
        tokens, trim_next, pos = _lex_action(src, i, start)
        items.append(("action", tokens, start))


def _lex_action(src: str, i: int, start: int) -> tuple[list[Tok], bool, int]:
    tokens: list[Tok] = []
    while True:
        if i >= len(src):
            raise error_at(src, start, "unclosed action: no }}")
        delim = _right_delim(src, i)
        if delim is not None:
            return tokens, delim[0], delim[1]
        if _is_space(src[i]):
            i += 1
            continue
        tok = _lex_token(src, i)
        if tok.kind == "field" and tokens and tokens[-1].end == i:
            raise error_at(src, i, "a field of a parenthesised or literal value is not supported")
        tokens.append(tok)
        i = tok.end


def _lex_token(src: str, i: int) -> Tok:
    ch = src[i]
    if ch == '"':
        return _lex_string(src, i)
    if ch == "`":
        end = src.find("`", i + 1)
        if end < 0:
            raise error_at(src, i, "unterminated raw string")
        return Tok("lit", src[i + 1:end].replace("\r", ""), i, end + 1)
    if ch == "$":
        m = re.compile(r"\$[A-Za-z0-9_]*").match(src, i)
        names, end = _field_chain(src, m.end())
        return Tok("var", (m.group(), names), i, end)
    if ch == ".":
        if _IDENT.match(src, i + 1):
            names, end = _field_chain(src, i)
            return Tok("field", names, i, end)
        if src[i + 1:i + 2].isdigit():
            raise error_at(src, i, "only integer number literals are supported")
        return Tok("dot", None, i, i + 1)
    m = _NUMBER.match(src, i)
    if m:
        if re.match(r"[A-Za-z0-9_.]", src[m.end():m.end() + 1]):
            raise error_at(src, i, "only decimal integer number literals are supported")
        return Tok("lit", int(m.group()), i, m.end())
    m = _IDENT.match(src, i)
    if m:
        word = m.group()
        if src[m.end():m.end() + 1] == ".":
            raise error_at(src, i, f"{word!r} cannot be followed by a field")
        literals = {"true": True, "false": False, "nil": None}
        if word in literals:
            return Tok("lit", literals[word], i, m.end())
        return Tok("ident", word, i, m.end())
    if src.startswith(":=", i):
        return Tok(":=", None, i, i + 2)
    if ch in "()|,=":
        return Tok(ch, None, i, i + 1)
    raise error_at(src, i, f"unexpected {ch!r} in action (not part of the supported subset)")


def _field_chain(src: str, i: int) -> tuple[tuple[str, ...], int]:
    names = []
    while src[i:i + 1] == ".":
        m = _IDENT.match(src, i + 1)
        if not m:
            break
        names.append(m.group())
        i = m.end()
    return tuple(names), i


_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}


def _lex_string(src: str, i: int) -> Tok:
    """A Go interpreted string literal; \\x and octal escapes are bytes, as in Go."""
    out, j = bytearray(), i + 1
    while True:
        ch = src[j:j + 1]
        if ch in ("", "\n"):
            raise error_at(src, i, "unterminated quoted string")
        if ch == '"':
            break
        if ch != "\\":
            out += ch.encode()
            j += 1
            continue
        esc = src[j + 1:j + 2]
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
            j += 2
        elif esc in ("x", "u", "U") or esc.isdigit():
            size = {"x": 2, "u": 4, "U": 8}.get(esc, 3)
            digits = src[j + 2:j + 2 + size] if esc in "xuU" else src[j + 1:j + 4]
            base = 8 if esc.isdigit() else 16
            try:
                code = int(digits, base)
            except ValueError:
                raise error_at(src, j, f"bad escape \\{esc}{digits}") from None
            out += bytes([code]) if esc == "x" or base == 8 else chr(code).encode()
            j += (2 + size) if esc in "xuU" else 4
        else:
            raise error_at(src, j, f"unknown escape \\{esc}")
    try:
        return Tok("lit", out.decode(), i, j + 1)
    except UnicodeDecodeError:
        raise error_at(src, i, "string literal is not valid UTF-8") from None
