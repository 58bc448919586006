"""Ollama Modelfiles whose TEMPLATE builds exactly the prompt the model was trained on.

Ollama formats a chat with a Go template, not with the tokenizer's Jinja chat template, so the
export translates the template per family (ChatML, Llama 3.x, Gemma 3), reading the details
that differ inside a family (a default system prompt, Llama's knowledge-cutoff/date preamble)
off the real template by rendering it. `check` renders both for the same conversations and
raises on the first differing character, so a Modelfile that would prompt the model differently
from training is never written silently.

This module holds the family translation and the check; the Modelfile's own syntax (quoting
values, reading the text back as Ollama does) is in modelfile_text.py.
"""

from __future__ import annotations

import re
import shlex
from datetime import date, datetime, time
from pathlib import Path

from trainer.export import gotemplate
from trainer.export.modelfile_text import (
    from_argument,
    param_value,
    parse_modelfile,
    quoted_block,
    round_trip,
)

__all__ = ["STOPS", "TemplateError", "check", "family", "modelfile", "ollama_create_command",
           "parse_modelfile", "render_chat_template"]


class TemplateError(ValueError):
    """The chat template cannot be translated into an Ollama TEMPLATE, or the translation does
    not render what the chat template renders."""


# One PARAMETER stop line each: the end-of-turn token and the start of a next turn, so the model
# never runs on into a turn of its own.
STOPS = {
    "chatml": ["<|im_start|>", "<|im_end|>"],
    "llama3": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
    "gemma3": ["<start_of_turn>", "<end_of_turn>"],
}
_MARKERS = {
    "chatml": ("<|im_start|>", "<|im_end|>"),
    "llama3": ("<|start_header_id|>", "<|eot_id|>"),
    "gemma3": ("<start_of_turn>", "<end_of_turn>"),
}
_NAMES = {"chatml": "ChatML", "llama3": "Llama 3", "gemma3": "Gemma 3"}

# Renderings that stand for every chat: what `check` and the template probes send.
_PROBE_SYSTEM, _PROBE_USER = "Be brief.", "Hello there."
_STAND_IN_SYSTEM = "You are a careful assistant."
_USER_1 = 'Summarise this: "The cat sat on the mat." Keep it short.'
_ASSISTANT_1 = "A cat sat on a mat.\nNothing else happened."
_USER_2 = "Now say it in French, please (no more than 10 words)."
# Neutral special tokens for renderings made without the tokenizer (bos_token + x fails if unset).
_NO_TOKENS = {"bos_token": "", "eos_token": "", "pad_token": "", "unk_token": ""}


def family(chat_template: str, model_type: str | None = None) -> str:
    """"chatml", "llama3" or "gemma3", read off the template's turn markers (a Llama model with
    a ChatML template is "chatml"); TemplateError for anything else."""
    if not chat_template or not chat_template.strip():
        raise TemplateError("the model has no chat template, so there is no prompt format to "
                            "give Ollama")
    for fam, markers in _MARKERS.items():
        if all(marker in chat_template for marker in markers):
            if fam == "gemma3" and model_type and not model_type.startswith("gemma3"):
                raise TemplateError(f"a {model_type} model's Gemma chat template: only Gemma 3's "
                                    "(with system prompts folded into the first turn) is supported")
            return fam
    start = chat_template.strip()[:80]
    raise TemplateError("cannot translate this chat template into an Ollama TEMPLATE: it is not "
                        "ChatML (<|im_start|> … <|im_end|>), Llama 3 (<|start_header_id|> … "
                        f"<|eot_id|>) or Gemma 3 (<start_of_turn> … <end_of_turn>); it starts "
                        f"{start!r}")


def render_chat_template(chat_template: str, messages: list[dict], *, extras: dict | None = None,
                         today: date | None = None, add_generation_prompt: bool = True) -> str:
    """The text transformers' apply_chat_template(tokenize=False) gives, from transformers' own
    compiled environment ({% generation %}, raise_exception, tojson, …), except that
    strftime_now reads `today` (default: the real date), so a Llama date is reproducible."""
    import jinja2
    from transformers.utils.chat_template_utils import _compile_jinja_template

    day = today or date.today()

    def strftime_now(fmt: str) -> str:
        return datetime.combine(day, time(12)).strftime(fmt)

    # Render keywords shadow the environment's globals, and the compiled template is shared.
    kwargs = {**(extras or {}), "strftime_now": strftime_now}
    try:
        return _compile_jinja_template(chat_template).render(
            messages=messages, tools=None, documents=None,
            add_generation_prompt=add_generation_prompt, **kwargs)
    except jinja2.TemplateError as e:
        roles = ", ".join(m["role"] for m in messages)
        raise TemplateError(f"the chat template fails for [{roles}]: {e}") from e


