"""A tiny Llama-architecture GGUF whose answers are designed, for tests against a real llama.cpp.

A model with random weights never writes valid JSON (it never even closes its strings), so the
weights here are designed: every attention and FFN matrix is zero, so the residual stream is just
the token embedding; the embedding is one-hot; and output.weight is a transition table. The model
is therefore a Markov chain over tokens: the logits after token i are row i of TRANSITIONS.

After the ChatML prompt (whose last token is the byte token "\\n") it writes

    {"input": "<A><B><C><D>", "output": "neutral", "rating": 4, "reason": "clear and faithful"}

then <|im_end|>. <A>, <B>, <C> and <D> are each drawn uniformly (tied logits) from 16 word
tokens, so different seeds give different inputs (65,536 in all: ten inputs repeat one another
about once in 1,300 runs). Every other choice leads by a gap of 200+
logits, so sampling at any temperature is deterministic. Lower-ranked fallbacks make llama.cpp's
JSON-schema grammars (which mask the tokens they forbid; the best allowed one is then picked)
still yield a valid object: {"input": "..."}, {"output": "neutral"} (plain string or enum) and
{"rating": 4, "reason": "clear and faithful"}. Ranks fall by a factor > 1.1, so the default
repeat penalty (which divides a positive logit by 1.1) never reorders them.

The designed tokens have no BPE merges, so prompt text always tokenizes to byte tokens (one token
per byte); a prompt of N bytes needs N tokens of context.
"""

from __future__ import annotations

from pathlib import Path

A_WORDS = ["the bus", "my train", "our flight", "the ferry", "your parcel", "the tram",
           "his taxi", "her order", "the lift", "my bike", "our coach", "the pizza",
           "the boiler", "my laptop", "the printer", "her car"]
B_WORDS = [" was late", " got cancelled", " arrived early", " was delayed", " came on time",
           " broke down", " went missing", " was rerouted", " got lost", " was full",
           " stopped", " was cold", " was perfect", " failed", " came twice", " was empty"]
C_WORDS = [" again", " today", " this morning", " last night", " twice", " on monday",
           " as usual", " once more", " at noon", " at dawn", " in the rain", " for once",
           " on friday", " all week", " right away", " at last"]
D_WORDS = [" lol", " smh", " #fail", " #win", " :(", " :)", " tbh", " ugh", " yay", " !!",
           " wow", " meh", " ok", " sigh", " fr", " again?"]

OPEN_INPUT = '{"input": "'
OPEN_OUTPUT = '{"output": "'
OPEN_RATING = '{"rating": '
INPUT_TO_OUTPUT = '", "output": "'
OUTPUT_TO_RATING = '", "rating": '
RATING_TO_REASON = ', "reason": "'
CLOSE = '"}'
LABEL = "neutral"
RATING = "4"  # a byte token
REASON = "clear and faithful"
STRUCTURE = [OPEN_INPUT, OPEN_OUTPUT, OPEN_RATING, INPUT_TO_OUTPUT, OUTPUT_TO_RATING,
             RATING_TO_REASON, CLOSE, LABEL, REASON]
# llama.cpp refuses a "gpt2" tokenizer without merges; these two are harmless (never at the end
# of a ChatML prompt, never in the chain).
MERGES = [("Ġ", "t"), ("Ġ", "a")]
CONTROL = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]

CHATML_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
                   "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
                   "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")

RANKS = (1000.0, 800.0, 600.0)  # first, second, third choice; everything else is 0
END_FALLBACK = 100.0  # an unexpected state ends the answer (when nothing better is allowed)

UNCONSTRAINED_ANSWER = ('{"input": "%s", "output": "neutral", "rating": 4, '
                        '"reason": "clear and faithful"}')


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def _encode(text: str, table: dict[int, str]) -> str:
    return "".join(table[b] for b in text.encode("utf-8"))


def vocabulary() -> tuple[list[str], list[int], dict[str, int]]:
    """(token texts as stored, token types, plain text -> id)."""
    table = byte_to_unicode()
    tokens, types, ids = [], [], {}
    for b in range(256):
        ids[chr(b)] = len(tokens)  # only ASCII ones are looked up
        tokens.append(table[b])
        types.append(1)  # normal
    for text in A_WORDS + B_WORDS + C_WORDS + D_WORDS + STRUCTURE:
        assert len(text.encode()) <= 32, text  # llama-cpp-python detokenizes into 32 bytes
        ids[text] = len(tokens)
        tokens.append(_encode(text, table))
        types.append(1)
    for a, b in MERGES:
        tokens.append(a + b)
        types.append(1)
    for text in CONTROL:
        ids[text] = len(tokens)
        tokens.append(text)
        types.append(3)  # control
    assert len(set(tokens)) == len(tokens)
    return tokens, types, ids


