"""The pure builders, with no model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from desktop_app.core.config import HyperParams, MethodSpec
from desktop_app.core.errors import ConfigError
from desktop_app.core.hardware import GpuInfo, HardwareInfo
from desktop_app.engine.builders import (
    lora_config,
    quantization_config,
    resolve_compute_dtype,
    resolve_method,
    training_arguments,
    use_gradient_checkpointing,
)


def hardware(*gpus: GpuInfo) -> HardwareInfo:
    return HardwareInfo(
        gpus=gpus,
        cpu_cores_physical=2,
        cpu_cores_logical=2,
        ram_total_bytes=8 << 30,
        ram_available_bytes=6 << 30,
        disk_free_bytes=100 << 30,
        disk_path="/tmp",
        os="Linux",
        torch_cuda_build=bool(gpus),
    )


AMPERE = GpuInfo(0, "RTX A4000", 16 << 30, 15 << 30, "8.6", True)
TURING = GpuInfo(0, "T4", 16 << 30, 15 << 30, "7.5", False)


def test_auto_method_is_qlora_on_gpu_and_lora_on_cpu():
    assert resolve_method(MethodSpec(), hardware(AMPERE)) == "qlora"
    assert resolve_method(MethodSpec(), hardware()) == "lora"
    assert resolve_method(MethodSpec(name="qlora"), hardware()) == "qlora"


def test_compute_dtype_follows_the_hardware():
    assert resolve_compute_dtype(MethodSpec(), hardware(AMPERE)) == torch.bfloat16
    assert resolve_compute_dtype(MethodSpec(), hardware(TURING)) == torch.float16
    assert resolve_compute_dtype(MethodSpec(), hardware()) == torch.float32
    spec = MethodSpec(compute_dtype="bfloat16")
    assert resolve_compute_dtype(spec, hardware()) == torch.bfloat16


def test_qlora_4bit_settings():
    config = quantization_config("qlora", MethodSpec(), torch.bfloat16, "cuda")
    assert config.load_in_4bit and not config.load_in_8bit
    assert config.bnb_4bit_quant_type == "nf4"
    assert config.bnb_4bit_use_double_quant is True
    assert config.bnb_4bit_compute_dtype == torch.bfloat16


def test_qlora_8bit_needs_a_gpu():
    spec = MethodSpec(quantization_bits=8)
    assert quantization_config("qlora", spec, torch.float16, "cuda").load_in_8bit
    with pytest.raises(ConfigError, match="method.quantization_bits"):
        quantization_config("qlora", spec, torch.float32, "cpu")


@pytest.mark.parametrize("method", ["lora", "full", "freeze"])
def test_no_quantization_outside_qlora(method: str):
    assert quantization_config(method, MethodSpec(), torch.float32, "cpu") is None


def test_lora_config_from_spec():
    spec = MethodSpec(lora_r=8, lora_alpha=16, lora_dropout=0.1, target_modules="q_proj, v_proj")
    config = lora_config("qlora", spec)
    assert (config.r, config.lora_alpha, config.lora_dropout) == (8, 16, 0.1)
    assert set(config.target_modules) == {"q_proj", "v_proj"}
    assert config.task_type == "CAUSAL_LM"
    assert lora_config("lora", MethodSpec()).target_modules == "all-linear"
    assert lora_config("full", MethodSpec()) is None


def test_gradient_checkpointing_default():
    assert use_gradient_checkpointing("qlora", MethodSpec(), "cuda") is True
    assert use_gradient_checkpointing("qlora", MethodSpec(), "cpu") is False
    assert use_gradient_checkpointing("lora", MethodSpec(gradient_checkpointing=True), "cpu")


def test_training_arguments_map_our_fields(tmp_path: Path):
    hyper = HyperParams(
        max_steps=10,
        learning_rate=1e-3,
        batch_size=2,
        gradient_accumulation_steps=3,
        eval_every_steps=5,
        save_every_steps=0,
        lr_scheduler="linear",
        warmup_ratio=0.1,
        seed=7,
    )
    args = training_arguments(
        hyper,
        staging_dir=tmp_path,
        device="cpu",
        compute_dtype=torch.float32,
        has_validation=True,
        gradient_checkpointing=False,
    )
    assert args.max_steps == 10 and args.learning_rate == 1e-3
    assert args.per_device_train_batch_size == 2 and args.gradient_accumulation_steps == 3
    assert args.eval_strategy == "steps" and args.eval_steps == 5
    assert args.save_strategy == "no"
    assert args.seed == 7 and args.use_cpu and not args.bf16
    assert args.report_to == [] or args.report_to == "none" or args.report_to == ["none"]
    assert args.logging_nan_inf_filter is False
    assert args.logging_steps == 1  # every loss is checked; reports are thinned later
    assert args.get_warmup_steps(10) == 1  # warmup_ratio 0.1 of 10 steps

    no_validation = training_arguments(
        hyper,
        staging_dir=tmp_path,
        device="cpu",
        compute_dtype=torch.float32,
        has_validation=False,
        gradient_checkpointing=False,
    )
    assert no_validation.eval_strategy == "no"


def test_compute_dtypes_the_hardware_cannot_do_are_refused():
    with pytest.raises(ConfigError, match="bfloat16 is not supported by the T4"):
        resolve_compute_dtype(MethodSpec(compute_dtype="bfloat16"), hardware(TURING))
    with pytest.raises(ConfigError, match="float16 training needs an NVIDIA GPU"):
        resolve_compute_dtype(MethodSpec(compute_dtype="float16"), hardware())
