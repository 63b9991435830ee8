"""Rough memory estimates for training, so the user hears "this will not fit" before a run.

The figures are deliberately simple; they aim to be right within a factor of about 1.5,
which is enough to choose a method and a batch size. The rules, in bytes:

* Weights, per parameter: 0.5 for 4-bit (plus 5% for the quantisation constants), 1 for
  8-bit, 2 for bfloat16 on a GPU, 4 for float32 on the CPU. ``qlora`` uses 4 or 8 bits;
  the other methods keep the full-precision weights.
* Trainable parameters, with the AdamW optimiser: 4 (float32 copy of the weight) + 4
  (gradient) + 8 (two AdamW moments) = 16 per trainable parameter. When the model's own
  weights are already float32 (full or freeze on the CPU) they are that copy, so 12.

  - LoRA adapters: about ``2 * r * hidden_size`` parameters for each adapted linear layer,
    with 7 linear layers per transformer block (attention q, k, v, o and the MLP's gate, up
    and down).
  - full: every parameter.
  - freeze: the top ``freeze_trainable_layers`` blocks' share of the parameters, plus the
    output head (``hidden_size * vocab_size``) when the vocabulary size is known.

* Activations kept for the backward pass: about
  ``batch_size * max_length * hidden_size * num_layers * 20``; this is without gradient
  checkpointing, which cuts it to a fraction. When the vocabulary size is known, the
  output logits and their gradient add ``batch_size * max_length * vocab_size * 8``.
* Fixed overhead: 0.5 GiB on a GPU (the CUDA context and allocator), 0.3 GiB on the CPU.

When ``hidden_size`` or ``num_layers`` is unknown, the model is assumed to have 32 blocks
and the width of a Llama-shaped model of that size: ``sqrt(parameters / (12 * layers))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from desktop_app.core.hardware import GIB, format_gib

#: Weight bytes per parameter, by storage format.
BYTES_PER_PARAMETER = {"4bit": 0.5 * 1.05, "8bit": 1.0, "bfloat16": 2.0, "float32": 4.0}
#: Float32 weight copy + gradient + two AdamW moments, per trainable parameter.
OPTIMIZER_BYTES_PER_TRAINABLE = 4 + 4 + 8
#: Linear layers that get LoRA adapters in one transformer block (Llama layout).
LINEAR_LAYERS_PER_BLOCK = 7
#: Bytes of stored activations per token, per unit of width, per block.
ACTIVATION_BYTES_PER_TOKEN_WIDTH_LAYER = 20
#: Bytes per output logit: its float32 value and its gradient.
LOGIT_BYTES = 8
OVERHEAD_BYTES = {"cuda": int(0.5 * GIB), "cpu": int(0.3 * GIB)}
#: Blocks assumed when the model's depth is unknown.
DEFAULT_NUM_LAYERS = 32
#: Share of the available memory an estimate may use and still be called a comfortable fit.
COMFORTABLE_SHARE = 0.85

METHODS = ("qlora", "lora", "full", "freeze")
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak memory of a training run, in bytes, by what uses it.

    Args:
        weights_bytes: The model's weights as loaded for training.
        trainable_bytes_with_optimizer: Trainable parameters' float32 copies, gradients and
            AdamW moments.
        activations_bytes: Values kept for the backward pass, including the output logits.
        overhead_bytes: Fixed cost of the runtime (CUDA context, allocator, Python).
        total_bytes: The sum of the four.
        method: qlora, lora, full or freeze.
        device: ``cuda`` or ``cpu``.
        trainable_parameters: How many parameters are trained.
    """

    weights_bytes: int
    trainable_bytes_with_optimizer: int
    activations_bytes: int
    overhead_bytes: int
    total_bytes: int
    method: str = "lora"
    device: str = "cpu"
    trainable_parameters: int = 0


def _weight_format(method: str, quantization_bits: int, device: str) -> str:
    if method == "qlora":
        return "4bit" if quantization_bits == 4 else "8bit"
    return "bfloat16" if device == "cuda" else "float32"


