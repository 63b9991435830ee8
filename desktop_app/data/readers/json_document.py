"""A .json file: an array of records, or an object holding exactly one such array.

The whole document is parsed at once (JSON cannot be streamed with the standard
library). Each record is numbered by the line it starts on when every record starts on
a line of its own, as in pretty-printed files; in a document written on one line the
records are numbered by position instead, and the numbers say "record".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from desktop_app.data.errors import data_error
from desktop_app.data.readers.encoding import (
    UNDECODABLE_REASON,
    check_not_utf16,
    has_undecodable_text,
    may_hold_undecodable_text,
)
from desktop_app.data.records import RawRecord, RecordProblem

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_SHAPE_HINT = (
    'Use a list of records, [{...}, {...}], or an object holding one list, {"data": [...]}.'
)


def _skip_whitespace(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    return match.end() if match else position


def _element_starts(text: str, position: int) -> list[int]:
    """Character offsets where each element of the array at ``position`` starts."""
    starts: list[int] = []
    position = _skip_whitespace(text, position + 1)  # past "["
    while text[position] != "]":
        starts.append(position)
        _, position = _DECODER.raw_decode(text, position)
        position = _skip_whitespace(text, position)
        if text[position] == ",":
            position = _skip_whitespace(text, position + 1)
    return starts


def _member_start(text: str, key: str) -> int:
    """Offset of the value of ``key`` in the top-level object (the last one, as json does)."""
    found = -1
    position = _skip_whitespace(text, _skip_whitespace(text, 0) + 1)  # past "{"
    while text[position] != "}":
        name, position = _DECODER.raw_decode(text, position)
        position = _skip_whitespace(text, _skip_whitespace(text, position) + 1)  # past ":"
        if name == key:
            found = position
        _, position = _DECODER.raw_decode(text, position)
        position = _skip_whitespace(text, position)
        if text[position] == ",":
            position = _skip_whitespace(text, position + 1)
    return found


def _records_in(source: str, document: object) -> tuple[list[object], str | None]:
    """The record list and, for a wrapping object, the key that holds it."""
    if isinstance(document, list):
        return document, None
    if not isinstance(document, dict):
        raise data_error(
            source, f"holds a single {type(document).__name__}, not records.", _SHAPE_HINT
        )
    lists = [
        key
        for key, value in document.items()
        if isinstance(value, list) and any(isinstance(item, dict) for item in value)
    ]
    if len(lists) != 1:
        found = ", ".join(f"'{key}'" for key in lists) if lists else "none"
        raise data_error(
            source,
            f"must hold exactly one list of records; lists of objects found: {found}.",
            _SHAPE_HINT,
        )
    return document[lists[0]], lists[0]


def read_json_document(path: Path) -> Iterator[RawRecord]:
    """Yield each record of a .json file with its line (or record) number.

    Args:
        path: The file.

    Raises:
        DataError: the file is not valid JSON or does not hold a list of records.
    """
    source = str(path)
    content = path.read_bytes()
    check_not_utf16(source, content[:4])
    # surrogateescape: a stray non-UTF-8 byte spoils only the record that holds it.
    text = content.decode("utf-8-sig", errors="surrogateescape")
    del content
    hint = "Fix the file, or if it holds one JSON object per line, name it .jsonl."
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise data_error(
            source,
            f"is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}.",
            hint,
        ) from None
    except RecursionError:
        raise data_error(source, "is nested too deeply to read as JSON.", hint) from None
    except ValueError as error:  # such as an integer with more than 4,300 digits
        raise data_error(source, f"cannot be read as JSON: {error}.", hint) from None
    items, key = _records_in(source, document)
    array_start = _skip_whitespace(text, 0) if key is None else _member_start(text, key)
    starts = _element_starts(text, array_start)
    lines: list[int] = []
    line, counted_to = 1, 0
    for start in starts:
        line += text.count("\n", counted_to, start)
        counted_to = start
        lines.append(line)
    own_lines = all(earlier < later for earlier, later in zip(lines, lines[1:], strict=False))
    unit = "line" if own_lines else "record"
    check_text = may_hold_undecodable_text(text)
    for index, item in enumerate(items):
        number = lines[index] if own_lines else index + 1
        if check_text and has_undecodable_text(item):
            problem = RecordProblem(
                source, number, None, UNDECODABLE_REASON, unit, code="invalid_utf8"
            )
            yield RawRecord(number, problem, unit)
        else:
            yield RawRecord(number, item, unit)