# -- Go templates per family --------------------------------------------------------------------

_RANGE = "{{- range $i, $_ := .Messages }}\n"
_LAST = "{{- $last := eq (len (slice $.Messages $i)) 1 }}\n"
_OPEN = '{{- if and $last (not (eq .Role "assistant")) }}'  # a generation prompt follows the last


_GO_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}


def _go_text(text: str) -> str:
    """`text` as template output: literal, or a quoted action when it holds a brace."""
    if "{" not in text:
        return text
    escaped = "".join(c if c.isprintable() and c not in '"\\' else
                      _GO_ESCAPES.get(c, f"\\U{ord(c):08x}") for c in text)
    return '{{ "' + escaped + '" }}'


def _chatml_template(default_system: str | None) -> str:
    """The last assistant turn stays open (Ollama's convention: the model continues it)."""
    default = ""
    if default_system is not None:
        default = ('{{- if and (eq $i 0) (not (eq .Role "system")) }}<|im_start|>system\n'
                   + _go_text(default_system) + "<|im_end|>\n{{ end }}\n")
    return (_RANGE + _LAST + default
            + '{{- if eq .Role "assistant" }}<|im_start|>assistant\n'
            "{{ .Content }}{{ if not $last }}<|im_end|>\n{{ end }}\n"
            "{{- else }}<|im_start|>{{ .Role }}\n"
            "{{ .Content }}<|im_end|>\n{{ end }}\n"
            + _OPEN + "<|im_start|>assistant\n{{ end }}\n"
            "{{- end }}")


def _llama3_template(preamble: str | None) -> str:
    """Llama 3.1+ (`preamble` set) always opens with a system header holding the preamble and a
    leading system message; Llama 3.0 treats a system message as an ordinary turn."""
    turn = ("<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}"
            '{{ if not (and $last (eq .Role "assistant")) }}<|eot_id|>{{ end }}\n')
    opening = (_OPEN + "<|start_header_id|>assistant<|end_header_id|>\n\n{{ end }}\n"
               "{{- end }}")
    if preamble is None:
        return _RANGE + _LAST.replace(" }}", " -}}") + turn + opening
    first_system = '(and (eq $i 0) (eq .Role "system"))'
    return ("<|start_header_id|>system<|end_header_id|>\n\n" + _go_text(preamble)
            + "{{ range $i, $_ := .Messages }}{{ if " + first_system[1:-1]
            + " }}{{ .Content }}{{ end }}{{ end }}<|eot_id|>\n"
            + _RANGE + _LAST + "{{- if not " + first_system + " }}" + turn + "{{- end }}\n"
            + opening)


def _gemma3_template() -> str:
    """A leading system message is folded into the first user turn, as Gemma 3's template does;
    `range slice $.Messages 0 1` reads that first message without `index`."""
    return (_RANGE + _LAST
            + '{{- if eq .Role "user" }}<start_of_turn>user\n'
            '{{ if eq $i 1 }}{{ range slice $.Messages 0 1 }}{{ if eq .Role "system" }}'
            "{{ .Content }}\n\n{{ end }}{{ end }}{{ end }}{{ .Content }}<end_of_turn>\n"
            "{{ if $last }}<start_of_turn>model\n{{ end }}\n"
            '{{- else if eq .Role "assistant" }}<start_of_turn>model\n'
            "{{ .Content }}{{ if not $last }}<end_of_turn>\n{{ end }}\n"
            "{{- end }}\n"
            "{{- end }}")


def _probe(chat_template: str, today: date) -> tuple[str, str]:
    """The template's text for [user] and for [system, user], with a generation prompt."""
    user = {"role": "user", "content": _PROBE_USER}
    system = {"role": "system", "content": _PROBE_SYSTEM}
    return (render_chat_template(chat_template, [user], extras=_NO_TOKENS, today=today),
            render_chat_template(chat_template, [system, user], extras=_NO_TOKENS, today=today))


def _unexpected(fam: str, what: str, want: str, got: str) -> TemplateError:
    return TemplateError(f"this {_NAMES[fam]}-style chat template renders {what} unlike "
                         f"{_NAMES[fam]}: expected {want!r}, got {got!r}")


