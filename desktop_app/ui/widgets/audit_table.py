"""The audit viewer's table: one row per entry, the first line that does not hold in red."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QApplication, QStyle

from desktop_app.core.audit import EVENT_TYPES
from desktop_app.core.audit_query import NumberedEntry, detail_digest, run_name

HEADERS = ("Line", "Time (local)", "Event", "User", "Run", "Summary")
#: The bad row's colours (background, text): dark text on a light colour in any theme.
_BAD_ROW = ("#fce8e6", "#5f1410")
_Index = QModelIndex | QPersistentModelIndex


class AuditTableModel(QAbstractTableModel):
    """Entries as rows; the first line that does not hold is shown in red."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[NumberedEntry] = []
        self.bad_line: int | None = None

    def set_entries(self, entries: list[NumberedEntry], bad_line: int | None) -> None:
        self.beginResetModel()
        self.entries, self.bad_line = entries, bad_line
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt's API
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(HEADERS)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.entries):
            return None
        item, column = self.entries[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cell(item, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(item, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if item.line == self.bad_line and role == Qt.ItemDataRole.DecorationRole and not column:
            # Still visible when the row is selected (the red background is not).
            return QApplication.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        if item.line == self.bad_line and role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(QColor(_BAD_ROW[0]))
        if item.line == self.bad_line and role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(QColor(_BAD_ROW[1]))
        return None

    def headerData(  # noqa: N802 - Qt's name
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return HEADERS[section]
        return None

    @staticmethod
    def _cell(item: NumberedEntry, column: int) -> str:
        if column == 0:
            return str(item.line)
        if column == 1:
            when = item.local_time
            return when.strftime("%Y-%m-%d %H:%M:%S") if when else str(item.entry.get("time"))
        if column == 2:
            return item.event
        if column == 3:
            return str(item.entry.get("user", ""))
        if column == 4:
            return run_name(item.run) if item.run else ""
        return detail_digest(item.entry)

    @staticmethod
    def _tooltip(item: NumberedEntry, column: int) -> str | None:
        if column == 1:
            return f"{item.entry.get('time')} (UTC)"
        if column == 2:
            return EVENT_TYPES.get(item.event)
        if column == 3:
            return f"{item.entry.get('user')} on {item.entry.get('host')}"
        if column == 4:
            return item.run
        return detail_digest(item.entry) or None
