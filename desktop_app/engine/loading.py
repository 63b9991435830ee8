"""Loading a local base model and tokenizer and preparing it for the chosen method.

Weights load only from safetensors (``use_safetensors=True``: a stray pickle file beside
them is never read), and a model's own code runs only when the caller passes
``trust_remote_code=True`` after the user allowed it (see
:mod:`desktop_app.engine.safe_loading`); otherwise such a model is refused plainly.
torch, transformers and peft are imported by the functions that load, so importing this
module loads none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop_app.core.config import MethodSpec
from desktop_app.core.errors import ModelError
from desktop_app.engine.builders import lora_config, quantization_config
from desktop_app.engine.safe_loading import check_remote_code
from desktop_app.engine.sft_data import FALLBACK_CHAT_TEMPLATE

if TYPE_CHECKING:
    import torch


@dataclass
class PreparedModel:
    """A model ready for the Trainer, with what the run needs to know about it."""

    model: Any
    tokenizer: Any
    trainable_parameters: int
    total_parameters: int
    notes: list[str]


def load_tokenizer(folder: Path, *, trust_remote_code: bool = False) -> tuple[Any, list[str]]:
    """Load the tokenizer and make sure it can pad and has a chat template.

    Args:
        folder: The model (or trained adapter) folder.
        trust_remote_code: The user allowed the model's own code (``model.allow_remote_code``)
            and it was announced and audited (``prepare_model_folder``).

    Returns:
        The tokenizer and plain-language notes on what was filled in.

    Raises:
        ModelError: the tokenizer cannot be used; RemoteCodeRefused when it needs the
            model's own code and ``trust_remote_code`` is False.
    """
    from transformers import AutoTokenizer

    notes: list[str] = []
    trusted = check_remote_code(folder, trust_remote_code).needed
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=trusted)
    except (OSError, ValueError) as error:
        raise ModelError(
            f"The tokenizer in {folder} could not be loaded ({error}).",
            "The model folder needs its tokenizer files (tokenizer.json or tokenizer.model "
            "with tokenizer_config.json), as published with the model.",
        ) from None
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(
            f"The tokenizer in {folder} has no fast (tokenizer.json) version, which Enclave "
            "needs to tell prompts from answers.",
            "Use a copy of the model that includes tokenizer.json, as most published models do.",
        )
    if tokenizer.eos_token is None:
        raise ModelError(
            f"The tokenizer in {folder} defines no end-of-text token.",
            "Use a model whose tokenizer_config.json sets eos_token.",
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
        notes.append(
            "This model has no chat template, so Enclave uses a simple Question/Answer "
            "layout; it is saved with the adapter."
        )
    return tokenizer, notes


def _transformer_blocks(model: Any) -> torch.nn.ModuleList:
    """The model's stack of transformer blocks: its longest ModuleList."""
    import torch

    lists = [module for module in model.modules() if isinstance(module, torch.nn.ModuleList)]
    if not lists:
        raise ModelError(
            "This model's layers could not be found, so method 'freeze' cannot choose "
            "which to train.",
            "Use method lora or qlora for this model.",
        )
    return max(lists, key=len)


def freeze_all_but_top(model: Any, trainable_layers: int) -> list[str]:
    """Freeze every weight except the top ``trainable_layers`` blocks, the final norm and
    the output head. Returns notes for the user."""
    import torch

    notes = []
    for parameter in model.parameters():
        parameter.requires_grad = False
    blocks = _transformer_blocks(model)
    count = min(trainable_layers, len(blocks))
    if count < trainable_layers:
        notes.append(f"The model has only {len(blocks)} layers; all of them are trained.")
    for block in list(blocks)[-count:]:
        for parameter in block.parameters():
            parameter.requires_grad = True
    head = model.get_output_embeddings()
    if head is not None:
        for parameter in head.parameters():
            parameter.requires_grad = True
        if getattr(model.config, "tie_word_embeddings", False):
            notes.append(
                "This model shares its input and output word tables, so training the "
                "output head also changes the input word table."
            )
    inner = getattr(model, "model", None)
    norm = getattr(inner, "norm", None)
    if isinstance(norm, torch.nn.Module):
        for parameter in norm.parameters():
            parameter.requires_grad = True
    return notes


def keep_4bit_training_layout(model: Any) -> int:
    """Stop bitsandbytes from repacking 4-bit weights for CPU inference.

    On CPUs with AVX512-BF16, bitsandbytes 0.50 repacks a Linear4bit's weights into a
    CPU inference layout the first time it runs in eval mode (validation), and does not
    undo it when training resumes; backpropagation then goes through gemv_4bit, which
    has no autograd kernel, and the gradients reaching earlier layers are wrong.
    Returns the number of layers changed.
    """
    changed = 0
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False
            changed += 1
    return changed


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts. 4-bit weights are packed two per byte, so
    their element count is doubled to give the real number of weights."""
    trainable = total = 0
    for parameter in model.parameters():
        count = parameter.numel()
        if parameter.__class__.__name__ == "Params4bit":
            count *= 2
        total += count
        if parameter.requires_grad:
            trainable += count
    return trainable, total


def load_for_training(
    folder: Path,
    method: str,
    spec: MethodSpec,
    device: str,
    compute_dtype: torch.dtype,
    gradient_checkpointing: bool,
    *,
    trust_remote_code: bool = False,
) -> PreparedModel:
    """Load the base model for ``method`` and attach adapters or freeze layers.

    Args:
        folder: A local model folder in Hugging Face layout.
        method: qlora, lora, full or freeze (already resolved from ``auto``).
        spec: The method settings.
        device: ``cuda`` or ``cpu``.
        compute_dtype: Number format for computation.
        gradient_checkpointing: Whether to recompute activations to save memory.
        trust_remote_code: Let the model's own code run (``ModelSource.trust_remote_code``:
            allowed by the user, announced and audited by ``prepare_model_folder``).

    Raises:
        RemoteCodeRefused: the model needs its own code and ``trust_remote_code`` is False.
    """
    import torch
    from peft import get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    trusted = check_remote_code(folder, trust_remote_code).needed
    tokenizer, notes = load_tokenizer(folder, trust_remote_code=trusted)
    quantization = quantization_config(method, spec, compute_dtype, device)
    # Full and freeze keep float32 master weights; the Trainer's autocast handles
    # bf16/fp16 on a GPU. LoRA's frozen base can sit in the compute dtype directly.
    load_dtype = compute_dtype if method in ("lora", "qlora") else torch.float32
    model: Any = AutoModelForCausalLM.from_pretrained(
        str(folder),
        dtype=load_dtype,
        quantization_config=quantization,
        device_map={"": 0 if device == "cuda" else "cpu"},
        trust_remote_code=trusted,
        use_safetensors=True,
        low_cpu_mem_usage=True,
    )
    model.config.use_cache = False
    if method == "qlora":
        keep_4bit_training_layout(model)
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=gradient_checkpointing
        )
    elif gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    adapter_settings = lora_config(method, spec)
    if adapter_settings is not None:
        model = get_peft_model(model, adapter_settings)
    elif method == "freeze":
        notes.extend(freeze_all_but_top(model, spec.freeze_trainable_layers))
    trainable, total = count_parameters(model)
    return PreparedModel(model, tokenizer, trainable, total, notes)
