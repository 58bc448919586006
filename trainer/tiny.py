"""A tiny, randomly initialised chat model built on the fly, with no download: the Train tab's
"tiny demo model" preset (the whole pipeline runs on any machine, offline) and the tests' base
model.

`build_tiny_model(folder, texts)` trains a byte-level BPE tokenizer on `texts`, gives it a
ChatML chat template with `{% generation %}` markers (so TRL's `assistant_only_loss` and
`return_assistant_tokens_mask=True` work), builds a 2-layer Llama with seeded random weights
and saves both with `save_pretrained` into `folder`. It takes well under a second on CPU.

Special tokens (fixed ids): 0 `<|pad|>` (pad), 1 `<|endoftext|>` (bos; the template never
emits it), 2 `<|im_start|>`, 3 `<|im_end|>` (eos, ends every turn).

Rendering of [system, user, assistant]:

    <|im_start|>system\\n{system}<|im_end|>\\n<|im_start|>user\\n{user}<|im_end|>\\n
    <|im_start|>assistant\\n{assistant}<|im_end|>\\n

The assistant mask covers `{assistant}<|im_end|>` (content plus the closing end-of-turn token,
so the model learns to stop); `<|im_start|>assistant\\n` and the trailing newline are outside it.
"""

from __future__ import annotations

from pathlib import Path

PAD, BOS, IM_START, IM_END = "<|pad|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = [PAD, BOS, IM_START, IM_END]

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- generation -%}"
    "{{- message['content'] + '<|im_end|>' -}}"
    "{%- endgeneration -%}"
    "{{- '\\n' -}}"
    "{%- else -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- endif -%}"
)

# Role headers are fed to the BPE trainer too, so they get merges like real chat tokenizers.
_ROLE_TEXT = ["system\n", "user\n", "assistant\n"]


def _train_tokenizer(texts: list[str], vocab_size: int, max_length: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    # trim_offsets=False keeps character offsets exact, which the assistant mask relies on.
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator([*_ROLE_TEXT, *texts], trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=IM_END,
        pad_token=PAD,
        chat_template=CHAT_TEMPLATE,
        model_max_length=max_length,
        padding_side="right",
        clean_up_tokenization_spaces=False,
    )


def build_tiny_model(
    folder,
    texts: list[str],
    *,
    vocab_size: int = 512,
    hidden: int = 64,
    layers: int = 2,
    seed: int = 0,
) -> Path:
    """Build and save a tiny Llama chat model + tokenizer into `folder`; return it as a Path.

    `vocab_size` is an upper bound: the real vocabulary (256 bytes + 4 special tokens + merges
    learned from `texts`) may be smaller and the model's embedding matches it exactly. Weights
    are float32, drawn from a private RNG seeded with `seed` (the global torch RNG is untouched),
    so the same arguments give the same files. The initialiser's spread is 0.2, not Llama's
    0.02: at hidden size 64 the RMS-normed hidden state times 0.02-sized tied embeddings gives
    logits too flat for LoRA to move, and the loss of a few dozen steps would barely fall.
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    max_length = 512

    tokenizer = _train_tokenizer(list(texts), vocab_size, max_length)
    pad_id, bos_id, eos_id = tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=max_length,
        tie_word_embeddings=True,
        initializer_range=0.2,
        pad_token_id=pad_id,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        dtype="float32",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=bos_id, eos_token_id=eos_id, pad_token_id=pad_id, max_new_tokens=16
    )
    model.eval()

    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
