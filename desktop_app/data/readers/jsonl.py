"""JSON Lines: one JSON object per line, streamed so large files never sit in memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from desktop_app.data.readers.encoding import (
    UNDECODABLE_REASON,
    UTF8_BOM,
    decode_problem,
    has_undecodable_text,
    may_hold_undecodable_text,
)
from desktop_app.data.records import RawRecord, RecordProblem


def read_jsonl(path: Path) -> Iterator[RawRecord]:
    """Yield each non-blank line of a JSON Lines file, parsed.

    Lines are read as bytes and decoded one by one, so a line that is not UTF-8 or not
    JSON becomes a problem for that line alone. A UTF-8 byte-order mark is ignored.

    Args:
        path: The file.
    """
    source = str(path)
    with open(path, "rb") as handle:
        for number, raw_line in enumerate(handle, start=1):
            if number == 1 and raw_line.startswith(UTF8_BOM):
                raw_line = raw_line[len(UTF8_BOM) :]
            try:
                text = raw_line.decode("utf-8")
            except UnicodeDecodeError as error:
                yield RawRecord(number, RecordProblem(source, number, None, decode_problem(error)))
                continue
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                reason = f"is not valid JSON ({error.msg} at column {error.colno})"
                yield RawRecord(number, RecordProblem(source, number, None, reason))
                continue
            if may_hold_undecodable_text(text) and has_undecodable_text(value):
                yield RawRecord(number, RecordProblem(source, number, None, UNDECODABLE_REASON))
                continue
            yield RawRecord(number, value)
