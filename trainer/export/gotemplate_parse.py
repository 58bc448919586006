"""The parser of the Go text/template subset (trainer/export/gotemplate.py): items -> tree.

Why apart: it holds the parsed tree's node types, which the evaluator (gotemplate_eval.py) and
the Ollama chat rendering (gotemplate.py) walk, and the checks Go makes at parse time: variables
declared before use and scoped to their block, `else if` chains sharing one `end`, functions
only first in a command, and everything outside the subset (`with`, `define`, other functions)
refused with its line and column.
"""

from __future__ import annotations

from dataclasses import dataclass

from trainer.export.gotemplate_lex import GoTemplateError, Tok, error_at, split

_FUNCS = {"eq", "and", "or", "not", "len", "slice"}
_UNSUPPORTED = {"with", "define", "template", "block", "break", "continue"}


# -- the parsed tree ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    names: tuple[str, ...]


@dataclass(frozen=True)
class Var:
    name: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class Dot:
    pass


@dataclass(frozen=True)
class Lit:
    value: object


@dataclass(frozen=True)
class Func:
    name: str


@dataclass(frozen=True)
class Pipe:
    decl: tuple[str, ...]
    assign: bool
    cmds: tuple[tuple[object, ...], ...]
    pos: int


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Action:
    pipe: Pipe


@dataclass(frozen=True)
class If:
    pipe: Pipe
    body: tuple
    orelse: tuple


@dataclass(frozen=True)
class Range:
    pipe: Pipe
    body: tuple
    orelse: tuple


# -- parsing ------------------------------------------------------------------------------------


