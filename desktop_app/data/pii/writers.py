"""Writing records back to a file of the type they came from.

JSON Lines, JSON, CSV, TSV and plain text need only the standard library; Excel and
Parquet files are written when openpyxl or pyarrow is installed. Text files are always
written as UTF-8 (with a byte-order mark for a CSV or TSV that had one, or that came
in an Excel encoding: UTF-16 or Windows-1252). Table cells are written as the readers
give them, which is as text. Each writer consumes the records
the readers produce (dicts of fields, in file order) as they come, so a large file is
never held in memory, and writes one file at ``target``.
"""

from __future__ import annotations

import csv
import importlib.util
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from desktop_app.data.errors import data_error

_TEXT_TYPES = (".jsonl", ".json", ".csv", ".tsv", ".txt")
_OPTIONAL_TYPES = {".xlsx": "openpyxl", ".parquet": "pyarrow"}
_DELIMITERS = {".csv": ",", ".tsv": "\t"}
_PARQUET_BATCH = 1024
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def writable_types() -> tuple[str, ...]:
    """The file extensions records can be written to on this installation."""
    optional = tuple(
        suffix
        for suffix, module in _OPTIONAL_TYPES.items()
        if importlib.util.find_spec(module) is not None
    )
    return _TEXT_TYPES + optional


