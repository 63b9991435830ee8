"""The layer rules hold: import-linter's contracts from pyproject.toml are all kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    completed = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "0 broken" in completed.stdout


def test_no_qt_or_torch_where_the_layers_forbid_it():
    """A direct source check as well, so a contract edited away is still caught."""
    forbidden = {
        "core": ("PySide6", "pyqtgraph", "torch", "transformers", "peft", "bitsandbytes"),
        "data": ("PySide6", "pyqtgraph", "torch", "transformers", "peft", "bitsandbytes"),
        "engine": ("PySide6", "pyqtgraph"),
    }
    offenders = []
    for layer, names in forbidden.items():
        for path in (ROOT / "desktop_app" / layer).rglob("*.py"):
            for line in path.read_text(encoding="utf-8").splitlines():
                stripped = line.strip()
                if stripped.startswith(("import ", "from ")) and any(
                    stripped.split()[1].split(".")[0] == name for name in names
                ):
                    offenders.append(f"{path.relative_to(ROOT)}: {stripped}")
    assert not offenders, offenders
