"""The evaluator of the Go text/template subset (trainer/export/gotemplate.py): tree + data -> text.

Why apart: executing is its own set of Go semantics, kept separate from the syntax: truthiness,
variable scopes per block and range iteration, `and`/`or` returning the operand that decides,
byte-based `len` and `slice`, `eq` refusing mixed types, missing map keys as the zero value
(Ollama parses with missingkey=zero), and Ollama's api.Message as a struct whose unknown fields
are an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from trainer.export.gotemplate_lex import GoTemplateError, error_at
from trainer.export.gotemplate_parse import Action, Dot, Field, Func, If, Pipe, Range, Text, Var

_MISSING = object()


@dataclass(frozen=True)
class Message:
    """Ollama's api.Message: a struct, so an unknown field is an error (a map gives nil)."""

    Role: str
    Content: str
    Thinking: str = ""
    Images: object = None
    ToolCalls: object = None
    ToolName: str = ""


def _truth(value) -> bool:
    if value is None:
        return False
    if isinstance(value, (bool, int)):
        return bool(value)
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) > 0
    return True


def _kind(value) -> str:
    return {bool: "bool", int: "int", str: "string"}.get(type(value), type(value).__name__)


class _State:
    def __init__(self, src: str, root):
        self.src = src
        self.vars: list[list] = [["$", root]]
        self.out: list[str] = []

    def error(self, pos: int, message: str) -> GoTemplateError:
        return error_at(self.src, pos, message)

    def walk(self, dot, nodes) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipe(dot, node.pipe)
                if not node.pipe.decl:
                    self.out.append(self.printable(value, node.pipe.pos))
            elif isinstance(node, If):
                mark = len(self.vars)
                branch = node.body if _truth(self.pipe(dot, node.pipe)) else node.orelse
                self.walk(dot, branch)
                del self.vars[mark:]
            else:
                self.range_(dot, node)

    def range_(self, dot, node: Range) -> None:
        mark = len(self.vars)
        value = self.pipe(dot, node.pipe)
        if value is None:
            value = []
        if not isinstance(value, (list, tuple)):
            raise self.error(node.pipe.pos, f"range can't iterate over a {_kind(value)}")
        for index, elem in enumerate(value):
            if node.pipe.decl:
                self.vars[-1][1] = elem
            if len(node.pipe.decl) == 2:
                self.vars[-2][1] = index
            inner = len(self.vars)
            self.walk(elem, node.body)
            del self.vars[inner:]
        if not value:
            self.walk(dot, node.orelse)
        del self.vars[mark:]

    def pipe(self, dot, pipe: Pipe):
        value = _MISSING
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value, pipe.pos)
        for name in pipe.decl:
            if pipe.assign:
                next(v for v in reversed(self.vars) if v[0] == name)[1] = value
            else:
                self.vars.append([name, value])
        return value

    def command(self, dot, cmd: tuple, final, pos: int):
        head = cmd[0]
        if not isinstance(head, Func):
            if final is not _MISSING:
                raise self.error(pos, "a pipe into something that is not a function")
            return self.arg(dot, head, pos)
        thunks = [lambda op=op: self.arg(dot, op, pos) for op in cmd[1:]]
        if final is not _MISSING:
            thunks.append(lambda: final)
        return self.call(head.name, thunks, pos)

    def arg(self, dot, op, pos: int):
        if isinstance(op, Field):
            return self.fields(dot, op.names, pos)
        if isinstance(op, Var):
            value = next(v for v in reversed(self.vars) if v[0] == op.name)[1]
            return self.fields(value, op.names, pos)
        if isinstance(op, Dot):
            return dot
        if isinstance(op, Pipe):
            return self.pipe(dot, op)
        return op.value

    def fields(self, value, names: tuple[str, ...], pos: int):
        for name in names:
            if isinstance(value, dict):
                value = value.get(name)  # Ollama parses with missingkey=zero
            elif isinstance(value, Message) and name in Message.__dataclass_fields__:
                value = getattr(value, name)
            elif value is None:
                raise self.error(pos, f"nil pointer evaluating .{name}")
            else:
                raise self.error(pos, f"can't evaluate field {name} in a {_kind(value)}")
        return value

    def call(self, name: str, thunks: list, pos: int):
        if name in ("and", "or"):
            if not thunks:
                raise self.error(pos, f"{name} needs at least one argument")
            value = None
            for thunk in thunks:  # Go 1.18+ stops at the first operand that decides
                value = thunk()
                if _truth(value) != (name == "and"):
                    return value
            return value
        args = [thunk() for thunk in thunks]
        return getattr(self, f"fn_{name}")(args, pos)

    def want(self, name: str, args: list, pos: int, n: int, at_least: bool = False) -> None:
        if len(args) < n or (len(args) > n and not at_least):
            raise self.error(pos, f"wrong number of arguments for {name}: {len(args)}")

    def fn_not(self, args: list, pos: int) -> bool:
        self.want("not", args, pos, 1)
        return not _truth(args[0])

    def fn_len(self, args: list, pos: int) -> int:
        self.want("len", args, pos, 1)
        value = args[0]
        if isinstance(value, str):
            return len(value.encode())  # Go counts bytes
        if isinstance(value, (list, tuple, dict)):
            return len(value)
        raise self.error(pos, f"len of a {_kind(value)}")

    def fn_eq(self, args: list, pos: int) -> bool:
        self.want("eq", args, pos, 2, at_least=True)
        first = args[0]
        for other in args[1:]:
            if first is None or other is None or _kind(first) != _kind(other):
                raise self.error(pos, f"incompatible types for comparison: "
                                      f"{_kind(first)} and {_kind(other)}")
            if first == other:
                return True
        return False

    def fn_slice(self, args: list, pos: int):
        self.want("slice", args, pos, 1, at_least=True)
        item, idx = args[0], args[1:]
        if not isinstance(item, (str, list, tuple)) or len(idx) > 2:
            raise self.error(pos, f"slice of a {_kind(item)} with {len(idx)} indexes")
        if any(_kind(i) != "int" for i in idx):
            raise self.error(pos, "slice indexes must be integers")
        seq = item.encode() if isinstance(item, str) else item
        lo, hi = (list(idx) + [0, len(seq)][len(idx):])[:2]
        if not 0 <= lo <= hi <= len(seq):
            raise self.error(pos, f"slice index out of range: [{lo}:{hi}] of {len(seq)}")
        if isinstance(item, str):
            try:
                return seq[lo:hi].decode()
            except UnicodeDecodeError:
                raise self.error(pos, "slice cuts a UTF-8 character") from None
        return seq[lo:hi]

    def printable(self, value, pos: int) -> str:
        if value is None:
            return "<no value>"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, str)):
            return str(value)
        raise self.error(pos, f"printing a {_kind(value)} is not supported")


def execute(source: str, nodes: tuple, data) -> str:
    state = _State(source, data)
    state.walk(data, nodes)
    return "".join(state.out)
