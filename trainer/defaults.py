"""Defaults computed from the data and the hardware, each with the reason it was chosen.

`resolve(config, data, hardware, model)` returns a config with no "auto" fields left and a dict
field -> why. Everything here is a pure function of its arguments (the probes that read the GPU
and the model's shape are separate), so the rules are unit-tested without a GPU.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from trainer.config import TrainConfig

EFFECTIVE_BATCH = 16
GIB = 1024 ** 3


@dataclass(frozen=True)
class Hardware:
    device: str = "cpu"            # cpu | cuda | mps
    memory_bytes: int = 8 * GIB    # free accelerator memory (CPU: a fixed working budget)
    bf16: bool = False             # the GPU computes in bfloat16
    n_devices: int = 1
    flash_attn: bool = False       # the flash_attn package is importable
    liger: bool = False            # the liger_kernel package is importable
    bitsandbytes: bool = False

    @classmethod
    def probe(cls) -> Hardware:
        import importlib.util

        import torch

        def has(name):
            return importlib.util.find_spec(name) is not None

        if torch.cuda.is_available():
            # This rank's GPU, and its total memory rather than what is free right now, so
            # every rank of a multi-GPU run computes the same batch (and the same steps).
            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            free = int(torch.cuda.get_device_properties(local).total_memory * 0.95)
            # Under accelerate/torchrun each process drives one GPU of WORLD_SIZE.
            world = int(os.environ.get("WORLD_SIZE", "1"))
            bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
            return cls("cuda", free, bf16, world,
                       has("flash_attn"), has("liger_kernel"), has("bitsandbytes"))
        return cls("cpu", 8 * GIB, n_devices=int(os.environ.get("WORLD_SIZE", "1")))


@dataclass(frozen=True)
class ModelShape:
    params: int
    hidden: int
    layers: int
    vocab: int
    max_positions: int | None = None

    @classmethod
    def from_config(cls, cfg) -> ModelShape:
        hidden = getattr(cfg, "hidden_size", None) or getattr(cfg, "n_embd", 768)
        layers = getattr(cfg, "num_hidden_layers", None) or getattr(cfg, "n_layer", 12)
        vocab = getattr(cfg, "vocab_size", 32000)
        inter = getattr(cfg, "intermediate_size", None) or 4 * hidden
        params = layers * (4 * hidden * hidden + 3 * hidden * inter) + vocab * hidden
        return cls(params, hidden, layers, vocab, getattr(cfg, "max_position_embeddings", None))


@dataclass(frozen=True)
class DataStats:
    n_train: int                   # the rows this run trains on (after train_fraction)
    n_validation: int
    lengths: tuple[int, ...]       # token length of each train example, chat template applied
    reference_lengths: tuple[int, ...] = ()  # token length of each test answer


def _round_up(x: int, to: int) -> int:
    return int(math.ceil(x / to) * to)


def max_length(stats: DataStats, shape: ModelShape | None) -> tuple[int, str]:
    if not stats.lengths:
        return 1024, "no train examples to measure; 1024"
    longest = max(stats.lengths)
    ordered = sorted(stats.lengths)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    # Cover everything unless a few outliers would double the length; then cover 99%.
    chosen, why = (longest, "the longest example") if longest <= 2 * p99 else (p99, "99%")
    value = max(64, _round_up(chosen, 64))
    cap = shape.max_positions if shape and shape.max_positions else 8192
    value = min(value, cap, 8192)
    return value, f"{why} of {len(ordered)} train examples is {chosen} tokens; {value}"


def epochs(n_train: int) -> tuple[float, str]:
    value = 5 if n_train < 200 else 3 if n_train < 2000 else 2 if n_train < 20000 else 1
    return float(value), f"{n_train} train examples; small sets need more passes"


def batch(hw: Hardware, shape: ModelShape | None, length: int, method: str,
          checkpointing: bool) -> tuple[int, int, str]:
    """Per-device batch and accumulation: what fits in memory, then enough accumulation to reach
    an effective batch of 16 examples."""
    if hw.device == "cpu" or shape is None:
        size = 4 if hw.device == "cpu" else 8
        why = "CPU" if hw.device == "cpu" else "model shape unknown"
    else:
        weight_bytes = shape.params * (0.6 if method == "qlora" else 2)
        trainable = 16 * shape.params if method == "full" else 0  # Adam states + fp32 master
        free = hw.memory_bytes * 0.85 - weight_bytes - trainable
        # Activations per token per layer, in bf16, as measured for Llama-style blocks: about
        # 34 x hidden bytes without checkpointing, about 2 x hidden with it; logits on top.
        per_token = shape.layers * shape.hidden * (2 if checkpointing else 34) + shape.vocab * 6
        size = int(max(1, free // max(1, per_token * length)))
        size = 2 ** int(math.log2(min(size, 64)))
        why = f"{free / GIB:.1f} GiB left for activations at {length} tokens"
    accum = max(1, EFFECTIVE_BATCH // (size * hw.n_devices))
    return size, accum, f"{why}; effective batch {size * accum * hw.n_devices}"


def resolve(config: TrainConfig, stats: DataStats, hw: Hardware,
            shape: ModelShape | None) -> tuple[TrainConfig, dict[str, str]]:
    notes: dict[str, str] = {}
    c = config
    on_gpu = hw.device == "cuda"

    def put(name, value, why):
        nonlocal c
        if getattr(c, name) is None:
            c = c.replace(**{name: value})
            notes[name] = why

    if c.precision == "auto":
        value = "bf16" if on_gpu and hw.bf16 else "fp16" if on_gpu else "fp32"
        c = c.replace(precision=value)
        notes["precision"] = f"{hw.device}{' with bf16' if hw.bf16 else ''}: {value}"
    put("lora_alpha", 2 * c.lora_r, f"2 x lora_r = {2 * c.lora_r}")
    put("learning_rate", 2e-5 if c.method == "full" else 2e-4, f"usual for {c.method}")
    n_train = max(1, stats.n_train)
    e, why = epochs(n_train)
    put("epochs", e, why)
    length, why = max_length(stats, shape)
    put("max_length", length, why)
    big = shape is not None and shape.params > 1e9
    put("gradient_checkpointing", bool(on_gpu and big),
        "GPU and over 1B parameters" if on_gpu and big else "not needed at this size")
    size, accum, why = batch(hw, shape, c.max_length, c.method, c.gradient_checkpointing)
    if c.batch_size is None and c.grad_accum is not None:
        put("batch_size", size, why)
    elif c.batch_size is not None and c.grad_accum is None:
        put("grad_accum", max(1, EFFECTIVE_BATCH // (c.batch_size * hw.n_devices)),
            f"effective batch {EFFECTIVE_BATCH}")
    else:
        put("batch_size", size, why)
        put("grad_accum", accum, why)
    put("attn_implementation", "flash_attention_2" if on_gpu and hw.flash_attn else "sdpa",
        "flash_attn installed" if on_gpu and hw.flash_attn else "PyTorch's built-in attention")
    put("packing", bool(on_gpu and c.attn_implementation == "flash_attention_2"),
        "padding-free packing needs flash attention")
    # TRL 1.16 already fuses the LM head with the loss (no full logits) and deprecates
    # use_liger_kernel in SFTTrainer, so Liger is only used when asked for.
    put("liger_kernel", False, "TRL fuses the LM head and the loss itself")
    steps = planned_steps(c, n_train, hw.n_devices)
    put("eval_steps", max(1, steps // 10), f"about 10 evaluations in {steps} steps")
    put("save_steps", c.eval_steps, "at each evaluation, so the best one can be kept")
    put("logging_steps", max(1, steps // 50), f"about 50 log lines in {steps} steps")
    longest_ref = max(stats.reference_lengths, default=64)
    put("eval_max_new_tokens", min(512, int(longest_ref * 1.5) + 8),
        f"1.5 x the longest test answer ({longest_ref} tokens)")
    return c, notes


def planned_steps(c: TrainConfig, n_train: int, n_devices: int = 1) -> int:
    if c.max_steps:
        return c.max_steps
    per_step = (c.batch_size or 1) * (c.grad_accum or 1) * n_devices
    return max(1, math.ceil(math.ceil(n_train / per_step) * (c.epochs or 1)))
