"""The Evaluate step's export: the trained adapter (or a merged or whole model) written
into a folder of the user's choice with its manifest and model card, in the background."""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.events import StageChanged, WarningRaised
from desktop_app.core.hardware import format_size
from desktop_app.engine.export import ExportResult, export_run
from desktop_app.engine.finished_run import ADAPTER_METHODS, FinishedRun
from desktop_app.ui.job_worker import JobRunner, JobWorker, busy_bar
from desktop_app.ui.widgets.error_dialog import show_error

#: Asks the user for a folder (None when they cancel); replaced in tests.
FolderChooser = Callable[[QWidget], str | None]
#: Shows a folder in the system's file manager; replaced in tests.
FolderOpener = Callable[[Path], None]

_KINDS = {
    "adapter": "The adapter was exported",
    "merged": "The merged model was exported",
    "model": "The trained model was exported",
}


def ask_for_folder(parent: QWidget) -> str | None:
    """The standard folder dialog."""
    folder = QFileDialog.getExistingDirectory(parent, "Choose where to put the export")
    return folder or None


def open_in_file_manager(folder: Path) -> None:
    """Show ``folder`` in the system's file manager (a local folder: no network)."""
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def export_destination(chosen: Path, run_dir: Path, kind: str) -> Path:
    """The export folder for a folder the user chose: the folder itself when it is empty
    or new, otherwise a new folder in it named after the run and the kind of export."""
    if not chosen.exists() or (chosen.is_dir() and not any(chosen.iterdir())):
        return chosen
    name = f"{run_dir.name}-{kind}"
    candidate, number = chosen / name, 2
    while candidate.exists():
        candidate, number = chosen / f"{name}-{number}", number + 1
    return candidate


def plain_message(error: BaseException) -> str:
    """An unexpected failure while exporting, in plain words."""
    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError":
        return (
            "There is not enough memory to merge the adapter into the base model. Close "
            "other programs, or export the adapter without merging."
        )
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return "The disk filled up during the export. Free some space or choose another disk."
    if isinstance(error, OSError) and error.strerror:
        where = f" ({error.filename})" if error.filename else ""
        return f"The export could not be written: {error.strerror}{where}. Nothing was kept."
    reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return f"The export stopped because of an unexpected error ({reason}). Nothing was kept."


