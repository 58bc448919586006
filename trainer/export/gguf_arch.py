"""Per-architecture tensors and hyperparameters for the GGUF converter (Llama, Qwen2, Gemma 3).

Why apart: this is where the architectures differ. The tensor plan (GGUF names from `gguf`'s
tensor map, each tensor's type, Llama 3's generated rope_freqs), the fix-ups applied as each
tensor streams out of safetensors (Llama's q/k rows permuted from Hugging Face's rotate-half
rope layout to llama.cpp's interleaved one, Gemma 3's RMSNorm weights + 1) and the hyperparameter
metadata (sizes, heads, rope theta and scaling, Gemma 3's sliding window).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.export.gguf_config import ConvertError, head_dim_of, read_json, rope_params

_SKIPPED_SUFFIXES = (".rotary_emb.inv_freq", ".attention.masked_bias")


# -- tensors ------------------------------------------------------------------------------------


@dataclass
class Tensor:
    src: str | None  # name in the safetensors file; None for a generated tensor
    file: Path | None
    name: str  # GGUF name
    shape: tuple[int, ...]  # torch order
    qtype: Any  # gguf.GGMLQuantizationType
    data: Any = None  # numpy array of a generated tensor

    @property
    def byte_shape(self) -> tuple[int, ...]:
        import gguf

        if self.qtype in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            return self.shape
        return gguf.quant_shape_to_byte_shape(self.shape, self.qtype)

    @property
    def np_dtype(self):
        import gguf
        import numpy as np

        return {gguf.GGMLQuantizationType.F32: np.dtype(np.float32),
                gguf.GGMLQuantizationType.F16: np.dtype(np.float16)}.get(self.qtype,
                                                                           np.dtype(np.uint8))

    @property
    def nbytes(self) -> int:
        return math.prod(self.byte_shape) * self.np_dtype.itemsize


def _safetensors_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        names = sorted(set(read_json(index).get("weight_map", {}).values()))
        files = [folder / n for n in names]
    else:
        files = sorted(folder.glob("*.safetensors"))
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise ConvertError(f"{folder}: shard(s) listed in the index are missing: {missing}")
    if not files:
        raise ConvertError(f"{folder}: no *.safetensors weights (save with safe_serialization)")
    return files


def plan_tensors(folder: Path, hp: dict, arch: str, outtype: str) -> list[Tensor]:
    """Every tensor to write, with its GGUF name, shape and type, from the safetensors headers
    only (no weights loaded), so the GGUF header can be written before the data streams."""
    import gguf
    from safetensors import safe_open

    n_layers = hp["num_hidden_layers"]
    tmap = gguf.get_tensor_name_map(_model_arch(arch), n_layers)
    tied = hp.get("tie_word_embeddings")  # None: unsaid, tied exactly when lm_head is absent
    drop_lm_head = arch == "gemma3" or tied is True
    plan: list[Tensor] = []
    for file in _safetensors_files(folder):
        with safe_open(file, framework="pt") as f:
            for src in f.keys():
                if src.endswith(_SKIPPED_SUFFIXES) or (drop_lm_head and src == "lm_head.weight"):
                    continue
                name = tmap.get_name(src, try_suffixes=(".weight", ".bias"))
                if name is None:
                    raise ConvertError(f"{file}: tensor {src!r} has no GGUF name for {arch}")
                shape = tuple(f.get_slice(src).get_shape())
                plan.append(Tensor(src, file, name, shape, _tensor_type(name, shape, outtype)))
    names = {t.name for t in plan}
    if "token_embd.weight" not in names:
        raise ConvertError(f"{folder}: no token embedding (model.embed_tokens.weight)")
    if tied is False and "output.weight" not in names:
        raise ConvertError(f"{folder}: tie_word_embeddings is false but lm_head.weight is missing")
    plan.extend(_extra_tensors(hp, arch))
    return plan


def _model_arch(arch: str):
    import gguf

    return next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)


def _tensor_type(name: str, shape: tuple[int, ...], outtype: str):
    """llama.cpp's rule: 1-D tensors, norms and biases stay f32; q8_0 needs rows of 32."""
    import gguf

    t = gguf.GGMLQuantizationType
    if len(shape) <= 1 or name.endswith("_norm.weight") or not name.endswith(".weight"):
        return t.F32
    if outtype == "q8_0":
        return t.Q8_0 if shape[-1] % gguf.GGML_QUANT_SIZES[t.Q8_0][0] == 0 else t.F16
    return {"f32": t.F32, "f16": t.F16}[outtype]