def _go_template(fam: str, chat_template: str, today: date) -> str:
    bare, with_system = _probe(chat_template, today)
    derive = {"chatml": _derive_chatml, "llama3": _derive_llama3, "gemma3": _derive_gemma3}
    return derive[fam](bare, with_system)


_BEFORE_USER = "[user] (before the user turn)"


def _derive_chatml(bare: str, with_system: str) -> str:
    """ChatML, with the default system prompt the template adds when a chat has none."""
    tail = f"<|im_start|>user\n{_PROBE_USER}<|im_end|>\n<|im_start|>assistant\n"
    want = f"<|im_start|>system\n{_PROBE_SYSTEM}<|im_end|>\n{tail}"
    if with_system != want:
        raise _unexpected("chatml", "[system, user]", want, with_system)
    if not bare.endswith(tail):
        raise _unexpected("chatml", "[user]", tail, bare)
    head = bare[:-len(tail)]
    m = re.fullmatch(r"<\|im_start\|>system\n(.*)<\|im_end\|>\n", head, re.S)
    if head and not m:
        raise _unexpected("chatml", _BEFORE_USER, "a system turn or nothing", head)
    return _chatml_template(m.group(1) if m else None)


def _derive_llama3(bare: str, with_system: str) -> str:
    """Llama 3, with the system turn's preamble of 3.1+ (knowledge cutoff, date)."""
    bos = "<|begin_of_text|>"  # when written as text, not as bos_token
    bare, with_system = bare.removeprefix(bos), with_system.removeprefix(bos)
    header, eot = "<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>"
    tail = (f"<|start_header_id|>user<|end_header_id|>\n\n{_PROBE_USER}{eot}"
            "<|start_header_id|>assistant<|end_header_id|>\n\n")
    if not bare.endswith(tail):
        raise _unexpected("llama3", "[user]", tail, bare)
    head = bare[:-len(tail)]
    if head and not (head.startswith(header) and head.endswith(eot)):
        raise _unexpected("llama3", _BEFORE_USER, "a system turn or nothing", head)
    preamble = head[len(header):-len(eot)] if head else None
    want = f"{header}{preamble or ''}{_PROBE_SYSTEM}{eot}{tail}"
    if with_system != want:
        raise _unexpected("llama3", "[system, user]", want, with_system)
    return _llama3_template(preamble)


def _derive_gemma3(bare: str, with_system: str) -> str:
    """Gemma 3: nothing varies, but the template must fold the system prompt as Gemma 3's does."""
    turn = f"{_PROBE_USER}<end_of_turn>\n<start_of_turn>model\n"
    for what, got, want in (
            ("[user]", bare, f"<start_of_turn>user\n{turn}"),
            ("[system, user]", with_system, f"<start_of_turn>user\n{_PROBE_SYSTEM}\n\n{turn}")):
        if got.removeprefix("<bos>") != want:
            raise _unexpected("gemma3", what, want, got)
    return _gemma3_template()


# -- the check ----------------------------------------------------------------------------------


def _conversations(system: str) -> list[list[dict]]:
    user_1 = {"role": "user", "content": _USER_1}
    turns = [user_1, {"role": "assistant", "content": _ASSISTANT_1},
             {"role": "user", "content": _USER_2}]
    return [[{"role": "system", "content": system}, *turns], turns, [user_1]]


def check(modelfile_template: str, hf_chat_template: str, *, tokenizer_extras: dict,
          system: str, today: date | None = None) -> None:
    """Raise TemplateError, showing the first differing character, unless the Ollama TEMPLATE
    renders what the chat template renders for [system, user, assistant, user], the same
    without the system message, and [user], each with the generation prompt.

    `system` is the Modelfile SYSTEM (Ollama puts it in front when a chat has no system
    message); when empty a stand-in system message is checked. `tokenizer_extras` are the
    template's variables (the tokenizer's special_tokens_map: bos_token, eos_token, …) plus
    "add_bos_token": whether the GGUF tells llama.cpp to add BOS (tokenizer.ggml.add_bos_token).
    `today` is the date both renderings use (pass the one given to `modelfile`).

    Llama 3 and Gemma 3 templates trim each message; a Go template cannot, so a `system` with
    leading or trailing whitespace fails here for them (strip it first).
    """
    extras = dict(tokenizer_extras)
    add_bos = bool(extras.pop("add_bos_token", False))
    bos = extras.get("bos_token") or ""
    if add_bos and not bos:
        raise TemplateError("add_bos_token is set but tokenizer_extras has no bos_token")
    try:
        gotemplate.parse(modelfile_template)
    except gotemplate.GoTemplateError as e:
        raise TemplateError(f"Ollama cannot use this TEMPLATE: {e}") from e
    for messages in _conversations(system or _STAND_IN_SYSTEM):
        want = render_chat_template(hf_chat_template, messages, extras=extras, today=today)
        try:
            got = gotemplate.render_ollama_chat(modelfile_template, messages)
        except gotemplate.GoTemplateError as e:
            raise TemplateError(f"the Ollama TEMPLATE fails: {e}") from e
        # Training tokenized the chat template's text as it is (BOS only where the template
        # writes bos_token); Ollama hands its text to llama.cpp, which adds BOS itself when the
        # GGUF says add_bos. So the Ollama side is compared with that BOS in front: a missing
        # BOS and a doubled one both show up as a difference at character 0.
        if add_bos:
            got = bos + got
        if got != want:
            raise TemplateError(_difference(want, got, messages, bos, add_bos))


