"""Embeddings: the offline default model, the (model, text) cache, models of two sizes."""

import json
import subprocess
import sys

import numpy as np
import pytest

from helpers import write_jsonl

ROWS = [{"input": f"Tweet number {i} about the {w} downtown", "output": f"Summary {i} of {w}"}
        for i, w in enumerate(["parade", "storm", "market", "concert", "marathon"])]


@pytest.fixture
def loaded(studio, minilm, tmp_path):
    studio.use_encoder(minilm)
    studio.import_file(write_jsonl(tmp_path / "rows.jsonl", ROWS), task="tweet-summary")
    return studio


def vectors(studio, model="sentence-transformers/all-MiniLM-L6-v2"):
    return studio.store._all("SELECT text_hash, vector FROM embeddings WHERE model = ?", [model])


def test_each_text_is_embedded_once_and_an_edit_re_embeds_only_that_text(loaded):
    first = loaded.embed()
    assert first["model"] == "sentence-transformers/all-MiniLM-L6-v2"  # a name, not a path
    assert first["embedded"] == 10 and first["dim"] == 384  # 5 inputs + 5 outputs
    stored = vectors(loaded)
    assert len(stored) == 10
    assert all(abs(np.linalg.norm(r["vector"]) - 1) < 1e-4 for r in stored)

    assert loaded.embed()["embedded"] == 0  # nothing new: nothing embedded
    row = loaded.list(limit=1)["rows"][0]
    loaded.edit(row["id"], output="A brand new summary")
    again = loaded.embed()
    assert again["embedded"] == 1 and again["texts"] == 1
    assert len(vectors(loaded)) == 11  # the old text's vector stays (undo needs it)
    loaded.undo()
    assert loaded.embed()["embedded"] == 0


def test_the_default_model_loads_with_no_network(tmp_path):
    # A fresh interpreter in which any connection off loopback raises: the packaged model must
    # load and embed all the same.
    code = """
import socket, json
real = socket.socket.connect
def guarded(self, addr):
    if isinstance(addr, tuple) and addr[0] not in ("127.0.0.1", "::1", "localhost"):
        raise OSError(f"network used: {addr}")
    return real(self, addr)
socket.socket.connect = guarded
socket.create_connection = lambda *a, **k: (_ for _ in ()).throw(OSError("network used"))
from studio.curation.embed import Encoder
e = Encoder()
v = e.encode(["hello there", "general kenobi"])
print(json.dumps({"name": e.name, "dim": e.dim, "shape": list(v.shape),
                  "precision": e.precision}))
"""
    env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://10.255.255.1:9"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env={**__import__("os").environ, **env})
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"name": "sentence-transformers/all-MiniLM-L6-v2", "dim": 384,
                   "shape": [2, 384], "precision": got["precision"]}


def test_the_cpu_fast_path_gives_the_same_vectors_as_pytorch(minilm, model_cache):
    from studio.curation.embed import MIN_COSINE, Encoder

    # on a CPU the default is the fused ONNX graph, checked against PyTorch when it was built
    assert minilm.backend == "onnx" and minilm.precision == "fp32"
    assert minilm.min_cosine >= MIN_COSINE and str(minilm.files).startswith(str(model_cache))
    texts = [row["input"] for row in ROWS] + ["ok", "x" * 3000]  # one truncated at 256 tokens
    torch_enc = Encoder(backend="torch", cache_dir=model_cache)
    assert torch_enc.backend == "torch"
    assert torch_enc.precision in ("fp32", "bf16")  # bf16 only where the CPU runs it fast...
    if torch_enc.precision != "fp32":
        assert torch_enc.min_cosine >= MIN_COSINE  # ... and it keeps the vectors
    cos = np.sum(minilm.encode(texts) * torch_enc.encode(texts), axis=1)
    assert cos.min() >= MIN_COSINE
    # a second load finds the cached export and does not import torch to use it
    code = ("import sys, json; from studio.curation.embed import Encoder; e = Encoder(); "
            "e.encode(['hi']); print(json.dumps([e.backend, 'torch' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["onnx", False], out.stderr[-2000:]


def test_the_onnx_path_refuses_models_it_cannot_reproduce(tiny_st_model, model_cache):
    from studio.curation.embed import Encoder
    from studio.errors import BadInput

    with pytest.raises(BadInput, match="not a local BERT-family mean-pooling model"):
        Encoder(str(tiny_st_model), backend="onnx", cache_dir=model_cache)
    enc = Encoder(str(tiny_st_model), cache_dir=model_cache)  # auto: PyTorch instead
    assert enc.backend == "torch" and enc.dim == 32


def test_two_models_of_different_sizes_share_the_store(loaded, tiny_st_model):
    loaded.embed()
    small = loaded.embed(model=str(tiny_st_model))
    assert small["model"] == tiny_st_model.name and small["dim"] == 32
    assert small["embedded"] == 10  # the same texts, under the other model
    held = {m["name"]: (m["dim"], m["vectors"]) for m in small["cached"]}
    assert held == {"sentence-transformers/all-MiniLM-L6-v2": (384, 10),
                    tiny_st_model.name: (32, 10)}
    # the last model used becomes the store's: similar() now works in 32 dimensions
    first = loaded.list(limit=1)["rows"][0]["id"]
    near = loaded.similar(first, k=3)
    assert near["model"] == tiny_st_model.name and len(near["neighbours"]) == 3


def test_embed_cli_reports_and_caches(cli, studio, minilm, tmp_path):
    studio.import_file(write_jsonl(tmp_path / "rows.jsonl", ROWS), task="tweet-summary")
    studio.close()
    code, out, err = cli("embed", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["embedded"] == 10 and data["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    code, out, _ = cli("embed")
    assert code == 0 and "embedded 0 new texts" in out


def test_a_model_that_cannot_load_is_a_clear_error(loaded, tmp_path):
    from studio.errors import BadInput

    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(BadInput, match="cannot load embedding model"):
        loaded.embed(model=str(broken))
    assert loaded.store.embedding_models() == []  # nothing half-written
