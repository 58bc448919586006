"""The tokenizer half of a GGUF: vocabulary, token types, merges, special tokens, chat template.

Why apart: it reads the tokenizer files, not the weights, and follows its own llama.cpp rules.
Byte-level BPE (Llama 3, SmolLM, Qwen2, the tiny demo model) is written as llama.cpp's "gpt2"
model with the pre-tokenizer llama.cpp must reproduce (found by hashing its probe text, else read
off tokenizer.json); SentencePiece-style BPE with byte fallback (Gemma) as its "gemma4" model
(merges over raw characters, spaces as "▁"). The chat template (TRL's generation markers
removed), the stop tokens (eos plus the template's end-of-turn token) and add_bos go along.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.export.gguf_config import ConvertError, read_json

# Texts of end-of-turn tokens: the one a chat template uses becomes tokenizer.ggml.eot_token_id.
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endofturn|>")

# llama.cpp's probe text (convert_hf_to_gguf.py, get_vocab_base_pre): the sha256 of its token
# ids identifies a known pre-tokenizer.
CHKTXT = (
    "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis "
    "concatenated) ✅ 🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 "
    "កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= нещо на Български "
    "''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? 'M not "
    "sure I'll make it, 'D you like some tea? We'Ve a'lL"
)
# The entries of llama.cpp's table for the tokenizers of the studio's presets.
PRE_BY_HASH = {
    "0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5": "llama-bpe",
    "855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249": "smollm",
    "e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea": "qwen2",
    "d4540891389ea895b53b399da6ac824becc30f2fba0e9ddbb98f92e55ca0e97c": "qwen2",
    "3ce83efda5659b07b1ad37ca97ca5797ea4285d9b9ab0dc679e4a720c9da7454": "gpt-2",
    "0fe1cf6eda062318a1af7270f3331a85c539a01778ff948e24388e949c5282f4": "gpt-2",
}
# The Split regexes of Llama 3 and Qwen2 tokenizer.json files (they differ in \p{N}{1,3}).
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = LLAMA3_SPLIT.replace(r"\p{N}{1,3}", r"\p{N}")

_GENERATION_OPEN = re.compile(r"\{%(-?)\s*generation\s*(-?)%\}")
_GENERATION_CLOSE = re.compile(r"\{%(-?)\s*endgeneration\s*(-?)%\}")
_BYTE_TOKEN = re.compile(r"<0x[0-9A-Fa-f]{2}>")


def clean_chat_template(template: str) -> str:
    """The template without TRL's `{% generation %}` markers (llama.cpp's Jinja engine does not
    know them): each becomes an always-true `if` with the same whitespace control, so the text
    they wrap and the rendering stay exactly the same."""
    template = _GENERATION_OPEN.sub(r"{%\1 if true \2%}", template)
    return _GENERATION_CLOSE.sub(r"{%\1 endif \2%}", template)


# -- tokenizer ----------------------------------------------------------------------------------


@dataclass
class Vocab:
    model: str  # llama.cpp tokenizer model: "gpt2" or "gemma4"
    pre: str | None
    tokens: list[str]
    types: list[int]
    special: Any  # gguf.SpecialVocab: merges and special token ids
    add_bos: bool
    add_eos: bool
    chat_template: str | None
    eot: int | None
    stop_texts: list[str] = field(default_factory=list)


def read_vocab(folder: Path, n_vocab: int) -> Vocab:
    import gguf
    from transformers import AutoTokenizer

    tj = read_json(folder / "tokenizer.json")
    model = _tokenizer_model(folder, tj)
    try:
        tok = AutoTokenizer.from_pretrained(str(folder))
    except Exception as e:  # noqa: BLE001 - any loading failure is the folder's problem
        raise ConvertError(f"{folder}: transformers cannot load the tokenizer ({e})") from e
    tokens, types = _tokens(folder, tok, n_vocab, spm=model == "gemma4")
    pre = _pre_tokenizer(folder, tok, tj) if model == "gpt2" else None
    special = gguf.SpecialVocab(folder, load_merges=True, n_vocab=n_vocab)
    if not special.merges:
        raise ConvertError(f"{folder / 'tokenizer.json'}: a BPE tokenizer without merges")
    template = _chat_template(folder)
    template = clean_chat_template(template) if template is not None else None
    eot = _end_of_turn(tok, template)
    probe = tok("hello")["input_ids"]
    add_bos = tok.bos_token_id is not None and probe[:1] == [tok.bos_token_id]
    add_eos = tok.eos_token_id is not None and probe[-1:] == [tok.eos_token_id]
    vocab = Vocab(model, pre, tokens, types, special, add_bos, add_eos, template, eot)
    vocab.stop_texts = _stop_texts(folder, tokens, special, eot)
    return vocab


def _tokenizer_model(folder: Path, tj: dict) -> str:
    """"gpt2" for byte-level BPE, "gemma4" for SentencePiece-style BPE with byte fallback."""
    model = tj.get("model") or {}
    where = folder / "tokenizer.json"
    if model.get("type") != "BPE":
        raise ConvertError(f"{where}: a {model.get('type')} tokenizer; only BPE converts")
    if not model.get("byte_fallback"):
        if "ByteLevel" not in json.dumps(tj.get("pre_tokenizer")):
            raise ConvertError(f"{where}: BPE without byte-level pre-tokenizer or byte fallback")
        return "gpt2"
    normalizer = tj.get("normalizer") or {}
    spaces = (normalizer.get("type") == "Replace" and normalizer.get("content") == "▁"
              and normalizer.get("pattern", {}).get("String") == " ")
    if not spaces:
        raise ConvertError(f"{where}: SentencePiece-style BPE whose normalizer is not "
                           f"Replace(' ', '▁') (a dummy prefix?): {normalizer}")
    return "gemma4"


def _tokens(folder: Path, tok, n_vocab: int, *, spm: bool) -> tuple[list[str], list[int]]:
    """Token texts and types by id, padded to the embedding's rows (TextModel.get_vocab_base;
    SentencePiece byte tokens <0xXX> typed BYTE)."""
    import gguf

    vocab = tok.get_vocab()
    if max(vocab.values()) >= n_vocab:
        raise ConvertError(f"{folder}: tokenizer has ids up to {max(vocab.values())} but the "
                           f"embedding has {n_vocab} rows")
    by_id = {i: t for t, i in vocab.items()}
    added = tok.added_tokens_decoder
    tokens, types = [], []
    for i in range(n_vocab):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        text = by_id[i]
        if i in added:
            if added[i].special or _looks_special(text):
                types.append(gguf.TokenType.CONTROL)
            else:
                types.append(gguf.TokenType.USER_DEFINED)
        elif spm and _BYTE_TOKEN.fullmatch(text):
            types.append(gguf.TokenType.BYTE)
        else:
            types.append(gguf.TokenType.NORMAL)
        tokens.append(text)
    return tokens, types


def _looks_special(text: str) -> bool:
    """Added tokens some models forget to mark special (TextModel.does_token_look_special)."""
    return ((text.startswith("<|") and text.endswith("|>"))
            or (text.startswith("<unused") and text.endswith(">"))
            or text in ("<pad>", "<mask>", "<2mass>", "[@BOS@]"))


def _pre_tokenizer(folder: Path, tok, tj: dict) -> str:
    """llama.cpp's pre-tokenizer name: from its hash table (known tokenizers), else from the
    tokenizer.json pre_tokenizer when it is one llama.cpp implements exactly."""
    digest = hashlib.sha256(str(tok.encode(CHKTXT)).encode()).hexdigest()
    if digest in PRE_BY_HASH:
        return PRE_BY_HASH[digest]
    pre = tj.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    kinds = [s.get("type") for s in steps]
    if kinds and kinds[-1] == "ByteLevel" and not steps[-1].get("add_prefix_space", False):
        regex = steps[-1].get("use_regex", True)
        if kinds == ["ByteLevel"] and regex:
            return "gpt-2"
        if kinds == ["Digits", "ByteLevel"] and regex and steps[0].get("individual_digits"):
            return "smollm"
        if kinds == ["Split", "ByteLevel"] and not regex:
            split = steps[0]
            pattern = (split.get("pattern") or {}).get("Regex")
            if split.get("behavior") == "Isolated" and not split.get("invert"):
                if pattern == LLAMA3_SPLIT:
                    return "llama-bpe"
                if pattern == QWEN2_SPLIT:
                    return "qwen2"
    raise ConvertError(f"{folder / 'tokenizer.json'}: pre-tokenizer {json.dumps(pre)[:300]} is "
                       "not one llama.cpp reproduces (gpt-2, llama-bpe, qwen2, smollm)")


def _chat_template(folder: Path) -> str | None:
    """The template as transformers saves it: chat_template.jinja (transformers 5), else the
    chat_template of tokenizer_config.json (a list of named ones: "default")."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    config = folder / "tokenizer_config.json"
    template = read_json(config).get("chat_template") if config.is_file() else None
    if isinstance(template, list):
        template = next((t.get("template") for t in template if t.get("name") == "default"),
                        None)
    return template if isinstance(template, str) else None


