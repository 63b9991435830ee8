"""The contract every wizard page follows."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from desktop_app.core.config import RunConfig


class WizardPage(QWidget):
    """One step of the wizard.

    The main window owns the RunConfig. It calls :meth:`load` when the page is shown
    (or a project is opened) and :meth:`apply` whenever the page emits ``changed``;
    :meth:`blocking_reason` says, in plain words, why Next is disabled (None when the
    page is complete).
    """

    #: Something the user edited; the window applies it and re-checks the page.
    changed = Signal()

    #: The name shown in the step list.
    title = ""

    def load(self, config: RunConfig) -> None:
        """Show ``config``'s values in the page's widgets."""

    def apply(self, config: RunConfig) -> None:
        """Write the page's widgets into ``config``."""

    def blocking_reason(self) -> str | None:
        """Why the user cannot go on yet, or None."""
        return None
