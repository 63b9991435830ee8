"""Facts about this computer: GPUs, CPU, memory and free disk, and how to show them.

The GPU facts come from torch, so they are gathered by
:func:`desktop_app.engine.hardware.probe_hardware`; this module holds the plain data,
the torch-free part of the probe (:func:`probe_host`) and the text and JSON forms.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

GIB = 1024**3


@dataclass(frozen=True)
class GpuInfo:
    """One CUDA GPU as torch sees it.

    Args:
        index: CUDA device index (0 is the one training uses by default).
        name: Marketing name, for example ``NVIDIA GeForce RTX 4090``.
        total_memory_bytes: All memory on the card.
        free_memory_bytes: Memory not in use by any process when probed.
        compute_capability: ``major.minor``, for example ``8.9``.
        supports_bf16: Whether the card computes in bfloat16 (compute capability 8.0 and up).
    """

    index: int
    name: str
    total_memory_bytes: int
    free_memory_bytes: int
    compute_capability: str
    supports_bf16: bool


@dataclass(frozen=True)
class HardwareInfo:
    """What this computer offers for training, recorded in each run's manifest.

    Args:
        gpus: The usable CUDA GPUs; empty when training runs on the CPU.
        cpu_cores_physical: Physical CPU cores.
        cpu_cores_logical: Logical CPU cores (hardware threads).
        ram_total_bytes: Installed memory.
        ram_available_bytes: Memory that can be used without swapping, when probed.
        disk_free_bytes: Free space on the disk that holds ``disk_path``.
        disk_path: The folder runs are written to.
        os: Operating system name, release and machine type.
        torch_cuda_build: Whether the installed PyTorch was built with CUDA support.
    """

    gpus: tuple[GpuInfo, ...]
    cpu_cores_physical: int
    cpu_cores_logical: int
    ram_total_bytes: int
    ram_available_bytes: int
    disk_free_bytes: int
    disk_path: str
    os: str
    torch_cuda_build: bool


def _nearest_existing(path: Path) -> Path:
    """``path`` itself, or the closest parent folder that exists."""
    path = path.expanduser().absolute()
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or os.sep)


def probe_host(disk_path: str | Path) -> dict[str, Any]:
    """The hardware facts that need no torch: CPU, memory, free disk and operating system.

    Args:
        disk_path: The folder runs will be written to. It need not exist yet: free space is
            measured on the nearest folder above it that does.

    Returns:
        The :class:`HardwareInfo` fields other than ``gpus`` and ``torch_cuda_build``.
    """
    path = Path(disk_path).expanduser().absolute()
    memory = psutil.virtual_memory()
    logical = psutil.cpu_count(logical=True) or os.cpu_count() or 1
    physical = psutil.cpu_count(logical=False) or logical
    return {
        "cpu_cores_physical": int(physical),
        "cpu_cores_logical": int(logical),
        "ram_total_bytes": int(memory.total),
        "ram_available_bytes": int(memory.available),
        "disk_free_bytes": int(shutil.disk_usage(_nearest_existing(path)).free),
        "disk_path": str(path),
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
    }


def recommend_method(hw: HardwareInfo) -> str:
    """The training method ``auto`` picks: ``qlora`` with a GPU, ``lora`` on the CPU."""
    return "qlora" if hw.gpus else "lora"


def training_memory(hw: HardwareInfo) -> tuple[str, int]:
    """Where training runs and how much memory it has there.

    Returns:
        ``("cuda", free memory of GPU 0)`` with a GPU, else ``("cpu", available RAM)``.
    """
    if hw.gpus:
        return "cuda", hw.gpus[0].free_memory_bytes
    return "cpu", hw.ram_available_bytes


def format_gib(size_bytes: int | float) -> str:
    """A size in GiB with one decimal, for example ``23.6 GiB``."""
    return f"{size_bytes / GIB:.1f} GiB"


def format_size(size_bytes: int | float) -> str:
    """A size in the largest binary unit that keeps it at 1 or more, for example ``93.8 MiB``."""
    value = float(size_bytes)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def format_hardware(hw: HardwareInfo) -> str:
    """A readable description of the hardware, for ``enclave hardware``."""
    lines: list[str] = []
    if hw.gpus:
        for gpu in hw.gpus:
            bf16 = "supports bfloat16" if gpu.supports_bf16 else "no bfloat16 (uses float16)"
            lines.append(
                f"GPU {gpu.index}: {gpu.name}, {format_gib(gpu.total_memory_bytes)} "
                f"({format_gib(gpu.free_memory_bytes)} free), compute capability "
                f"{gpu.compute_capability}, {bf16}"
            )
    else:
        lines.append("GPU: none usable. Training runs on the CPU, which is much slower.")
        if hw.torch_cuda_build:
            lines.append(
                "  PyTorch here supports CUDA, but it found no NVIDIA GPU; check that the "
                "NVIDIA driver is installed."
            )
        else:
            lines.append(
                "  This Enclave has the CPU build of PyTorch, so it cannot use a GPU even if "
                "one is installed."
            )
    lines += [
        f"CPU: {hw.cpu_cores_physical} physical cores, {hw.cpu_cores_logical} logical",
        f"Memory: {format_gib(hw.ram_total_bytes)} in total, "
        f"{format_gib(hw.ram_available_bytes)} available",
        f"Disk: {format_gib(hw.disk_free_bytes)} free at {hw.disk_path}",
        f"Operating system: {hw.os}",
    ]
    method = recommend_method(hw)
    why = (
        "small adapters on a 4-bit copy of the model, on the GPU"
        if method == "qlora"
        else "small adapters on the full-precision model, on the CPU"
    )
    lines.append(f"Recommended method: {method} ({why})")
    return "\n".join(lines)


def hardware_to_dict(hw: HardwareInfo) -> dict[str, Any]:
    """The JSON form (for the run manifest and ``enclave hardware --json``)."""
    return dataclasses.asdict(hw)
