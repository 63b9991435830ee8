"""``enclave runs list [FOLDER]`` and ``enclave runs delete RUN_DIR [--yes] [--force]``.
Thin: parse, call core/engine, print, exit code.

``runs delete`` shows what it would remove (the run folder, with its checkpoints,
trained model, evaluation answers and secrets, and every export made from the run) and
asks before deleting, unless ``--yes``. Exit codes: 0 deleted (or listed), 1 not
confirmed, nothing deleted, 2 refused (not a run folder, or still training: a
UserInputError, turned into a plain message by the CLI).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_NOT_CONFIRMED = 0, 1


def default_runs_folder() -> Path:
    """Where the app keeps runs: ``ENCLAVE_HOME/runs``."""
    from desktop_app.core.paths import enclave_home

    return enclave_home() / "runs"


def _folder_bytes(folder: Path) -> int:
    total = 0
    for parent, _, files in os.walk(folder):
        for name in files:
            try:
                total += (Path(parent) / name).lstat().st_size
            except OSError:
                continue
    return total


def list_runs(folder: Path) -> list[dict[str, Any]]:
    """One summary per run folder directly under ``folder``, oldest first.

    Each has ``path``, ``name``, ``status``, ``method``, ``started_at``,
    ``finished_at``, ``bytes`` and ``exports`` (how many are recorded).
    """
    runs = []
    children = sorted(folder.iterdir()) if folder.is_dir() else []
    for child in children:
        if (
            not child.is_dir()
            or child.name.startswith(".")
            or not (child / "config.json").is_file()
        ):
            continue
        try:
            manifest = json.loads((child / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = {}
        try:
            exports = json.loads((child / "exports.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            exports = []
        runs.append(
            {
                "path": str(child.resolve()),
                "name": child.name,
                "status": manifest.get("status", "unknown"),
                "method": manifest.get("method"),
                "started_at": manifest.get("started_at"),
                "finished_at": manifest.get("finished_at"),
                "bytes": _folder_bytes(child),
                "exports": len(exports) if isinstance(exports, list) else 0,
            }
        )
    return sorted(runs, key=lambda run: (run["started_at"] or "", run["name"]))


def command_list(args: argparse.Namespace) -> int:
    """``enclave runs list``: the runs in a folder (default ENCLAVE_HOME/runs)."""
    from desktop_app.core.hardware import format_size

    folder = Path(args.folder).expanduser() if args.folder else default_runs_folder()
    runs = list_runs(folder)
    if args.json:
        print(json.dumps(runs, indent=2))
        return EXIT_OK
    if not runs:
        print(f"No runs in {folder}.")
        return EXIT_OK
    print(f"Runs in {folder}:")
    print(f"{'Name':<32} {'State':<12} {'Method':<8} {'Started':<20} {'Size':>10}  Exports")
    for run in runs:
        started = (run["started_at"] or "")[:19].replace("T", " ")
        print(
            f"{run['name']:<32} {run['status']:<12} {run['method'] or '':<8} {started:<20} "
            f"{format_size(run['bytes']):>10}  {run['exports']}"
        )
    return EXIT_OK


def command_delete(args: argparse.Namespace) -> int:
    """``enclave runs delete``: 0 deleted, 1 not confirmed (2 comes from a UserInputError)."""
    from desktop_app.engine.run_deletion import delete_run, format_deletion_plan, plan_run_deletion

    plan = plan_run_deletion(args.run_dir, force=args.force)
    print(format_deletion_plan(plan))
    if not args.yes:
        try:
            answer = input("Delete all of this? It cannot be undone. [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing was deleted. (Add --yes to delete without being asked.)")
            return EXIT_NOT_CONFIRMED
    report = delete_run(args.run_dir, force=args.force)
    print(report.summary())
    return EXIT_OK


def add_runs_commands(commands: Any) -> None:
    """Add ``runs list`` and ``runs delete`` to the CLI's subcommands.

    Args:
        commands: The parser's subparsers.
    """
    runs = commands.add_parser("runs", help="list runs, or delete a run and its exports")
    sub = runs.add_subparsers(dest="runs_command", metavar="COMMAND", required=True)

    listing = sub.add_parser("list", help="list the runs in a folder")
    listing.add_argument(
        "folder", nargs="?", help="folder holding run folders (default: the workspace's runs)"
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=command_list)

    delete = sub.add_parser(
        "delete",
        help="delete a run: its folder, checkpoints, trained model and exports",
        description=(
            "Delete a run folder (checkpoints, trained adapter or model, evaluation "
            "answers, secrets) and every export made from it. Shows what will go and "
            "asks first. The deletion is recorded in the audit log."
        ),
    )
    delete.add_argument("run_dir", metavar="RUN_DIR", help="the run folder 'enclave train' made")
    delete.add_argument("--yes", action="store_true", help="delete without asking")
    delete.add_argument(
        "--force",
        action="store_true",
        help="delete even if the run's record says it is still training (use only when "
        "it is not: the app was closed or the computer restarted)",
    )
    delete.set_defaults(handler=command_delete)
