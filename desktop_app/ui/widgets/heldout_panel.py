"""The Evaluate step's comparison on held-out data: both models' scores side by side,
and their answers to each held-out prompt as they are written."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.events import StageChanged
from desktop_app.data.readers import supported_extensions
from desktop_app.engine.evaluation import ComparedExample, EvaluationResult, evaluate_run
from desktop_app.engine.finished_run import FinishedRun
from desktop_app.engine.generation import GenerationSettings
from desktop_app.ui.job_worker import JobRunner, JobWorker, busy_bar
from desktop_app.ui.pages.evaluate_worker import plain_message
from desktop_app.ui.widgets.error_dialog import show_error
from desktop_app.ui.widgets.rows_model import RowsModel

#: Measures in the scores table: (label, where in a side's JSON, lower is better).
MEASURES = (
    ("Held-out loss", ("loss",), True),
    ("Perplexity", ("perplexity",), True),
    ("Exact match", ("generation", "exact_match"), False),
    ("Word overlap (F1)", ("generation", "token_f1"), False),
    ("ROUGE-L", ("generation", "rouge_l"), False),
    ("BLEU", ("generation", "bleu"), False),
    ("Accuracy", ("classification", "accuracy"), False),
    ("Macro F1", ("classification", "macro_f1"), False),
)
_HEADERS = ("where", "prompt", "expected answer", "base model", "fine-tuned model")


def _value(side: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = side
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def scores_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, base, tuned, which is better) for every measure the result has."""
    rows = []
    for label, path, lower_better in MEASURES:
        base, tuned = _value(result["base"], path), _value(result["tuned"], path)
        if base is None and tuned is None:
            continue
        better = ""
        if base is not None and tuned is not None and base != tuned:
            better = "fine-tuned" if (tuned < base) == lower_better else "base"
        rows.append((label, f"{base:.4g}" if base is not None else "–",
                     f"{tuned:.4g}" if tuned is not None else "–", better))  # fmt: skip
    return rows


