"""Deploying a trained run from the studio (CLI and Python): export-model to GGUF (checked in
real llama.cpp against the transformers merge), an Ollama folder, serve (the store released, the
studio's own teacher client reading the answer), push-model --gguf, and the bad inputs."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT, teacher_answer

pytestmark = pytest.mark.slow
PROMPTS = ["the 42 bus was late again", "omg my train got cancelled", "thanks for the help"]


@pytest.fixture
def trained(studio, tiny, cli):
    code, out, err = cli("train", "--model", tiny, "--max-steps", 4, "--json")
    assert code == 0, err
    return json.loads(out)


def greedy_ids(model, tokenizer, text: str, n: int = 10) -> tuple[list[int], list[int]]:
    import torch

    ids = tokenizer.apply_chat_template([{"role": "user", "content": text}],
                                        add_generation_prompt=True, tokenize=True,
                                        return_dict=False)
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False,
                             eos_token_id=None, pad_token_id=tokenizer.pad_token_id)
    return ids, out[0, len(ids):].tolist()


def llama_greedy(path: Path, prompts: list[list[int]], n: int = 10) -> list[list[int]]:
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=512, type_k=0, type_v=0, verbose=False)
    try:
        outs = []
        for ids in prompts:
            llm.reset()
            got = []
            for tok in llm.generate(ids, temp=0.0, top_k=1, repeat_penalty=1.0):
                got.append(tok)
                if len(got) == n:
                    break
            outs.append(got)
        return outs
    finally:
        llm.close()


def test_export_gguf_answers_as_the_merged_model_and_is_recorded(studio, trained, cli, tmp_path,
                                                                 hub, monkeypatch):
    pytest.importorskip("llama_cpp")
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out_dir = tmp_path / "gguf-f32"
    code, out, err = cli("export-model", trained["id"], out_dir, "--to", "gguf", "--quant",
                         "f32", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert (r["run"], r["to"], r["quant"], r["out_dir"]) == (trained["id"], "gguf", "f32",
                                                             str(out_dir))
    gguf = Path(r["gguf"])
    assert gguf.parent == out_dir and gguf.suffix == ".gguf" and "README.md" in r["files"]
    assert r["modelfile"] is None and any("llama-server" in c for c in r["commands"].values())
    assert studio.model_exports(trained["id"]) == [r]
    code, out, _ = cli("model-exports", "--json")
    assert json.loads(out) == {"exports": [r]}

    # the same greedy tokens as base + adapter in transformers
    adapter = Path(trained["adapter_path"])
    tokenizer = AutoTokenizer.from_pretrained(adapter)
    config = json.loads((adapter / "adapter_config.json").read_text())
    base = AutoModelForCausalLM.from_pretrained(config["base_model_name_or_path"])
    tuned = PeftModel.from_pretrained(base, adapter).eval()
    expected = [greedy_ids(tuned, tokenizer, p) for p in PROMPTS]
    got = llama_greedy(gguf, [ids for ids, _ in expected])
    assert got == [toks for _, toks in expected]

    # an occupied folder is refused, its files untouched, nothing recorded
    code, _, err = cli("export-model", trained["id"], out_dir, "--to", "gguf", "--json")
    assert code == 1 and "README.md" in err and str(out_dir) in err
    assert gguf.is_file() and len(studio.model_exports(trained["id"])) == 1
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]

    # push-model --gguf sends the GGUF folder with its card
    code, out, err = cli("push-model", trained["id"], "alice/tiny-gguf", "--gguf", "--dry-run",
                         "--json")
    assert code == 0, err
    sent = {f["path"] for f in json.loads(out)["files"]}
    assert {gguf.name, "README.md"} <= sent
    # and for real, to the loopback Hub through huggingface_hub: the card lists the formats and
    # the commands, and holds no token and no absolute path
    from dataclasses import replace

    monkeypatch.setenv("HF_TOKEN", "hf_TESTggufTOKEN123456")
    studio.settings = replace(studio.settings, hub_endpoint=hub.url)
    pushed = studio.push_model(trained["id"], "alice/tiny-gguf", gguf=True)
    repo = hub.repos["alice/tiny-gguf"]
    assert repo["type"] == "model" and pushed["url"] and gguf.name in repo["files"]
    card = repo["files"]["README.md"].decode()
    assert "llama-server" in card and "gguf" in card and str(tmp_path) not in card
    assert b"hf_TEST" not in b"".join(repo["files"].values())


def test_ollama_folder_and_default_place(studio, trained, cli):
    from trainer.export.modelfile import parse_modelfile

    code, out, err = cli("export-model", trained["id"], "--to", "ollama", "--quant", "q8_0",
                         "--json")
    assert code == 0, err
    r = json.loads(out)
    folder = Path(r["out_dir"])
    assert folder == Path(trained["run_dir"]) / "export-ollama-q8_0"
    parsed = parse_modelfile(Path(r["modelfile"]).read_text())
    assert [v for k, v in parsed if k == "model"] == [f"./{Path(r['gguf']).name}"]
    assert ("stop", "<|im_end|>") in parsed
    text = Path(r["modelfile"]).read_text()
    assert studio.task("tweet-summary").instruction in text and "<|im_end|>" in text
    assert any(c.startswith("ollama create") for c in r["commands"].values())


def test_bad_runs_are_refused_with_a_message(studio, cli, tmp_path):
    code, _, err = cli("export-model", 99, tmp_path / "x", "--json")
    assert code == 1 and "no run 99" in err
    code, _, err = cli("serve", 99, "--json")
    assert code == 1 and "no run 99" in err
    assert not (tmp_path / "x").exists()


def test_serve_releases_the_store_and_answers_the_teacher_client(studio, trained, db):
    """`sft-studio serve` in its own process: the store is free while it serves (another
    Studio opens it), the studio's teacher client reads an answer, and SIGTERM ends both the
    command and the server it started."""
    from studio import Studio

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "studio", "--db", str(db), "serve",
                             str(trained["id"]), "--port", "0", "--engine", "transformers",
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)
    studio.close()  # the test's own handle: serve must open the store itself
    try:
        lines = []
        while True:  # the ready JSON, printed once the server answers
            line = proc.stdout.readline()
            assert line, f"serve ended early: {proc.stderr.read()}"
            lines.append(line)
            if line.startswith("}"):
                break
        info = json.loads("".join(lines))
        assert info["engine"] == "transformers" and info["run"] == trained["id"]
        with Studio.open(db) as other:  # the store was released before serving
            assert other.run(trained["id"])["status"] == "completed"
        answer = teacher_answer(info["url"], info["model"], {"max_tokens": 8, "temperature": 0},
                                [{"role": "user", "content": PROMPTS[0]}])
        assert answer.tokens_out > 0 and answer.model == info["model"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0
    # the server process is gone with it: its port no longer answers
    import httpx

    with pytest.raises(httpx.TransportError):
        httpx.get(info["url"] + "/models", timeout=5)


def test_the_app_serves_and_stops_from_python(studio, trained):
    served = studio.start_serving(trained["id"], engine="transformers")
    try:
        assert studio.serving_now() == [served]
        assert studio.start_serving(trained["id"]) == served  # started once
        answer = teacher_answer(served["url"], served["model"], {"max_tokens": 4,
                                                                  "temperature": 0},
                                [{"role": "user", "content": PROMPTS[1]}])
        assert answer.tokens_out > 0
    finally:
        assert studio.stop_serving(trained["id"]) == [trained["id"]]
    assert studio.serving_now() == []