def _difference(want: str, got: str, messages: list[dict], bos: str, add_bos: bool) -> str:
    at = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
    start = max(0, at - 30)

    def around(text: str) -> str:
        return ("…" if start else "") + repr(text[start:at + 50])

    roles = ", ".join(m["role"] for m in messages)
    message = (f"the Ollama TEMPLATE does not render what the chat template renders for "
               f"[{roles}] + generation prompt: first difference at character {at} "
               f"(lengths {len(want)} and {len(got)})\n"
               f"  chat template: {around(want)}\n  Ollama:        {around(got)}")
    if bos and want.startswith(bos) != got.startswith(bos):
        message += (f"\n  (Ollama's side includes the {bos!r} llama.cpp adds only when "
                    f"add_bos_token is true; it is {add_bos})")
    return message


# -- the Modelfile ------------------------------------------------------------------------------


def modelfile(gguf_name: str, chat_template: str, *, system: str = "",
              model_type: str | None = None, params: dict | None = None,
              today: date | None = None) -> dict:
    """The Modelfile for ./gguf_name next to it, as {"text", "family", "stop", "template"}.

    `system` becomes SYSTEM (the task instruction); `params` become PARAMETER lines (a list
    value gives one line per item; "stop" adds to the family's stops). `today` is the date a
    Llama 3.2 preamble shows ("Today Date: …"; Ollama's templates cannot compute it): default
    today, i.e. the export date. The TEMPLATE is checked against the chat template (without
    the tokenizer's special tokens: the export's own `check` adds them) before it is returned.
    """
    today = today or date.today()
    fam = family(chat_template, model_type)
    template = _go_template(fam, chat_template, today)
    check(template, chat_template, tokenizer_extras=_NO_TOKENS, system=system, today=today)
    params = dict(params or {})
    stop = list(dict.fromkeys(STOPS[fam] + [str(s) for s in _as_list(params.pop("stop", []))]))
    lines = [f"FROM {from_argument(gguf_name)}", f"TEMPLATE {quoted_block(template, 'TEMPLATE')}"]
    lines += [f"PARAMETER stop {param_value(s)}" for s in stop]
    if system:
        lines.append(f"SYSTEM {quoted_block(system, 'SYSTEM')}")
    for key, value in params.items():
        if not re.fullmatch(r"[A-Za-z0-9_]+", str(key)):
            raise ValueError(f"PARAMETER name {key!r}: Ollama takes letters, digits and _ only")
        lines += [f"PARAMETER {key} {param_value(v)}" for v in _as_list(value)]
    text = "\n".join(lines) + "\n"
    round_trip(text, template, system, stop)
    return {"text": text, "family": fam, "stop": stop, "template": template}


def ollama_create_command(name: str, folder) -> str:
    """`ollama create NAME -f <folder>/Modelfile`: runs from anywhere, since Ollama reads FROM's
    relative path against the Modelfile's folder."""
    part = r"[A-Za-z0-9][A-Za-z0-9._-]*"
    if not re.fullmatch(rf"(?:{part}/){{0,2}}{part}(?::[A-Za-z0-9_][A-Za-z0-9._-]{{0,127}})?",
                        name):
        raise ValueError(f"{name!r} is not an Ollama model name ([namespace/]name[:tag], "
                         "letters, digits, '.', '_' and '-')")
    path = Path(folder).absolute() / "Modelfile"
    return f"ollama create {name} -f {shlex.quote(str(path))}"


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]
