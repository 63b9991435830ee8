"""CSV and TSV files: a header row naming the columns, then one record per row.

The delimiter and the encoding are sniffed (see :func:`sniff_text_encoding`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from desktop_app.data.errors import data_error
from desktop_app.data.readers.encoding import (
    UNDECODABLE_REASON,
    has_undecodable_text,
    sniff_text_encoding,
)
from desktop_app.data.records import RawRecord, RecordProblem

_SNIFF_CHARACTERS = 64 * 1024
_CANDIDATE_DELIMITERS = ",\t;|"
_DEFAULT_DELIMITER = {".csv": ",", ".tsv": "\t"}
# Training texts are long; the csv module's default cell limit (128 KiB) would stop the
# whole file at the first long answer, before the loader could report it as too long.
_CELL_LIMIT = 1 << 30


def _delimiter(path: Path, encoding: str) -> str:
    """The delimiter csv.Sniffer finds in the first 64 K characters, else the extension's.

    A sniffed delimiter is only trusted if the header line contains it.
    """
    fallback = _DEFAULT_DELIMITER.get(path.suffix.lower(), ",")
    with open(path, encoding=encoding, errors="surrogateescape", newline="") as handle:
        sample = handle.read(_SNIFF_CHARACTERS)
    if len(sample) == _SNIFF_CHARACTERS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # do not sniff half a row
    header = sample.splitlines()[0] if sample else ""
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=_CANDIDATE_DELIMITERS).delimiter
    except csv.Error:
        return fallback
    return sniffed if sniffed in header else fallback


def read_delimited(path: Path) -> Iterator[RawRecord]:
    """Yield each data row of a CSV or TSV file as a dict keyed by the header.

    Rows are numbered by the physical line they start on, the header being line 1, so
    the numbers match a text editor (and a spreadsheet, unless cells span lines).

    Args:
        path: The file.

    Raises:
        DataError: the file has no header, repeats a column name, or is not valid CSV.
    """
    source = str(path)
    if csv.field_size_limit() < _CELL_LIMIT:
        csv.field_size_limit(_CELL_LIMIT)
    encoding = sniff_text_encoding(path)
    delimiter = _delimiter(path, encoding)
    with open(path, encoding=encoding, errors="surrogateescape", newline="") as handle:
        # strict: a quote left open would otherwise swallow the rest of the file silently.
        reader = csv.reader(handle, delimiter=delimiter, strict=True)
        start = 1
        try:
            header = next(reader, None)
            if header is None:
                raise data_error(source, "is empty.", "The first row must name the columns.")
            if not any(name.strip() for name in header):
                raise data_error(
                    source, "has no header row.", "The first row must name the columns.", line=1
                )
            columns = [name.strip() for name in header]
            repeated = sorted({name for name in columns if columns.count(name) > 1})
            if repeated:
                raise data_error(
                    source,
                    f"names the column '{repeated[0]}' more than once in its header.",
                    "Give every column its own name.",
                    line=1,
                )
            start = reader.line_num + 1
            for row in reader:
                line, start = start, reader.line_num + 1
                if not any(row):
                    continue  # a blank line, or a row of delimiters only, holds no record
                if len(row) != len(columns):
                    reason = (
                        f"has {len(row)} values but the header names {len(columns)} "
                        "columns; check for a missing or extra delimiter or quote"
                    )
                    yield RawRecord(
                        line, RecordProblem(source, line, None, reason, code="row_shape")
                    )
                    continue
                if has_undecodable_text("".join(row)):
                    problem = RecordProblem(
                        source, line, None, UNDECODABLE_REASON, code="invalid_utf8"
                    )
                    yield RawRecord(line, problem)
                    continue
                yield RawRecord(line, dict(zip(columns, row, strict=True)))
        except csv.Error as error:
            raise data_error(
                source,
                f"cannot be read as {path.suffix.lstrip('.').upper()}: {error}.",
                "Check the quotes in the row that starts on this line: every quote that "
                "opens a value must close it, and a quote inside a value is written twice.",
                line=start,
            ) from None
