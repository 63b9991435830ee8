"""Building DataError with a hint, which its constructor does not take."""

from __future__ import annotations

from desktop_app.core.errors import DataError


def data_error(path: str, message: str, hint: str = "", line: int | None = None) -> DataError:
    """A DataError for a whole file, with what the user can do about it.

    Args:
        path: The file.
        message: What is wrong, worded to follow the path.
        hint: What the user can do about it.
        line: The line concerned, when there is one.
    """
    error = DataError(path, message, line=line)
    error.hint = hint
    return error
