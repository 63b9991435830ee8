"""``enclave data ...``: check a data file, scan it for personal data, write a redacted
copy. Thin: parse, call data/engine, print, exit code.

``data check`` exits 0 when no record has an error, 1 when some do, and 2 when the file
cannot be read at all; the other commands exit 0 on success and 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from desktop_app.core.audit import record
from desktop_app.core.hashing import sha256_file

EXIT_OK, EXIT_ERRORS_FOUND = 0, 1


def _token_figures(args: argparse.Namespace, column_map: dict[str, str]) -> Any:
    from desktop_app.data.loading import iter_usable_records
    from desktop_app.engine import quiet_library_output
    from desktop_app.engine.loading import load_tokenizer
    from desktop_app.engine.model_files import prepare_model_folder, resolve_model_source
    from desktop_app.engine.token_stats import token_length_stats

    quiet_library_output()
    folder = prepare_model_folder(resolve_model_source(args.model))
    tokenizer, _ = load_tokenizer(folder)
    records = iter_usable_records(
        args.file, args.format, max_chars=args.max_chars, column_map=column_map
    )
    return token_length_stats(records, tokenizer, args.max_length)


def command_check(args: argparse.Namespace) -> int:
    """``enclave data check``: 0 without errors, 1 with errors (2 comes from a DataError)."""
    from desktop_app.data.checking import check_file, format_check_report
    from desktop_app.data.mapping import parse_column_map

    column_map = parse_column_map(args.map or [])
    report = check_file(args.file, args.format, column_map=column_map, max_chars=args.max_chars)
    tokens = _token_figures(args, column_map) if args.model else None
    if args.json:
        payload = report.to_json()
        if tokens is not None:
            payload["tokens"] = tokens.to_json()
        print(json.dumps(payload, indent=2))
    else:
        print(format_check_report(report))
        if tokens is not None:
            from desktop_app.engine.token_stats import format_token_stats

            print()
            print(format_token_stats(tokens))
    return EXIT_ERRORS_FOUND if report.error_count else EXIT_OK


def command_scan_pii(args: argparse.Namespace) -> int:
    """``enclave data scan-pii``: the findings, with masked values."""
    from desktop_app.data.pii import format_pii_report, scan_file

    report = scan_file(args.file)
    record(
        "pii_scanned",
        {
            "path": str(Path(args.file).resolve()),
            "sha256": sha256_file(args.file),
            "records_scanned": report.records_scanned,
            "records_with_personal_data": len(report.records_with_pii),
            "counts_by_type": {kind: n for kind, n in report.counts_by_type.items() if n},
            "where": "enclave data scan-pii",
        },
    )
    print(json.dumps(report.to_json(), indent=2) if args.json else format_pii_report(report))
    return EXIT_OK


def command_redact(args: argparse.Namespace) -> int:
    """``enclave data redact``: a new file with personal data replaced."""
    from desktop_app.data.pii import redact_file

    summary = redact_file(args.file, args.out, args.mode)
    record(
        "pii_decision",
        {
            "decision": f"redacted copy ({summary.mode})",
            "source": str(Path(summary.source).resolve()),
            "source_sha256": summary.source_sha256,
            "destination": str(Path(summary.destination).resolve()),
            "destination_sha256": summary.destination_sha256,
            "values_replaced": {kind: n for kind, n in summary.counts_by_type.items() if n},
            "records_changed": summary.records_changed,
            "records_left_out": len(summary.skipped_lines),
            "where": "enclave data redact",
        },
    )
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
        return EXIT_OK
    found = ", ".join(f"{count} {kind}" for kind, count in summary.counts_by_type.items() if count)
    print(
        f"Wrote {summary.destination}: {summary.records_written:,} records, "
        f"{summary.records_changed:,} of them changed ({found or 'no personal data found'}); "
        f"mode {summary.mode}. The original file was not modified."
    )
    if summary.skipped_lines:
        lines = ", ".join(str(line) for line in summary.skipped_lines[:20])
        print(
            f"{len(summary.skipped_lines)} records could not be read and were left out "
            f"of the copy: lines {lines}. Run 'enclave data check' on the file to see why."
        )
    return EXIT_OK


def add_data_commands(commands: Any) -> None:
    """Register ``data check``, ``data scan-pii`` and ``data redact``."""
    from desktop_app.core.config import DATA_FORMATS

    data = commands.add_parser("data", help="check data files, find and redact personal data")
    sub = data.add_subparsers(dest="data_command", metavar="COMMAND", required=True)

    check = sub.add_parser("check", help="report every record that cannot be used, and why")
    check.add_argument("file", help="data file (.jsonl .json .csv .tsv .parquet .xlsx .txt)")
    check.add_argument(
        "--format", default="auto", choices=DATA_FORMATS, help="record format (default: detect)"
    )
    check.add_argument(
        "--map",
        action="append",
        metavar="FIELD=COLUMN",
        help="which column holds a field, for tables (repeatable)",
    )
    check.add_argument(
        "--max-chars",
        type=int,
        default=100_000,
        help="longest text allowed in a record (default 100000)",
    )
    check.add_argument(
        "--model", metavar="PATH", help="also count tokens with this model's tokenizer"
    )
    check.add_argument(
        "--max-length",
        type=int,
        default=1024,
        help="with --model: the training max_length in tokens (default 1024)",
    )
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(handler=command_check)

    scan = sub.add_parser("scan-pii", help="find personal data (e-mail, phone, card, IBAN...)")
    scan.add_argument("file", help="data file")
    scan.add_argument("--json", action="store_true", help="print one JSON object")
    scan.set_defaults(handler=command_scan_pii)

    redact = sub.add_parser("redact", help="write a copy with personal data replaced")
    redact.add_argument("file", help="data file (never modified)")
    redact.add_argument("out", help="the new file (same type; must not exist)")
    redact.add_argument(
        "--mode",
        choices=("tags", "pseudonyms"),
        default="tags",
        help="tags: [EMAIL]; pseudonyms: consistent made-up values",
    )
    redact.add_argument("--json", action="store_true", help="print one JSON object")
    redact.set_defaults(handler=command_redact)
