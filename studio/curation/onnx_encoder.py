"""The CPU fast path: a BERT-family sentence-transformers model (mean pooling, normalised)
exported once to ONNX, its attention, LayerNorm and GELU fused by ONNX Runtime's optimizer, and
run in fp32 by ONNX Runtime: the same vectors as the PyTorch model (checked on a calibration
set), about 1.5x faster on a 2-core AVX2 CPU, and no torch import when the files are cached.

Files live in CACHE/onnx/KEY/ (KEY: the model's name, weight file size and mtime, and this
recipe's version), written under a temporary name and renamed, so a killed build leaves none."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

RECIPE = "ort-fp32-O2-v1"


def eligible(folder: Path) -> bool:
    """A local BERT-family model with a fast tokenizer whose modules are exactly Transformer,
    mean Pooling and Normalize (what this path reproduces)."""
    try:
        modules = json.loads((folder / "modules.json").read_text())
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    return (kinds == ["Transformer", "Pooling", "Normalize"]
            and pooling.get("pooling_mode_mean_tokens") and config.get("model_type") == "bert"
            and (folder / "tokenizer.json").exists()
            and any((folder / f).exists() for f in ("model.safetensors", "pytorch_model.bin")))


def cache_dir(root: Path, name: str, folder: Path) -> Path:
    weights = next(folder / f for f in ("model.safetensors", "pytorch_model.bin")
                   if (folder / f).exists())
    st = weights.stat()
    key = hashlib.sha256(f"{name}|{st.st_size}|{st.st_mtime_ns}|{RECIPE}".encode()).hexdigest()
    return root / "onnx" / key[:16]


def build(folder: Path, out: Path, reference) -> dict:
    """Export, fuse and check against `reference(texts) -> vectors` (the PyTorch model); the
    check is stored beside the model. Returns it."""
    import warnings

    import torch
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    out.mkdir(parents=True, exist_ok=True)
    raw, fused = out / "exported.onnx", out / "model_O2.onnx"
    config = json.loads((folder / "config.json").read_text())
    if not fused.exists():
        # eager attention exports as plain ops, which the optimizer fuses into one Attention op
        hf_logging.disable_progress_bar()
        model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()
        hf_logging.enable_progress_bar()

        class Hidden(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.m(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

        names = ["input_ids", "attention_mask", "token_type_ids"]
        x = torch.ones(2, 16, dtype=torch.long)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's tracer notes mean nothing to users
            torch.onnx.export(Hidden(model), (x, x, torch.zeros_like(x)), f"{raw}.tmp",
                              input_names=names, output_names=["hidden"], opset_version=17,
                              dynamic_axes={n: {0: "b", 1: "s"} for n in names + ["hidden"]},
                              dynamo=False)
        optimize_model(f"{raw}.tmp", model_type="bert", num_heads=config["num_attention_heads"],
                       hidden_size=config["hidden_size"], opt_level=2,
                       use_gpu=False).save_model_to_file(f"{fused}.tmp")
        os.remove(f"{raw}.tmp")
        os.replace(f"{fused}.tmp", fused)
    from studio.curation.calibration import CALIBRATION

    got = OnnxEncoder(folder, out)._encode(CALIBRATION)
    check = {"recipe": RECIPE,
             "min_cosine": float(np.min(np.sum(got * reference(CALIBRATION), axis=1)))}
    (out / "check.json").write_text(json.dumps(check))
    return check


def load_check(out: Path) -> dict | None:
    try:
        check = json.loads((out / "check.json").read_text())
    except (OSError, ValueError):
        return None
    return check if (out / "model_O2.onnx").exists() else None


class OnnxEncoder:
    """Tokenise with the model's own tokenizer.json, run the fused graph, mean-pool, normalise:
    SentenceTransformer.encode's steps, on ONNX Runtime."""

    def __init__(self, folder: Path, out: Path, batch_size: int = 32):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(out / "model_O2.onnx"), options,
                                            providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()  # the file may pad every text to 128
        self.tokenizer.enable_truncation(_max_length(folder))
        self.batch_size = batch_size
        self.dim = json.loads((folder / "config.json").read_text())["hidden_size"]

    def _encode(self, texts: list[str]) -> np.ndarray:
        encs = self.tokenizer.encode_batch(list(texts))
        order = np.argsort([-len(e.ids) for e in encs], kind="stable")  # little padding
        out = np.empty((len(encs), self.dim), np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), np.int64)
            mask = np.zeros_like(ids)
            for r, i in enumerate(idx):
                ids[r, :len(encs[i].ids)] = encs[i].ids
                mask[r, :len(encs[i].ids)] = 1
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                             "token_type_ids": np.zeros_like(ids)})[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            out[idx] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


def _max_length(folder: Path) -> int:
    try:
        return int(json.loads((folder / "sentence_bert_config.json").read_text())
                   ["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return 256
