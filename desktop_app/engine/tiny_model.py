"""A tiny Llama-architecture model and tokenizer built from scratch, offline.

Used by the test suite and the self-test: it goes through exactly the same loading code
as a user's model, but is small enough to train in seconds on a CPU.
"""

from __future__ import annotations

from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_CORPUS = """
The quick brown fox jumps over the lazy dog. A policy number identifies an insurance
contract. The claim was approved after review by the underwriting team. Patients must
sign the consent form before the procedure. The invoice is due within thirty days.
What is the capital of France? The capital of France is Paris. Please summarise the
report in three sentences. The bank transfer was completed on Monday morning.
user assistant system question answer instruction input output response text label
0123456789 + - * / = ( ) [ ] { } , . : ; ! ? ' " # @ % & _
""".strip()

SPECIAL_TOKENS = ["<pad>", "<|im_start|>", "<|im_end|>", "<unk>"]


def build_tiny_tokenizer(folder: str | Path, vocab_size: int = 400):  # noqa: ANN201
    """Train a byte-level BPE tokenizer on a built-in corpus and save it in HF layout."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS.splitlines() * 4, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="<|im_end|>",
        bos_token="<|im_start|>",
        unk_token="<unk>",
    )
    wrapped.chat_template = CHATML_TEMPLATE
    wrapped.save_pretrained(str(folder))
    return wrapped


def build_tiny_model(
    folder: str | Path,
    *,
    hidden_size: int = 64,
    layers: int = 2,
    seed: int = 0,
) -> Path:
    """Create a tiny Llama model with its tokenizer in ``folder`` (safetensors weights).

    Args:
        folder: Where to write config.json, model.safetensors and the tokenizer files.
        hidden_size: Width of the model; a multiple of 64 so 4-bit blocks fit.
        layers: Number of transformer blocks.
        seed: Seed for the random initial weights.

    Returns:
        The folder.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(folder)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
        # Wider than the library default (0.02) so that a frozen random output head can
        # still express confident predictions: LoRA tests then see loss fall far.
        initializer_range=0.2,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(str(folder), safe_serialization=True)
    return folder
