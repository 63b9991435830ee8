"""Entry point: ``enclave`` and ``python -m desktop_app``.

Order matters: freeze support first (PyInstaller), then the offline environment,
before anything imports a Hugging Face library.
"""

from __future__ import annotations

import multiprocessing
import sys


def main(argv: list[str] | None = None) -> int:
    """Run the app (no arguments) or a CLI subcommand; returns the exit code."""
    multiprocessing.freeze_support()
    from desktop_app.core.offline import enforce_offline_environment

    enforce_offline_environment()
    from desktop_app.cli import run_cli

    return run_cli(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
