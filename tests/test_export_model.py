"""Exporting a trained run (trainer/export/model.py): a tiny model trained for a few steps is
merged, converted to GGUF and wrapped for Ollama; llama.cpp must generate what transformers
generates from the merged model, the merged model what base + adapter generate; the card lists
the formats and commands and no absolute path; and every bad input is a clear ExportError that
leaves nothing behind."""

import json
import shutil
import sys
from collections import namedtuple
from pathlib import Path

import pytest
from train_data import SYSTEM, make_run, rows

from trainer.export.commands import serving_commands, vllm_lora_rank
from trainer.export.model import ExportError, export_model, plan_export

N_NEW = 12


# -- runs ---------------------------------------------------------------------------------------


def _texts() -> list[str]:
    """The texts make_run trains the tiny tokenizer on (its default 48 train rows)."""
    return [m["content"] for r in rows(48, 1) for m in r["messages"]]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """runs/run-0007: the tiny model (hidden 256, so k-quants apply) trained for 10 steps
    through the trainer's CLI entry, with its evaluation (eval.json)."""
    from trainer.__main__ import run
    from trainer.progress import NullLog, StopFlag
    from trainer.tiny import build_tiny_model

    folder = tmp_path_factory.mktemp("runs") / "run-0007"
    path = make_run(folder, max_steps=10, eval_steps=10)
    build_tiny_model(folder / "model", _texts(), hidden=256)
    result = run(path, "train", NullLog(), StopFlag())
    assert result["status"] == "completed" and result["eval"]["n"] == 8
    return folder


def lora_run(folder: Path, base: Path | None = None, target=("q_proj", "v_proj")) -> Path:
    """A run folder with an untrained LoRA adapter (random B, so it changes the model) on the
    tiny base, or on `base`: no training, for the checks that need an adapter only."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.config import TrainConfig

    make_run(folder)
    if base is not None:
        TrainConfig(base_model=str(base), task={"name": "copy", "instruction": SYSTEM}).save(
            folder / "config.toml")
    base = base or folder / "model"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                               LoraConfig(r=4, lora_alpha=8, target_modules=list(target),
                                          init_lora_weights=False))
    model.save_pretrained(folder / "adapter")
    if (Path(base) / "tokenizer.json").exists():
        AutoTokenizer.from_pretrained(base).save_pretrained(folder / "adapter")
    return folder


@pytest.fixture
def small_run(tmp_path):
    return lora_run(tmp_path / "runs" / "run-0003")


@pytest.fixture(scope="module")
def exports(trained, tmp_path_factory):
    """(to, quant) -> export_model's result, each exported once for the module, with the
    on_progress calls it made under "progress"."""
    done = {}
    root = tmp_path_factory.mktemp("exports")

    def get(to, quant="f16"):
        if (to, quant) not in done:
            calls = []
            result = export_model(trained, root / f"{to}-{quant}", to=to, quant=quant,
                                  on_progress=lambda *call: calls.append(call))
            done[to, quant] = {**result, "progress": calls}
        return done[to, quant]

    return get


def nothing_left(out: Path) -> bool:
    return not out.exists() and not list(out.parent.glob(f"{out.name}.part-*"))


# -- greedy generation --------------------------------------------------------------------------


def prompts(folder: Path) -> list[list[int]]:
    """Three chat prompts (system + user + the assistant's opening) as token ids."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    return [tok.apply_chat_template(r["messages"][:2], add_generation_prompt=True,
                                    tokenize=True, return_dict=True)["input_ids"]
            for r in rows(3, 3, 2000)]


def hf_greedy(model, ids: list[int], n: int = N_NEW) -> list[int]:
    """Argmax token by token, past any end-of-turn token (llama.cpp's loop does not stop)."""
    import torch

    out: list[int] = []
    with torch.no_grad():
        for _ in range(n):
            out.append(int(model(torch.tensor([ids + out])).logits[0, -1].argmax()))
    return out


def llama_greedy(llm, ids: list[int], n: int = N_NEW) -> list[int]:
    import llama_cpp
    import numpy as np

    llm.reset()
    out, feed = [], list(ids)
    for _ in range(n):
        llm.eval(feed)
        row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1),
                                    shape=(llm.n_vocab(),))
        feed = [int(row.argmax())]
        out.append(feed[0])
    return out