def _end_of_turn(tok, template: str | None) -> int | None:
    if template is None:
        return None
    vocab = tok.get_vocab()
    return next((vocab[t] for t in END_OF_TURN if t in template and t in vocab), None)


def _stop_texts(folder: Path, tokens: list[str], special, eot: int | None) -> list[str]:
    """eos, the end-of-turn token and generation_config's eos ids, as texts, in that order."""
    ids = [special.special_token_ids.get("eos"), eot]
    gen = folder / "generation_config.json"
    if gen.is_file():
        extra = read_json(gen).get("eos_token_id")
        ids += extra if isinstance(extra, list) else [extra]
    texts: list[str] = []
    for i in ids:
        if isinstance(i, int) and 0 <= i < len(tokens) and tokens[i] not in texts:
            texts.append(tokens[i])
    return texts


def write_vocab(w, vocab: Vocab) -> None:
    w.add_tokenizer_model(vocab.model)
    if vocab.pre is not None:
        w.add_tokenizer_pre(vocab.pre)
    w.add_token_list(vocab.tokens)
    w.add_token_types(vocab.types)
    if vocab.model == "gemma4":
        w.add_add_space_prefix(False)
    special = vocab.special
    special.add_special_token = {"bos": vocab.add_bos, "eos": vocab.add_eos}
    special.chat_template = None  # ours, cleaned, below
    special.add_to_gguf(w, quiet=True)
    if vocab.eot is not None:
        w.add_eot_token_id(vocab.eot)
    if vocab.chat_template is not None:
        w.add_chat_template(vocab.chat_template)
