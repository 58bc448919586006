"""Hugging Face -> GGUF conversion (trainer/export/gguf_convert.py) against the real llama.cpp in
llama-cpp-python: tiny random Llama (the studio's demo model), Qwen2 (q/k/v biases, Qwen2's
pre-tokenizer) and Gemma 3 (sliding-window layers, SentencePiece-style tokenizer) folders are
saved with save_pretrained, converted, and must generate the same greedy tokens from the same
token ids, with logits that agree, as transformers does; the tokenizers must agree too."""

import json
import os
import re

import numpy as np
import pytest
import torch

from trainer.export.gguf_convert import (
    QWEN2_SPLIT,
    SUPPORTED,
    ConvertError,
    check_convertible,
    clean_chat_template,
    convert,
    quantize,
)

TEXTS = [
    "hello world, this is a test of the tiny model",
    "another line of text with numbers 12345 and 678",
    "the quick brown fox jumps over the lazy dog",
    "my train was late again today lol",
    "Summarise the tweet in one word: the bus broke down",
]
PROBES = ["hello world", "the quick brown fox 12345", "Summarise: my bus was late!\n  ok",
          "ünïcödé 😀 text\n\nnew paragraph"]
N_NEW = 12

CHATML = ("{%- for message in messages -%}"
          "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
          "{%- endfor -%}"
          "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}")
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<start_of_turn>"
    "{{ 'model' if message['role'] == 'assistant' else message['role'] }}\n"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] }}<end_of_turn>{% endgeneration %}"
    "{% else %}{{ message['content'] }}<end_of_turn>{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")
CHAT = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello world"},
        {"role": "assistant", "content": "the quick brown fox"},
        {"role": "user", "content": "again?"}]


# -- tiny models ----------------------------------------------------------------------------------


def _qwen2_tokenizer():
    """Byte-level BPE with Qwen2's own pre-tokenizer (Split regex + ByteLevel, NFC)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    backend = Tokenizer(models.BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, min_frequency=1, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    backend.train_from_iterator(TEXTS, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", chat_template=CHATML)


def _gemma_tokenizer():
    """SentencePiece-style BPE as Gemma's tokenizer.json has it: spaces as "▁", byte fallback
    tokens <0x00>..<0xFF>, <bos> added; merges never cross a word or a newline."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers.models.gemma.tokenization_gemma import GemmaTokenizer

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"]
    backend = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    backend.normalizer = normalizers.Replace(" ", "▁")
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split("\n", "isolated"), pre_tokenizers.Split("▁", "merged_with_next")])
    trainer = trainers.BpeTrainer(vocab_size=220, min_frequency=1, show_progress=False)
    backend.train_from_iterator(TEXTS + ["user\nmodel\n"], trainer=trainer)
    trained = json.loads(backend.to_str())["model"]
    vocab = {s: i for i, s in enumerate(specials)}
    vocab.update({f"<0x{b:02X}>": len(specials) + b for b in range(256)})
    for text, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(text, len(vocab))
    merges = [tuple(m) for m in trained["merges"]]
    return GemmaTokenizer(vocab=vocab, merges=merges, add_bos_token=True,
                          additional_special_tokens=["<start_of_turn>", "<end_of_turn>"],
                          chat_template=GEMMA_TEMPLATE)


def _save(folder, model, tokenizer):
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_llama(folder, **config):
    from trainer.tiny import build_tiny_model

    build_tiny_model(folder, TEXTS, **config)
    return folder