def _cell(value: object) -> object:
    """A value as one table cell: nested lists and objects become JSON text."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _as_fields(record: object) -> dict[Any, Any]:
    return record if isinstance(record, dict) else {"text": record}


def _write_json_lines(source: Path, target: Path, records: Iterable[object]) -> None:
    with open(target, "w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _write_json_array(source: Path, target: Path, records: Iterable[object]) -> None:
    """A JSON array with one record per line, so the records are numbered by line when
    read. A source whose array sat inside an object (``{"data": [...]}``) is written
    as the bare array: the object's other members are not carried over."""
    with open(target, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("[")
        for index, record in enumerate(records):
            handle.write(",\n" if index else "\n")
            handle.write(json.dumps(record, ensure_ascii=False))
        handle.write("\n]\n")


class _HeaderLine(NamedTuple):
    text: str
    byte_order_mark: bool  # the source had one, or was saved by Excel as UTF-16/cp1252
    line_end: str


def _header_line(source: Path) -> _HeaderLine:
    """The source's first line, and how the copy should begin and end its lines."""
    with open(source, "rb") as handle:
        head = handle.read(1 << 16)
    if head.startswith(_UTF16_BOMS):
        text = head.decode("utf-16", errors="ignore")
        line_end = "\r\n" if "\r\n" in text else "\n"
        return _HeaderLine(text.splitlines()[0] if text else "", True, line_end)
    line = head.split(b"\n", 1)[0]
    line_end = "\r\n" if line.endswith(b"\r") else "\n"
    line = line.rstrip(b"\r")
    if line.startswith(_UTF8_BOM):
        return _HeaderLine(line[len(_UTF8_BOM) :].decode("utf-8", "replace"), True, line_end)
    try:
        return _HeaderLine(line.decode("utf-8"), False, line_end)
    except UnicodeDecodeError:
        return _HeaderLine(line.decode("cp1252", "replace"), True, line_end)


def _delimiter(source: Path, header: str, columns: list[str]) -> str:
    """The delimiter that splits the header line into exactly the columns the reader
    found (from the first record); else the one that splits it into the most columns,
    the extension's own winning ties."""
    default = _DELIMITERS.get(source.suffix.lower(), ",")
    best, most = default, 0
    for delimiter in (default, ",", "\t", ";", "|"):
        row = [name.strip() for name in next(csv.reader([header], delimiter=delimiter), [])]
        if columns and row == columns:
            return delimiter
        if len(row) > most:
            best, most = delimiter, len(row)
    return best


def _write_delimited(source: Path, target: Path, records: Iterable[object]) -> None:
    """CSV or TSV with the source's header, delimiter and line ends."""
    header, byte_order_mark, line_end = _header_line(source)
    items: Iterator[object] = iter(records)
    first = next(items, None)
    columns = [str(key) for key in _as_fields(first)] if first is not None else []
    delimiter = _delimiter(source, header, columns)
    if not columns:
        columns = [name.strip() for name in next(csv.reader([header], delimiter=delimiter), [])]
    encoding = "utf-8-sig" if byte_order_mark else "utf-8"
    with open(target, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator=line_end)
        writer.writerow(columns)
        if first is None:
            return
        for record in itertools.chain([first], items):
            fields = _as_fields(record)
            writer.writerow([_cell(fields.get(column, "")) for column in columns])


def _write_plain_text(source: Path, target: Path, records: Iterable[object]) -> None:
    """Plain text: each record's ``text`` as a paragraph, a blank line between them."""
    with open(target, "w", encoding="utf-8", newline="\n") as handle:
        for index, record in enumerate(records):
            text = _as_fields(record).get("text", "")
            handle.write(("\n\n" if index else "") + str(text))
        handle.write("\n")


def _write_excel(source: Path, target: Path, records: Iterable[object]) -> None:
    """An .xlsx workbook with one sheet: a header row, then one row per record."""
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    columns: list[Any] | None = None
    for record in records:
        fields = _as_fields(record)
        if columns is None:
            columns = list(fields)
            sheet.append([str(column) for column in columns])
        sheet.append([_cell(fields.get(column)) for column in columns])
    workbook.save(target)


def _write_parquet(source: Path, target: Path, records: Iterable[object]) -> None:
    """A Parquet file whose schema is inferred from the first records."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer: Any = None
    try:
        items = iter(records)
        while batch := list(itertools.islice(items, _PARQUET_BATCH)):
            rows = [_as_fields(record) for record in batch]
            schema = None if writer is None else writer.schema
            try:
                table = pa.Table.from_pylist(rows, schema=schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
                raise data_error(
                    str(source),
                    f"cannot be written as Parquet: its records do not share one schema ({error}).",
                    "Convert the file to JSON Lines and redact that instead.",
                ) from None
            if writer is None:
                writer = pq.ParquetWriter(str(target), table.schema)
            writer.write_table(table)
        if writer is None:
            pq.write_table(pa.table({}), str(target))
    finally:
        if writer is not None:
            writer.close()


_Writer = Callable[[Path, Path, Iterable[object]], None]
_WRITERS: dict[str, _Writer] = {
    ".jsonl": _write_json_lines,
    ".json": _write_json_array,
    ".csv": _write_delimited,
    ".tsv": _write_delimited,
    ".txt": _write_plain_text,
    ".xlsx": _write_excel,
    ".parquet": _write_parquet,
}


def check_writable(source: Path) -> None:
    """Refuse early a source whose type cannot be written here.

    Raises:
        DataError: naming the types that can be written.
    """
    suffix = source.suffix.lower()
    if suffix not in writable_types():
        needs = _OPTIONAL_TYPES.get(suffix)
        reason = f" (writing them needs {needs}, which is not installed)" if needs else ""
        raise data_error(
            str(source),
            f"cannot be redacted: '{suffix}' files cannot be written{reason}.",
            f"Redacted copies can be written for: {', '.join(writable_types())}.",
        )


def write_records(source: Path, target: Path, records: Iterable[object]) -> None:
    """Write records read from ``source`` to ``target``, in the source's file type.

    Args:
        source: The file the records came from; its type (and, for CSV and TSV, its
            header, delimiter and byte-order mark) is kept.
        target: The file to write.
        records: The records, consumed once, in order.

    Raises:
        DataError: this type cannot be written here (see :func:`check_writable`), or the
            records do not fit the type.
    """
    check_writable(source)
    _WRITERS[source.suffix.lower()](source, target, records)
