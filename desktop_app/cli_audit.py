"""``enclave audit ...``: verify the audit log's hash chain, list its entries, export it
with its verification result. Thin: parse, call core, print, exit code.

``audit verify`` exits 0 when the chain is intact and 1 when it is not (naming the first
line edited, removed or reordered); every command exits 2 on bad input. ``verify`` and
``show`` read the workspace's log, or with ``--folder`` an exported copy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import Any

from desktop_app.cli_arguments import positive_int

EXIT_OK, EXIT_CHANGED = 0, 1
_TABLE_WIDTH = 120
_NARROWEST_DIGEST = 30


def _local_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a date; write it as YYYY-MM-DD, like 2026-11-21"
        ) from None


def _log(folder: str | None) -> Any:
    """The workspace's log, or the copy in ``folder`` (which must hold one)."""
    from desktop_app.core.audit import LOG_NAME, AuditLog
    from desktop_app.core.errors import UserInputError

    if folder is None:
        return AuditLog()
    path = Path(folder).expanduser().resolve()
    if not (path / LOG_NAME).is_file():
        raise UserInputError(
            f"{path} holds no audit log ({LOG_NAME}).",
            "Give the folder an audit export was written to, or leave out --folder to "
            "use this workspace's log.",
        )
    return AuditLog(path)