def build_llama3_rope(folder):
    """The tiny model with Llama 3.2's rope scaling (llama.cpp: a rope_freqs tensor)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    build_llama(folder)
    config = LlamaConfig.from_pretrained(folder)
    config.rope_parameters = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
                              "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                              "original_max_position_embeddings": 8}
    torch.manual_seed(1)
    model = LlamaForCausalLM(config).eval()
    return _save(folder, model, AutoTokenizer.from_pretrained(folder))


def build_qwen2(folder):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = _qwen2_tokenizer()
    config = Qwen2Config(vocab_size=len(tok) + 5, hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, initializer_range=0.2,
                         tie_word_embeddings=False, eos_token_id=tok.eos_token_id,
                         bos_token_id=tok.convert_tokens_to_ids("<|endoftext|>"))
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).eval()
    with torch.no_grad():  # visible biases: zero ones would hide a lost bias
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.normal_(0, 0.5)
    assert any(n.endswith("k_proj.bias") for n, _ in model.named_parameters())
    return _save(folder, model, tok)


def build_gemma3(folder):
    """Six layers so that llama.cpp's pattern has a global layer (the 6th); a 6-token sliding
    window that prompts and generations overrun; norms away from zero (the +1 matters)."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    tok = _gemma_tokenizer()
    config = Gemma3TextConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128,
                              num_hidden_layers=6, num_attention_heads=4, num_key_value_heads=2,
                              head_dim=16, query_pre_attn_scalar=16, sliding_window=6,
                              max_position_embeddings=512, initializer_range=0.02,
                              pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                              bos_token_id=tok.bos_token_id)
    torch.manual_seed(0)
    model = Gemma3ForCausalLM(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.normal_(0, 0.3)
    return _save(folder, model, tok)


BUILDERS = {"llama": build_llama, "qwen2": build_qwen2, "gemma3": build_gemma3,
            "llama3-rope": build_llama3_rope}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """name -> (model folder, f32 GGUF, convert()'s result), each built once for the module."""
    done = {}

    def get(name):
        if name not in done:
            root = tmp_path_factory.mktemp(name)
            folder = BUILDERS[name](root / "hf")
            result = convert(folder, root / "model.gguf", outtype="f32")
            done[name] = (folder, root / "model.gguf", result)
        return done[name]

    return get


def load_llama(path, **kw):
    llama_cpp = pytest.importorskip("llama_cpp")
    kw.setdefault("type_k", 0)  # GGML_TYPE_F32: an f16 KV cache would blur the logits
    kw.setdefault("type_v", 0)
    return llama_cpp.Llama(model_path=str(path), n_ctx=256, logits_all=False, verbose=False, **kw)


def llama_greedy(llm, ids, n):
    """Greedy continuation and each step's logits, from Llama.eval and the context's logits."""
    import llama_cpp

    llm.reset()
    tokens, logits = [], []
    feed = list(ids)
    for _ in range(n):
        llm.eval(feed)
        row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1),
                                    shape=(llm.n_vocab(),)).copy()
        logits.append(row)
        feed = [int(row.argmax())]
        tokens.append(feed[0])
    return tokens, np.stack(logits)


def hf_model(folder):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


def hf_greedy(model, ids, n):
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False,
                             output_logits=True, return_dict_in_generate=True,
                             pad_token_id=model.config.pad_token_id)
    tokens = out.sequences[0, len(ids):].tolist()
    return tokens, torch.cat(out.logits).numpy()


