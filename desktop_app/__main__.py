"""Entry point: ``enclave`` and ``python -m desktop_app``.

Order matters: freeze support first (PyInstaller), then the offline environment and the
network guard, before anything imports a Hugging Face library; then the ``app_started``
audit entry, and only then the window or the command line.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import sys
from typing import Any

#: Exit code when Enclave cannot start (the command line's "bad input" code).
EXIT_CANNOT_START = 2


def _command_name(argv: list[str]) -> str:
    """The subcommand as typed ("train", "model inspect"), without its other arguments."""
    from desktop_app.cli import build_parser

    words: list[str] = []
    parser = build_parser()
    for word in argv:
        choices: dict[str, argparse.ArgumentParser] = {}
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                choices = action.choices
        if word not in choices:
            break
        words.append(word)
        parser = choices[word]
    return " ".join(words) or (argv[0] if argv else "")


def start_details(argv: list[str]) -> dict[str, Any]:
    """What the ``app_started`` audit entry records (the audit log adds user and host)."""
    from desktop_app import __version__

    details: dict[str, Any] = {
        "version": __version__,
        "interface": "command line" if argv else "window",
        "python": platform.python_version(),
        "os": platform.platform(),
    }
    if argv:
        details["command"] = _command_name(argv)
    return details


def main(argv: list[str] | None = None) -> int:
    """Run the app (no arguments) or a CLI subcommand; returns the exit code."""
    multiprocessing.freeze_support()
    from desktop_app.core.offline import enforce_offline_environment

    enforce_offline_environment()
    from desktop_app.core.network_guard import install_network_guard

    install_network_guard()
    from desktop_app.core.permissions import restrict_process_umask
    from desktop_app.engine.checkpoint_safety import force_weights_only_loads

    restrict_process_umask()  # files and folders Enclave creates: the user's only
    force_weights_only_loads()  # every torch.load, a library's too, refuses code
    from desktop_app.core.audit import AuditError, record

    arguments = sys.argv[1:] if argv is None else argv
    try:
        record("app_started", start_details(arguments))
    except AuditError as error:
        print(
            f"Error: {error.user_message()}\n"
            "Enclave does not start without its audit log, so that everything it does "
            "is recorded.",
            file=sys.stderr,
        )
        return EXIT_CANNOT_START
    from desktop_app.cli import run_cli

    return run_cli(arguments)


if __name__ == "__main__":
    sys.exit(main())
