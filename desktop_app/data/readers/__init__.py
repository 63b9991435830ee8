"""Readers turn a data file into raw items, chosen by the file's extension.

To support a new file type, write a function ``(Path) -> Iterator[RawRecord]`` in a
module of this package and add it to :data:`READERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from desktop_app.data.errors import data_error
from desktop_app.data.readers.delimited import read_delimited
from desktop_app.data.readers.excel import read_xlsx
from desktop_app.data.readers.json_document import read_json_document
from desktop_app.data.readers.jsonl import read_jsonl
from desktop_app.data.readers.parquet import read_parquet
from desktop_app.data.readers.text import read_text
from desktop_app.data.records import RawRecord

Reader = Callable[[Path], Iterator[RawRecord]]

#: File extension (lower case, with the dot) to the reader for it.
READERS: dict[str, Reader] = {
    ".jsonl": read_jsonl,
    ".json": read_json_document,
    ".csv": read_delimited,
    ".tsv": read_delimited,
    ".parquet": read_parquet,
    ".xlsx": read_xlsx,
    ".txt": read_text,
}

#: Files whose records are rows under a header of column names.
TABLE_EXTENSIONS = (".csv", ".tsv", ".parquet", ".xlsx")
#: Files of plain text, whose records are paragraphs.
PLAIN_TEXT_EXTENSIONS = (".txt",)

_OTHER_HINTS = {
    ".xls": "Save it from Excel as an Excel Workbook (.xlsx), or as CSV UTF-8.",
    ".xlsm": "Save it from Excel as an Excel Workbook (.xlsx), or as CSV UTF-8.",
    ".ndjson": "Rename it to .jsonl: it holds one JSON object per line.",
}


def supported_extensions() -> tuple[str, ...]:
    """The file extensions that can be read, such as ``.jsonl``."""
    return tuple(READERS)


def is_table(path: str | Path) -> bool:
    """Whether the file is a table with a header (CSV, TSV, Parquet, Excel)."""
    return Path(path).suffix.lower() in TABLE_EXTENSIONS


def is_plain_text(path: str | Path) -> bool:
    """Whether the file is plain text read paragraph by paragraph."""
    return Path(path).suffix.lower() in PLAIN_TEXT_EXTENSIONS


def reader_for(path: str | Path) -> Reader:
    """The reader for a file, chosen by its extension.

    Raises:
        DataError: the extension is not one we read; the message lists those we do.
    """
    suffix = Path(path).suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        what = f"'{suffix}' files" if suffix else "files without an extension"
        supported = f"Use one of these file types: {', '.join(supported_extensions())}."
        hint = f"{_OTHER_HINTS[suffix]} {supported}" if suffix in _OTHER_HINTS else supported
        raise data_error(str(path), f"cannot be read: {what} are not supported.", hint)
    return reader


def iter_raw_records(path: str | Path, *, sheet: str | None = None) -> Iterator[RawRecord]:
    """The raw items of a data file, each with its line (or row) number.

    The items are read as they are asked for; whole-file problems (a bad header,
    an invalid JSON document, UTF-16 JSON, a damaged workbook) raise as soon as the
    reader meets them, at the latest with the first item.

    Args:
        path: The file; it must exist.
        sheet: For an Excel workbook, the sheet to read; None for the first.

    Raises:
        DataError: the file type is not supported, a sheet is named for a file that is
            not a workbook, or the file as a whole cannot be read.
        OSError: the file cannot be opened.
    """
    reader = reader_for(path)
    file_path = Path(path)
    if sheet is not None:
        if reader is not read_xlsx:
            raise data_error(
                str(path),
                f"is not an Excel workbook, so it has no sheet '{sheet}' to read.",
                "Leave the sheet out, or choose the .xlsx file.",
            )
        return read_xlsx(file_path, sheet)
    return reader(file_path)
