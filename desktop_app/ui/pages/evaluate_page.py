"""Evaluate: the finished run's final metrics, and one prompt answered by the base model
and the fine-tuned model side by side."""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import Qt, QThread, Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.config import RunConfig
from desktop_app.core.errors import EnclaveError
from desktop_app.engine.finished_run import FinishedRun, latest_finished_run, open_finished_run
from desktop_app.engine.generation import Answer, GenerationSettings
from desktop_app.engine.train import TrainResult
from desktop_app.ui.gui_gc import collect_before_worker_starts
from desktop_app.ui.pages.base import WizardPage
from desktop_app.ui.pages.evaluate_worker import SIDES, AnswerWorker, LoadedModels
from desktop_app.ui.widgets.error_dialog import show_error
from desktop_app.ui.widgets.evaluation_tabs import EvaluationTabs
from desktop_app.ui.widgets.export_panel import ExportPanel

_W = TypeVar("_W", bound=QWidget)
_METHOD_NAMES = {"lora": "LoRA", "qlora": "QLoRA", "full": "full fine-tuning", "freeze": "freeze"}


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def format_run_summary(run: FinishedRun) -> str:
    """The run's final metrics and where its model is, as rich text for the summary."""
    metrics = run.metrics
    rows = [("Run", f"{run.run_dir.name} ({_METHOD_NAMES.get(run.method, run.method)})")]
    rows.append(("Base model", run.base_model))
    if "train_loss" in metrics:
        rows.append(("Final training loss", f"{metrics['train_loss']:.4f}"))
    if "eval_loss" in metrics:
        perplexity = metrics.get("eval_perplexity")
        extra = f" (perplexity {perplexity:.2f})" if perplexity is not None else ""
        rows.append(("Validation loss", f"{metrics['eval_loss']:.4f}{extra}"))
    else:
        rows.append(("Validation loss", "not measured (no validation examples)"))
    if "steps" in metrics:
        rows.append(("Training steps", f"{int(metrics['steps']):,}"))
    if run.train_records is not None:
        held_out = run.validation_records or 0
        rows.append(("Examples", f"{run.train_records:,} training, {held_out:,} validation"))
    if run.duration_seconds is not None:
        rows.append(("Duration", _duration(run.duration_seconds)))
    rows.append(("Trained model saved in", str(run.output_path)))
    cells = "".join(
        f"<tr><td style='padding-right:12px'><b>{html.escape(name)}</b></td>"
        f"<td>{html.escape(value)}</td></tr>"
        for name, value in rows
    )
    return f"<table>{cells}</table>"


def _named(widget: _W, name: str, tip: str = "") -> _W:
    widget.setObjectName(name)
    if tip:
        widget.setToolTip(tip)
    return widget


_NOTES = {
    "length": "Stopped at the longest answer allowed.",
    "cancelled": "Cancelled before the answer was complete.",
    "end": "",
}


