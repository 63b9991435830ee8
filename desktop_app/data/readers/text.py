"""Plain .txt files for continued pre-training: each paragraph is one record.

Paragraphs are separated by one or more blank lines; each is numbered by its first line.
The encoding is sniffed as for CSV (see :func:`sniff_text_encoding`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from desktop_app.data.readers.encoding import has_undecodable_text, sniff_text_encoding
from desktop_app.data.records import RawRecord, RecordProblem


def _paragraph(source: str, first_line: int, lines: list[str]) -> RawRecord:
    for offset, line in enumerate(lines):
        if has_undecodable_text(line):
            reason = (
                f"contains bytes that are not valid UTF-8 text (on line {first_line + offset}); "
                "save the file with UTF-8 encoding"
            )
            problem = RecordProblem(source, first_line, None, reason, code="invalid_utf8")
            return RawRecord(first_line, problem)
    return RawRecord(first_line, {"text": "\n".join(lines)})


def read_text(path: Path) -> Iterator[RawRecord]:
    """Yield each paragraph of a plain text file as a record ``{"text": ...}``.

    Args:
        path: The file.
    """
    source = str(path)
    encoding = sniff_text_encoding(path)
    lines: list[str] = []
    first_line = 0
    with open(path, encoding=encoding, errors="surrogateescape") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\n")
            if line.strip():
                if not lines:
                    first_line = number
                lines.append(line)
            elif lines:
                yield _paragraph(source, first_line, lines)
                lines = []
    if lines:
        yield _paragraph(source, first_line, lines)