class ExportPanel(QWidget):
    """Export the run's trained model, with its manifest and model card."""

    #: An export was written: its ExportResult.
    exported = Signal(object)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        choose_folder: FolderChooser | None = None,
        open_folder: FolderOpener | None = None,
    ) -> None:
        """``choose_folder`` asks where to export (default: the standard folder dialog);
        ``open_folder`` shows the export (default: the system's file manager)."""
        super().__init__(parent)
        self.setObjectName("exportPanel")
        self.run: FinishedRun | None = None
        self.last_result: ExportResult | None = None
        self.choose_folder: FolderChooser = choose_folder or ask_for_folder
        self.open_folder: FolderOpener = open_folder or open_in_file_manager
        self._runner = JobRunner(self, "exportThread", self._update_controls)
        intro = QLabel(
            "Write the trained model into a folder of your choice, to use it outside "
            "Enclave. The folder also gets manifest.json, the complete record (base model "
            "and data fingerprints, settings, who trained it and when, results, sign-off), "
            "and MODEL_CARD.md, the same in plain words for a reader who was not there. "
            "Each export is recorded in the audit log."
        )
        intro.setWordWrap(True)
        self.merge_check = QCheckBox("Me&rge into the base model")
        self.merge_check.setObjectName("exportMerge")
        self.merge_check.setToolTip(
            "Off: export only the adapter, which runs on top of the same base model. "
            "On: a complete model that needs no base model."
        )
        self.merge_help = QLabel(
            "Off: only the adapter is exported. It is small, and runs on top of the same "
            "base model. On: the adapter is merged into a full-precision copy of the base "
            "model, giving a complete model that any Hugging Face tool loads on its own. "
            "It is as large as the base model and takes longer to write."
        )
        self.merge_help.setObjectName("exportMergeHelp")
        self.merge_help.setWordWrap(True)
        self.merge_help.setContentsMargins(22, 0, 0, 0)  # under the check box's text
        self.merge_help.setStyleSheet("color: palette(placeholder-text);")
        self.export_button = QPushButton("&Export…")
        self.export_button.setObjectName("exportButton")
        self.export_button.setToolTip(
            "Choose a folder; an empty one is used as it is, otherwise a new folder named "
            "after the run is made in it."
        )
        self.export_button.clicked.connect(self.choose_and_export)
        self.busy = busy_bar("exportBusy")
        self.status_label = QLabel()
        self.status_label.setObjectName("exportStatus")
        self.status_label.setWordWrap(True)
        self.result_label = QLabel()
        self.result_label.setObjectName("exportResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = QPushButton("&Open the export folder")
        self.open_button.setObjectName("openExportFolderButton")
        self.open_button.setToolTip("Show the exported files in the file manager.")
        self.open_button.clicked.connect(self._on_open_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.merge_check)
        layout.addWidget(self.merge_help)
        layout.addLayout(buttons)
        layout.addWidget(self.busy)
        layout.addWidget(self.status_label)
        layout.addWidget(self.result_label)
        layout.addStretch(1)
        self.set_run(None)

    # --- public API ---------------------------------------------------------------

    def set_run(self, run: FinishedRun | None) -> None:
        """Offer to export ``run`` (None: no finished run)."""
        changed = run is None or self.run is None or run.run_dir != self.run.run_dir
        self.run = run
        if changed and not self._runner.busy:
            self.last_result = None
            self.result_label.setText("")
            self.status_label.setText(
                "" if run else "Train a model first: there is nothing to export."
            )
        adapter = run is not None and run.method in ADAPTER_METHODS
        self.merge_check.setVisible(run is None or adapter)
        self.merge_help.setVisible(run is None or adapter)
        if run is not None and not adapter:
            self.status_label.setText(
                "This run trained the whole model, so the whole model is exported."
            )
        self._update_controls()

    def is_busy(self) -> bool:
        return self._runner.busy

    def choose_and_export(self) -> bool:
        """Ask for a folder and start the export; False when nothing was started."""
        if self.run is None or self._runner.busy:
            return False
        chosen = self.choose_folder(self)
        if not chosen:
            return False
        return self.start(Path(chosen))

    def start(self, chosen: Path) -> bool:
        """Export into ``chosen`` (or a new folder in it, see :func:`export_destination`)
        in the background; False when no run is shown or an export is running."""
        if self.run is None or self._runner.busy:
            return False
        merge = self.merge_check.isChecked() and self.run.method in ADAPTER_METHODS
        kind = "merged" if merge else "adapter" if self.run.method in ADAPTER_METHODS else "model"
        destination = export_destination(chosen, self.run.run_dir, kind)
        run_dir = self.run.run_dir

        def job(reporter: JobWorker, stop: threading.Event) -> ExportResult:
            return export_run(run_dir, destination, merge=merge, reporter=reporter)

        self.last_result = None
        self.result_label.setText("")
        self.status_label.setText(f"Exporting to {destination}…")
        self._runner.start(
            job, plain_message, self._on_succeeded, self._on_failed, self._on_event_reported
        )
        self._update_controls()
        return True

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Wait for a running export (it cannot be interrupted safely half-way)."""
        return self._runner.shutdown(timeout_ms)

    # --- the job's signals --------------------------------------------------------

    @Slot(object)
    def _on_event_reported(self, event: object) -> None:
        if isinstance(event, StageChanged) and event.detail:
            self.status_label.setText(f"{event.detail}…" if event.stage != "done" else "")
        elif isinstance(event, WarningRaised):
            self.result_label.setText(event.message)

    @Slot(object)
    def _on_succeeded(self, result: ExportResult) -> None:
        self.last_result = result
        notes = self.result_label.text()
        self.status_label.setText("")
        self.result_label.setText(
            f"{_KINDS[result.kind]} to {result.destination} ({len(result.artifacts)} files, "
            f"{format_size(result.total_bytes)}), with manifest.json and MODEL_CARD.md. "
            "It is recorded in the audit log." + (f"\n{notes}" if notes else "")
        )
        self.exported.emit(result)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.status_label.setText("The export did not finish; nothing was written.")
        show_error(self, message, details)

    def _on_open_clicked(self) -> None:
        if self.last_result is not None:
            self.open_folder(self.last_result.destination)

    def _update_controls(self) -> None:
        running = self._runner.busy
        self.export_button.setEnabled(self.run is not None and not running)
        self.merge_check.setEnabled(self.run is not None and not running)
        self.open_button.setEnabled(self.last_result is not None and not running)
        self.busy.setVisible(running)
