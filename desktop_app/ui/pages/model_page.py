"""The Model step: choose the base model, see its facts and whether training fits here.

A model that would run code (its own Python code, or pickle weights) is refused with the
reason; the Advanced box then offers the opt-in, with the warning and the files.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QThread, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.config import DEMO_MODEL, ModelSpec, RunConfig
from desktop_app.core.hardware import HardwareInfo, format_gib, format_hardware
from desktop_app.engine.inspect_model import ModelFacts, format_parameter_count
from desktop_app.engine.model_files import DEMO_DISPLAY_NAME
from desktop_app.ui.pages.base import WizardPage
from desktop_app.ui.pages.model_worker import FactsWorker, ModelCodeFiles
from desktop_app.ui.project import add_recent, app_settings
from desktop_app.ui.widgets.model_code_options import ModelCodeOptions

RECENT_MODELS_KEY = "recentModels"


def format_facts(facts: ModelFacts) -> str:
    """The model's facts as short lines for the facts panel."""
    kind = (
        "GGUF file (converted once before the first training)"
        if facts.kind == "gguf"
        else ("Hugging Face model folder")
    )
    context = f"{facts.context_length:,} tokens" if facts.context_length else "not stated"
    lines = [
        f"<b>{_escape(facts.display_name)}</b>",
        f"Format: {kind}",
        f"Architecture: {_escape(facts.architecture)}",
        f"Parameters: {format_parameter_count(facts.parameter_count)}",
        f"Context length: {context}",
        f"Number format: {_escape(facts.dtype or 'not stated')}",
        f"Chat template: {'yes' if facts.has_chat_template else 'no'}",
    ]
    return "<br>".join(lines)


def format_fits(facts: ModelFacts) -> str:
    """One verdict per training method, the recommended one first."""
    if facts.memory_available_bytes is None:
        return "Hardware was not checked."
    where = "the GPU" if facts.device == "cuda" else "the CPU"
    lines = [f"Training here runs on {where} with {format_gib(facts.memory_available_bytes)} free."]
    for fit in facts.trainable_here:
        mark = "✓" if fit.fits else "✗"
        star = " (recommended)" if fit.method == facts.recommended_method else ""
        lines.append(f"{mark} <b>{fit.method}</b>{star}: {_escape(fit.message)}")
    if facts.recommended_method is None:
        lines.append("No method is expected to fit; try a smaller model.")
    return "<br>".join(lines)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text_panel(name: str, text: str) -> QLabel:
    """A selectable, wrapping, top-aligned block of text."""
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    return label


