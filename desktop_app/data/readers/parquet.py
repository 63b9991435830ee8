"""Parquet files, read one batch of rows at a time so a large file never sits in memory.

Rows are numbered from 1 (Parquet has no lines) and located as ``"row"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from desktop_app.core.errors import DataError
from desktop_app.data.errors import data_error
from desktop_app.data.readers.cells import cell_text, repeated_names
from desktop_app.data.records import RawRecord

_BATCH_ROWS = 1024
_HINT = "Check that the file is a complete Parquet file; save it again from the tool that made it."


def read_parquet(path: Path) -> Iterator[RawRecord]:
    """Yield each row of a Parquet file as a dict keyed by column name.

    Numbers, dates and true/false values are read as text (see :func:`cell_text`);
    list and struct columns, such as a ``messages`` column, keep their shape.

    Args:
        path: The file.

    Raises:
        DataError: the file is not Parquet, is damaged, or repeats a column name.
    """
    import pyarrow.parquet as parquet  # a large import, only for Parquet files

    source = str(path)
    number = 0
    # pyarrow raises many kinds of error (ArrowInvalid, OSError, ...) for a damaged file.
    try:
        reader = parquet.ParquetFile(path)
        columns = list(reader.schema_arrow.names)
        repeated = repeated_names(columns)
        if repeated:
            raise data_error(
                source,
                f"names the column '{repeated[0]}' more than once.",
                "Give every column its own name.",
            )
        for batch in reader.iter_batches(batch_size=_BATCH_ROWS):
            for row in batch.to_pylist():
                number += 1
                values = {key: cell_text(value) for key, value in row.items()}
                yield RawRecord(number, values, "row")
    except DataError:
        raise
    except Exception as error:
        where = f" (after row {number:,})" if number else ""
        raise data_error(source, f"cannot be read as Parquet{where}: {error}.", _HINT) from None
