"""Running Python in a fresh process, for what an already-started test process cannot
show (start-up order, what gets imported). Importable as ``fresh_process`` (tests/ is on
the import path through its conftest.py)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path


@functools.cache
def no_network_prefix() -> list[str]:
    """``["unshare", "-rn"]`` (a network namespace with nothing in it) where this machine
    allows one, else ``[]``: prefix a command with it to run it with no network at all."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return [unshare, "-rn"]
    return []


def run_python(
    arguments: list[str], enclave_home: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """This Python with ``arguments``, the workspace in ``enclave_home``, Qt off-screen,
    and ``env`` added to the environment."""
    return subprocess.run(
        [sys.executable, *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "ENCLAVE_HOME": str(enclave_home),
            "QT_QPA_PLATFORM": "offscreen",
            **env,
        },
    )
