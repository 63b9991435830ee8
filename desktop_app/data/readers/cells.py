"""Table cells as text: a number, date or true/false in a table column is read as text,
as a spreadsheet shows it, so a label column of 0 and 1 is not a type error."""

from __future__ import annotations

import datetime
import decimal


def cell_text(value: object) -> object:
    """The cell's value as text; None, text and nested values (lists, objects) as they are.

    Whole numbers stored as floats lose their ``.0``; dates and times are written in
    ISO 8601.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int | decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    return value


def repeated_names(columns: list[str]) -> list[str]:
    """Column names given more than once, sorted."""
    return sorted({name for name in columns if columns.count(name) > 1})
