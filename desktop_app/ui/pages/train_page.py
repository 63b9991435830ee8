"""Train: start, cancel and resume a run, and watch it in live plots and a log."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.config import RunConfig
from desktop_app.core.config_io import config_from_dict, config_to_dict
from desktop_app.core.errors import UserInputError
from desktop_app.core.events import EvalMetrics, RunStarted, StageChanged, StepMetrics
from desktop_app.core.run_folder import RunFolder
from desktop_app.engine.train import TrainResult
from desktop_app.ui.pages.base import WizardPage
from desktop_app.ui.pages.train_events import log_line, progress_format, step_line
from desktop_app.ui.widgets.error_dialog import (
    RETRY_SHORTER_EXAMPLES,
    RETRY_SMALLER_BATCH,
    is_out_of_memory,
    show_error,
)
from desktop_app.ui.widgets.live_plot import LivePlot
from desktop_app.ui.widgets.training_plots import TrainingPlots
from desktop_app.ui.worker import TrainingSession, TrainingWorker, start_training

_STEP_LOG_SECONDS = 5.0  # a step line in the log at most this often


class TrainPage(WizardPage):
    """Runs the training in a worker thread and shows its progress.

    The main window gives the page the run configuration with :meth:`load` and may
    start the run itself with :meth:`start`. Before closing it calls
    :meth:`stop_and_wait`.
    """

    title = "Train"

    #: A run ended and returned a result: the engine's TrainResult (any status).
    run_finished = Signal(object)
    #: A run failed: (plain message, details). The page has shown the error dialog.
    error_occurred = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainPage")
        self._config: RunConfig | None = None
        self._session: TrainingSession | None = None
        self._pending_error: tuple[str, str] | None = None
        self._last_result: TrainResult | None = None
        self._run_result: TrainResult | None = None  # the current run's, once it ended
        self._resumable_run: Path | None = None
        self._shown_run: Path | None = None
        self._resuming = False
        self._overrides: dict[str, int] = {}
        self._last_step_log = 0.0
        self._build()
        self._update_buttons()

    # --- layout -------------------------------------------------------------------

    def _build(self) -> None:
        self.start_button = self._button("&Start", "startButton", self._on_start_clicked)
        self.start_button.setToolTip("Train the model with the settings of the previous pages.")
        self.cancel_button = self._button("&Cancel", "cancelButton", self.cancel)
        self.cancel_button.setToolTip("Stop after the current step and save a checkpoint.")
        self.resume_button = self._button("&Resume", "resumeButton", self.resume)
        self.resume_button.setToolTip("Continue the cancelled run from its last checkpoint.")
        self.status_label = QLabel("Ready to train.")
        self.status_label.setObjectName("statusLabel")
        self.status_label.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.cancel_button, self.resume_button):
            buttons.addWidget(button)
        buttons.addWidget(self.status_label, 1)

        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("progressBar")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Not started")
        self.progress_bar.setTextVisible(True)

        self.plots_panel = TrainingPlots()
        self.loss_plot = self.plots_panel.loss_plot
        self.learning_rate_plot = self.plots_panel.learning_rate_plot
        self.grad_norm_plot = self.plots_panel.grad_norm_plot
        self.speed_plot = self.plots_panel.speed_plot
        self.memory_plot = self.plots_panel.memory_plot

        self.log_panel = QPlainTextEdit()
        self.log_panel.setObjectName("logPanel")
        self.log_panel.setReadOnly(True)
        self.log_panel.setMaximumBlockCount(5000)
        self.log_panel.setPlaceholderText("Stages, warnings and checkpoints appear here.")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("trainSplitter")
        splitter.addWidget(self.plots_panel)
        splitter.addWidget(self.log_panel)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(splitter, 1)

    def _button(self, text: str, name: str, slot: object) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.clicked.connect(slot)
        return button

    def plots(self) -> dict[str, LivePlot]:
        """The page's plots by objectName."""
        return self.plots_panel.plots()

    # --- WizardPage ---------------------------------------------------------------

    def load(self, config: RunConfig) -> None:
        """Keep a copy of ``config`` to train with."""
        self._config = config_from_dict(config_to_dict(config))
        self._update_buttons()

    def apply(self, config: RunConfig) -> None:
        """Write the settings an out-of-memory retry changed back into ``config`` (once:
        after that the window's config holds them)."""
        self._apply_overrides(config)
        self._overrides.clear()

    def blocking_reason(self) -> str | None:
        if self.is_running():
            return "Training is still running."
        if self._last_result is None or self._last_result.status != "finished":
            return "Train the model first: press Start and let the run finish."
        return None

    def _apply_overrides(self, config: RunConfig) -> None:
        for name, value in self._overrides.items():
            setattr(config.hyperparameters, name, value)

    # --- running ------------------------------------------------------------------

    def is_running(self) -> bool:
        """Whether a run's thread is still working."""
        return self._session is not None and self._session.is_running()

    def last_result(self) -> TrainResult | None:
        """How the latest run ended, or None before any run ended."""
        return self._last_result

    def start(self, config: RunConfig | None = None) -> bool:
        """Start a new run with ``config`` (default: the loaded one).

        Returns:
            False when a run is already going or there is no configuration.
        """
        if config is not None:
            self.load(config)
        if self._session is not None or self._config is None:
            return False
        self._begin(resume_dir=None)
        return True

    def resume(self) -> bool:
        """Continue the last cancelled (or failed) run from its latest checkpoint."""
        if self._session is not None or self._resumable_run is None:
            return False
        self._begin(resume_dir=self._resumable_run)
        return True

    def cancel(self) -> None:
        """Ask the run to stop after the current step and save a checkpoint."""
        if self._session is None:
            return
        self._session.cancel()
        self.cancel_button.setEnabled(False)
        self.status_label.setText("Cancelling: finishing the current step and saving it...")
        self._log("Cancel requested.")

    def stop_and_wait(self, timeout_ms: int = 60_000) -> bool:
        """Cancel a running run and wait for its thread (before the window closes).

        Returns:
            True when no thread is left running.
        """
        if self._session is None:
            return True
        self._session.cancel()
        return self._session.wait(timeout_ms)

    def shutdown(self, timeout_ms: int = 60_000) -> None:
        """Stop a running run and wait for its thread (the window is closing)."""
        self.stop_and_wait(timeout_ms)

    def _on_start_clicked(self) -> None:
        self.start()

    def _begin(self, resume_dir: Path | None) -> None:
        self._resuming = resume_dir is not None
        if not (self._resuming and resume_dir == self._shown_run):
            self.plots_panel.clear()
            self.log_panel.clear()
        self._pending_error = None
        self._run_result = None
        self._last_step_log = 0.0
        self.progress_bar.setRange(0, 0)  # busy until the run knows its steps
        self.progress_bar.setFormat("Preparing...")
        self.status_label.setText("Resuming..." if self._resuming else "Preparing the run...")
        self._log(f"Resuming {resume_dir}." if resume_dir else "Starting a new run.")
        assert self._config is not None
        self._session = start_training(self, self._config, resume_dir, connect=self._connect)
        self._update_buttons()

    def _connect(self, worker: TrainingWorker) -> None:
        worker.event_reported.connect(self._on_event_reported)
        worker.failed.connect(self._on_failed)
        worker.run_ended.connect(self._on_run_ended)
        worker.finished.connect(self._on_worker_finished)

    def _update_buttons(self) -> None:
        session = self._session
        running = session is not None
        self.start_button.setEnabled(not running and self._config is not None)
        self.cancel_button.setEnabled(session is not None and not session.cancel_requested)
        self.resume_button.setEnabled(not running and self._resumable_run is not None)

    # --- worker signals -----------------------------------------------------------

    @Slot(object)
    def _on_event_reported(self, event: object) -> None:
        if isinstance(event, StepMetrics):
            self._on_step(event)
            return
        if isinstance(event, EvalMetrics):
            self.plots_panel.show_validation(event)
        elif isinstance(event, RunStarted):
            self._on_run_started(event)
        elif isinstance(event, StageChanged):
            self.status_label.setText(event.detail or event.stage)
        line = log_line(event)
        if line is not None:
            self._log(line)

    def _on_run_started(self, event: RunStarted) -> None:
        run_dir = Path(event.run_dir)
        if self._resuming and run_dir == self._shown_run:
            self.plots_panel.discard_after(event.resumed_from_step)
        self._shown_run = run_dir
        self.plots_panel.show_device(event.device)
        self.progress_bar.setRange(0, max(event.total_steps, 1))
        self.progress_bar.setValue(event.resumed_from_step)
        self.progress_bar.setFormat("%p%")
        self.status_label.setText(f"Training on the {event.device.upper()} ({event.method}).")

    def _on_step(self, event: StepMetrics) -> None:
        self.plots_panel.show_step(event)
        total = max(event.total_steps, 1)
        if self.progress_bar.maximum() != total:
            self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(min(event.step, total))
        self.progress_bar.setFormat(progress_format(event))
        now = time.monotonic()
        if now - self._last_step_log >= _STEP_LOG_SECONDS or event.step >= total:
            self._last_step_log = now
            self._log(step_line(event))

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self._pending_error = (message, details)

    @Slot(object)
    def _on_run_ended(self, result: TrainResult) -> None:
        self.plots_panel.flush()  # the last points, drawn at once
        self._last_result = self._run_result = result
        self._resumable_run = None
        if result.status == "finished":
            self.progress_bar.setRange(0, max(self.progress_bar.maximum(), 1))
            self.progress_bar.setValue(self.progress_bar.maximum())
            self.progress_bar.setFormat("Finished (100%)")
            self.status_label.setText(f"Finished. The trained model is in {result.output_path}.")
        elif result.status == "cancelled":
            self.progress_bar.setFormat("Cancelled at %v of %m steps")
            self.status_label.setText("Cancelled. Resume continues from the last checkpoint.")
        else:
            self.progress_bar.setFormat("Stopped")
            self.status_label.setText("The run stopped on an error.")
        if result.status in ("cancelled", "failed") and result.run_dir is not None:
            self._resumable_run = self._with_checkpoint(result.run_dir)

    @staticmethod
    def _with_checkpoint(run_dir: Path) -> Path | None:
        try:
            return run_dir if RunFolder.open(run_dir).latest_checkpoint() else None
        except (OSError, UserInputError):
            return None

    @Slot()
    def _on_worker_finished(self) -> None:
        self._session = None
        if self.progress_bar.maximum() == 0:  # ended before training began
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("Not started")
        self._update_buttons()
        self.changed.emit()
        if self._run_result is not None:
            self.run_finished.emit(self._run_result)
        if self._pending_error is not None:
            message, details = self._pending_error
            self._pending_error = None
            self.status_label.setText("The run stopped on an error.")
            self.error_occurred.emit(message, details)
            choice = show_error(self, message, details, offer_smaller=is_out_of_memory(message))
            if choice is not None:
                self._retry_smaller(choice)

    def _retry_smaller(self, choice: str) -> None:
        if self._config is None:
            return
        hyper = self._config.hyperparameters
        if choice == RETRY_SMALLER_BATCH:
            # Accumulate twice as many batches: same effective batch, half the memory.
            self._overrides["batch_size"] = max(hyper.batch_size // 2, 1)
            self._overrides["gradient_accumulation_steps"] = hyper.gradient_accumulation_steps * 2
        elif choice == RETRY_SHORTER_EXAMPLES:
            self._overrides["max_length"] = max(hyper.max_length // 2, 8)
        self._apply_overrides(self._config)
        self._log(
            "Retrying with "
            + ", ".join(
                f"{name.replace('_', ' ')} {value}" for name, value in self._overrides.items()
            )
            + "."
        )
        self.changed.emit()
        self.start()

    def _log(self, line: str) -> None:
        self.log_panel.appendPlainText(f"[{time.strftime('%H:%M:%S')}] {line}")
