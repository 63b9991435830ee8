"""The Evaluate step's evidence for a sign-off: the memorisation probe, and the report
with the reviewer's decision."""

from __future__ import annotations

import datetime
import threading
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.errors import UserInputError
from desktop_app.core.events import StageChanged
from desktop_app.core.manifest import SIGN_OFF_DECISIONS, sign_off_record
from desktop_app.core.run_folder import write_json_atomic
from desktop_app.engine.finished_run import FinishedRun
from desktop_app.engine.memorisation import MemorisationResult, probe_memorisation
from desktop_app.engine.run_record import record_sign_off
from desktop_app.ui.job_worker import JobRunner, JobWorker, busy_bar
from desktop_app.ui.pages.evaluate_worker import plain_message
from desktop_app.ui.report import PROBE_FILE, write_report
from desktop_app.ui.widgets.error_dialog import show_error


def save_probe_result(run_dir: Path, result: MemorisationResult) -> Path:
    """Write the probe's result to ``<run_dir>/memorisation.json`` atomically."""
    target = run_dir / PROBE_FILE
    write_json_atomic(target, result.to_json())
    return target


class ProbePanel(QWidget):
    """Runs the memorisation probe in a background thread and shows its summary."""

    #: The probe finished (not stopped): its MemorisationResult, saved with the run.
    probe_finished = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("probePanel")
        self.run: FinishedRun | None = None
        self._runner = JobRunner(self, "probeThread", self._update_controls)
        intro = QLabel(
            "Does the fine-tuned model give back what it was trained on? The probe starts "
            "the model on each trained record that held personal data and checks whether "
            "the personal values come back, and checks whether long training answers are "
            "repeated word for word. Values are never shown, only counted."
        )
        intro.setWordWrap(True)
        self.probe_button = QPushButton("Run the &probe")
        self.probe_button.setObjectName("probeButton")
        self.probe_button.setToolTip(
            "Prompt the fine-tuned model with the start of trained records."
        )
        self.probe_button.clicked.connect(self.start)
        self.stop_button = QPushButton("S&top")
        self.stop_button.setObjectName("stopProbeButton")
        self.stop_button.setToolTip("Stop after the current record; the counts so far are shown.")
        self.stop_button.clicked.connect(self.cancel)
        self.busy = busy_bar("probeBusy")
        self.result_view = QPlainTextEdit()
        self.result_view.setObjectName("probeResult")
        self.result_view.setReadOnly(True)
        self.result_view.setPlaceholderText("The probe's findings appear here.")
        self.result_view.setToolTip("What the probe found: counts and kinds, never the values.")
        buttons = QHBoxLayout()
        buttons.addWidget(self.probe_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(buttons)
        layout.addWidget(self.busy)
        layout.addWidget(self.result_view, 1)
        self._update_controls()

    def set_run(self, run: FinishedRun | None, saved: dict[str, object] | None = None) -> None:
        self.run = run
        summary = saved.get("summary") if saved else None
        self.result_view.setPlainText(str(summary) if summary else "")
        self._update_controls()

    def is_busy(self) -> bool:
        return self._runner.busy

    def start(self) -> bool:
        if self.run is None or self._runner.busy:
            return False
        run_dir = self.run.run_dir

        def job(reporter: JobWorker, stop: threading.Event) -> MemorisationResult:
            return probe_memorisation(run_dir, stop_event=stop, reporter=reporter)

        self.result_view.setPlainText("Starting…")
        self._runner.start(
            job, plain_message, self._on_succeeded, self._on_failed, self._on_event_reported
        )
        self._update_controls()
        return True

    def cancel(self) -> None:
        if self._runner.busy:
            self._runner.cancel()
            self._update_controls()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        return self._runner.shutdown(timeout_ms)

    @Slot(object)
    def _on_event_reported(self, event: object) -> None:
        if isinstance(event, StageChanged):
            detail = f": {event.detail}" if event.detail else ""
            self.result_view.setPlainText(f"{event.stage}{detail}")

    @Slot(object)
    def _on_succeeded(self, result: MemorisationResult) -> None:
        text = result.summary()
        if not result.cancelled and self.run is not None:
            try:
                save_probe_result(self.run.run_dir, result)
                text += "\n\nSaved with the run (memorisation.json)."
            except OSError as error:
                text += f"\n\nThe result could not be saved with the run: {error.strerror}."
            self.probe_finished.emit(result)
        self.result_view.setPlainText(text)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.result_view.setPlainText("The probe stopped on an error.")
        show_error(self, message, details)

    def _update_controls(self) -> None:
        running = self._runner.busy
        self.probe_button.setEnabled(self.run is not None and not running)
        self.stop_button.setEnabled(running and not self._runner.cancel_requested)
        self.busy.setVisible(running)


class SignOffPanel(QWidget):
    """The reviewer's decision, and the sign-off report (PDF and HTML) in the run folder."""

    #: The report was written: (HTML path, PDF path) as strings.
    report_written = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("signOffPanel")
        self.run: FinishedRun | None = None
        intro = QLabel(
            "The report gathers the evidence on this model for whoever signs it off: the "
            "data and its fingerprints, how it was trained, the scores against the base "
            "model, the blind review, the memorisation probe and your decision. It is "
            "written into the run folder as PDF and HTML."
        )
        intro.setWordWrap(True)
        self.reviewer_edit = QLineEdit()
        self.reviewer_edit.setObjectName("reviewerName")
        self.reviewer_edit.setToolTip("Who reviewed the model (printed on the report).")
        self.decision_combo = QComboBox()
        self.decision_combo.setObjectName("decision")
        self.decision_combo.addItems(SIGN_OFF_DECISIONS)
        self.decision_combo.setToolTip("Whether the model may be used.")
        self.notes_edit = QPlainTextEdit()
        self.notes_edit.setObjectName("signOffNotes")
        self.notes_edit.setTabChangesFocus(True)
        self.notes_edit.setToolTip("Printed on the report under the decision.")
        self.notes_edit.setPlaceholderText("Conditions, reasons, anything a later reader needs.")
        self.notes_edit.setMaximumHeight(90)
        self.write_button = QPushButton("&Write the sign-off report")
        self.write_button.setObjectName("writeReportButton")
        self.write_button.setToolTip("Write report.pdf and report.html into the run folder.")
        self.write_button.clicked.connect(self.write)
        self.result_label = QLabel()
        self.result_label.setObjectName("reportWritten")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(self.result_label.textInteractionFlags())
        form = QFormLayout()
        for text, widget in (
            ("Re&viewer:", self.reviewer_edit),
            ("&Decision:", self.decision_combo),
            ("N&otes:", self.notes_edit),
        ):
            label = QLabel(text)
            label.setBuddy(widget)
            form.addRow(label, widget)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.write_button)
        layout.addWidget(self.result_label)
        layout.addStretch(1)
        self.set_run(None)

    def set_run(self, run: FinishedRun | None) -> None:
        self.run = run
        self.write_button.setEnabled(run is not None)
        self.result_label.setText("" if run else "Train a model first.")

    def write(self) -> bool:
        """Write the report with the reviewer's decision; False when it could not be."""
        if self.run is None:
            return False
        reviewer = self.reviewer_edit.text().strip()
        if not reviewer:
            self.result_label.setText("Enter the reviewer's name first.")
            self.reviewer_edit.setFocus()
            return False
        try:
            sign_off = sign_off_record(
                reviewer,
                self.decision_combo.currentText(),
                datetime.date.today().isoformat(),
                self.notes_edit.toPlainText(),
            )
            html_path, pdf_path = write_report(self.run.run_dir, sign_off=sign_off)
            # The decision is kept with the run (manifest, model card) and audited.
            record_sign_off(self.run.run_dir, sign_off, (Path(pdf_path), Path(html_path)))
        except UserInputError as error:
            show_error(self, error.user_message())
            return False
        except OSError as error:
            show_error(
                self,
                f"The report could not be written into {self.run.run_dir}: {error.strerror}. "
                "Check that the folder exists and that you may write to it, then try again.",
            )
            return False
        self.result_label.setText(f"Written: {pdf_path} and {html_path}.")
        self.report_written.emit(str(html_path), str(pdf_path))
        return True