def estimate_training_memory(
    parameter_count: int,
    method: str,
    *,
    quantization_bits: int = 4,
    lora_r: int = 16,
    batch_size: int = 4,
    max_length: int = 1024,
    hidden_size: int | None = None,
    num_layers: int | None = None,
    vocab_size: int | None = None,
    freeze_trainable_layers: int = 2,
    device: str = "cpu",
) -> MemoryEstimate:
    """Estimate the peak memory of training a model (see the module docstring for the rules).

    Args:
        parameter_count: Parameters in the base model.
        method: qlora, lora, full or freeze.
        quantization_bits: For qlora: 4 or 8.
        lora_r: Adapter rank, for qlora and lora.
        batch_size: Examples per step.
        max_length: Tokens per example.
        hidden_size: Model width, when known.
        num_layers: Transformer blocks, when known.
        vocab_size: Vocabulary size, when known (adds the logits and, for freeze, the head).
        freeze_trainable_layers: For freeze: how many top blocks are trained.
        device: ``cuda`` or ``cpu``.

    Returns:
        The estimate, broken down by what uses the memory.

    Raises:
        ValueError: For an unknown method or device, or a negative count.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)} (got {method!r}).")
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)} (got {device!r}).")
    if parameter_count < 0 or batch_size < 1 or max_length < 1:
        raise ValueError("parameter_count, batch_size and max_length must be positive.")

    layers = num_layers or DEFAULT_NUM_LAYERS
    width = hidden_size or max(1, round(math.sqrt(parameter_count / (12 * layers))))

    weight_format = _weight_format(method, quantization_bits, device)
    weights = parameter_count * BYTES_PER_PARAMETER[weight_format]

    if method in ("qlora", "lora"):
        trainable = 2 * lora_r * width * LINEAR_LAYERS_PER_BLOCK * layers
        per_trainable = OPTIMIZER_BYTES_PER_TRAINABLE
    else:
        if method == "full":
            trainable = parameter_count
        else:
            share = min(1.0, freeze_trainable_layers / layers)
            head = width * vocab_size if vocab_size else 0
            trainable = min(parameter_count, round(parameter_count * share) + head)
        # Float32 weights are their own optimiser copy.
        per_trainable = OPTIMIZER_BYTES_PER_TRAINABLE - (4 if weight_format == "float32" else 0)

    activations = batch_size * max_length * width * layers * ACTIVATION_BYTES_PER_TOKEN_WIDTH_LAYER
    if vocab_size:
        activations += batch_size * max_length * vocab_size * LOGIT_BYTES

    weights_bytes = int(round(weights))
    trainable_bytes = int(trainable * per_trainable)
    overhead = OVERHEAD_BYTES[device]
    return MemoryEstimate(
        weights_bytes=weights_bytes,
        trainable_bytes_with_optimizer=trainable_bytes,
        activations_bytes=int(activations),
        overhead_bytes=overhead,
        total_bytes=weights_bytes + trainable_bytes + int(activations) + overhead,
        method=method,
        device=device,
        trainable_parameters=int(trainable),
    )


def verdict(estimate: MemoryEstimate, available_bytes: int) -> tuple[bool, str]:
    """Whether an estimate fits in the available memory, and a sentence saying so.

    Args:
        estimate: From :func:`estimate_training_memory`.
        available_bytes: Free GPU memory (device ``cuda``) or available RAM (``cpu``).

    Returns:
        ``(fits, message)``. A fit within 85% of the memory is "should fit"; up to 100% it
        is "tight"; beyond, it does not fit and the message says what to change.
    """
    where = "free GPU memory" if estimate.device == "cuda" else "available memory (RAM)"
    need = format_gib(estimate.total_bytes)
    have = format_gib(available_bytes)
    if available_bytes > 0 and estimate.total_bytes <= COMFORTABLE_SHARE * available_bytes:
        return True, f"Should fit: needs about {need} of the {have} of {where}."
    if available_bytes > 0 and estimate.total_bytes <= available_bytes:
        return True, (
            f"Tight: needs about {need} of the {have} of {where}. If it runs out of memory, "
            "lower the batch size or the maximum length."
        )
    advice = "lower the batch size or the maximum length"
    if estimate.method != "qlora":
        advice += ", or choose qlora, which needs the least memory"
    return False, (
        f"Probably does not fit: needs about {need} but only {have} of {where} is free. "
        f"To make it fit, {advice}."
    )
