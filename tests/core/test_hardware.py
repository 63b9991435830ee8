"""Hardware facts: the torch-free probe, the recommendation and the text and JSON forms."""

from __future__ import annotations

import json
import os
from pathlib import Path

from desktop_app.core.hardware import (
    GIB,
    GpuInfo,
    HardwareInfo,
    format_gib,
    format_hardware,
    format_size,
    hardware_to_dict,
    probe_host,
    recommend_method,
    training_memory,
)

RTX_4090 = GpuInfo(
    index=0,
    name="NVIDIA GeForce RTX 4090",
    total_memory_bytes=24 * GIB,
    free_memory_bytes=int(22.5 * GIB),
    compute_capability="8.9",
    supports_bf16=True,
)


def host(**changes: object) -> HardwareInfo:
    values: dict[str, object] = {
        "gpus": (),
        "cpu_cores_physical": 8,
        "cpu_cores_logical": 16,
        "ram_total_bytes": 32 * GIB,
        "ram_available_bytes": 20 * GIB,
        "disk_free_bytes": 500 * GIB,
        "disk_path": "/data/runs",
        "os": "Linux 6.8 (x86_64)",
        "torch_cuda_build": False,
    }
    values.update(changes)
    return HardwareInfo(**values)  # type: ignore[arg-type]


def test_recommend_method_is_qlora_with_a_gpu_and_lora_without() -> None:
    assert recommend_method(host(gpus=(RTX_4090,), torch_cuda_build=True)) == "qlora"
    assert recommend_method(host()) == "lora"


def test_training_memory_is_gpu_zero_free_memory_or_available_ram() -> None:
    assert training_memory(host(gpus=(RTX_4090,))) == ("cuda", int(22.5 * GIB))
    assert training_memory(host()) == ("cpu", 20 * GIB)


def test_format_hardware_with_a_gpu_lists_it_in_gib() -> None:
    text = format_hardware(host(gpus=(RTX_4090,), torch_cuda_build=True))
    assert "GPU 0: NVIDIA GeForce RTX 4090, 24.0 GiB (22.5 GiB free)" in text
    assert "compute capability 8.9" in text
    assert "Memory: 32.0 GiB in total, 20.0 GiB available" in text
    assert "Disk: 500.0 GiB free at /data/runs" in text
    assert "CPU: 8 physical cores, 16 logical" in text
    assert "Recommended method: qlora" in text
    assert "CPU build" not in text


def test_format_hardware_without_gpu_says_training_runs_on_the_cpu() -> None:
    text = format_hardware(host())
    assert "Training runs on the CPU" in text
    assert "CPU build of PyTorch" in text
    assert "Recommended method: lora" in text


def test_format_hardware_with_cuda_torch_but_no_gpu_points_at_the_driver() -> None:
    text = format_hardware(host(torch_cuda_build=True))
    assert "Training runs on the CPU" in text
    assert "CPU build" not in text
    assert "driver" in text


def test_hardware_to_dict_is_json_ready_and_complete() -> None:
    hw = host(gpus=(RTX_4090,), torch_cuda_build=True)
    data = json.loads(json.dumps(hardware_to_dict(hw)))
    assert data["gpus"][0]["name"] == "NVIDIA GeForce RTX 4090"
    assert data["gpus"][0]["supports_bf16"] is True
    assert data["ram_total_bytes"] == 32 * GIB
    assert data["torch_cuda_build"] is True


def test_sizes_are_formatted_in_binary_units() -> None:
    assert format_gib(1.5 * GIB) == "1.5 GiB"
    assert format_size(512) == "512 bytes"
    assert format_size(98_362_432) == "93.8 MiB"
    assert format_size(3 * GIB) == "3.0 GiB"
    assert format_size(2048 * GIB) == "2.0 TiB"


def test_probe_host_measures_this_machine_even_for_a_folder_not_yet_created(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "not" / "yet" / "runs"
    facts = probe_host(runs)
    assert facts["disk_path"] == str(runs)
    assert not runs.exists()
    assert facts["disk_free_bytes"] > 0
    # Measured on the nearest existing parent: the same disk as tmp_path (other processes
    # may write a little in between).
    assert abs(facts["disk_free_bytes"] - probe_host(tmp_path)["disk_free_bytes"]) < GIB
    assert facts["ram_total_bytes"] >= facts["ram_available_bytes"] > 0
    assert facts["cpu_cores_logical"] >= facts["cpu_cores_physical"] >= 1
    assert facts["cpu_cores_logical"] == (os.cpu_count() or facts["cpu_cores_logical"])
    assert facts["os"]
    # The probe's fields and gpus/torch_cuda_build are exactly what HardwareInfo needs.
    hw = HardwareInfo(gpus=(), torch_cuda_build=False, **facts)
    assert recommend_method(hw) == "lora"
