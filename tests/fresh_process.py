"""Running Python in a fresh process, for what an already-started test process cannot
show (start-up order, what gets imported). Importable as ``fresh_process`` (tests/ is on
the import path through its conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


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
