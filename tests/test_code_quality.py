"""Lint and type checks are part of the suite, so CI fails on them like on a test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", tool, *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_lint_is_clean():
    completed = _run("ruff", "check", "desktop_app", "tests", "benchmarks", "packaging")
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_mypy_is_clean_on_core_data_and_engine():
    completed = _run("mypy")
    assert completed.returncode == 0, completed.stdout + completed.stderr
