"""Memory estimates against figures worked out by hand from the documented rules."""

from __future__ import annotations

import pytest

from desktop_app.core.estimates import MemoryEstimate, estimate_training_memory, verdict
from desktop_app.core.hardware import GIB


def test_qlora_on_a_gpu_by_hand() -> None:
    estimate = estimate_training_memory(
        1_000_000_000, "qlora", hidden_size=4096, num_layers=32, device="cuda"
    )
    # 0.5 byte per parameter + 5% for the quantisation constants.
    assert estimate.weights_bytes == 525_000_000
    # 2 * r * hidden * 7 linear layers * 32 blocks = 29,360,128 adapter parameters, 16 bytes each.
    assert estimate.trainable_parameters == 29_360_128
    assert estimate.trainable_bytes_with_optimizer == 469_762_048
    # batch 4 * 1024 tokens * 4096 * 32 blocks * 20 bytes.
    assert estimate.activations_bytes == 10_737_418_240
    assert estimate.overhead_bytes == 536_870_912
    assert estimate.total_bytes == 12_269_051_200
    assert (estimate.method, estimate.device) == ("qlora", "cuda")


def test_eight_bit_qlora_weights_take_one_byte_per_parameter() -> None:
    estimate = estimate_training_memory(
        1_000_000_000, "qlora", quantization_bits=8, hidden_size=4096, num_layers=32
    )
    assert estimate.weights_bytes == 1_000_000_000


def test_lora_keeps_float32_weights_on_the_cpu_and_bfloat16_on_a_gpu() -> None:
    cpu = estimate_training_memory(100_000_000, "lora", hidden_size=512, num_layers=8)
    gpu = estimate_training_memory(
        100_000_000, "lora", hidden_size=512, num_layers=8, device="cuda"
    )
    assert cpu.weights_bytes == 400_000_000
    assert gpu.weights_bytes == 200_000_000
    # 2 * 16 * 512 * 7 * 8 = 917,504 adapter parameters either way.
    assert cpu.trainable_parameters == gpu.trainable_parameters == 917_504
    assert cpu.trainable_bytes_with_optimizer == 917_504 * 16


def test_full_on_the_cpu_with_logits_by_hand() -> None:
    estimate = estimate_training_memory(
        100_000_000,
        "full",
        batch_size=2,
        max_length=128,
        hidden_size=512,
        num_layers=8,
        vocab_size=32_000,
    )
    assert estimate.weights_bytes == 400_000_000
    # Float32 weights are their own optimiser copy: 4 (gradient) + 8 (AdamW) per parameter.
    assert estimate.trainable_bytes_with_optimizer == 1_200_000_000
    # 2 * 128 * 512 * 8 * 20 = 20,971,520, plus logits 2 * 128 * 32,000 * 8 = 65,536,000.
    assert estimate.activations_bytes == 86_507_520
    assert estimate.overhead_bytes == int(0.3 * GIB)
    assert estimate.total_bytes == 400_000_000 + 1_200_000_000 + 86_507_520 + int(0.3 * GIB)


def test_full_on_a_gpu_counts_a_float32_copy_of_each_bfloat16_weight() -> None:
    estimate = estimate_training_memory(
        100_000_000, "full", hidden_size=512, num_layers=8, device="cuda"
    )
    assert estimate.weights_bytes == 200_000_000
    assert estimate.trainable_bytes_with_optimizer == 1_600_000_000


def test_freeze_trains_the_top_blocks_and_the_head() -> None:
    estimate = estimate_training_memory(
        100_000_000,
        "freeze",
        hidden_size=512,
        num_layers=8,
        vocab_size=32_000,
        freeze_trainable_layers=2,
    )
    # 2 of 8 blocks = 25,000,000, plus the head 512 * 32,000 = 16,384,000.
    assert estimate.trainable_parameters == 41_384_000
    assert estimate.trainable_bytes_with_optimizer == 41_384_000 * 12


def test_unknown_shape_assumes_32_blocks_of_llama_width() -> None:
    parameters = 12 * 32 * 4096**2  # a Llama-shaped model 4096 wide, 32 blocks deep
    guessed = estimate_training_memory(parameters, "lora")
    stated = estimate_training_memory(parameters, "lora", hidden_size=4096, num_layers=32)
    assert guessed == stated


def test_methods_order_by_memory() -> None:
    totals = {
        method: estimate_training_memory(
            1_000_000_000, method, hidden_size=2048, num_layers=24, device="cuda"
        ).total_bytes
        for method in ("qlora", "lora", "freeze", "full")
    }
    assert totals["qlora"] < totals["lora"] < totals["freeze"] < totals["full"]


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"method": "prefix"}, "method"),
        ({"method": "lora", "device": "mps"}, "device"),
        ({"method": "lora", "batch_size": 0}, "batch_size"),
    ],
)
def test_bad_arguments_are_refused(arguments: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        estimate_training_memory(1000, **arguments)  # type: ignore[arg-type]


def _estimate(total: int, method: str = "lora", device: str = "cuda") -> MemoryEstimate:
    return MemoryEstimate(total, 0, 0, 0, total, method=method, device=device)


def test_verdict_comfortable_fit() -> None:
    fits, message = verdict(_estimate(4 * GIB), 10 * GIB)
    assert fits
    assert message == "Should fit: needs about 4.0 GiB of the 10.0 GiB of free GPU memory."


def test_verdict_tight_fit_suggests_smaller_batches() -> None:
    fits, message = verdict(_estimate(9 * GIB, device="cpu"), 10 * GIB)
    assert fits
    assert message.startswith("Tight: needs about 9.0 GiB of the 10.0 GiB of available memory")
    assert "batch size" in message


def test_verdict_no_fit_suggests_qlora_unless_already_qlora() -> None:
    fits, message = verdict(_estimate(12 * GIB), 10 * GIB)
    assert not fits
    assert "needs about 12.0 GiB but only 10.0 GiB" in message
    assert "qlora" in message
    fits, message = verdict(_estimate(12 * GIB, method="qlora"), 10 * GIB)
    assert not fits
    assert "choose qlora" not in message


def test_verdict_with_no_memory_does_not_fit() -> None:
    assert verdict(_estimate(1), 0)[0] is False