class HeldOutPanel(QWidget):
    """Runs :func:`evaluate_run` in a background thread and shows what it finds."""

    #: A comparison finished: its EvaluationResult (also written to evaluation.json).
    evaluation_finished = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("heldOutPanel")
        self.run: FinishedRun | None = None
        self.result: EvaluationResult | None = None
        self._runner = JobRunner(self, "evaluationThread", self._update_controls)
        self._examples: list[tuple[str, str, str, str, str]] = []

        self.compare_button = QPushButton("&Compare on held-out data")
        self.compare_button.setObjectName("compareButton")
        self.compare_button.setToolTip(
            "Measure both models on examples kept out of training, and let both answer them."
        )
        self.compare_button.clicked.connect(self.compare)
        self.stop_button = QPushButton("Sto&p")
        self.stop_button.setObjectName("stopCompareButton")
        self.stop_button.setToolTip("Stop after the current answers.")
        self.stop_button.clicked.connect(self.cancel)
        self.examples_spin = QSpinBox()
        self.examples_spin.setObjectName("maxExamples")
        self.examples_spin.setRange(1, 5000)
        self.examples_spin.setValue(50)
        self.examples_spin.setToolTip("How many held-out prompts both models answer.")
        self.data_edit = QLineEdit()
        self.data_edit.setObjectName("heldOutFile")
        self.data_edit.setPlaceholderText("the run's validation examples")
        self.data_edit.setToolTip(
            "Leave empty to use the examples held back from training, or choose a file of "
            "new examples in the same format."
        )
        self.data_button = QPushButton("C&hoose file…")
        self.data_button.setObjectName("chooseHeldOutFile")
        self.data_button.setToolTip("Choose a file of examples the model never saw.")
        self.data_button.clicked.connect(self._on_choose_file)
        self.busy = busy_bar("compareBusy")
        self.status_label = QLabel("Compare the base and fine-tuned models on held-out data.")
        self.status_label.setObjectName("compareStatus")
        self.status_label.setWordWrap(True)

        controls = QHBoxLayout()
        controls.addWidget(self.compare_button)
        controls.addWidget(self.stop_button)
        controls.addWidget(QLabel("Prompts:"))
        controls.addWidget(self.examples_spin)
        controls.addWidget(self.data_edit, 1)
        controls.addWidget(self.data_button)

        self.scores_table = QTableWidget(0, 4)
        self.scores_table.setObjectName("scoresTable")
        self.scores_table.setHorizontalHeaderLabels(
            ("measure", "base model", "fine-tuned model", "better")
        )
        self.scores_table.horizontalHeader().setStretchLastSection(True)
        self.scores_table.verticalHeader().setVisible(False)
        self.scores_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.scores_table.setTabKeyNavigation(False)
        self.scores_table.setToolTip(
            "Loss and perplexity: lower is better. The other scores compare answers with "
            "the expected ones: higher is better."
        )
        self.examples_view = QTableView()
        self.examples_view.setObjectName("comparedExamples")
        self.examples_view.setTabKeyNavigation(False)
        self.examples_view.setWordWrap(False)
        self.examples_view.horizontalHeader().setStretchLastSection(True)
        self.examples_view.setToolTip("Each held-out prompt with both answers; hover to read.")
        self.examples_view.setModel(RowsModel(_HEADERS, self._examples))
        splitter = QSplitter()
        splitter.setObjectName("heldOutSplitter")
        splitter.addWidget(self.scores_table)
        splitter.addWidget(self.examples_view)
        splitter.setSizes([300, 700])

        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.busy)
        layout.addWidget(self.status_label)
        layout.addWidget(splitter, 1)
        self._update_controls()

    # -- the run -------------------------------------------------------------------------

    def set_run(self, run: FinishedRun | None, saved: dict[str, Any] | None = None) -> None:
        """Show ``run`` (None: no finished run), with its saved evaluation if any."""
        self.run = run
        self.result = None
        self._examples.clear()
        self.examples_view.setModel(RowsModel(_HEADERS, self._examples))
        self.scores_table.setRowCount(0)
        if saved is not None:
            self._show_scores(saved)
            for example in saved.get("examples", []):
                self._examples.append(
                    tuple(
                        str(example.get(key, ""))
                        for key in ("location", "prompt", "reference", "base", "tuned")  # type: ignore[arg-type]
                    )  # fmt: skip
                )
            self.examples_view.setModel(RowsModel(_HEADERS, self._examples))
            self.status_label.setText(f"Last comparison: {saved.get('evaluated_at', '')}.")
        self._update_controls()

    def is_busy(self) -> bool:
        return self._runner.busy

    def compare(self) -> bool:
        """Start the comparison; False when there is no finished run or one is running."""
        if self.run is None or self._runner.busy:
            return False
        run_dir = self.run.run_dir
        data_file = self.data_edit.text().strip() or None
        max_examples = self.examples_spin.value()
        self._examples.clear()
        self.examples_view.setModel(RowsModel(_HEADERS, self._examples))
        self.scores_table.setRowCount(0)

        def job(reporter: JobWorker, stop: threading.Event) -> EvaluationResult:
            return evaluate_run(
                run_dir,
                data_file=data_file,
                settings=GenerationSettings(),
                max_examples=max_examples,
                reporter=reporter,
                stop_event=stop,
                on_example=reporter.report,
            )

        self._runner.start(
            job, plain_message, self._on_succeeded, self._on_failed, self._on_event_reported
        )
        self.status_label.setText("Starting…")
        self._update_controls()
        return True

    def cancel(self) -> None:
        if self._runner.busy:
            self._runner.cancel()
            self.status_label.setText("Stopping after the current answers…")
            self._update_controls()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop and wait for the thread (before the window closes)."""
        return self._runner.shutdown(timeout_ms)

    # -- worker signals -----------------------------------------------------------------

    @Slot(object)
    def _on_event_reported(self, event: object) -> None:
        if isinstance(event, StageChanged):
            self.status_label.setText(event.detail or event.stage)
        elif isinstance(event, ComparedExample):
            model = self.examples_view.model()
            assert isinstance(model, RowsModel)
            row = (event.location, event.prompt, event.reference, event.base.text,
                   event.tuned.text)  # fmt: skip
            self._examples.append(row)
            self.examples_view.setModel(RowsModel(_HEADERS, self._examples))
            self.status_label.setText(f"{len(self._examples)} prompts answered by both models…")

    @Slot(object)
    def _on_succeeded(self, result: EvaluationResult) -> None:
        self.result = result
        self._show_scores(result.to_json())
        cancelled = result.status == "cancelled"
        self.status_label.setText(
            "Stopped: the scores cover the prompts answered so far (not saved)."
            if cancelled
            else f"Done: {result.data.answered} prompts answered by both models; saved with "
            "the run (evaluation.json)." + (" " + " ".join(result.notes) if result.notes else "")
        )
        if not cancelled:
            self.evaluation_finished.emit(result)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.status_label.setText("The comparison stopped on an error.")
        show_error(self, message, details)

    def _show_scores(self, result: dict[str, Any]) -> None:
        rows = scores_rows(result)
        self.scores_table.setRowCount(len(rows))
        for row, cells in enumerate(rows):
            for column, text in enumerate(cells):
                self.scores_table.setItem(row, column, QTableWidgetItem(text))
        self.scores_table.resizeColumnsToContents()

    def _update_controls(self) -> None:
        running = self._runner.busy
        usable = self.run is not None
        self.compare_button.setEnabled(usable and not running)
        self.stop_button.setEnabled(running and not self._runner.cancel_requested)
        for widget in (self.examples_spin, self.data_edit, self.data_button):
            widget.setEnabled(usable and not running)
        self.busy.setVisible(running)
        if not usable:
            self.status_label.setText("Train a model first: there is no finished run to compare.")

    def _on_choose_file(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in supported_extensions())
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose held-out examples", "", f"Data files ({patterns});;All files (*)"
        )
        if path:
            self.data_edit.setText(str(Path(path)))