def tensor_types(path) -> set[str]:
    import gguf

    return {t.tensor_type.name for t in gguf.GGUFReader(path).tensors}


# -- exports ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_merged_folder_loads_and_generates_what_base_plus_adapter_generate(trained, exports):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, GenerationConfig

    result = exports("merged")
    out = Path(result["out_dir"])
    assert result["merged"] == str(out) and result["gguf"] is None and result["quant"] is None
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
            "chat_template.jinja", "README.md"} <= set(result["files"])
    assert result["bytes"] == sum((out / f).stat().st_size for f in result["files"])
    gen = GenerationConfig.from_pretrained(out)
    assert gen.eos_token_id in (3, [3]) and gen.pad_token_id == 0  # <|im_end|>, <|pad|>
    merged = AutoModelForCausalLM.from_pretrained(out).eval()
    base = AutoModelForCausalLM.from_pretrained(trained / "model")
    tuned = PeftModel.from_pretrained(base, trained / "adapter").eval()
    seen, changed = set(), 0
    for ids in prompts(trained / "adapter"):
        want = hf_greedy(tuned, ids)
        assert hf_greedy(merged, ids) == want
        with tuned.disable_adapter():
            changed += hf_greedy(tuned, ids) != want  # the adapter matters
        seen.update(want)
    assert len(seen) > 3 and changed
    assert result["commands"]["vllm"] == f"vllm serve {out}"


@pytest.mark.slow
def test_gguf_f32_generates_what_the_merged_model_generates(exports):
    import llama_cpp
    from transformers import AutoModelForCausalLM

    result = exports("gguf", "f32")
    out = Path(result["out_dir"])
    assert result["files"] == ["README.md", "run-0007-f32.gguf"]
    assert result["gguf"] == str(out / "run-0007-f32.gguf") and result["merged"] is None
    merged_dir = Path(exports("merged")["out_dir"])
    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    llm = llama_cpp.Llama(model_path=result["gguf"], n_ctx=256, type_k=0, type_v=0,
                          verbose=False)  # an f32 KV cache: no rounding between the two
    try:
        for ids in prompts(merged_dir):
            assert llama_greedy(llm, ids) == hf_greedy(merged, ids), ids
    finally:
        llm.close()
    assert result["commands"]["llama_server"] == f"llama-server -m {result['gguf']} --jinja"
    assert result["commands"]["llama_cpp_python"] == (
        f"python -m llama_cpp.server --model {result['gguf']}")


@pytest.mark.slow
def test_ollama_folder_holds_the_gguf_and_a_modelfile(exports):
    from trainer.export.modelfile import STOPS, parse_modelfile

    result = exports("ollama", "q8_0")
    out = Path(result["out_dir"])
    assert result["files"] == ["Modelfile", "README.md", "run-0007-q8_0.gguf"]
    assert result["modelfile"] == str(out / "Modelfile")
    commands = parse_modelfile((out / "Modelfile").read_text())
    assert ("model", "./run-0007-q8_0.gguf") in commands
    assert [a for n, a in commands if n == "system"] == [SYSTEM]
    assert [a for n, a in commands if n == "stop"] == STOPS["chatml"]
    assert result["commands"]["ollama"] == (
        f"ollama create run-0007 -f {out / 'Modelfile'} && ollama run run-0007")
    assert serving_commands(result["run_dir"], result) == result["commands"]
    assert "Q8_0" in tensor_types(result["gguf"])


@pytest.mark.slow
def test_q4_k_m_is_quantized_by_llama_cpp(exports):
    import llama_cpp

    result = exports("gguf", "q4_k_m")
    assert result["files"] == ["README.md", "run-0007-q4_k_m.gguf"]  # no f16 left over
    types = tensor_types(result["gguf"])
    assert "Q4_K" in types and "F16" not in types
    assert result["bytes"] < exports("gguf", "f32")["bytes"] / 4
    llm = llama_cpp.Llama(model_path=result["gguf"], n_ctx=64, verbose=False)
    llm.close()
    assert set(result["timings"]) == {"plan", "merge", "convert", "quantize", "card"}
    stages = [stage for stage, _, _ in result["progress"]]
    assert list(dict.fromkeys(stages)) == ["merge", "convert", "quantize", "card"]
    converted = [(done, total) for stage, done, total in result["progress"] if stage == "convert"]
    assert converted == [(i, converted[0][1]) for i in range(1, converted[0][1] + 1)]


