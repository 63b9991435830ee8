"""The Data step's settings: split, validation file, records with errors, prompts, and
what happens to personal data."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.config import DataSpec
from desktop_app.core.config_fields import field_help
from desktop_app.data.readers import supported_extensions

REDACTION_CHOICES = (
    ("off", "&Keep it (the scan is still recorded)"),
    ("tags", "Replace with its kind, su&ch as [EMAIL]"),
    ("pseudonyms", "Replace with a made-up &stand-in"),
)


def _percent_spin(name: str, tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setObjectName(name)
    spin.setRange(0.0, 49.0)
    spin.setDecimals(0)
    spin.setSuffix(" %")
    spin.setToolTip(tip)
    return spin


class DataSettings(QGroupBox):
    """Split and checking settings, plus the personal-data choice (``redaction_box``,
    which the page shows on its personal-data tab)."""

    #: The user changed a setting.
    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Splitting and checks", parent)
        self.setObjectName("dataSettings")
        self.validation_spin = _percent_spin(
            "validationPercent", field_help(DataSpec, "validation_fraction")
        )
        self.test_spin = _percent_spin("testPercent", field_help(DataSpec, "test_fraction"))
        self.validation_file = QLineEdit()
        self.validation_file.setObjectName("validationFile")
        self.validation_file.setPlaceholderText("none (split the data)")
        self.validation_file.setToolTip(field_help(DataSpec, "validation_file"))
        self.browse_button = QPushButton("C&hoose…")
        self.browse_button.setObjectName("browseValidationFileButton")
        self.browse_button.setToolTip("Choose a separate validation file.")
        self.browse_button.clicked.connect(self._on_browse)
        validation_row = QHBoxLayout()
        validation_row.addWidget(self.validation_file, 1)
        validation_row.addWidget(self.browse_button)
        self.exclude_check = QCheckBox("&Leave out records with errors")
        self.exclude_check.setObjectName("excludeInvalid")
        self.exclude_check.setToolTip(field_help(DataSpec, "exclude_invalid"))
        self.prompt_check = QCheckBox("Also learn the p&rompts")
        self.prompt_check.setObjectName("trainOnPrompt")
        self.prompt_check.setToolTip(field_help(DataSpec, "train_on_prompt"))
        form = QFormLayout(self)
        form.addRow(self._label("&Validation share:", self.validation_spin), self.validation_spin)
        form.addRow(self._label("&Test share:", self.test_spin), self.test_spin)
        form.addRow(self._label("Validation f&ile:", self.validation_file), validation_row)
        form.addRow(self.exclude_check)
        form.addRow(self.prompt_check)

        self.redaction_box = QGroupBox("Personal data in training")
        self.redaction_box.setObjectName("redactionChoice")
        self.redaction_box.setToolTip(field_help(DataSpec, "pii_redaction"))
        self.redaction_group = QButtonGroup(self)
        redaction_layout = QVBoxLayout(self.redaction_box)
        for index, (value, text) in enumerate(REDACTION_CHOICES):
            button = QRadioButton(text)
            button.setObjectName(f"redaction_{value}")
            self.redaction_group.addButton(button, index)
            redaction_layout.addWidget(button)
        note = QLabel(
            "A stand-in is the same every time a value appears, so the model still sees "
            "that two records mention the same person. Your files are never changed: "
            "values are replaced in memory for training."
        )
        note.setWordWrap(True)
        redaction_layout.addWidget(note)

        for spin in (self.validation_spin, self.test_spin):
            spin.valueChanged.connect(self._emit_edited)
        self.validation_file.editingFinished.connect(self._emit_edited)
        self.exclude_check.toggled.connect(self._emit_edited)
        self.prompt_check.toggled.connect(self._emit_edited)
        self.redaction_group.idToggled.connect(self._on_redaction_toggled)
        self._loading = False

    @staticmethod
    def _label(text: str, buddy: QWidget) -> QLabel:
        label = QLabel(text)
        label.setBuddy(buddy)
        return label

    def load(self, data: DataSpec) -> None:
        """Show ``data``'s settings."""
        self._loading = True
        try:
            self.validation_spin.setValue(round(data.validation_fraction * 100))
            self.test_spin.setValue(round(data.test_fraction * 100))
            self.validation_file.setText(data.validation_file or "")
            self.exclude_check.setChecked(data.exclude_invalid)
            self.prompt_check.setChecked(data.train_on_prompt)
            values = [value for value, _ in REDACTION_CHOICES]
            index = values.index(data.pii_redaction) if data.pii_redaction in values else 0
            button = self.redaction_group.button(index)
            if button is not None:
                button.setChecked(True)
        finally:
            self._loading = False

    def apply(self, data: DataSpec) -> None:
        """Write the settings into ``data``."""
        data.validation_fraction = self.validation_spin.value() / 100
        data.test_fraction = self.test_spin.value() / 100
        data.validation_file = self.validation_file.text().strip() or None
        data.exclude_invalid = self.exclude_check.isChecked()
        data.train_on_prompt = self.prompt_check.isChecked()
        data.pii_redaction = self.redaction()

    def redaction(self) -> str:
        """The chosen ``pii_redaction`` value."""
        index = self.redaction_group.checkedId()
        return REDACTION_CHOICES[index][0] if index >= 0 else "off"

    def exclude_invalid(self) -> bool:
        return self.exclude_check.isChecked()

    def train_on_prompt(self) -> bool:
        return self.prompt_check.isChecked()

    def blocking_reason(self) -> str | None:
        """Why these settings cannot be used, or None."""
        if self.validation_spin.value() + self.test_spin.value() >= 90:
            return "The validation and test shares together must stay below 90%."
        path = self.validation_file.text().strip()
        if path and not Path(path).is_file():
            return f"The validation file {path} does not exist. Choose it again or clear it."
        return None

    def _on_browse(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in supported_extensions())
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a validation file", "", f"Data files ({patterns});;All files (*)"
        )
        if path:
            self.validation_file.setText(path)
            self._emit_edited()

    def _on_redaction_toggled(self, _id: int, checked: bool) -> None:
        if checked:
            self._emit_edited()

    def _emit_edited(self) -> None:
        if not self._loading:
            self.edited.emit()
