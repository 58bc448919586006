"""A renderer for the part of Go's text/template that Ollama Modelfile TEMPLATEs use.

Why: the export writes a Go template for Ollama and must show, before shipping it, that Ollama
will build the very prompt the model was trained on. Go is not at hand, so this follows Go's
semantics where they matter (truthiness, `{{-`/`-}}` trimming of all adjacent whitespace,
variable scopes, `and`/`or` returning an operand, byte-based `len`) and refuses everything else
with a clear error instead of guessing.

Supported: text, comments, `{{ pipeline }}`, `if` / `else if` / `else` / `end`, `range` (with
`$i, $x :=` or `$x :=`, and `else`), variables (`$`, `$x := …`, `$x = …`, `$x.Field`), fields
(`.`, `.A.B`), string / integer / true / false / nil literals, parentheses, `|` pipes, and the
functions eq, and, or, not, len and slice.

`render_ollama_chat` renders a chat the way Ollama's template.Execute does for /api/chat.

This module holds the public API and Ollama's chat conventions; the stages live beside it:
gotemplate_lex.py (source -> tokens, GoTemplateError), gotemplate_parse.py (tokens -> tree) and
gotemplate_eval.py (tree + data -> text).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from trainer.export.gotemplate_eval import Message, execute
from trainer.export.gotemplate_lex import GoTemplateError
from trainer.export.gotemplate_parse import Action, Field, If, Parser, Pipe, Range, Var

__all__ = ["GoTemplateError", "Template", "parse", "render", "render_ollama_chat"]


# -- public -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A parsed template: render it with a dict (Go map) of data."""

    source: str
    nodes: tuple

    def render(self, data: dict) -> str:
        return execute(self.source, self.nodes, data)

    def identifiers(self) -> set[str]:
        """Lower-cased field and variable names, as Ollama's Template.Vars() lists them."""
        return {name.lower() for name in _identifiers(self.nodes)}


def parse(source: str) -> Template:
    """Parse `source`; GoTemplateError names the line and column of anything unsupported."""
    return Template(source, Parser(source).parse())


def render(source: str, data: dict) -> str:
    return parse(source).render(data)


def render_ollama_chat(source: str, messages: list[dict]) -> str:
    """The prompt Ollama builds for a /api/chat request with these messages
    ([{"role", "content"}], a Modelfile SYSTEM already in front as a system message).

    As in Ollama's template.Execute: consecutive messages of one role (but tool) are merged with
    a blank line, .System joins every system message, .Messages keeps them too, .Response is
    empty. A template that never names .Messages is run Ollama's older way, once per
    prompt/response pair with .System/.Prompt/.Response, and cut after .Response on the last.
    """
    tmpl = parse(source)
    system, collated = _collate(messages)
    names = tmpl.identifiers()
    if "messages" in names or "document" in names:
        data = {"System": system, "Messages": collated, "Tools": [], "Response": "",
                "Think": False, "IsThinkSet": False, "Query": "", "Document": "",
                "Instruction": ""}
        return tmpl.render(data)
    nodes = tmpl.nodes
    if "response" not in names:  # Ollama appends {{ .Response }} to such templates
        nodes = nodes + (Action(Pipe((), False, ((Field(("Response",)),),), len(source))),)
    return _legacy(source, nodes, collated)


def _collate(messages: list[dict]) -> tuple[str, list[Message]]:
    system, out = [], []
    for m in messages:
        role, content = m["role"], m.get("content") or ""
        if role == "system":
            system.append(content)
        if out and out[-1].Role == role and role != "tool":
            out[-1] = replace(out[-1], Content=out[-1].Content + "\n\n" + content)
        else:
            out.append(Message(role, content))
    return "\n\n".join(system), out


def _legacy(source: str, nodes: tuple, messages: list[Message]) -> str:
    turn = {"System": "", "Prompt": "", "Response": ""}
    out: list[str] = []

    def run(tree: tuple) -> None:
        out.append(execute(source, tree, {**turn, "Think": False, "IsThinkSet": False}))
        turn.update(System="", Prompt="", Response="")

    for m in messages:
        if m.Role == "system":
            if turn["Prompt"] or turn["Response"]:
                run(nodes)
            turn["System"] = m.Content
        elif m.Role == "user":
            if turn["Response"]:
                run(nodes)
            turn["Prompt"] = m.Content
        elif m.Role == "assistant":
            turn["Response"] = m.Content
    run(_cut_after_response(nodes, {"cut": False}))
    return "".join(out)


def _cut_after_response(nodes: tuple, state: dict) -> tuple:
    """Ollama's deleteNode: everything after the first .Response goes (conditions are not looked
    at, only the nodes inside branches), so the last turn ends open for the model."""
    out = []
    for node in nodes:
        if state["cut"]:
            continue
        if isinstance(node, Action):
            state["cut"] = _names_response(node.pipe)
        elif isinstance(node, (If, Range)):
            body = _cut_after_response(node.body, state)
            orelse = () if state["cut"] else _cut_after_response(node.orelse, state)
            node = replace(node, body=body, orelse=orelse)
        out.append(node)
    return tuple(out)


def _names_response(pipe: Pipe) -> bool:
    for cmd in pipe.cmds:
        for op in cmd:
            if isinstance(op, Field) and "Response" in op.names:
                return True
            if isinstance(op, Pipe) and _names_response(op):
                return True
    return False


def _identifiers(nodes: tuple) -> list[str]:
    names: list[str] = []
    for node in nodes:
        if isinstance(node, Action):
            names += _pipe_identifiers(node.pipe)
        elif isinstance(node, (If, Range)):
            names += _pipe_identifiers(node.pipe)
            names += _identifiers(node.body) + _identifiers(node.orelse)
    return names


def _pipe_identifiers(pipe: Pipe) -> list[str]:
    names: list[str] = []
    for cmd in pipe.cmds:
        for op in cmd:
            if isinstance(op, Field):
                names += op.names
            elif isinstance(op, Var):
                names += [op.name, *op.names]
            elif isinstance(op, Pipe):
                names += _pipe_identifiers(op)
    return names