@pytest.mark.slow
def test_the_card_lists_formats_commands_and_scores_and_no_absolute_path(trained, exports):
    import yaml

    result = exports("ollama", "q8_0")
    card = (Path(result["out_dir"]) / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["library_name"] == "gguf" and {"gguf", "ollama", "q8_0"} <= set(meta["tags"])
    assert "base_model" not in meta  # a local base is no Hub id
    for text in ("run-0007-q8_0.gguf", "Modelfile", "GGUF q8_0", SYSTEM,
                 "llama-server -m ./run-0007-q8_0.gguf --jinja",
                 "python -m llama_cpp.server --model ./run-0007-q8_0.gguf",
                 "ollama create run-0007 -f ./Modelfile && ollama run run-0007",
                 "--lora-modules run-0007=run-0007/adapter --max-lora-rank 16"):
        assert text in card, text
    ev = json.loads((trained / "eval.json").read_text())
    assert f"| {ev['metric']} |" in card and "8 held-out rows" in card
    merged = (Path(exports("merged")["out_dir"]) / "README.md").read_text()
    assert "library_name: transformers" in merged and "vllm serve ." in merged
    for text in (card, merged):
        assert str(trained.parent) not in text and "/tmp" not in text
        assert not any(w.startswith("/") for w in text.split())


def test_plan_checks_and_estimates_without_writing(small_run, tmp_path):
    out = tmp_path / "a" / "b" / "export"
    plan = plan_export(small_run, out, to="gguf", quant="q4_k_m")
    assert plan["arch"] == "llama" and plan["dtype"] == "float32" and plan["name"] == "run-0003"
    assert plan["estimated_bytes"] > plan["final_bytes"] > 0 and plan["free_bytes"] > 0
    assert plan["params"] > 0 and not (tmp_path / "a").exists()


def test_serving_commands_and_vllm_lora_ranks(small_run):
    assert [vllm_lora_rank(r) for r in (1, 4, 16, 17, 300, 512)] == [8, 8, 16, 32, 320, 512]
    with pytest.raises(ValueError, match="512"):
        vllm_lora_rank(1024)
    out = small_run.parent / "out"
    got = serving_commands(small_run, {"out_dir": str(out), "merged": str(out)})
    assert got["vllm_lora"] == (f"vllm serve {small_run / 'model'} --enable-lora --lora-modules "
                                f"out={small_run / 'adapter'} --max-lora-rank 8")
    assert got["vllm"] == f"vllm serve {out}" and set(got) == {"vllm_lora", "vllm"}
    rel = serving_commands(small_run, {"out_dir": str(out), "merged": str(out), "name": "m"},
                           relative_to=out)
    assert rel == {"vllm_lora": "vllm serve run-0003/model --enable-lora --lora-modules "
                                "m=run-0003/adapter --max-lora-rank 8", "vllm": "vllm serve ."}


# -- refusals: a clear error, nothing written ---------------------------------------------------


def test_a_run_without_an_adapter_is_refused(tmp_path):
    folder = tmp_path / "run-0001"
    make_run(folder)
    out = tmp_path / "export"
    with pytest.raises(ExportError, match=r"has no trained adapter: .*adapter_config\.json"):
        export_model(folder, out)
    assert nothing_left(out)
    with pytest.raises(ExportError, match="no run folder"):
        export_model(tmp_path / "nowhere", out)


def test_an_unsupported_architecture_is_refused(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    base = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=64,
                               n_positions=64)).save_pretrained(base)
    folder = lora_run(tmp_path / "run-0002", base=base, target=("c_attn",))
    out = tmp_path / "export"
    for to in ("gguf", "ollama"):
        with pytest.raises(ExportError, match="GPT2LMHeadModel cannot be converted to GGUF"):
            export_model(folder, out, to=to)
        assert nothing_left(out)


