"""JSON Lines: one JSON object per line, streamed so large files never sit in memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from desktop_app.data.readers.encoding import (
    UNDECODABLE_REASON,
    UTF8_BOM,
    check_not_utf16,
    decode_problem,
    has_undecodable_text,
    may_hold_undecodable_text,
)
from desktop_app.data.records import RawRecord, RecordProblem


def parse_json_line(text: str) -> tuple[object, str | None]:
    """Parse one line of JSON.

    Returns:
        The value and None, or None and the reason it cannot be read.
    """
    try:
        return json.loads(text), None
    except json.JSONDecodeError as error:
        return None, f"is not valid JSON ({error.msg} at column {error.colno})"
    except RecursionError:
        return None, "is not valid JSON for Enclave: it is nested too deeply to read"
    except ValueError as error:  # such as an integer with more than 4,300 digits
        return None, f"is not valid JSON for Enclave ({error})"


def read_jsonl(path: Path) -> Iterator[RawRecord]:
    """Yield each non-blank line of a JSON Lines file, parsed.

    Lines are read as bytes and decoded one by one, so a line that is not UTF-8 or not
    JSON becomes a problem for that line alone. A UTF-8 byte-order mark is ignored.

    Args:
        path: The file.

    Raises:
        DataError: the file is UTF-16.
    """
    source = str(path)
    with open(path, "rb") as handle:
        check_not_utf16(source, handle.read(4))
        handle.seek(0)
        for number, raw_line in enumerate(handle, start=1):
            if number == 1 and raw_line.startswith(UTF8_BOM):
                raw_line = raw_line[len(UTF8_BOM) :]
            try:
                text = raw_line.decode("utf-8")
            except UnicodeDecodeError as error:
                problem = RecordProblem(
                    source, number, None, decode_problem(error), code="invalid_utf8"
                )
                yield RawRecord(number, problem)
                continue
            if not text.strip():
                continue
            value, reason = parse_json_line(text)
            if reason is not None:
                yield RawRecord(
                    number, RecordProblem(source, number, None, reason, code="broken_json")
                )
                continue
            if may_hold_undecodable_text(text) and has_undecodable_text(value):
                problem = RecordProblem(
                    source, number, None, UNDECODABLE_REASON, code="invalid_utf8"
                )
                yield RawRecord(number, problem)
                continue
            yield RawRecord(number, value)
