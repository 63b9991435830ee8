"""A form generated from one RunConfig section: one editor per field, with inline errors.

Tooltips are the fields' help text (one source of truth with the CLI docs). After every
edit the section is built again, so its own validation decides what is wrong, and the
message appears under the field it names.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.config import (
    COMPUTE_DTYPES,
    DATA_FORMATS,
    METHOD_NAMES,
    PII_REDACTION_MODES,
    QUANT_TYPES,
    SCHEDULERS,
    field_help,
)
from desktop_app.core.errors import ConfigError

#: (section, field) -> the allowed values, shown as a drop-down list.
CHOICES: dict[tuple[str, str], tuple[Any, ...]] = {
    ("method", "name"): METHOD_NAMES,
    ("method", "compute_dtype"): COMPUTE_DTYPES,
    ("method", "quant_type"): QUANT_TYPES,
    ("method", "quantization_bits"): (4, 8),
    ("data", "format"): DATA_FORMATS,
    ("data", "pii_redaction"): PII_REDACTION_MODES,
    ("hyperparameters", "lr_scheduler"): SCHEDULERS,
}
#: A yes/no field that may be left to Enclave (None).
AUTOMATIC = "Automatic"
SPIN_LIMIT = 2_000_000_000


class _ParseError(ValueError):
    pass


def field_label(name: str) -> str:
    """``learning_rate`` -> ``Learning rate``."""
    text = name.replace("_", " ")
    for short, long in (("lora", "LoRA"), ("lr", "LR"), ("pii", "PII")):
        text = " ".join(long if word == short else word for word in text.split())
    return text[0].upper() + text[1:]


def _allowed_types(annotation: Any) -> tuple[Any, ...]:
    if isinstance(annotation, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


class ConfigForm(QWidget):
    """Editors for every simple field of one RunConfig section.

    Args:
        section_cls: The section dataclass, for example ``HyperParams``.
        parent: The parent widget.
    """

    #: The user changed a value (valid or not).
    edited = Signal()

    def __init__(self, section_cls: type, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.section_cls = section_cls
        self.section_name: str = section_cls.SECTION  # type: ignore[attr-defined]
        self._hints = typing.get_type_hints(section_cls)
        self._editors: dict[str, QWidget] = {}
        self._errors: dict[str, QLabel] = {}
        self._skipped: list[str] = []
        self._last_valid: Any = section_cls()
        self._error_text: dict[str, str] = {}
        self._loading = False

        layout = QFormLayout(self)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for item in dataclasses.fields(section_cls):
            kinds = _allowed_types(self._hints[item.name])
            if any(typing.get_origin(kind) in (dict, list) for kind in kinds):
                self._skipped.append(item.name)
                continue
            editor = self._make_editor(item.name, kinds)
            editor.setObjectName(f"{self.section_name}_{item.name}")
            editor.setToolTip(field_help(section_cls, item.name))
            error = QLabel()
            error.setObjectName(f"{self.section_name}_{item.name}_error")
            error.setWordWrap(True)
            error.setStyleSheet("color: #c62828;")
            error.setVisible(False)
            cell = QWidget()
            cell_layout = QVBoxLayout(cell)
            cell_layout.setContentsMargins(0, 0, 0, 0)
            cell_layout.setSpacing(2)
            cell_layout.addWidget(editor)
            cell_layout.addWidget(error)
            label = QLabel(field_label(item.name))
            label.setToolTip(editor.toolTip())
            label.setBuddy(editor)
            layout.addRow(label, cell)
            self._editors[item.name] = editor
            self._errors[item.name] = error
        if self._skipped:
            note = QLabel(
                f"{', '.join(self._skipped)}: edited on the Data page, not here.",
            )
            note.setWordWrap(True)
            note.setEnabled(False)
            layout.addRow(note)
        self.set_section(self._last_valid)

    # -- building ----------------------------------------------------------------------

    def _make_editor(self, name: str, kinds: tuple[Any, ...]) -> QWidget:
        choices = CHOICES.get((self.section_name, name))
        if choices is not None:
            combo = QComboBox()
            for choice in choices:
                combo.addItem(str(choice), choice)
            combo.currentIndexChanged.connect(self._on_edited)
            return combo
        if bool in kinds and type(None) in kinds:
            combo = QComboBox()
            for text, value in ((AUTOMATIC, None), ("On", True), ("Off", False)):
                combo.addItem(text, value)
            combo.currentIndexChanged.connect(self._on_edited)
            return combo
        if kinds == (bool,):
            box = QCheckBox()
            box.toggled.connect(self._on_edited)
            return box
        if kinds == (int,):
            spin = QSpinBox()
            spin.setRange(-SPIN_LIMIT, SPIN_LIMIT)
            spin.setGroupSeparatorShown(True)
            spin.valueChanged.connect(self._on_edited)
            return spin
        line = QLineEdit()
        if type(None) in kinds:
            line.setPlaceholderText("empty: automatic")
        line.textEdited.connect(self._on_edited)
        return line

    # -- values ------------------------------------------------------------------------

    def set_section(self, section: Any) -> None:
        """Show a section's values (does not emit ``edited``)."""
        self._last_valid = section
        self._loading = True
        try:
            for name in self._editors:
                self._show_value(name, getattr(section, name))
        finally:
            self._loading = False
        self._validate()

    def set_values(self, values: dict[str, Any]) -> None:
        """Show some fields' values (a preset) and emit ``edited`` once."""
        self._loading = True
        try:
            for name, value in values.items():
                self._show_value(name, value)
        finally:
            self._loading = False
        self._on_edited()

    def _show_value(self, name: str, value: Any) -> None:
        editor = self._editors[name]
        if isinstance(editor, QComboBox):
            index = editor.findData(value)
            if index < 0:
                editor.addItem(str(value), value)
                index = editor.count() - 1
            editor.setCurrentIndex(index)
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QSpinBox):
            editor.setValue(int(value))
        elif isinstance(editor, QLineEdit):
            editor.setText("" if value is None else _format_number(value))

    def _parse(self, name: str) -> Any:
        editor = self._editors[name]
        if isinstance(editor, QComboBox):
            return editor.currentData()
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QSpinBox):
            return editor.value()
        assert isinstance(editor, QLineEdit)
        text = editor.text().strip()
        kinds = _allowed_types(self._hints[name])
        if not text and type(None) in kinds:
            return None
        if int in kinds:
            try:
                return int(text.replace(",", "").replace("_", ""))
            except ValueError:
                raise _ParseError("must be a whole number.") from None
        if float in kinds:
            try:
                return float(text.replace(",", ""))
            except ValueError:
                raise _ParseError("must be a number, for example 0.0002.") from None
        return editor.text()

    def _validate(self) -> None:
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name in self._editors:
            try:
                values[name] = self._parse(name)
            except _ParseError as error:
                errors[name] = str(error)
                values[name] = getattr(self._last_valid, name)
        keep = {n: getattr(self._last_valid, n) for n in self._skipped}
        try:
            section = self.section_cls(**values, **keep)
        except ConfigError as error:
            name = error.field.split(".", 1)[-1]
            if name not in self._editors:
                name = next(iter(self._editors))
            errors.setdefault(name, error.detail)
        else:
            if not errors:
                self._last_valid = section
        self._error_text = errors
        for name, label in self._errors.items():
            label.setText(errors.get(name, ""))
            label.setVisible(name in errors)

    def _on_edited(self) -> None:
        if self._loading:
            return
        self._validate()
        self.edited.emit()

    # -- results -----------------------------------------------------------------------

    def errors(self) -> dict[str, str]:
        """Field name -> the message shown under it; empty when every field is valid."""
        return dict(self._error_text)

    def first_error(self) -> str | None:
        """The first message, for the window's reason label."""
        for name, text in self._error_text.items():
            return f"{field_label(name)} {text}"
        return None

    def section(self) -> Any:
        """The section as last validated: the current values when they are valid."""
        return self._last_valid

    def editor(self, name: str) -> QWidget:
        """The editor of one field (tests and the page's tab order use it)."""
        return self._editors[name]


def _format_number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}" if (value == 0 or abs(value) >= 1e-4) else repr(value)
    return str(value)
