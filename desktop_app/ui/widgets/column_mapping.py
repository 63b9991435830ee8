"""How a data file is read: its format, and for tables which column holds which field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QWidget

from desktop_app.data.checking import CheckReport
from desktop_app.data.formats import FORMAT_CHOICES, FORMAT_FIELDS
from desktop_app.ui.data_worker import FilePreview

#: The first choice of every drop-down: let Enclave use the guessed column.
AUTOMATIC = ""


class ColumnMapping(QWidget):
    """A drop-down per field of a table format, listing the table's columns.

    The first entry of each is "Automatic", which shows the column Enclave guessed;
    choosing a column pins it (it goes into ``data.column_map``).
    """

    #: The user chose a column (or Automatic) for a field.
    mapping_edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("columnMapping")
        self._form = QFormLayout(self)
        self._form.setContentsMargins(0, 0, 0, 0)
        self._combos: dict[str, QComboBox] = {}

    def show_mapping(
        self,
        format: str,
        headers: Sequence[str],
        used: Mapping[str, str],
        pinned: Mapping[str, str],
    ) -> None:
        """Fill the drop-downs.

        Args:
            format: The format the file is read as.
            headers: The table's columns.
            used: Field to column as the check used it (guessed or pinned).
            pinned: Field to column the user chose.
        """
        while self._form.rowCount():
            self._form.removeRow(0)
        self._combos = {}
        fields = FORMAT_FIELDS.get(format)
        if fields is None:
            return
        for name in fields.all:
            combo = QComboBox()
            combo.setObjectName(f"mapping_{name}")
            guessed = used.get(name)
            combo.addItem(f"Automatic ({guessed or 'not found'})", AUTOMATIC)
            for header in headers:
                combo.addItem(header, header)
            chosen = pinned.get(name)
            if chosen is not None and chosen in headers:
                combo.setCurrentIndex(combo.findData(chosen))
            optional = name in fields.optional
            combo.setToolTip(
                f"The column that holds the '{name}' field"
                + (" (optional: leave it on Automatic if the table has none)." if optional else ".")
            )
            combo.currentIndexChanged.connect(self._on_combo_changed)
            label = QLabel(f"{name}{'' if optional else ' *'}")
            label.setBuddy(combo)
            self._form.addRow(label, combo)
            self._combos[name] = combo

    def pinned(self) -> dict[str, str]:
        """Field to column for the fields the user chose a column for."""
        return {
            name: str(combo.currentData())
            for name, combo in self._combos.items()
            if combo.currentData() != AUTOMATIC
        }

    def combos(self) -> dict[str, QComboBox]:
        """The drop-downs by field name."""
        return dict(self._combos)

    def _on_combo_changed(self) -> None:
        self.mapping_edited.emit()


#: The formats in words, for the format drop-down.
FORMAT_WORDS = {
    "auto": "Detect automatically",
    "alpaca": "Instruction and answer (alpaca)",
    "prompt_completion": "Prompt and completion",
    "chat": "Chat messages",
    "sharegpt": "ShareGPT conversations",
    "text": "Plain text (continued pre-training)",
    "classification": "Text and label (classification)",
    "preference": "Preference pairs (chosen / rejected)",
}


class ReadingOptions(QGroupBox):
    """How the selected file is read: its format (detected or chosen) and, for tables,
    which column holds which field."""

    #: The user chose another format in the drop-down.
    format_chosen = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("How the selected file is read", parent)
        self.setObjectName("readingOptions")
        self.format_combo = QComboBox()
        self.format_combo.setObjectName("formatCombo")
        for name in FORMAT_CHOICES:
            self.format_combo.addItem(FORMAT_WORDS.get(name, name), name)
        self.format_combo.setToolTip(
            "How the records are laid out. Leave it on Detect unless the detected format is wrong."
        )
        self.format_combo.currentIndexChanged.connect(self._on_format_index_changed)
        self.detected_label = QLabel()
        self.detected_label.setObjectName("detectedFormat")
        self.detected_label.setWordWrap(True)
        self.mapping = ColumnMapping()
        self.mapping_note = QLabel("Columns (tables only):")
        form = QFormLayout(self)
        format_label = QLabel("F&ormat:")
        format_label.setBuddy(self.format_combo)
        form.addRow(format_label, self.format_combo)
        form.addRow(self.detected_label)
        form.addRow(self.mapping_note)
        form.addRow(self.mapping)

    def chosen_format(self) -> str:
        """The format in the drop-down (``"auto"`` to detect)."""
        return str(self.format_combo.currentData())

    def show_file(
        self,
        format: str | None,
        report: CheckReport | None,
        preview: FilePreview | None,
        pinned: Mapping[str, str],
    ) -> None:
        """Show how a file is read (``format`` None: no file selected)."""
        self.format_combo.setEnabled(format is not None)
        self.format_combo.blockSignals(True)
        self.format_combo.setCurrentIndex(max(self.format_combo.findData(format or "auto"), 0))
        self.format_combo.blockSignals(False)
        table = preview is not None and preview.table
        self.mapping.setVisible(table)
        self.mapping_note.setVisible(table)
        if report is None:
            self.detected_label.setText("")
            self.mapping.show_mapping("", [], {}, {})
            return
        words = FORMAT_WORDS.get(report.format, report.format)
        if report.format_detected:
            self.detected_label.setText(
                f"Detected: {words} ({report.format_confidence:.0%} of the sampled records fit)."
            )
        else:
            self.detected_label.setText(f"Read as: {words}.")
        if table and preview is not None:
            self.mapping.show_mapping(report.format, preview.columns, report.column_map, pinned)

    def _on_format_index_changed(self) -> None:
        self.format_chosen.emit()