def transitions(ids: dict[str, int]) -> dict[int, dict[int, float]]:
    """Row i -> {next token: logit}; tokens not named get 0."""
    first, second, third = RANKS
    end = ids["<|im_end|>"]
    rows: dict[int, dict[int, float]] = {}

    def row(after: str, *choices: list[str] | str):
        logits = {end: END_FALLBACK}
        for rank, choice in zip(RANKS, choices):
            for text in ([choice] if isinstance(choice, str) else choice):
                logits[ids[text]] = rank
        rows[ids[after]] = logits

    row("\n", OPEN_INPUT, OPEN_OUTPUT, OPEN_RATING)
    row(OPEN_INPUT, A_WORDS)
    for a in A_WORDS:
        row(a, B_WORDS)
    for b in B_WORDS:
        row(b, C_WORDS)
    for c in C_WORDS:
        row(c, D_WORDS)
    for d in D_WORDS:
        row(d, INPUT_TO_OUTPUT, CLOSE)
    row(OPEN_OUTPUT, LABEL)
    row(INPUT_TO_OUTPUT, LABEL)
    row(LABEL, OUTPUT_TO_RATING, CLOSE)
    row(OPEN_RATING, RATING)
    row(OUTPUT_TO_RATING, RATING)
    row(RATING, RATING_TO_REASON)
    row(RATING_TO_REASON, REASON)
    row(REASON, CLOSE)
    row(CLOSE, "<|im_end|>")
    assert first > second * 1.1 and second > third * 1.1 and third > END_FALLBACK * 1.1
    return rows


def write_tiny_gguf(path) -> Path:
    import gguf
    import numpy as np

    path = Path(path)
    tokens, types, ids = vocabulary()
    n_vocab = len(tokens)
    n_embd = -(-n_vocab // 64) * 64
    n_head, n_ff = n_embd // 64, 64  # head_dim 64 (even, as RoPE needs)
    rows = transitions(ids)

    embd = np.zeros((n_vocab, n_embd), dtype=np.float32)
    embd[np.arange(n_vocab), np.arange(n_vocab)] = 1.0
    # RMSNorm turns the one-hot e_i into sqrt(n_embd) * e_i; divide it back out.
    out = np.zeros((n_vocab, n_embd), dtype=np.float32)
    for i, logits in rows.items():
        for j, value in logits.items():
            out[j, i] = value / np.sqrt(n_embd)
    for i in range(n_vocab):  # any other state: end the answer if nothing better is allowed
        if i not in rows:
            out[ids["<|im_end|>"], i] = END_FALLBACK / np.sqrt(n_embd)

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("sft-studio-tiny-markov")
    w.add_context_length(32768)
    w.add_embedding_length(n_embd)
    w.add_block_count(1)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges([f"{a} {b}" for a, b in MERGES])
    w.add_bos_token_id(ids["<|endoftext|>"])
    w.add_eos_token_id(ids["<|im_end|>"])
    w.add_pad_token_id(ids["<|endoftext|>"])
    w.add_add_bos_token(False)
    w.add_chat_template(CHATML_TEMPLATE)

    zeros = lambda *shape: np.zeros(shape, dtype=np.float32)
    ones = lambda n: np.ones(n, dtype=np.float32)
    w.add_tensor("token_embd.weight", embd)
    w.add_tensor("output_norm.weight", ones(n_embd))
    w.add_tensor("output.weight", out)
    w.add_tensor("blk.0.attn_norm.weight", ones(n_embd))
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        w.add_tensor(f"blk.0.{name}.weight", zeros(n_embd, n_embd))
    w.add_tensor("blk.0.ffn_norm.weight", ones(n_embd))
    w.add_tensor("blk.0.ffn_gate.weight", zeros(n_ff, n_embd))
    w.add_tensor("blk.0.ffn_up.weight", zeros(n_ff, n_embd))
    w.add_tensor("blk.0.ffn_down.weight", zeros(n_embd, n_ff))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


if __name__ == "__main__":
    import sys

    print(write_tiny_gguf(sys.argv[1] if len(sys.argv) > 1 else "tiny.gguf"))
