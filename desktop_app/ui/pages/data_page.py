"""The Data step: choose the training files, check them, see their records and
personal data, map table columns, and set how the data is split.

Each file is read in a background thread (see :mod:`desktop_app.ui.data_worker`); the
page fills in as the check, the preview and the token count arrive. Next stays
disabled, with the reason, while a file is being read, cannot be read, or has records
with errors that the user has not chosen to leave out.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.config import RunConfig
from desktop_app.data.readers import supported_extensions
from desktop_app.ui.data_files import DataFileReader, DataFileState
from desktop_app.ui.data_worker import AnalysisRequest
from desktop_app.ui.pages.base import WizardPage
from desktop_app.ui.widgets.column_mapping import ReadingOptions
from desktop_app.ui.widgets.data_settings import DataSettings
from desktop_app.ui.widgets.data_views import DataInspector


class DataPage(WizardPage):
    """Training files, their check, preview, personal data, mapping and split."""

    title = "Data"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataPage")
        self.setAcceptDrops(True)
        self.files: list[DataFileState] = []
        self._model_path = ""
        self._max_length = 512
        self._max_chars = 100_000
        self.reader = DataFileReader(self)
        self.reader.file_updated.connect(self._on_file_updated)
        self._build()

    # -- layout ------------------------------------------------------------------------

    def _build(self) -> None:
        self.file_list = QListWidget()
        self.file_list.setObjectName("dataFileList")
        self.file_list.setToolTip(
            "The training files. The first is the main file; more files are mixed in "
            "with the weight you give them. Drop files here to add them."
        )
        self.file_list.setMaximumHeight(110)
        self.file_list.currentRowChanged.connect(self._show_selected)
        self.add_button = QPushButton("&Add files…")
        self.add_button.setObjectName("addDataFilesButton")
        self.add_button.setToolTip(
            "Choose training files: " + ", ".join(supported_extensions()) + "."
        )
        self.add_button.clicked.connect(self._on_add_clicked)
        self.remove_button = QPushButton("Re&move")
        self.remove_button.setObjectName("removeDataFileButton")
        self.remove_button.setToolTip("Stop using the selected file (the file is not deleted).")
        self.remove_button.clicked.connect(self.remove_selected)
        self.weight_spin = QDoubleSpinBox()
        self.weight_spin.setObjectName("mixWeight")
        self.weight_spin.setRange(0.05, 100.0)
        self.weight_spin.setSingleStep(0.5)
        self.weight_spin.setDecimals(2)
        self.weight_spin.setToolTip(
            "How much of this file each epoch uses: 2 repeats its records twice, 0.5 uses "
            "half of them."
        )
        self.weight_spin.valueChanged.connect(self._on_weight_changed)
        file_buttons = QHBoxLayout()
        file_buttons.addWidget(self.add_button)
        file_buttons.addWidget(self.remove_button)
        file_buttons.addStretch(1)
        weight_label = QLabel("&Weight:")
        weight_label.setBuddy(self.weight_spin)
        file_buttons.addWidget(weight_label)
        file_buttons.addWidget(self.weight_spin)
        files_box = QGroupBox("Training files")
        files_layout = QVBoxLayout(files_box)
        files_layout.addWidget(self.file_list)
        files_layout.addLayout(file_buttons)

        self.reading = ReadingOptions()
        self.reading.format_chosen.connect(self._on_format_changed)
        self.reading.mapping.mapping_edited.connect(self._on_mapping_edited)
        self.format_combo = self.reading.format_combo
        self.mapping = self.reading.mapping

        self.settings = DataSettings()
        self.settings.edited.connect(self._on_settings_edited)

        self.busy_bar = QProgressBar()
        self.busy_bar.setObjectName("dataBusy")
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumHeight(14)
        self.busy_bar.setTextVisible(False)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("dataSummary")
        self.summary_label.setWordWrap(True)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 6, 0)
        for widget in (files_box, self.reading, self.settings):
            side_layout.addWidget(widget)
        side_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("dataSettingsScroll")
        scroll.setWidgetResizable(True)
        scroll.setWidget(side)
        scroll.setMinimumWidth(300)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.inspector = DataInspector()
        self.inspector.personal_tab.layout().addWidget(self.settings.redaction_box)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(6, 0, 0, 0)
        right_layout.addWidget(self.summary_label)
        right_layout.addWidget(self.busy_bar)
        right_layout.addWidget(self.inspector, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("dataSplitter")
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        # The settings side as narrow as its controls allow; the preview gets the rest.
        self.splitter.setSizes([side.minimumSizeHint().width() + 24, 800])
        QVBoxLayout(self).addWidget(self.splitter)
        self._refresh()

    # -- WizardPage --------------------------------------------------------------------

    def load(self, config: RunConfig) -> None:
        """Show the data section; read the files whose reading changed."""
        data = config.data
        self._model_path = config.model.path
        self._max_length = config.hyperparameters.max_length
        self._max_chars = data.max_chars
        previous = {state.path: state for state in self.files}
        wanted = [DataFileState(data.train, 1.0, data.format, dict(data.column_map))]
        wanted += [
            DataFileState(
                str(entry.get("path", "")),
                float(entry.get("weight", 1.0)),
                str(entry.get("format", "auto")),
                dict(entry.get("column_map", {})),
            )
            for entry in data.mix
        ]
        self.files = []
        for state in wanted:
            if not state.path:
                continue
            old = previous.get(state.path)
            if old is not None:
                old.weight, old.format, old.column_map = (
                    state.weight,
                    state.format,
                    state.column_map,
                )
                state = old
            self.files.append(state)
        self.settings.load(data)
        self._analyse_changed()
        self._fill_file_list(self.file_list.currentRow())

    def apply(self, config: RunConfig) -> None:
        data = config.data
        if self.files:
            main = self.files[0]
            data.train, data.format, data.column_map = main.path, main.format, dict(main.column_map)
        else:
            data.train, data.format, data.column_map = "", "auto", {}
        data.mix = []
        for state in self.files[1:]:
            entry: dict[str, object] = {"path": state.path, "weight": state.weight}
            if state.format != "auto":
                entry["format"] = state.format
            if state.column_map:
                entry["column_map"] = dict(state.column_map)
            data.mix.append(entry)
        self.settings.apply(data)

    def blocking_reason(self) -> str | None:
        if not self.files:
            return "Choose a training data file: Add files, or drop one on this page."
        for state in self.files:
            if state.error:
                return f"{state.name} cannot be used. {state.error.splitlines()[0]}"
            if state.report is None:
                return f"Checking {state.name}…"
            report = state.report
            if report.rows_valid == 0:
                return f"{state.name} has no record that can be used. See Problems."
            if report.error_count and not self.settings.exclude_invalid():
                return (
                    f"{report.error_count:,} record(s) in {state.name} have errors. Fix them, or "
                    "tick 'Leave out records with errors'."
                )
        return self.settings.blocking_reason()

    # -- files -------------------------------------------------------------------------

    def add_files(self, paths: list[str]) -> None:
        """Add data files (the first one added to an empty page becomes the main file)."""
        known = {state.path for state in self.files}
        for path in paths:
            resolved = str(Path(path).resolve())
            if resolved not in known:
                self.files.append(DataFileState(resolved))
                known.add(resolved)
        self._analyse_changed()
        self._fill_file_list(len(self.files) - 1)
        self.changed.emit()

    def remove_selected(self) -> None:
        row = self.file_list.currentRow()
        if 0 <= row < len(self.files):
            del self.files[row]
            self._fill_file_list(min(row, len(self.files) - 1))
            self.changed.emit()

    def selected(self) -> DataFileState | None:
        row = self.file_list.currentRow()
        return self.files[row] if 0 <= row < len(self.files) else None

    def _on_add_clicked(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in supported_extensions())
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Choose training data", "", f"Data files ({patterns});;All files (*)"
        )
        if paths:
            self.add_files(paths)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if self._dropped_paths(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        paths = self._dropped_paths(event)
        if paths:
            event.acceptProposedAction()
            self.add_files(paths)

    @staticmethod
    def _dropped_paths(event: QDragEnterEvent | QDropEvent) -> list[str]:
        extensions = supported_extensions()
        return [
            url.toLocalFile()
            for url in event.mimeData().urls()
            if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in extensions
        ]

    def _fill_file_list(self, select: int) -> None:
        self.file_list.blockSignals(True)
        self.file_list.clear()
        for index, state in enumerate(self.files):
            role = "main" if index == 0 else f"weight {state.weight:g}"
            status = "checking…" if state.busy else ("cannot be read" if state.error else "")
            if state.report is not None and not state.busy:
                status = f"{state.report.rows_total:,} records"
                if state.report.error_count:
                    status += f", {state.report.error_count:,} with errors"
            self.file_list.addItem(
                f"{state.name}  ({role}; {status})" if status else f"{state.name}  ({role})"
            )
            self.file_list.item(index).setToolTip(state.path)
        if select < 0 and self.files:
            select = 0
        self.file_list.setCurrentRow(min(select, len(self.files) - 1))
        self.file_list.blockSignals(False)
        self._show_selected()

    def _on_weight_changed(self, value: float) -> None:
        state = self.selected()
        if state is not None and self.files.index(state) > 0 and state.weight != value:
            state.weight = value
            self._fill_file_list(self.file_list.currentRow())
            self.changed.emit()

    def _on_format_changed(self) -> None:
        state = self.selected()
        choice = str(self.format_combo.currentData())
        if state is None or state.format == choice:
            return
        state.format = choice
        state.column_map = {}
        self._analyse_changed()
        self.changed.emit()

    def _on_mapping_edited(self) -> None:
        state = self.selected()
        if state is None:
            return
        pinned = self.mapping.pinned()
        if pinned != state.column_map:
            state.column_map = pinned
            self._analyse_changed()
            self.changed.emit()

    def _on_settings_edited(self) -> None:
        self._analyse_changed()  # train on prompt changes the trainable tokens
        self.changed.emit()

    # -- reading in the background -------------------------------------------------------

    def _request_for(self, state: DataFileState) -> AnalysisRequest:
        return AnalysisRequest(
            path=state.path,
            format=state.format,
            column_map=tuple(sorted(state.column_map.items())),
            max_chars=self._max_chars,
            model_path=self._model_path,
            max_length=self._max_length,
            train_on_prompt=self.settings.train_on_prompt(),
        )

    def _analyse_changed(self) -> None:
        for state in self.files:
            request = self._request_for(state)
            if request != state.request:
                self.reader.read(state, request)
        self._refresh()

    def _on_file_updated(self, state: DataFileState) -> None:
        if state in self.files:
            self._fill_file_list(self.file_list.currentRow())
            self.changed.emit()

    def is_busy(self) -> bool:
        """Whether a file is still being read."""
        return self.reader.is_busy()

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Stop reading and wait for the threads (before the window closes)."""
        self.reader.shutdown(timeout_ms)

    # -- showing -----------------------------------------------------------------------

    def _show_selected(self, _row: int = -1) -> None:
        state = self.selected()
        self.remove_button.setEnabled(state is not None)
        is_extra = state is not None and self.files.index(state) > 0
        self.weight_spin.setEnabled(is_extra)
        self.weight_spin.blockSignals(True)
        self.weight_spin.setValue(state.weight if state is not None else 1.0)
        self.weight_spin.blockSignals(False)
        self.reading.show_file(
            state.format if state else None,
            state.report if state else None,
            state.preview if state else None,
            state.column_map if state else {},
        )
        self._show_analysis(state)
        self._refresh()

    def _show_analysis(self, state: DataFileState | None) -> None:
        inspector = self.inspector
        if state is None or state.error:
            inspector.show_nothing(state.error if state else "")
            return
        if state.report is not inspector.report:
            inspector.show_nothing("Reading the records…")
            if state.report is not None:
                inspector.show_report(state.report)
        if state.preview is not None and state.preview is not inspector.preview:
            inspector.show_preview(state.preview)
        if state.tokens is not None:
            inspector.show_tokens(state.tokens)
        else:
            inspector.show_tokens(None, state.tokens_note or "Counting tokens…")

    def _refresh(self) -> None:
        busy = [state.name for state in self.files if state.busy]
        self.busy_bar.setVisible(bool(busy))
        state = self.selected()
        if state is None:
            self.summary_label.setText("No training file chosen yet.")
        elif state.error:
            self.summary_label.setText(f"<span style='color:#b71c1c'>{state.error}</span>")
        elif state.report is None:
            self.summary_label.setText(f"Checking {state.name}…")
        else:
            report = state.report
            found = [
                f"{count:,} {word}{'' if count == 1 else 's'}"
                for count, word in (
                    (report.error_count, "error"),
                    (report.warning_count, "warning"),
                )
                if count
            ]
            problems = " and ".join(found) if found else "no problems"
            self.summary_label.setText(
                f"<b>{state.name}</b>: {report.rows_total:,} records, {report.rows_valid:,} "
                f"usable; {problems}." + (f" Still reading: {', '.join(busy)}." if busy else "")
            )
