"""config.json as the GGUF converter reads it: loaded, normalised and checked.

Why apart: the tensor plan, the metadata and the tokenizer all read the same hyperparameters
(head size, rope theta and scaling, a nested text_config lifted up), and the refusals of
configurations llama.cpp would run differently from transformers belong next to that reading.
ConvertError lives here, below every other part of the converter, so each can raise it;
trainer.export.gguf_convert re-exports it.
"""

from __future__ import annotations

import json
from pathlib import Path


class ConvertError(ValueError):
    """The model folder cannot become a correct GGUF: the message says what and where."""


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise ConvertError(f"{path}: not found (is {path.parent} a Hugging Face model folder?)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConvertError(f"{path}: unreadable JSON ({e})") from e


def text_config(config: dict) -> dict:
    """config.json with a nested text_config lifted to the top, as llama.cpp reads it."""
    return {**config, **config["text_config"]} if "text_config" in config else config


def head_dim_of(hp: dict) -> int:
    return hp.get("head_dim") or hp["hidden_size"] // hp["num_attention_heads"]


def rope_params(hp: dict, layer_type: str = "full_attention") -> dict:
    """The rope parameters (theta and scaling) in one dict, from either the transformers 5
    `rope_parameters` (per layer type for Gemma 3) or the older top-level keys."""
    params = dict(hp.get("rope_parameters") or hp.get("rope_scaling") or {})
    if "full_attention" in params or "sliding_attention" in params:
        params = dict(params.get(layer_type) or {})
    if "type" in params and "rope_type" not in params:
        params["rope_type"] = params["type"]
    params.setdefault("rope_type", "default")
    if "rope_theta" not in params:
        key = "rope_local_base_freq" if layer_type == "sliding_attention" else "rope_theta"
        if key in hp:
            params["rope_theta"] = hp[key]
    return params


# -- what llama.cpp would run differently -------------------------------------------------------


def check_arch(folder: Path, hp: dict, arch: str) -> None:
    """Refuse configurations llama.cpp would run differently from transformers."""
    where = folder / "config.json"
    act = hp.get("hidden_act") or hp.get("hidden_activation")
    want_act = "gelu_pytorch_tanh" if arch == "gemma3" else "silu"
    if act is not None and act != want_act:
        raise ConvertError(f"{where}: activation {act!r}; llama.cpp's {arch} uses {want_act}")
    if arch == "qwen2" and hp.get("use_sliding_window"):
        raise ConvertError(f"{where}: use_sliding_window is true; llama.cpp's qwen2 has none")
    if arch == "gemma3":
        _check_gemma3(where, hp)


def _check_gemma3(where: Path, hp: dict) -> None:
    """llama.cpp's gemma3 hard-codes: every 6th layer global, the rest sliding-window with rope
    theta 10000; attention scale 1/sqrt(head_dim) (27B: 1/sqrt(hidden/heads)); no attention
    softcapping; causal attention; tied output layer."""
    n_layers = hp["num_hidden_layers"]
    pattern = ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention"
               for i in range(n_layers)]
    layer_types = hp.get("layer_types") or [
        "full_attention" if (i + 1) % hp.get("sliding_window_pattern", 6) == 0
        else "sliding_attention" for i in range(n_layers)]
    if list(layer_types) != pattern:
        raise ConvertError(f"{where}: layer_types {layer_types} differ from llama.cpp's gemma3 "
                           "pattern (every 6th layer full attention)")
    if not hp.get("sliding_window"):
        raise ConvertError(f"{where}: no sliding_window; llama.cpp's gemma3 needs one")
    local = rope_params(hp, "sliding_attention")
    if local.get("rope_theta", 10_000.0) != 10_000.0 or local["rope_type"] != "default":
        raise ConvertError(f"{where}: sliding-window rope {local}; llama.cpp's gemma3 fixes "
                           "theta 10000 without scaling")
    scale_dim = (hp["hidden_size"] // hp["num_attention_heads"] if n_layers == 62
                 else head_dim_of(hp))
    if hp.get("query_pre_attn_scalar", scale_dim) != scale_dim:
        raise ConvertError(f"{where}: query_pre_attn_scalar {hp['query_pre_attn_scalar']}; "
                           f"llama.cpp's gemma3 scales attention by 1/sqrt({scale_dim})")
    if hp.get("attn_logit_softcapping"):
        raise ConvertError(f"{where}: attn_logit_softcapping is set; Gemma 3 in llama.cpp has none")
    if hp.get("use_bidirectional_attention"):
        raise ConvertError(f"{where}: bidirectional attention; llama.cpp's gemma3 is causal")
    if hp.get("tie_word_embeddings") is False:
        raise ConvertError(f"{where}: tie_word_embeddings is false; llama.cpp's gemma3 always "
                           "uses the token embedding as the output layer")