class EvaluatePage(WizardPage):
    """The last step: how the run went, and the base and tuned models answering alike.

    Connect TrainPage.run_finished to :meth:`set_run_result`; :meth:`load` also finds
    the latest finished run under the config's output folder.
    """

    title = "Evaluate"
    #: One model answered: ("base" or "tuned", the answer's text).
    answered = Signal(str, str)
    #: A question was answered by both, cancelled or failed; the page is idle again.
    asking_finished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evaluatePage")
        #: The run whose models answer, or None before any run finished.
        self.run: FinishedRun | None = None
        self._models = LoadedModels()
        self._thread: QThread | None = None
        #: Kept while it runs: without a Python reference its wrapper would be collected
        #: and the thread's start would call into a deleted object.
        self._worker: AnswerWorker | None = None
        self._stop = threading.Event()
        self._pending_error: tuple[str, str] | None = None
        self._output_dir = "runs"
        self._build()
        self._show_no_run()

    # --- layout -------------------------------------------------------------------

    def _build(self) -> None:
        self.summary_label = QLabel()
        self.summary_label.setObjectName("runSummary")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        summary_box = QGroupBox("How the training went")
        QVBoxLayout(summary_box).addWidget(self.summary_label)

        self.prompt_input = QPlainTextEdit()
        self.prompt_input.setObjectName("promptInput")
        self.prompt_input.setPlaceholderText(
            "Type a question or an instruction, like the ones in your training data."
        )
        self.prompt_input.setToolTip(
            "Both models get exactly this text, laid out the way the training examples "
            "were. Press Ctrl+Enter to ask."
        )
        self.prompt_input.setTabChangesFocus(True)
        self.prompt_input.setMaximumHeight(90)
        self.prompt_input.textChanged.connect(self._update_controls)
        for key in ("Ctrl+Return", "Ctrl+Enter"):
            shortcut = QShortcut(QKeySequence(key), self.prompt_input)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(self.ask)

        self.ask_button = _named(
            QPushButton("&Ask both models"),
            "askButton",
            "Send the question to the base model and then to yours.",
        )
        self.ask_button.clicked.connect(self.ask)
        self.cancel_button = _named(
            QPushButton("&Cancel"),
            "cancelAskButton",
            "Stop answering; what was written so far stays.",
        )
        self.cancel_button.clicked.connect(self.cancel)
        self.length_input = _named(QSpinBox(), "maxNewTokens")
        self.length_input.setRange(1, 4096)
        self.length_input.setValue(GenerationSettings().max_new_tokens)
        self.length_input.setSuffix(" tokens")
        self.length_input.setToolTip(
            "The longest answer either model may give. A token is a word or part of one."
        )
        length_label = QLabel("&Longest answer:")
        length_label.setBuddy(self.length_input)
        self.busy = QProgressBar()
        self.busy.setObjectName("evaluateBusy")
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setMaximumWidth(120)
        self.status_label = QLabel()
        self.status_label.setObjectName("evaluateStatus")
        self.status_label.setWordWrap(True)
        controls = QHBoxLayout()
        for widget in (self.ask_button, self.cancel_button, length_label, self.length_input):
            controls.addWidget(widget)
        controls.addWidget(self.busy)
        controls.addWidget(self.status_label, 1)
        ask_box = QGroupBox("Ask both models the same question")
        ask_layout = QVBoxLayout(ask_box)
        ask_layout.addWidget(self.prompt_input)
        ask_layout.addLayout(controls)

        self.panes: dict[str, QPlainTextEdit] = {}
        self.notes: dict[str, QLabel] = {}
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("answersSplitter")
        splitter.setChildrenCollapsible(False)
        for side, name in SIDES.items():
            pane = QPlainTextEdit()
            pane.setObjectName(f"{side}Answer")
            pane.setReadOnly(True)
            pane.setPlaceholderText(f"The {name.lower()}'s answer appears here.")
            pane.setToolTip(
                "The model before training answered this."
                if side == "base"
                else "Your fine-tuned model answered this."
            )
            note = QLabel()
            note.setObjectName(f"{side}AnswerNote")
            note.setStyleSheet("font-style: italic;")
            box = QGroupBox(name)
            box_layout = QVBoxLayout(box)
            box_layout.addWidget(pane, 1)
            box_layout.addWidget(note)
            splitter.addWidget(box)
            self.panes[side], self.notes[side] = pane, note

        ask_tab = QWidget()
        ask_layout = QVBoxLayout(ask_tab)
        ask_layout.addWidget(ask_box)
        ask_layout.addWidget(splitter, 1)
        self.tabs = EvaluationTabs(self._models, lambda: self._thread is not None)
        self.tabs.insertTab(0, ask_tab, "Ask &both")
        self.export_panel = ExportPanel()
        self.tabs.addTab(self.export_panel, "E&xport")
        self.tabs.setCurrentIndex(0)
        # The run's manifest and MODEL_CARD.md follow its evaluation and sign-off.
        layout = QVBoxLayout(self)
        layout.addWidget(summary_box)
        layout.addWidget(self.tabs, 1)
        order = [self.prompt_input, self.ask_button, self.cancel_button, self.length_input]
        order += list(self.panes.values())
        for first, second in zip(order, order[1:], strict=False):
            QWidget.setTabOrder(first, second)

    # --- WizardPage ---------------------------------------------------------------

    def load(self, config: RunConfig) -> None:
        """Show the latest finished run under ``config.output.dir`` when it is newer
        than the one shown (so a reopened project shows its last run)."""
        self._output_dir = config.output.dir
        if self.is_busy():
            return
        latest = latest_finished_run(config.output.dir)
        if latest is not None and (
            self.run is None or (latest.finished_at or "") > (self.run.finished_at or "")
        ):
            self._show_run(latest)
        elif self.run is None:
            self._show_no_run()

    def blocking_reason(self) -> str | None:
        return None

    # --- public API ---------------------------------------------------------------

    def set_run_result(self, result: TrainResult) -> None:
        """Show a run that just ended (TrainPage.run_finished); only finished runs count."""
        if result.status != "finished":
            return
        if result.run_dir is None:
            show_error(self, "The finished run did not say where it was saved.", "")
            return
        try:
            run = open_finished_run(result.run_dir)
        except EnclaveError as error:
            show_error(self, error.user_message(), f"Run folder: {result.run_dir}")
            return
        self._show_run(run)

    def ask(self) -> bool:
        """Ask both models the prompt in the box. Returns False when it cannot start
        (no finished run, an empty prompt, or an answer still being written)."""
        prompt = self.prompt_input.toPlainText().strip()
        if self.run is None or self.is_busy() or not prompt:
            return False
        for side in SIDES:
            self.panes[side].clear()
            self.notes[side].setText("")
        self._stop = threading.Event()
        self._pending_error = None
        settings = GenerationSettings(max_new_tokens=self.length_input.value())
        worker = AnswerWorker(self._models, self.run, prompt, settings, self._stop)
        thread = QThread(self)
        thread.setObjectName("evaluateThread")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # Bound slots of this page: they run on the GUI thread (a widget's own setText
        # connected here would be called from the worker's thread).
        worker.stage_changed.connect(self._on_stage_changed)
        worker.answered.connect(self._on_answered)
        worker.failed.connect(self._on_failed)
        # Direct: quit() is thread-safe and must not wait for the GUI thread.
        worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        # No worker.deleteLater: the worker goes with its last reference below, after the
        # thread has ended (deleting it both ways races at the thread's end: a segfault).
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        self.status_label.setText("Starting…")
        collect_before_worker_starts(thread)  # the worker frees model memory: ui.gui_gc
        thread.start()
        self._update_controls()
        return True

    def cancel(self) -> None:
        """Stop answering after the current token (thread-safe, returns at once)."""
        if self.is_busy():
            self._stop.set()
            self.status_label.setText("Stopping…")
            self._update_controls()

    def is_busy(self) -> bool:
        """Whether the models are loading or answering, or an evidence tab is working."""
        return self._thread is not None or self.tabs.is_busy() or self.export_panel.is_busy()

    def release_models(self) -> None:
        """Free the loaded models' memory (for example before training again)."""
        if not self.is_busy():
            self._models.release()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel answering and wait for the thread (the window calls this on closing).

        Returns:
            True when no thread is left running.
        """
        tabs_done = all([self.tabs.shutdown(timeout_ms), self.export_panel.shutdown(timeout_ms)])
        thread = self._thread
        if thread is None:
            return tabs_done
        self._stop.set()
        return bool(thread.wait(timeout_ms)) and tabs_done

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.shutdown()
        super().closeEvent(event)

    # --- showing ------------------------------------------------------------------

    def _show_run(self, run: FinishedRun) -> None:
        if self.run is not None and self.run.run_dir != run.run_dir:
            self._stop.set()  # a question to the previous run's models is dropped
            for side in SIDES:
                self.panes[side].clear()
                self.notes[side].setText("")
        self.run = run
        self.tabs.set_run(run)
        self.export_panel.set_run(run)
        self.summary_label.setText(format_run_summary(run))
        self.status_label.setText("")
        self._update_controls()

    def _show_no_run(self) -> None:
        self.summary_label.setText(
            "<b>Train a model first.</b><br>No finished run was found in "
            f"{html.escape(str(Path(self._output_dir).absolute()))}. When a run on the Train "
            "step finishes, its results appear here and you can ask it questions."
        )
        self._update_controls()

    def _update_controls(self) -> None:
        has_run, busy = self.run is not None, self.is_busy()
        self.prompt_input.setEnabled(has_run)
        self.length_input.setEnabled(has_run and not busy)
        has_prompt = bool(self.prompt_input.toPlainText().strip())
        self.ask_button.setEnabled(has_run and not busy and has_prompt)
        self.cancel_button.setEnabled(busy and not self._stop.is_set())
        self.busy.setVisible(busy)

    # --- lineage ------------------------------------------------------------------

    # --- worker signals -----------------------------------------------------------

    @Slot(str)
    def _on_stage_changed(self, stage: str) -> None:
        self.status_label.setText(stage)

    @Slot(str, object)
    def _on_answered(self, side: str, answer: Answer) -> None:
        worker = self.sender()
        shown = self.run.run_dir if self.run is not None else None
        if isinstance(worker, AnswerWorker) and worker.run_info.run_dir != shown:
            return  # an answer from the models of a run no longer shown
        self.panes[side].setPlainText(answer.text.strip() or "(The model gave no answer.)")
        self.notes[side].setText(_NOTES[answer.finish_reason])
        self.answered.emit(side, answer.text)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self._pending_error = (message, details)

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self.sender()
        if isinstance(thread, QThread):
            thread.wait()  # finished is emitted just before the thread really ends
            thread.deleteLater()
        self._thread = self._worker = None
        if self._pending_error is not None:
            self.status_label.setText("The models could not answer.")
        elif self._stop.is_set():
            self.status_label.setText("Cancelled.")
            for side in SIDES:
                if not self.panes[side].toPlainText():
                    self.notes[side].setText("Cancelled before this model answered.")
        else:
            self.status_label.setText("Both models answered.")
        self._update_controls()
        self.asking_finished.emit()
        if self._pending_error is not None:
            message, details = self._pending_error
            self._pending_error = None
            show_error(self, message, details)