def _recorded_sha256(folder: Path) -> str | None:
    """The log's sha256 that an export's verification.json recorded, if there is one."""
    from desktop_app.core.audit_query import VERIFICATION_NAME

    try:
        recorded = json.loads((folder / VERIFICATION_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = recorded.get("log_sha256") if isinstance(recorded, dict) else None
    return value if isinstance(value, str) else None


def command_verify(args: argparse.Namespace) -> int:
    """``enclave audit verify``: 0 intact, 1 changed (2 comes from a UserInputError).

    For an export (``--folder``), the copy must also still have the sha256 its
    verification.json recorded.
    """
    from desktop_app.core.audit import verify_log
    from desktop_app.core.hashing import sha256_file

    log = _log(args.folder)
    verification = verify_log(log)
    recorded = _recorded_sha256(log.folder) if args.folder else None
    copy_changed = recorded is not None and recorded != sha256_file(log.path)
    if args.json:
        payload = verification.to_dict()
        if recorded is not None:
            payload["export_unchanged"] = not copy_changed
        print(json.dumps(payload, indent=2))
        return EXIT_OK if verification.intact and not copy_changed else EXIT_CHANGED
    if not log.path.exists():
        print(f"No audit entry has been written yet ({log.path} does not exist).")
    print(verification.summary())
    if not verification.intact:
        bad_line = verification.first_bad_line or 1
        held = f"Entries before line {bad_line} hold. " if bad_line > 1 else ""
        print(
            f"Checked {log.path}. {held}Compare the log with an export made earlier "
            "('enclave audit export') to see what changed, and keep this copy as it is "
            "for the investigation."
        )
    if recorded is not None:
        print(
            f"The copy has changed since it was exported: its sha256 is not {recorded}, "
            "the one verification.json recorded."
            if copy_changed
            else "The copy is unchanged since it was exported (its sha256 matches "
            "verification.json)."
        )
    return EXIT_OK if verification.intact and not copy_changed else EXIT_CHANGED


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def format_table(entries: list[Any], width: int = _TABLE_WIDTH) -> str:
    """Entries as a table of line, local time, event, user, run and a digest of details.

    Args:
        entries: ``NumberedEntry`` items from ``core.audit_query``.
        width: The line width to fit (the digest column takes what is left).
    """
    from desktop_app.core.audit_query import detail_digest, run_name

    rows = []
    for item in entries:
        when = item.local_time
        rows.append(
            (
                str(item.line),
                when.strftime("%Y-%m-%d %H:%M:%S") if when else str(item.entry.get("time")),
                item.event,
                _clip(str(item.entry.get("user", "")), 16),
                _clip(run_name(item.run), 28) if item.run else "-",
                detail_digest(item.entry),
            )
        )
    headers = ("Line", "Time (local)", "Event", "User", "Run", "Details")
    widths = [max([len(headers[col])] + [len(row[col]) for row in rows]) for col in range(5)]
    digest_width = max(width - sum(widths) - 2 * 5, _NARROWEST_DIGEST)

    def line(cells: tuple[str, ...]) -> str:
        first = cells[0].rjust(widths[0])
        middle = [cell.ljust(widths[col]) for col, cell in enumerate(cells[1:5], start=1)]
        return "  ".join([first, *middle, _clip(cells[5], digest_width)]).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def command_show(args: argparse.Namespace) -> int:
    """``enclave audit show``: the entries that pass the filters (0, or 2 on bad input)."""
    from desktop_app.core.audit import verify_log
    from desktop_app.core.audit_query import AuditFilter, filter_entries, read_entries

    log = _log(args.folder)
    run = args.run
    if run is not None and Path(run).expanduser().exists():
        run = str(Path(run).expanduser().resolve())
    audit_filter = AuditFilter(run=run, event=args.type, since=args.since, until=args.until)
    entries = read_entries(log)
    matching = filter_entries(entries, audit_filter)
    shown = matching[-args.limit :] if args.limit else matching
    verification = verify_log(log)

    if args.json:
        for item in shown:
            print(json.dumps(item.entry, ensure_ascii=False, sort_keys=True))
    elif shown:
        print(format_table(shown, shutil.get_terminal_size((_TABLE_WIDTH, 24)).columns))
    notes = sys.stderr if args.json else sys.stdout
    if not entries:
        print(f"The audit log has no entries yet ({log.path}).", file=notes)
    elif not matching:
        print(f"None of the {len(entries):,} entries matches the filters.", file=notes)
    elif len(shown) < len(matching):
        print(
            f"\nThe last {len(shown):,} of {len(matching):,} matching entries "
            f"({len(entries):,} in the log).",
            file=notes,
        )
    else:
        print(f"\n{len(shown):,} of {len(entries):,} entries.", file=notes)
    if verification.intact:
        print(f"Last entry hash: {verification.head_hash}", file=notes)
    else:
        print(f"Warning: {verification.summary()}", file=notes)
        print("Run 'enclave audit verify' for what to do.", file=notes)
    return EXIT_OK


def command_export(args: argparse.Namespace) -> int:
    """``enclave audit export``: copy, verify and record (0, or 2 on bad input)."""
    from desktop_app.core.audit_query import export_log

    exported = export_log(args.destination)
    if args.json:
        print(json.dumps(exported.to_dict(), indent=2, ensure_ascii=False))
        return EXIT_OK
    verification = exported.verification
    print(f"Exported the audit log to {exported.folder}:")
    print(f"  {exported.log_path.name:<18} {verification.entries:,} entries")
    print(f"  {'':<18} sha256 {exported.log_sha256}")
    if exported.head_path is not None:
        print(f"  {exported.head_path.name:<18} the recorded count and last hash")
    print(f"  {exported.verification_path.name:<18} {verification.summary()}")
    print(
        f"The export is recorded in the audit log (entry {exported.entry['seq']}, "
        "audit_exported), with the copy's sha256."
    )
    return EXIT_OK


def add_audit_commands(commands: Any) -> None:
    """Register ``audit verify``, ``audit show`` and ``audit export``."""
    from desktop_app.core.audit import EVENT_TYPES

    audit = commands.add_parser(
        "audit", help="verify, list and export the audit log (who did what, when)"
    )
    sub = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    folder_help = "check an exported copy in FOLDER instead of this workspace's log"

    verify = sub.add_parser(
        "verify",
        help="check that no entry was edited, removed or reordered (exit 1 if one was)",
    )
    verify.add_argument("--folder", metavar="FOLDER", help=folder_help)
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.set_defaults(handler=command_verify)

    show = sub.add_parser("show", help="list the entries, oldest first")
    show.add_argument("--run", metavar="RUN", help="only this run (its folder or folder name)")
    show.add_argument(
        "--type",
        metavar="EVENT",
        choices=list(EVENT_TYPES),
        help=f"only this kind of entry: {', '.join(EVENT_TYPES)}",
    )
    show.add_argument(
        "--since", type=_local_date, metavar="DATE", help="from this local date on (YYYY-MM-DD)"
    )
    show.add_argument(
        "--until", type=_local_date, metavar="DATE", help="up to this local date (YYYY-MM-DD)"
    )
    show.add_argument(
        "--limit", type=positive_int, metavar="N", help="only the last N entries that match"
    )
    show.add_argument("--folder", metavar="FOLDER", help=folder_help)
    show.add_argument(
        "--json", action="store_true", help="print the entries as written, one JSON per line"
    )
    show.set_defaults(handler=command_show)

    export = sub.add_parser("export", help="copy the log to a folder with its verification result")
    export.add_argument(
        "destination",
        metavar="DESTINATION_FOLDER",
        help="an empty or new folder (an earlier export is never overwritten)",
    )
    export.add_argument("--json", action="store_true", help="print one JSON object")
    export.set_defaults(handler=command_export)
