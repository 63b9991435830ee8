"""Readers turn a data file into raw items, chosen by the file's extension.

To support a new file type, write a function ``(Path) -> Iterator[RawRecord]`` in a
module of this package and add it to :data:`READERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from desktop_app.data.errors import data_error
from desktop_app.data.readers.delimited import read_delimited
from desktop_app.data.readers.encoding import check_not_utf16
from desktop_app.data.readers.json_document import read_json_document
from desktop_app.data.readers.jsonl import read_jsonl
from desktop_app.data.records import RawRecord

Reader = Callable[[Path], Iterator[RawRecord]]

#: File extension (lower case, with the dot) to the reader for it.
READERS: dict[str, Reader] = {
    ".jsonl": read_jsonl,
    ".json": read_json_document,
    ".csv": read_delimited,
    ".tsv": read_delimited,
}


def supported_extensions() -> tuple[str, ...]:
    """The file extensions that can be read, such as ``.jsonl``."""
    return tuple(READERS)


def reader_for(path: str | Path) -> Reader:
    """The reader for a file, chosen by its extension.

    Raises:
        DataError: the extension is not one we read; the message lists those we do.
    """
    suffix = Path(path).suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        what = f"'{suffix}' files" if suffix else "files without an extension"
        raise data_error(
            str(path),
            f"cannot be read: {what} are not supported.",
            f"Use one of these file types: {', '.join(supported_extensions())}.",
        )
    return reader


def iter_raw_records(path: str | Path) -> Iterator[RawRecord]:
    """The raw items of a data file, each with its line (or record) number.

    The file type and encoding are checked now; the items are read as they are asked for.

    Args:
        path: The file; it must exist.

    Raises:
        DataError: the file type is not supported, or the file as a whole cannot be read
            (a bad header, invalid JSON document, UTF-16 text).
        OSError: the file cannot be opened.
    """
    reader = reader_for(path)
    file_path = Path(path)
    with open(file_path, "rb") as handle:
        check_not_utf16(str(path), handle.read(4))
    return reader(file_path)