def _extra_tensors(hp: dict, arch: str) -> list[Tensor]:
    """Llama 3 rope scaling as llama.cpp wants it: a rope_freqs tensor of per-dimension factors
    (from LlamaModel.generate_extra_tensors)."""
    import gguf
    import numpy as np

    rope = rope_params(hp)
    if arch != "llama" or rope["rope_type"] != "llama3":
        return []
    dim = head_dim_of(hp)
    base = rope.get("rope_theta", 10000.0)
    freqs = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
    factor = rope.get("factor", 8.0)
    low, high = rope.get("low_freq_factor", 1.0), rope.get("high_freq_factor", 4.0)
    old_ctx = rope.get("original_max_position_embeddings", 8192)
    low_wavelen, high_wavelen = old_ctx / low, old_ctx / high
    factors = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            factors.append(1.0)
        elif wavelen > low_wavelen:
            factors.append(factor)
        else:
            smooth = (old_ctx / wavelen - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    data = np.array(factors, dtype=np.float32)
    return [Tensor(None, None, "rope_freqs.weight", data.shape,
                    gguf.GGMLQuantizationType.F32, data)]


def write_tensors(writer, folder: Path, plan: list[Tensor], hp: dict, arch: str,
                   on_progress) -> None:
    """Load, fix up, convert and write one tensor at a time (memory: the largest tensor)."""
    from contextlib import ExitStack

    from safetensors import safe_open

    with ExitStack() as stack:
        handles: dict[Path, Any] = {}
        for done, t in enumerate(plan, 1):
            if t.data is not None:
                data = t.data
            else:
                if t.file not in handles:
                    handles[t.file] = stack.enter_context(safe_open(t.file, framework="pt"))
                data = _fix_tensor(handles[t.file].get_tensor(t.src), t.src, hp, arch)
            writer.write_tensor_data(_encode(data, t))
            if on_progress is not None:
                on_progress(done, len(plan))


def _fix_tensor(x, src: str, hp: dict, arch: str):
    """The Hugging Face tensor as float32 numpy, in llama.cpp's convention."""
    import torch

    x = x.to(torch.float32)
    if arch == "llama":
        n_head = hp["num_attention_heads"]
        if src.endswith(("q_proj.weight", "q_proj.bias")):
            x = _permute(x, n_head)
        elif src.endswith(("k_proj.weight", "k_proj.bias")):
            x = _permute(x, hp.get("num_key_value_heads", n_head))
    if arch == "gemma3" and src.endswith("norm.weight"):
        x = x + 1.0
    return x.numpy()


def _permute(w, n_head: int):
    """Hugging Face's rotate-half q/k rows -> llama.cpp's interleaved pairs (LlamaModel.permute)."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def _encode(data, t: Tensor):
    import gguf

    out = gguf.quants.quantize(data, t.qtype)
    if out.nbytes != t.nbytes:
        raise ConvertError(f"{t.file}: tensor {t.src!r} has {out.nbytes} bytes, expected "
                           f"{t.nbytes} (shape {tuple(data.shape)} vs {t.shape})")
    return out


# -- metadata -----------------------------------------------------------------------------------


def write_metadata(w, folder: Path, hp: dict, arch: str, outtype: str, n_vocab: int) -> None:
    import gguf

    w.add_type(gguf.GGUFType.MODEL)
    w.add_name(folder.resolve().name)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    ftype = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
             "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[outtype]
    w.add_file_type(ftype)
    n_head = hp["num_attention_heads"]
    head_dim = head_dim_of(hp)
    w.add_block_count(hp["num_hidden_layers"])
    w.add_context_length(hp.get("max_position_embeddings", 4096))
    w.add_embedding_length(hp["hidden_size"])
    w.add_feed_forward_length(hp["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(hp.get("num_key_value_heads") or n_head)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_layer_norm_rms_eps(hp.get("rms_norm_eps", 1e-6))
    if arch == "llama":
        w.add_vocab_size(n_vocab)
        w.add_rope_dimension_count(head_dim)
    _write_rope(w, folder, hp, arch)
    if arch == "gemma3":
        w.add_sliding_window(hp["sliding_window"])
        if hp.get("final_logit_softcapping"):
            w.add_final_logit_softcapping(hp["final_logit_softcapping"])


def _write_rope(w, folder: Path, hp: dict, arch: str) -> None:
    """Theta and scaling of the full-attention layers (TextModel.set_gguf_parameters)."""
    import gguf

    rope = rope_params(hp)
    default_theta = 1_000_000.0 if arch == "gemma3" else 10_000.0
    w.add_rope_freq_base(rope.get("rope_theta", default_theta))
    kind, factor = rope["rope_type"], rope.get("factor")
    if kind == "default" or (kind == "llama3" and arch == "llama"):
        return  # llama3: the rope_freqs tensor
    if kind == "linear" and factor is not None:
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(factor)
    elif kind == "yarn" and factor is not None:
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        w.add_rope_scaling_factor(factor)
        w.add_rope_scaling_orig_ctx_len(rope["original_max_position_embeddings"])
    else:
        raise ConvertError(f"{folder / 'config.json'}: rope scaling {kind!r} is not supported "
                           f"for {arch} (default, linear, yarn{', llama3' * (arch == 'llama')})")
