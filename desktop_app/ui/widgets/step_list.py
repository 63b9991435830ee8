"""The wizard's step list: each step's name with an icon and a tooltip for its state."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPalette, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle, QWidget

from desktop_app.ui.pages.base import WizardPage
from desktop_app.ui.pages.placeholder import PlaceholderPage

STATE_ROLE = Qt.ItemDataRole.UserRole

#: Each state in words, for tooltips.
STATE_WORDS = {
    "done": "done",
    "current": "you are here",
    "blocked": "needs attention",
    "open": "not done yet",
    "locked": "finish the earlier steps first",
    "later": "arrives in a later version",
}


class StepList(QListWidget):
    """One row per step; :meth:`show_states` marks each as done, current, blocked, open,
    locked (after a blocked step) or later (a step whose page is not built)."""

    def __init__(self, titles: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stepList")
        self.setMinimumWidth(170)
        self.setIconSize(QSize(20, 20))
        self.setSpacing(3)
        for title in titles:
            self.addItem(QListWidgetItem(title))

    def show_states(self, pages: Sequence[WizardPage], current: int, first_blocked: int) -> None:
        """Mark every step for the window's position ``current``."""
        style = self.style()
        icons = {
            "done": style.standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton),
            "current": style.standardIcon(QStyle.StandardPixmap.SP_ArrowRight),
            "blocked": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning),
        }
        blank = QPixmap(self.iconSize())
        blank.fill(Qt.GlobalColor.transparent)
        self.blockSignals(True)
        for index, page in enumerate(pages):
            item = self.item(index)
            why = page.blocking_reason()
            if index == current:
                state = "current"
            elif isinstance(page, PlaceholderPage):
                state = "later"  # never shown as done: the step does not exist yet
            elif index < current:
                state = "blocked" if why else "done"
            else:
                state = "open" if index <= first_blocked else "locked"
            item.setData(STATE_ROLE, state)
            item.setIcon(icons.get(state, QIcon(blank)))
            item.setForeground(
                self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
                if state in ("locked", "later")
                else self.palette().color(QPalette.ColorRole.Text)
            )
            detail = f" ({why})" if why and state in ("blocked", "current") else ""
            item.setToolTip(f"{page.title}: {STATE_WORDS[state]}{detail}")
        self.setCurrentRow(current)
        self.blockSignals(False)

    def state(self, index: int) -> str:
        """The state shown for step ``index``."""
        return str(self.item(index).data(STATE_ROLE))
