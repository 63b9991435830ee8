"""Small pure builders that turn our configuration into library objects.

They take plain config values and return transformers / peft objects; none of them
loads a model, so they are unit-tested without one. torch, peft and transformers are
imported by the builders that need them, so importing this module loads none of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from desktop_app.core.config import COMPUTE_DTYPES, HyperParams, MethodSpec
from desktop_app.core.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from peft import LoraConfig
    from transformers import BitsAndBytesConfig, TrainingArguments

    from desktop_app.core.hardware import HardwareInfo

#: The number formats a run computes in, by the name the config and manifest use.
DTYPE_NAMES = tuple(name for name in COMPUTE_DTYPES if name != "auto")


def torch_dtype(name: str) -> torch.dtype:
    """torch.bfloat16 for 'bfloat16' (see :data:`DTYPE_NAMES`; the inverse of
    :func:`dtype_name`).

    Raises:
        ValueError: ``name`` is not one of :data:`DTYPE_NAMES`.
    """
    if name not in DTYPE_NAMES:
        raise ValueError(f"Unknown number format {name!r}; expected one of {DTYPE_NAMES}.")
    import torch

    dtype: torch.dtype = getattr(torch, name)
    return dtype


def resolve_method(spec: MethodSpec, hardware: HardwareInfo) -> str:
    """The method to use: the configured one, or for ``auto`` QLoRA on a GPU, LoRA on CPU."""
    if spec.name != "auto":
        return spec.name
    return "qlora" if hardware.gpus else "lora"


def resolve_device(hardware: HardwareInfo) -> str:
    """``cuda`` when a usable NVIDIA GPU is present, else ``cpu``."""
    return "cuda" if hardware.gpus else "cpu"


def resolve_compute_dtype(spec: MethodSpec, hardware: HardwareInfo) -> torch.dtype:
    """bfloat16 on GPUs that support it, float16 on older GPUs, float32 on the CPU.

    On the CPU, 4-bit layers computing in float32 are about ten times faster than in
    bfloat16, so ``auto`` never picks bfloat16 there.
    """
    if spec.compute_dtype != "auto":
        chosen = spec.compute_dtype
        if chosen == "bfloat16" and hardware.gpus and not hardware.gpus[0].supports_bf16:
            raise ConfigError(
                "method.compute_dtype",
                f"bfloat16 is not supported by the {hardware.gpus[0].name}; use float16 or auto.",
            )
        if chosen == "float16" and not hardware.gpus:
            raise ConfigError(
                "method.compute_dtype",
                "float16 training needs an NVIDIA GPU; on the CPU use float32 or auto.",
            )
        return torch_dtype(chosen)
    if not hardware.gpus:
        return torch_dtype("float32")
    return torch_dtype("bfloat16" if hardware.gpus[0].supports_bf16 else "float16")


def dtype_name(dtype: torch.dtype) -> str:
    """'bfloat16' for torch.bfloat16: the form the manifest and the config use."""
    return str(dtype).removeprefix("torch.")


def quantization_config(
    method: str, spec: MethodSpec, compute_dtype: torch.dtype, device: str
) -> BitsAndBytesConfig | None:
    """The bitsandbytes settings for QLoRA, or None for the other methods.

    Raises:
        ConfigError: 8-bit was asked for without a GPU (bitsandbytes' 8-bit layers
            need CUDA).
    """
    if method != "qlora":
        return None
    import torch
    from transformers import BitsAndBytesConfig

    if spec.quantization_bits == 8:
        if device != "cuda":
            raise ConfigError(
                "method.quantization_bits",
                "8-bit QLoRA needs an NVIDIA GPU; on this computer use 4 (or method lora).",
            )
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=spec.quant_type,
        bnb_4bit_use_double_quant=spec.double_quantization,
        bnb_4bit_compute_dtype=compute_dtype,
        bnb_4bit_quant_storage=torch.uint8,
    )


def lora_config(method: str, spec: MethodSpec) -> LoraConfig | None:
    """The PEFT adapter settings for LoRA and QLoRA, or None for full and freeze."""
    if method not in ("lora", "qlora"):
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=spec.lora_r,
        lora_alpha=spec.lora_alpha,
        lora_dropout=spec.lora_dropout,
        target_modules=spec.target_module_list(),
        bias="none",
        task_type="CAUSAL_LM",
    )


def use_gradient_checkpointing(method: str, spec: MethodSpec, device: str) -> bool:
    """The configured choice, or by default on for QLoRA on a GPU only."""
    if spec.gradient_checkpointing is not None:
        return spec.gradient_checkpointing
    return method == "qlora" and device == "cuda"


def training_arguments(
    hyper: HyperParams,
    *,
    staging_dir: Path,
    device: str,
    compute_dtype: torch.dtype,
    has_validation: bool,
    gradient_checkpointing: bool,
) -> TrainingArguments:
    """Trainer settings for our loop: no hub, no reporting services, our own logging.

    Checkpoints are written by the Trainer into ``staging_dir`` and published into the
    run folder by our callback once complete.
    """
    import torch
    from transformers import TrainingArguments

    evaluate_periodically = has_validation and hyper.eval_every_steps > 0
    on_gpu = device == "cuda"
    return TrainingArguments(
        output_dir=str(staging_dir),
        num_train_epochs=hyper.epochs,
        max_steps=hyper.max_steps if hyper.max_steps is not None else -1,
        learning_rate=hyper.learning_rate,
        per_device_train_batch_size=hyper.batch_size,
        per_device_eval_batch_size=hyper.batch_size,
        gradient_accumulation_steps=hyper.gradient_accumulation_steps,
        # transformers 5: a float below 1 is a share of the total steps.
        warmup_steps=hyper.warmup_ratio,
        lr_scheduler_type=hyper.lr_scheduler,
        weight_decay=hyper.weight_decay,
        max_grad_norm=hyper.max_grad_norm,
        seed=hyper.seed,
        data_seed=hyper.seed,
        logging_strategy="steps",
        # Every step is logged so a non-finite loss is caught at once; the callback
        # reports only every hyperparameters.log_every_steps.
        logging_steps=1,
        logging_nan_inf_filter=False,
        eval_strategy="steps" if evaluate_periodically else "no",
        eval_steps=hyper.eval_every_steps if evaluate_periodically else None,
        save_strategy="steps" if hyper.save_every_steps > 0 else "no",
        save_steps=hyper.save_every_steps if hyper.save_every_steps > 0 else 500,
        save_total_limit=None,
        bf16=on_gpu and compute_dtype == torch.bfloat16,
        fp16=on_gpu and compute_dtype == torch.float16,
        use_cpu=not on_gpu,
        activation_checkpointing=gradient_checkpointing,
        activation_checkpointing_kwargs=(
            {"use_reentrant": False} if gradient_checkpointing else None
        ),
        optim="adamw_torch",
        include_num_input_tokens_seen="non_padding",
        remove_unused_columns=False,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        dataloader_pin_memory=on_gpu,
    )
