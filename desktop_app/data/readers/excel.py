"""Excel workbooks (.xlsx): the first sheet, or one named, with a header row.

The sheet is read row by row (openpyxl's read-only mode), and each record is numbered by
its sheet row, as Excel shows it, and located as ``"sheet row"``. The header is the first
row that is not empty; empty rows are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from desktop_app.core.errors import DataError
from desktop_app.data.errors import data_error
from desktop_app.data.readers.cells import cell_text, repeated_names
from desktop_app.data.records import RawRecord, RecordProblem

UNIT = "sheet row"
_HINT = (
    "Check that it is an Excel workbook saved as .xlsx, not damaged or protected by a "
    "password; or save the sheet as CSV (UTF-8)."
)


def _column_letter(index: int) -> str:
    """``0`` -> ``"A"``, ``26`` -> ``"AA"``."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _header(source: str, cells: tuple[object, ...], row: int) -> list[str]:
    """The column names: each header cell as text; an unnamed column is called by letter."""
    width = max((index + 1 for index, cell in enumerate(cells) if not _is_blank(cell)), default=0)
    columns = [
        str(cell_text(cell)).strip() if not _is_blank(cell) else f"column {_column_letter(index)}"
        for index, cell in enumerate(cells[:width])
    ]
    repeated = repeated_names(columns)
    if repeated:
        raise data_error(
            source,
            f"names the column '{repeated[0]}' more than once in its header (sheet row {row}).",
            "Give every column its own name.",
        )
    return columns


def _record(source: str, columns: list[str], cells: tuple[object, ...], row: int) -> RawRecord:
    extra = [index for index in range(len(columns), len(cells)) if not _is_blank(cells[index])]
    if extra:
        reason = (
            f"has a value in column {_column_letter(extra[0])}, which has no name in the "
            "header row; name the column or clear the cell"
        )
        return RawRecord(
            row, RecordProblem(source, row, None, reason, UNIT, code="row_shape"), UNIT
        )
    values: dict[str, object] = {}
    for index, name in enumerate(columns):
        value = cell_text(cells[index]) if index < len(cells) else None
        values[name] = "" if value is None else value
    return RawRecord(row, values, UNIT)


def read_xlsx(path: Path, sheet: str | None = None) -> Iterator[RawRecord]:
    """Yield each data row of a worksheet as a dict keyed by the header.

    Numbers, dates and true/false cells are read as text (see :func:`cell_text`), empty
    cells as empty text; formulas give the value Excel last calculated.

    Args:
        path: The .xlsx file.
        sheet: The worksheet's name; None for the first.

    Raises:
        DataError: the workbook cannot be opened, the sheet does not exist, or the
            header repeats a column name.
    """
    from openpyxl import load_workbook  # only needed for Excel files

    source = str(path)
    row = 0
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a file that is not .xlsx
        raise data_error(source, f"cannot be read as an Excel workbook: {error}.", _HINT) from None
    try:
        names = list(workbook.sheetnames)
        if sheet is None:
            if not names:
                raise data_error(source, "has no sheets.", "Add a sheet with a header row.")
            sheet = names[0]
        elif sheet not in names:
            raise data_error(
                source,
                f"has no sheet named '{sheet}'; its sheets are: {', '.join(names)}.",
                "Choose one of these sheets.",
            )
        worksheet = workbook[sheet]
        if not hasattr(worksheet, "iter_rows"):
            raise data_error(source, f"sheet '{sheet}' holds a chart, not a table.", _HINT)
        # The size a file declares may be wrong, which would cut rows off silently.
        worksheet.reset_dimensions()
        columns: list[str] | None = None
        for row, cells in enumerate(worksheet.iter_rows(values_only=True), start=1):
            if all(_is_blank(cell) for cell in cells):
                continue
            if columns is None:
                columns = _header(source, cells, row)
                continue
            yield _record(source, columns, cells, row)
    except DataError:
        raise
    except Exception as error:  # a damaged sheet fails in openpyxl's XML parser
        where = f" (near sheet row {row:,})" if row else ""
        raise data_error(source, f"cannot be read{where}: {error}.", _HINT) from None
    finally:
        workbook.close()
