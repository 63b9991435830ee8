"""A step whose page is not built (a window made with only some pages, as in tests)."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from desktop_app.core.config import RunConfig
from desktop_app.core.config_io import config_to_dict
from desktop_app.ui.pages.base import WizardPage


class PlaceholderPage(WizardPage):
    """A step whose page is not built yet; it says so and shows the settings it will edit."""

    def __init__(self, title: str, section: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.section = section
        heading = QLabel(f"<h3>{title}</h3><p>This step arrives in a later version.</p>")
        heading.setWordWrap(True)
        self.summary = QPlainTextEdit()
        self.summary.setObjectName(f"placeholder_{title.lower()}_settings")
        self.summary.setReadOnly(True)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        if section is not None:
            layout.addWidget(
                QLabel(f"Until then the project's current “{section}” settings are used:")
            )
            layout.addWidget(self.summary, 1)
        else:
            self.summary.setVisible(False)
            layout.addStretch(1)

    def load(self, config: RunConfig) -> None:
        if self.section is not None:
            text = json.dumps(config_to_dict(config)[self.section], indent=2)
            self.summary.setPlainText(text)
