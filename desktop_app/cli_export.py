"""``enclave export RUN_DIR DESTINATION [--merge]``: write a finished run's trained model
into a new folder with its manifest and model card. Thin: parse, call the engine, print,
exit code.

Exit codes: 0 exported, 2 the run or the destination cannot be used (a UserInputError,
turned into a plain message by the CLI). Progress goes to stderr; with ``--json``
stdout holds exactly one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK = 0
_KINDS = {
    "adapter": "the adapter (use it with the base model)",
    "merged": "the model with the adapter merged in (needs no base model)",
    "model": "the trained model",
}


class _StageReporter:
    """Prints each stage's detail, and the engine's notes, to stderr."""

    def report(self, event: Any) -> None:
        from desktop_app.core.events import StageChanged, WarningRaised

        if isinstance(event, StageChanged) and event.detail and event.stage != "done":
            print(event.detail, file=sys.stderr, flush=True)
        elif isinstance(event, WarningRaised):
            print(f"Note: {event.message}", file=sys.stderr, flush=True)


def _size(size: int) -> str:
    from desktop_app.core.hardware import format_size

    return format_size(size)


def format_export_summary(result: Any) -> str:
    """What was written, and each file's size and sha256, for a person.

    Args:
        result: The engine's ExportResult.
    """
    lines = [
        f"Exported {_KINDS[result.kind]} from {result.run_dir}",
        f"to {result.destination} ({len(result.artifacts)} files, {_size(result.total_bytes)}).",
        "",
        f"{'File':<34}{'Size':>12}  sha256",
    ]
    for name, entry in sorted(result.artifacts.items()):
        lines.append(f"{name:<34}{_size(entry['bytes']):>12}  {entry['sha256']}")
    lines += [
        "",
        "MODEL_CARD.md explains the model for a reader who was not there; manifest.json "
        "holds the same record for machines.",
        f"Recorded in the audit log (entry {result.audit_hash}).",
    ]
    return "\n".join(lines)


def command_export(args: argparse.Namespace) -> int:
    """``enclave export``: 0 exported (2 comes from a UserInputError)."""
    from desktop_app.engine.export import export_run

    result = export_run(args.run_dir, args.destination, merge=args.merge, reporter=_StageReporter())
    if args.json:
        payload = {
            "destination": str(result.destination),
            "run": str(result.run_dir),
            "kind": result.kind,
            "merged": result.merged,
            "artifacts": result.artifacts,
            "audit_hash": result.audit_hash,
        }
        print(json.dumps(payload, indent=2))
    else:
        print(format_export_summary(result))
    return EXIT_OK


def add_export_command(commands: Any) -> None:
    """Add ``export`` to the CLI's subcommands.

    Args:
        commands: The parser's subparsers.
    """
    export = commands.add_parser(
        "export",
        help="write a finished run's adapter or model, with its manifest and model card",
        description=(
            "Write a finished run's trained adapter (or, for full and freeze runs, its "
            "model) into DESTINATION, a new or empty folder, with manifest.json and "
            "MODEL_CARD.md. The export is recorded in the audit log."
        ),
    )
    export.add_argument("run_dir", metavar="RUN_DIR", help="the run folder 'enclave train' made")
    export.add_argument(
        "destination", metavar="DESTINATION", help="a new or empty folder for the export"
    )
    export.add_argument(
        "--merge",
        action="store_true",
        help="merge a LoRA or QLoRA adapter into a full-precision copy of the base model, "
        "so the export is a complete model that needs no base model",
    )
    export.add_argument("--json", action="store_true", help="print one JSON object")
    export.add_argument("--verbose", action="store_true", help="show technical details on errors")
    export.set_defaults(handler=command_export)
