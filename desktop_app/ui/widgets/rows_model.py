"""A read-only table model over a list of rows, handed to the view a page at a time.

The rows are kept in Python (tuples of cells); the view asks only for the rows it
shows, and the model reveals them to the view in pages of :data:`PAGE_SIZE` through
Qt's ``canFetchMore``/``fetchMore``, so a 100,000-row file opens as fast as a
100-row one and scrolling down fetches the next page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

#: Rows revealed to the view at a time.
PAGE_SIZE = 500
#: Characters of a cell shown in the table (the whole value is in the tooltip/detail).
CELL_CHARS = 160

_Index = QModelIndex | QPersistentModelIndex
_COLOUR_ROLES = (Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole)


def cell_text(value: object, limit: int = CELL_CHARS) -> str:
    """A cell's value on one line, cut to ``limit`` characters."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RowsModel(QAbstractTableModel):
    """Rows of cells under column headers, fetched into the view page by page.

    Args:
        headers: The column titles.
        rows: The rows; each a sequence of cells, one per header (shorter rows are
            padded with blanks).
        row_colour: Optional: a background colour (``"#fdecea"``) for a row, or None.
        vertical_headers: Optional: the label of each row (a file line number).
    """

    def __init__(
        self,
        headers: Sequence[str] = (),
        rows: Sequence[Sequence[object]] = (),
        *,
        row_colour: Callable[[int], str | None] | None = None,
        vertical_headers: Sequence[object] | None = None,
    ) -> None:
        super().__init__()
        self._headers = list(headers)
        self._rows = rows
        self._row_colour = row_colour
        self._vertical = vertical_headers
        self._shown = min(len(rows), PAGE_SIZE)

    # -- the data ---------------------------------------------------------------------

    @property
    def total_rows(self) -> int:
        """All rows, shown to the view yet or not."""
        return len(self._rows)

    @property
    def shown_rows(self) -> int:
        """Rows the view has been given so far."""
        return self._shown

    def row(self, index: int) -> Sequence[object]:
        """The cells of row ``index`` (any row, shown or not)."""
        return self._rows[index]

    def reveal(self, index: int) -> None:
        """Make sure row ``index`` is in the view (fetching the pages up to it)."""
        target = min(index + 1, len(self._rows))
        if target > self._shown:
            self.beginInsertRows(QModelIndex(), self._shown, target - 1)
            self._shown = target
            self.endInsertRows()

    # -- QAbstractTableModel ------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt's API
        return 0 if parent.isValid() else self._shown

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self._headers)

    def canFetchMore(self, parent: _Index = QModelIndex()) -> bool:  # noqa: N802, B008
        return not parent.isValid() and self._shown < len(self._rows)

    def fetchMore(self, parent: _Index = QModelIndex()) -> None:  # noqa: N802, B008
        if parent.isValid():
            return
        self.reveal(min(self._shown + PAGE_SIZE, len(self._rows)) - 1)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= self._shown:
            return None
        cells = self._rows[index.row()]
        value = cells[index.column()] if index.column() < len(cells) else None
        if role == Qt.ItemDataRole.DisplayRole:
            return cell_text(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            text = cell_text(value, limit=2000)
            return text or None
        if role in _COLOUR_ROLES and self._row_colour is not None:
            colour = self._row_colour(index.row())
            if not colour:
                return None
            # A light background needs dark text, whatever the palette (dark mode).
            return QBrush(QColor(colour if role == _COLOUR_ROLES[0] else "#1a1a1a"))
        return None

    def headerData(  # noqa: N802 - Qt's name
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self._headers[section] if section < len(self._headers) else None
        if self._vertical is not None and section < len(self._vertical):
            return str(self._vertical[section])
        return str(section + 1)