def test_an_out_dir_holding_files_is_refused_and_left_alone(small_run, tmp_path):
    out = tmp_path / "export"
    (out / "sub").mkdir(parents=True)
    (out / "keep.txt").write_text("mine")
    (out / "sub" / "x.bin").write_bytes(b"1")
    with pytest.raises(ExportError, match=r"already holds files \(keep\.txt, sub\)"):
        export_model(small_run, out, to="merged")
    assert (out / "keep.txt").read_text() == "mine" and (out / "sub" / "x.bin").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt", "sub"]
    assert not list(tmp_path.glob("export.part-*"))


def test_an_empty_out_dir_is_used(small_run, tmp_path):
    out = tmp_path / "export"
    out.mkdir()
    result = export_model(small_run, out, to="gguf", quant="f16", name="copy-model")
    assert result["files"] == ["README.md", "copy-model-f16.gguf"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "runs"]


def test_too_little_disk_names_both_numbers(small_run, tmp_path, monkeypatch):
    import trainer.export.model as M

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(M.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    out = tmp_path / "export"
    with pytest.raises(ExportError, match=r"needs about [\d.]+ MB .* 0\.0 MB is free"):
        export_model(small_run, out, to="gguf", quant="f32")
    assert nothing_left(out)


@pytest.mark.parametrize("module, to, quant, pip", [
    ("gguf", "gguf", "f16", "pip install gguf"),
    ("gguf", "ollama", "q8_0", "pip install gguf"),
    ("llama_cpp", "gguf", "q4_k_m", "pip install llama-cpp-python"),
    ("peft", "merged", "f16", "pip install peft")])
def test_a_missing_optional_dependency_says_what_to_install(small_run, tmp_path, monkeypatch,
                                                            module, to, quant, pip):
    monkeypatch.setitem(sys.modules, module, None)  # its import fails
    out = tmp_path / "export"
    with pytest.raises(ExportError, match=pip):
        export_model(small_run, out, to=to, quant=quant)
    assert nothing_left(out)


@pytest.mark.parametrize("stage, at", [("merge", 2), ("convert", 3), ("quantize", 0),
                                       ("card", 1)])
def test_an_interrupted_export_leaves_nothing(small_run, tmp_path, stage, at):
    out = tmp_path / "new" / "folder" / "export"
    seen = []

    def interrupt(name, done, total):
        seen.append(name)
        assert not out.exists() and len(list(out.parent.glob("export.part-*"))) == 1
        if (name, done) == (stage, at):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_model(small_run, out, to="ollama", quant="q4_k_m", on_progress=interrupt)
    assert seen[-1] == stage
    assert nothing_left(out) and not (tmp_path / "new").exists()


def test_a_bad_target_quant_or_name_is_refused(small_run, tmp_path):
    out = tmp_path / "export"
    for kw, words in [({"to": "onnx"}, "export target 'onnx'"), ({"quant": "q2"}, "'q2'"),
                      ({"name": "my model"}, "model name 'my model'")]:
        with pytest.raises(ExportError, match=words):
            export_model(small_run, out, **kw)
    assert nothing_left(out)


def test_a_full_fine_tune_exports_its_whole_model(small_run, tmp_path):
    """method = full: adapter/ holds the whole model, which is exported as it is."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.config import TrainConfig

    shutil.rmtree(small_run / "adapter")
    AutoModelForCausalLM.from_pretrained(small_run / "model").save_pretrained(
        small_run / "adapter")
    AutoTokenizer.from_pretrained(small_run / "model").save_pretrained(small_run / "adapter")
    config = TrainConfig.load(small_run / "config.toml").replace(method="full")
    config.save(small_run / "config.toml")
    result = export_model(small_run, tmp_path / "export", to="gguf", quant="q8_0")
    assert "vllm_lora" not in result["commands"]
    assert result["commands"]["vllm"] == f"vllm serve {small_run / 'adapter'}"
    card = (tmp_path / "export" / "README.md").read_text()
    assert "A full fine-tune of `model`" in card and "- full" in card


def test_a_chat_template_ollama_cannot_take_is_refused_before_anything_is_written(small_run,
                                                                                 tmp_path):
    (small_run / "adapter" / "chat_template.jinja").write_text(
        "{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}")
    out = tmp_path / "export"
    with pytest.raises(ExportError, match="ollama export of .*cannot translate this chat "
                                          "template"):
        export_model(small_run, out, to="ollama")
    assert nothing_left(out)
    assert export_model(small_run, out, to="gguf")["gguf"]  # llama.cpp takes any template