class Parser:
    def __init__(self, src: str):
        self.src = src
        self.items = split(src)
        self.k = 0
        self.vars = ["$"]

    def error(self, pos: int, message: str) -> GoTemplateError:
        return error_at(self.src, pos, message)

    def parse(self) -> tuple:
        nodes, term = self.list()
        if term is not None:
            raise self.error(term[2], f"unexpected {{{{ {term[0]} }}}}")
        return nodes

    def list(self) -> tuple[tuple, tuple | None]:
        """Nodes up to an `else` or `end` (returned as the terminator) or the end of input."""
        nodes: list = []
        while self.k < len(self.items):
            kind, value, pos = self.items[self.k]
            self.k += 1
            if kind == "text":
                nodes.append(Text(value))
                continue
            if not value:
                raise self.error(pos, "empty action {{ }}")
            head = value[0]
            word = head.value if head.kind == "ident" else None
            if word in ("end", "else"):
                return tuple(nodes), (word, value[1:], pos)
            if word == "if":
                nodes.append(self.if_(value[1:], pos))
            elif word == "range":
                nodes.append(self.range_(value[1:], pos))
            elif word in _UNSUPPORTED:
                raise self.error(pos, f"{{{{ {word} }}}} is not supported")
            else:
                nodes.append(Action(self.pipeline(value, pos)))
        return tuple(nodes), None

    def close(self, term, opened: int, what: str) -> None:
        if term is None:
            raise self.error(opened, f"{{{{ {what} }}}} without a matching {{{{ end }}}}")
        if term[0] != "end":
            raise self.error(term[2], f"a second {{{{ else }}}} in {{{{ {what} }}}}")
        if term[1]:
            raise self.error(term[2], "unexpected words after end")

    def if_(self, tokens: list[Tok], pos: int) -> If:
        mark = len(self.vars)
        pipe = self.pipeline(tokens, pos)
        body, term = self.list()
        orelse: tuple = ()
        if term is not None and term[0] == "else":
            rest = term[1]
            if rest and rest[0].kind == "ident" and rest[0].value == "if":
                orelse = (self.if_(rest[1:], term[2]),)  # the chain shares one {{ end }}
                term = ("end", [], term[2])
            elif rest:
                raise self.error(term[2], "only {{ else }} or {{ else if … }} are supported")
            else:
                orelse, term = self.list()
        self.close(term, pos, "if")
        del self.vars[mark:]
        return If(pipe, body, orelse)

    def range_(self, tokens: list[Tok], pos: int) -> Range:
        mark = len(self.vars)
        pipe = self.pipeline(tokens, pos, in_range=True)
        body, term = self.list()
        orelse: tuple = ()
        if term is not None and term[0] == "else":
            if term[1]:
                raise self.error(term[2], "only a plain {{ else }} is supported in range")
            orelse, term = self.list()
        self.close(term, pos, "range")
        del self.vars[mark:]
        return Range(pipe, body, orelse)

    def pipeline(self, tokens: list[Tok], pos: int, in_range: bool = False) -> Pipe:
        decl, assign, i = self.declarations(tokens, pos, in_range)
        cmds, i = self.commands(tokens, i, pos, nested=False)
        if assign and decl[0] not in self.vars:
            raise self.error(pos, f"undefined variable {decl[0]}")
        if not assign:
            self.vars.extend(decl)
        return Pipe(decl, assign, cmds, pos)

    def declarations(self, tokens, pos, in_range) -> tuple[tuple[str, ...], bool, int]:
        def plain_var(k: int) -> bool:
            return len(tokens) > k and tokens[k].kind == "var" and not tokens[k].value[1]

        if plain_var(0) and len(tokens) > 1 and tokens[1].kind in (":=", "="):
            if in_range and tokens[1].kind == "=":
                raise self.error(pos, "range with = is not supported; declare with :=")
            return (tokens[0].value[0],), tokens[1].kind == "=", 2
        if in_range and plain_var(0) and len(tokens) > 3 and tokens[1].kind == ",":
            if plain_var(2) and tokens[3].kind == ":=":
                return (tokens[0].value[0], tokens[2].value[0]), False, 4
            raise self.error(pos, "expected range $i, $x := …")
        return (), False, 0

    def commands(self, tokens, i: int, pos: int, nested: bool) -> tuple[tuple, int]:
        cmds: list[tuple] = []
        cmd: list = []
        while i < len(tokens):
            tok = tokens[i]
            if tok.kind == ")":
                if nested:
                    break
                raise self.error(tok.pos, "unexpected )")
            if tok.kind == "|":
                cmds.append(self.command(cmd, tok.pos))
                cmd, i = [], i + 1
                continue
            if tok.kind == "(":
                sub, i = self.commands(tokens, i + 1, tok.pos, nested=True)
                if i >= len(tokens):
                    raise self.error(tok.pos, "unclosed (")
                cmd.append(Pipe((), False, sub, tok.pos))
            else:
                cmd.append(self.operand(tok))
            i += 1
        cmds.append(self.command(cmd, pos))
        return tuple(cmds), i

    def command(self, cmd: list, pos: int) -> tuple:
        if not cmd:
            raise self.error(pos, "missing value for command")
        if any(isinstance(op, Func) for op in cmd[1:]):
            raise self.error(pos, "a function can only come first in a command")
        if not isinstance(cmd[0], Func) and len(cmd) > 1:
            raise self.error(pos, "arguments given to something that is not a function")
        if cmd == [Lit(None)]:
            raise self.error(pos, "nil is not a command")
        return tuple(cmd)

    def operand(self, tok: Tok):
        if tok.kind == "field":
            return Field(tok.value)
        if tok.kind == "var":
            name, names = tok.value
            if name not in self.vars:
                raise self.error(tok.pos, f"undefined variable {name}")
            return Var(name, names)
        if tok.kind == "dot":
            return Dot()
        if tok.kind == "lit":
            return Lit(tok.value)
        if tok.kind == "ident":
            if tok.value in _FUNCS:
                return Func(tok.value)
            raise self.error(tok.pos, f"function {tok.value!r} is not supported "
                                      f"(only {', '.join(sorted(_FUNCS))})")
        raise self.error(tok.pos, f"unexpected {tok.kind!r}")