def hf_tokenizer(folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


# -- tests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["llama", "qwen2", "gemma3", "llama3-rope"])
def test_llama_cpp_generates_what_transformers_generates(converted, name):
    """Same token ids in, same greedy tokens out, logits within float noise (an f32 KV cache);
    "llama3-rope" is the tiny Llama with Llama 3.2's rope scaling (a rope_freqs tensor)."""
    folder, gguf_file, _ = converted(name)
    tok = hf_tokenizer(folder)
    prompts = [tok(p)["input_ids"] for p in PROBES[:3]]
    prompts.append(tok.apply_chat_template(CHAT[:2], add_generation_prompt=True, tokenize=True,
                                           return_dict=True)["input_ids"])
    seen = set()
    model = hf_model(folder)
    llm = load_llama(gguf_file)
    try:
        for ids in prompts:
            want, want_logits = hf_greedy(model, ids, N_NEW)
            got, got_logits = llama_greedy(llm, ids, N_NEW)
            assert got == want, (name, ids)
            scale = np.abs(want_logits).max()
            assert np.abs(got_logits - want_logits).max() < 1e-3 * scale + 1e-3, name
            seen.update(want)
    finally:
        llm.close()
    assert len(seen) > 3  # not one token repeated: the comparison has something to compare


def test_a_sharded_bf16_folder_converts_streaming_each_tensor(converted, tmp_path):
    """Merged models come as bf16, often in shards: bf16 is cast to float32 (exactly) and
    every shard is read; on_progress sees every tensor once."""
    folder = converted("qwen2")[0]
    model = hf_model(folder).to(torch.bfloat16)
    model.save_pretrained(tmp_path / "hf", max_shard_size="40KB")
    hf_tokenizer(folder).save_pretrained(tmp_path / "hf")
    assert len(list((tmp_path / "hf").glob("*.safetensors"))) > 1
    progress = []
    result = convert(tmp_path / "hf", tmp_path / "model.gguf", outtype="f32",
                     on_progress=lambda done, total: progress.append((done, total)))
    total = result["tensors"]
    assert progress == [(i, total) for i in range(1, total + 1)]
    ids = hf_tokenizer(folder)(PROBES[1])["input_ids"]
    want, want_logits = hf_greedy(hf_model(tmp_path / "hf"), ids, N_NEW)  # bf16 -> float32
    llm = load_llama(tmp_path / "model.gguf")
    try:
        got, got_logits = llama_greedy(llm, ids, N_NEW)
    finally:
        llm.close()
    assert got == want
    assert np.abs(got_logits - want_logits).max() < 1e-3 * np.abs(want_logits).max() + 1e-3


@pytest.mark.parametrize("name", ["llama", "qwen2", "gemma3"])
def test_llama_cpp_tokenizes_like_the_hf_tokenizer(converted, name):
    folder, gguf_file, _ = converted(name)
    tok = hf_tokenizer(folder)
    llm = load_llama(gguf_file, vocab_only=True)
    try:
        for text in [*PROBES, *TEXTS, "<|im_start|>user\nhi<|im_end|>\n<start_of_turn>model\n"]:
            want = tok(text)["input_ids"]  # with the special tokens HF adds (bos or none)
            assert llm.tokenize(text.encode(), add_bos=True, special=True) == want, text
            assert llm.detokenize(want, special=True) == tok.decode(want).encode(), text
    finally:
        llm.close()


@pytest.mark.parametrize("name, eos, eot", [("llama", "<|im_end|>", "<|im_end|>"),
                                            ("qwen2", "<|im_end|>", "<|im_end|>"),
                                            ("gemma3", "<eos>", "<end_of_turn>")])
def test_metadata_carries_template_stops_and_hyperparameters(converted, name, eos, eot):
    import gguf

    folder, gguf_file, result = converted(name)
    reader = gguf.GGUFReader(gguf_file)
    kv = {k: f.contents() for k, f in reader.fields.items()}
    tokens = kv["tokenizer.ggml.tokens"]
    template = kv["tokenizer.chat_template"]
    assert not re.search(r"\{%-?\s*(end)?generation", template)
    assert tokens[kv["tokenizer.ggml.eos_token_id"]] == eos
    assert tokens[kv["tokenizer.ggml.eot_token_id"]] == eot
    assert result["eos"][:2] == list(dict.fromkeys([eos, eot]))
    assert result["chat_template"] is True and result["arch"] == kv["general.architecture"]
    tok = hf_tokenizer(folder)
    assert kv["tokenizer.ggml.model"] == {"gemma3": "gemma4"}.get(name, "gpt2")
    assert kv.get("tokenizer.ggml.pre") == {"llama": "gpt-2", "qwen2": "qwen2"}.get(name)
    assert kv["tokenizer.ggml.add_bos_token"] is (name == "gemma3")
    assert tokens[kv["tokenizer.ggml.padding_token_id"]] == tok.pad_token
    assert len(kv["tokenizer.ggml.merges"]) > 10
    assert kv["general.name"] == folder.name
    config = json.loads((folder / "config.json").read_text())
    arch = kv["general.architecture"]
    assert kv[f"{arch}.block_count"] == config["num_hidden_layers"]
    assert kv[f"{arch}.embedding_length"] == config["hidden_size"]
    assert kv[f"{arch}.attention.head_count_kv"] == config["num_key_value_heads"]
    assert result["bytes"] == gguf_file.stat().st_size
    assert result["tensors"] == len(reader.tensors)


def test_tied_embeddings_write_no_output_tensor_and_untied_do(converted):
    import gguf

    names = {n: {t.name for t in gguf.GGUFReader(converted(n)[1]).tensors}
             for n in ("llama", "qwen2")}
    assert "output.weight" not in names["llama"] and "token_embd.weight" in names["llama"]
    assert "output.weight" in names["qwen2"] and "blk.0.attn_k.bias" in names["qwen2"]


@pytest.mark.parametrize("name", ["llama", "gemma3"])
def test_the_gguf_chat_template_renders_like_transformers(converted, name):
    """The GGUF's template, as llama-cpp-python reads it, renders what transformers renders
    from the original, in llama-cpp-python's chat formatter and in a plain Jinja environment
    that knows no `generation` tag (the markers are gone, the text they wrapped stays)."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    formatter = pytest.importorskip("llama_cpp.llama_chat_format").Jinja2ChatFormatter
    folder, gguf_file, _ = converted(name)
    tok = hf_tokenizer(folder)
    assert "{% generation %}" in tok.chat_template.replace("-", "")
    want = tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    llm = load_llama(gguf_file, vocab_only=True)
    try:
        template = llm.metadata["tokenizer.chat_template"]
    finally:
        llm.close()
    specials = {"eos_token": tok.eos_token, "bos_token": tok.bos_token or ""}
    assert formatter(template, **specials)(messages=CHAT).prompt == want
    plain = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    rendered = plain.from_string(template).render(messages=CHAT, add_generation_prompt=True,
                                                  **specials)
    assert rendered == want


@pytest.mark.parametrize("name", ["llama", "gemma3"])
def test_native_llama_server_renders_the_chat_template(converted, tmp_path, name):
    """llama.cpp's own Jinja engine (llama-server --jinja, /apply-template), when
    tests/setup_llama_cpp.sh has built the binary."""
    import urllib.request

    from helpers import USER_CACHE
    from llama_server import NativeLlamaServer, native_server_binary

    binary = native_server_binary(USER_CACHE)
    if binary is None:
        pytest.skip("no native llama-server (bash tests/setup_llama_cpp.sh)")
    folder, gguf_file, _ = converted(name)
    messages = CHAT[:2]
    with NativeLlamaServer(gguf_file, binary=binary, n_ctx=256,
                           log_path=tmp_path / "server.log") as server:
        req = urllib.request.Request(f"{server.root}/apply-template",
                                     data=json.dumps({"messages": messages}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            prompt = json.load(r)["prompt"]
    tok = hf_tokenizer(folder)
    want = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    # llama-server drops a leading <bos> from the text: tokenizing adds the model's own
    assert prompt == want.removeprefix(tok.bos_token or "")


def test_generation_markers_become_plain_ifs():
    template = "{%- generation -%}x{% endgeneration %}\n{%generation%}y{%- endgeneration-%}"
    assert clean_chat_template(template) == (
        "{%- if true -%}x{% endif %}\n{% if true %}y{%- endif -%}")


@pytest.mark.parametrize("outtype, weight_type", [("f16", "F16"), ("q8_0", "Q8_0")])
def test_f16_and_q8_0_have_their_tensor_types_and_load(converted, tmp_path, outtype, weight_type):
    import gguf

    folder, _, _ = converted("llama")
    out = tmp_path / f"model-{outtype}.gguf"
    result = convert(folder, out, outtype=outtype)
    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(out).tensors}
    assert types["blk.0.attn_q.weight"] == weight_type
    assert types["token_embd.weight"] == weight_type
    assert types["blk.0.attn_norm.weight"] == "F32" and types["output_norm.weight"] == "F32"
    assert result["outtype"] == outtype and result["bytes"] == out.stat().st_size
    tok = hf_tokenizer(folder)
    ids = tok(PROBES[0])["input_ids"]
    want, _ = hf_greedy(hf_model(folder), ids, 4)
    llm = load_llama(out)
    try:
        got, _ = llama_greedy(llm, ids, 4)
    finally:
        llm.close()
    assert got[:2] == want[:2]  # rounding may change later picks; the first ones are clear


def test_q4_k_m_quantizes_through_llama_cpp(tmp_path):
    import gguf

    pytest.importorskip("llama_cpp")
    folder = build_llama(tmp_path / "hf", hidden=256)  # k-quants need rows of 256
    f16 = convert(folder, tmp_path / "f16.gguf")["file"]
    result = quantize(f16, tmp_path / "q4.gguf", "q4_k_m")
    types = {t.tensor_type.name for t in gguf.GGUFReader(result["file"]).tensors}
    assert "Q4_K" in types and result["bytes"] < os.path.getsize(f16)
    assert not (tmp_path / "q4.gguf.part").exists()
    llm = load_llama(result["file"])
    llm.close()


def test_quantize_without_llama_cpp_says_what_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import fails
    with pytest.raises(ConvertError, match=r"q4_k_m needs llama-cpp-python \(pip install"):
        quantize(tmp_path / "x.gguf", tmp_path / "y.gguf", "q4_k_m")


def test_an_unsupported_architecture_is_refused_by_name(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path / "gpt2"
    config = GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=64, n_positions=64)
    GPT2LMHeadModel(config).save_pretrained(folder)
    for call in (lambda: check_convertible(folder),
                 lambda: convert(folder, tmp_path / "out.gguf")):
        with pytest.raises(ConvertError) as e:
            call()
        assert "GPT2LMHeadModel" in str(e.value)
        assert all(name in str(e.value) for name in SUPPORTED)
    assert not list(tmp_path.glob("out.gguf*"))


def test_check_convertible_names_the_gguf_arch(converted):
    assert [check_convertible(converted(n)[0]) for n in ("llama", "qwen2", "gemma3")] == [
        "llama", "qwen2", "gemma3"]


def test_a_failing_conversion_leaves_no_file_and_keeps_an_old_one(converted, tmp_path):
    import shutil

    folder = shutil.copytree(converted("llama")[0], tmp_path / "hf")
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    out = tmp_path / "model.gguf"
    seen = []

    def fail_midway(done, total):
        seen.append((done, total))
        assert (tmp_path / "model.gguf.part").is_file() and not out.exists()
        if done == 3:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        convert(folder, out, on_progress=fail_midway)
    assert seen[-1][0] == 3 and list(tmp_path.iterdir()) == []
    out.write_bytes(b"an older export")
    with pytest.raises(ConvertError, match="outtype"):
        convert(folder, out, outtype="q4_0")
    (folder / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(Exception):  # safetensors' own error: the header is garbage
        convert(folder, out)
    assert out.read_bytes() == b"an older export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gguf"]


def test_gemma3_layouts_llama_cpp_cannot_run_are_refused(tmp_path, converted):
    folder, _, _ = converted("gemma3")
    config = json.loads((folder / "config.json").read_text())
    for change, words in [({"query_pre_attn_scalar": 32}, "query_pre_attn_scalar"),
                          ({"layer_types": ["full_attention"] * 6}, "layer_types"),
                          ({"tie_word_embeddings": False}, "tie_word_embeddings")]:
        bad = tmp_path / words
        bad.mkdir()
        for f in folder.iterdir():
            (bad / f.name).symlink_to(f)
        (bad / "config.json").unlink()
        (bad / "config.json").write_text(json.dumps({**config, **change}))
        with pytest.raises(ConvertError, match=words):
            convert(bad, tmp_path / "bad.gguf")
    assert not list(tmp_path.glob("bad.gguf*"))