class ModelPage(WizardPage):
    """Choose the base model: the demo, a folder, a .gguf file, or a recent one."""

    title = "Model"
    #: The facts of the chosen model were read (a ModelFacts, never None).
    facts_changed = Signal(object)
    #: The facts were cleared (a new path is being read, or none is chosen). A separate
    #: signal because PySide6 on Python 3.11 corrupts None's reference count when None
    #: travels through a Signal(object), which crashes the interpreter at exit.
    facts_cleared = Signal()

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else app_settings()
        self.facts: ModelFacts | None = None
        self.hardware: HardwareInfo | None = None
        self._error: str | None = None
        self._request = 0
        self._thread: QThread | None = None
        # Every read's worker, kept until its thread has ended: the worker is deleted when
        # this reference goes, never by deleteLater, which would race with that deletion
        # at the thread's end (a segfault).
        self._workers: dict[QThread, FactsWorker] = {}
        self._estimate_settings = (4, 1024, 16)
        self._disk_path = "runs"
        #: The model path and opt-ins of the last read.
        self._read_spec: tuple[str, bool, bool] | None = None
        self.setAcceptDrops(True)

        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("modelPath")
        self.path_edit.setPlaceholderText("A model folder or a .gguf file")
        self.path_edit.setToolTip(
            "The base model: a folder in Hugging Face layout or a single .gguf file on this "
            "computer. Models are never downloaded."
        )
        self.path_edit.editingFinished.connect(self._on_path_typed)
        self.demo_button = QPushButton("Use the &demo model")
        self.demo_button.setObjectName("useDemoModel")
        self.demo_button.setToolTip(f"{DEMO_DISPLAY_NAME}: small, fast, good for trying out.")
        self.demo_button.clicked.connect(lambda: self.choose(DEMO_MODEL))
        self.folder_button = QPushButton("Choose &folder…")
        self.folder_button.setObjectName("chooseModelFolder")
        self.folder_button.clicked.connect(self._on_choose_folder)
        self.gguf_button = QPushButton("Choose .&gguf file…")
        self.gguf_button.setObjectName("chooseModelGguf")
        self.gguf_button.clicked.connect(self._on_choose_gguf)

        buttons = QHBoxLayout()
        buttons.addWidget(self.demo_button)
        buttons.addWidget(self.folder_button)
        buttons.addWidget(self.gguf_button)
        buttons.addStretch(1)
        chooser = QGroupBox("Base model")
        chooser_layout = QVBoxLayout(chooser)
        chooser_layout.addWidget(self.path_edit)
        chooser_layout.addLayout(buttons)
        hint = QLabel("You can also drop a model folder or a .gguf file onto this page.")
        hint.setStyleSheet("color: palette(window-text); font-style: italic;")
        chooser_layout.addWidget(hint)
        self.code_options = ModelCodeOptions()
        self.code_options.changed.connect(self._on_code_options_changed)

        self.recent_list = QListWidget()
        self.recent_list.setObjectName("recentModels")
        self.recent_list.setToolTip("Models you used before. Click one to use it again.")
        self.recent_list.itemActivated.connect(self._on_recent_chosen)
        self.recent_list.itemClicked.connect(self._on_recent_chosen)
        recent_box = QGroupBox("Recent models")
        recent_layout = QVBoxLayout(recent_box)
        recent_layout.addWidget(self.recent_list)

        self.busy = QProgressBar()
        self.busy.setObjectName("modelBusy")
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setVisible(False)
        self.busy_label = QLabel("Reading the model's files…")
        self.busy_label.setVisible(False)
        self.stop_button = QPushButton("S&top reading")
        self.stop_button.setObjectName("stopModelReadButton")
        self.stop_button.setToolTip(
            "Stop waiting for this model. Reading a very large model can take a while; "
            "you can choose another one at once."
        )
        self.stop_button.setVisible(False)
        self.stop_button.clicked.connect(self.stop_reading)
        busy_row = QHBoxLayout()
        busy_row.addWidget(self.busy, 1)
        busy_row.addWidget(self.stop_button)
        self.facts_label = _text_panel("modelFacts", "No model chosen yet.")
        facts_box = QGroupBox("About this model")
        facts_layout = QVBoxLayout(facts_box)
        facts_layout.addWidget(self.busy_label)
        facts_layout.addLayout(busy_row)
        facts_layout.addWidget(self.facts_label, 1)

        self.hardware_label = _text_panel(
            "hardwarePanel", "The hardware is checked when a model is chosen."
        )
        hardware_box = QGroupBox("This computer, and whether training fits")
        hardware_layout = QVBoxLayout(hardware_box)
        hardware_layout.addWidget(self.hardware_label, 1)

        lower = QHBoxLayout()
        lower.addWidget(recent_box, 1)
        lower.addWidget(facts_box, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(chooser)
        layout.addWidget(self.code_options)
        layout.addLayout(lower, 1)
        layout.addWidget(hardware_box, 1)
        self._refresh_recent()

    # -- the WizardPage contract ---------------------------------------------------------

    def load(self, config: RunConfig) -> None:
        hyper = config.hyperparameters
        self._estimate_settings = (hyper.batch_size, hyper.max_length, config.method.lora_r)
        self._disk_path = config.output.dir
        options = (config.model.allow_remote_code, config.model.convert_pickle_weights)
        if (
            config.model.path != self.path_edit.text()
            or options != self.code_options.options()
            or (self.facts is None and self._error is None and self._thread is None)
        ):
            self.code_options.set_options(*options)
            self.path_edit.setText(config.model.path)
            self._inspect(config.model.path)

    def apply(self, config: RunConfig) -> None:
        config.model.path = self.path_edit.text().strip()
        allow_remote_code, convert_pickle_weights = self.code_options.options()
        config.model.allow_remote_code = allow_remote_code
        config.model.convert_pickle_weights = convert_pickle_weights

    def blocking_reason(self) -> str | None:
        if not self.path_edit.text().strip():
            return "Choose a base model: the demo model, a folder or a .gguf file."
        if self._thread is not None:
            return "Reading the model's files…"
        return self._error

    # -- choosing ------------------------------------------------------------------------

    def choose(self, path: str) -> None:
        """Use this model: show it, read its facts in the background, tell the window.

        Another model starts with both code opt-ins off: allowing one model's code never
        carries over to the next."""
        if self._read_spec is None or path != self._read_spec[0]:
            self.code_options.set_options(False, False)
        self.path_edit.setText(path)
        self._inspect(path)
        self.changed.emit()

    def is_busy(self) -> bool:
        """Whether the facts are being read."""
        return self._thread is not None

    def stop_reading(self) -> None:
        """Stop waiting for the current read: the page is free at once, and the read's
        result is ignored when it returns (its thread ends on its own)."""
        if self._thread is None:
            return
        self._request += 1
        self._thread = None
        self._error = "Reading the model was stopped. Choose it again, or another model."
        self._set_busy(False)
        self.facts_label.setText(_escape(self._error))
        self.changed.emit()

    def _on_code_options_changed(self) -> None:
        self._inspect(self.path_edit.text().strip())
        self.changed.emit()

    def _on_path_typed(self) -> None:
        path = self.path_edit.text().strip()
        if path != (self.facts.path if self.facts else None):
            self.choose(path)

    def _on_choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder")
        if folder:
            self.choose(folder)

    def _on_choose_gguf(self) -> None:
        file, _ = QFileDialog.getOpenFileName(
            self, "Choose a GGUF model file", "", "GGUF models (*.gguf);;All files (*)"
        )
        if file:
            self.choose(file)

    def _on_recent_chosen(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.ItemDataRole.UserRole)
        if path and path != self.path_edit.text():
            self.choose(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if self._dropped_path(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        path = self._dropped_path(event)
        if path is not None:
            event.acceptProposedAction()
            self.choose(path)

    @staticmethod
    def _dropped_path(event: QDragEnterEvent | QDropEvent) -> str | None:
        urls = event.mimeData().urls()
        if len(urls) != 1 or not urls[0].isLocalFile():
            return None
        path = Path(urls[0].toLocalFile())
        if path.is_dir() or path.suffix.lower() == ".gguf":
            return str(path)
        return None

    # -- reading the facts ---------------------------------------------------------------

    def _inspect(self, path: str) -> None:
        self._request += 1
        self.facts = None
        self._error = None
        self.facts_cleared.emit()
        allow_remote_code, convert_pickle_weights = self.code_options.options()
        if self._read_spec is None or self._read_spec[0] != path:
            self.code_options.show_model()  # the last model's files no longer apply
        self._read_spec = (path, allow_remote_code, convert_pickle_weights)
        if not path.strip():
            self.facts_label.setText("No model chosen yet.")
            self._set_busy(False)
            return
        spec = ModelSpec(path, allow_remote_code, convert_pickle_weights)
        # A read still running finishes on its own; its result is ignored (stale id).
        batch_size, max_length, lora_r = self._estimate_settings
        worker = FactsWorker(
            self._request, spec, self.hardware, self._disk_path, batch_size, max_length, lora_r
        )
        thread = QThread(self)
        thread.setObjectName("modelFactsThread")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.inspected.connect(self._on_inspected)
        worker.failed.connect(self._on_failed)
        worker.refused.connect(self._on_refused)
        worker.finished.connect(thread.quit)
        # A bound slot of this page, so it runs on the GUI thread (a lambda would not).
        thread.finished.connect(self._on_thread_finished)
        self._thread = thread
        self._workers[thread] = worker
        self._set_busy(True)
        thread.start()

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self.sender()
        if not isinstance(thread, QThread):
            return
        thread.wait()  # finished is emitted just before the thread really ends
        self._workers.pop(thread, None)
        thread.deleteLater()
        if self._thread is thread:
            self._thread = None
            self._set_busy(False)
            self.changed.emit()

    def _on_inspected(
        self, request: int, facts: ModelFacts, hardware: HardwareInfo, files: ModelCodeFiles
    ) -> None:
        self.hardware = hardware
        if request != self._request:
            return
        self.code_options.show_model(files.remote_code, files.pickle)
        self.facts = facts
        self.facts_label.setText(format_facts(facts))
        self.hardware_label.setText(
            _escape(format_hardware(hardware)).replace("\n", "<br>")
            + "<br><br>"
            + format_fits(facts)
        )
        add_recent(self.settings, RECENT_MODELS_KEY, facts.path)
        self._refresh_recent()
        self.facts_changed.emit(facts)

    def _on_refused(self, request: int, message: str, files: ModelCodeFiles) -> None:
        if request != self._request:
            return
        self.code_options.show_model(files.remote_code, files.pickle)
        self._on_failed(request, message)

    def _on_failed(self, request: int, message: str) -> None:
        if request != self._request:
            return
        self._error = message
        self.facts_label.setText(
            f"<span style='color:#c62828'>{_escape(message).replace(chr(10), '<br>')}</span>"
        )

    def _set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        self.busy_label.setVisible(busy)
        self.stop_button.setVisible(busy)
        if busy:
            self.facts_label.setText("")

    def _refresh_recent(self) -> None:
        self.recent_list.clear()
        value = self.settings.value(RECENT_MODELS_KEY)
        paths = [value] if isinstance(value, str) else list(value or [])
        for path in paths:
            label = DEMO_DISPLAY_NAME if path == DEMO_MODEL else str(path)
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            self.recent_list.addItem(item)

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Wait for a running read to end (the window calls this when it closes)."""
        for thread in self.findChildren(QThread):
            thread.quit()
            thread.wait(timeout_ms)
