"""Probe this computer's hardware, GPUs included (the GPU part needs torch, which is
imported when the probe runs)."""

from __future__ import annotations

from pathlib import Path

from desktop_app.core.hardware import GpuInfo, HardwareInfo, probe_host

#: bfloat16 arithmetic needs an Ampere (compute capability 8.0) or newer GPU.
BF16_MIN_CAPABILITY = (8, 0)


def _probe_gpus() -> tuple[GpuInfo, ...]:
    import torch

    if not torch.cuda.is_available():
        return ()
    gpus = []
    for index in range(torch.cuda.device_count()):
        properties = torch.cuda.get_device_properties(index)
        total = int(properties.total_memory)
        try:
            free, total = (int(value) for value in torch.cuda.mem_get_info(index))
        except RuntimeError:
            # A GPU taken exclusively by another process cannot report; assume it is free.
            free = total
        capability = (int(properties.major), int(properties.minor))
        gpus.append(
            GpuInfo(
                index=index,
                name=str(properties.name),
                total_memory_bytes=total,
                free_memory_bytes=free,
                compute_capability=f"{capability[0]}.{capability[1]}",
                supports_bf16=capability >= BF16_MIN_CAPABILITY,
            )
        )
    return tuple(gpus)


def probe_hardware(disk_path: str | Path) -> HardwareInfo:
    """Everything Enclave needs to know about this computer to plan a training run.

    Args:
        disk_path: The folder runs are written to (it need not exist yet); its free space
            is reported.

    Returns:
        The hardware facts; ``gpus`` is empty when no CUDA GPU can be used.
    """
    import torch

    return HardwareInfo(
        gpus=_probe_gpus(),
        torch_cuda_build=torch.version.cuda is not None,
        **probe_host(disk_path),
    )
