"""The Evaluate page on the real engine: a finished tiny run's metrics, both models
answering, cancel, shutdown and errors."""

from __future__ import annotations

import gc
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
)

from desktop_app.core.config import RunConfig
from desktop_app.core.events import ListReporter
from desktop_app.engine.train import TrainResult, run_training
from desktop_app.ui.pages.evaluate_page import EvaluatePage
from desktop_app.ui.pages.evaluate_worker import plain_message
from desktop_app.ui.widgets.error_dialog import ErrorDialog

TIMEOUT_MS = 120_000
PROMPT = "What is item 3?"


@pytest.fixture
def page(qtbot) -> Iterator[EvaluatePage]:
    page = EvaluatePage()
    qtbot.addWidget(page)
    page.resize(900, 650)
    page.show()
    yield page
    assert page.shutdown(60_000)


@pytest.fixture(scope="module")
def trained_once(train_finished_run, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    """One finished LoRA run (the ui_config settings), shared by the module's tests."""
    return train_finished_run(tmp_path_factory.mktemp("evaluate-run"))


@pytest.fixture
def finished(trained_once: TrainResult, ui_config: RunConfig) -> TrainResult:
    """The shared run, copied into this test's ``ui_config.output.dir``."""
    assert trained_once.run_dir is not None and trained_once.output_path is not None
    run_dir = Path(ui_config.output.dir) / trained_once.run_dir.name
    shutil.copytree(trained_once.run_dir, run_dir)
    return TrainResult("finished", run_dir, run_dir / "adapter", dict(trained_once.metrics))


def _label(page: EvaluatePage, name: str) -> QLabel:
    return page.findChild(QLabel, name)


def _pane(page: EvaluatePage, side: str) -> QPlainTextEdit:
    return page.findChild(QPlainTextEdit, f"{side}Answer")


def _button(page: EvaluatePage, name: str) -> QPushButton:
    return page.findChild(QPushButton, name)


def _ask(qtbot, page: EvaluatePage, prompt: str = PROMPT) -> None:
    page.findChild(QPlainTextEdit, "promptInput").setPlainText(prompt)
    with qtbot.waitSignal(page.asking_finished, timeout=TIMEOUT_MS):
        qtbot.mouseClick(_button(page, "askButton"), Qt.MouseButton.LeftButton)
        gc.collect()  # the page must keep its worker alive while the thread starts
        assert page.is_busy()
        assert page.findChild(QProgressBar, "evaluateBusy").isVisible()
        assert _button(page, "cancelAskButton").isEnabled()
        assert not _button(page, "askButton").isEnabled()


def test_without_a_finished_run_the_page_says_train_first(page: EvaluatePage, ui_config):
    page.load(ui_config)

    assert "Train a model first" in _label(page, "runSummary").text()
    assert not page.findChild(QPlainTextEdit, "promptInput").isEnabled()
    assert not _button(page, "askButton").isEnabled()
    assert page.blocking_reason() is None
    assert page.ask() is False


def test_a_finished_run_shows_its_final_metrics(page: EvaluatePage, finished: TrainResult):
    page.set_run_result(finished)

    summary = _label(page, "runSummary").text()
    metrics = finished.metrics
    assert f"{metrics['train_loss']:.4f}" in summary
    assert f"{metrics['eval_loss']:.4f}" in summary
    assert f"perplexity {metrics['eval_perplexity']:.2f}" in summary
    assert "<td>8</td>" in summary  # steps
    assert "12 training, 4 validation" in summary
    assert str(finished.output_path) in summary
    assert finished.run_dir.name in summary
    assert "Train a model first" not in summary
    prompt = page.findChild(QPlainTextEdit, "promptInput")
    assert prompt.isEnabled()
    assert not _button(page, "askButton").isEnabled()  # nothing typed yet
    prompt.setPlainText(PROMPT)
    assert _button(page, "askButton").isEnabled()


def test_runs_that_did_not_finish_are_ignored(page: EvaluatePage, ui_config, finished):
    page.load(ui_config)
    page.set_run_result(TrainResult("cancelled", finished.run_dir))
    # load() found the finished run on its own; the cancelled result changed nothing.
    assert page.run is not None and page.run.run_dir == finished.run_dir


def test_load_finds_the_latest_finished_run_on_its_own(qtbot, ui_config, finished):
    second = run_training(ui_config, ListReporter())
    assert second.status == "finished"
    page = EvaluatePage()
    qtbot.addWidget(page)

    page.load(ui_config)

    assert page.run is not None and page.run.run_dir == second.run_dir
    assert second.run_dir.name in _label(page, "runSummary").text()


def test_asking_gives_two_answers_side_by_side(qtbot, page: EvaluatePage, finished, tmp_path):
    page.set_run_result(finished)
    answered: list[tuple[str, str]] = []
    page.answered.connect(lambda side, text: answered.append((side, text)))

    _ask(qtbot, page)

    assert [side for side, _ in answered] == ["base", "tuned"]
    base, tuned = _pane(page, "base").toPlainText(), _pane(page, "tuned").toPlainText()
    assert base and tuned
    assert _pane(page, "base").isReadOnly() and _pane(page, "tuned").isReadOnly()
    assert _label(page, "evaluateStatus").text() == "Both models answered."
    assert not page.is_busy()
    assert not page.findChild(QProgressBar, "evaluateBusy").isVisible()
    assert not _button(page, "cancelAskButton").isEnabled()
    image = page.grab()
    assert not image.isNull() and image.save(str(tmp_path / "evaluate_page.png"))

    # The second question reuses the loaded models and, greedy, repeats the answers.
    loaded = page._models.comparison
    _ask(qtbot, page)
    assert page._models.comparison is loaded
    assert _pane(page, "base").toPlainText() == base
    assert _pane(page, "tuned").toPlainText() == tuned


def test_cancel_stops_the_answer_being_written(qtbot, page: EvaluatePage, finished):
    page.set_run_result(finished)
    page.findChild(QSpinBox, "maxNewTokens").setValue(4096)
    page.findChild(QPlainTextEdit, "promptInput").setPlainText(PROMPT)
    status = _label(page, "evaluateStatus")

    started = time.monotonic()
    with qtbot.waitSignal(page.asking_finished, timeout=TIMEOUT_MS):
        assert page.ask()
        qtbot.waitUntil(lambda: "base model is answering" in status.text(), timeout=TIMEOUT_MS)
        qtbot.mouseClick(_button(page, "cancelAskButton"), Qt.MouseButton.LeftButton)
        assert not _button(page, "cancelAskButton").isEnabled()

    assert time.monotonic() - started < 60
    assert status.text() == "Cancelled."
    assert "Cancelled before the answer was complete" in _label(page, "baseAnswerNote").text()
    assert "Cancelled before this model answered" in _label(page, "tunedAnswerNote").text()
    assert _pane(page, "tuned").toPlainText() == ""
    assert _button(page, "askButton").isEnabled()


def test_shutdown_cancels_and_waits_for_the_thread(qtbot, page: EvaluatePage, finished):
    page.set_run_result(finished)
    page.findChild(QSpinBox, "maxNewTokens").setValue(4096)
    page.findChild(QPlainTextEdit, "promptInput").setPlainText(PROMPT)
    status = _label(page, "evaluateStatus")
    with qtbot.waitSignal(page.asking_finished, timeout=TIMEOUT_MS):
        assert page.ask()
        qtbot.waitUntil(lambda: "answering" in status.text(), timeout=TIMEOUT_MS)
        assert page.shutdown(30_000)
    assert not page.is_busy()


def test_an_invalid_run_folder_shows_the_error_dialog(
    page: EvaluatePage, tmp_path: Path, dialogs_do_not_block: list[ErrorDialog]
):
    page.set_run_result(TrainResult("finished", tmp_path / "nowhere"))

    assert len(dialogs_do_not_block) == 1
    message = dialogs_do_not_block[0].message_label.text()
    assert "not an Enclave run folder" in message
    assert "Train a model first" in _label(page, "runSummary").text()


def test_missing_model_files_show_the_error_dialog_with_details(
    qtbot, page: EvaluatePage, finished, tmp_path, dialogs_do_not_block
):
    moved = tmp_path / "moved-run"
    shutil.copytree(finished.run_dir, moved)
    manifest = json.loads((moved / "manifest.json").read_text())
    manifest["model"]["path"] = str(tmp_path / "deleted-model")
    (moved / "manifest.json").write_text(json.dumps(manifest))
    page.set_run_result(TrainResult("finished", moved, moved / "adapter", finished.metrics))
    assert not dialogs_do_not_block

    _ask(qtbot, page)

    assert len(dialogs_do_not_block) == 1
    dialog = dialogs_do_not_block[0]
    assert "Model not found" in dialog.message_label.text()
    assert "Traceback" not in dialog.message_label.text()
    assert "Traceback" in dialog.details_view.toPlainText()
    assert _label(page, "evaluateStatus").text() == "The models could not answer."
    assert _button(page, "askButton").isEnabled()


def test_interactive_widgets_are_named_and_explained(page: EvaluatePage):
    interactive = (
        page.findChildren(QAbstractButton)
        + page.findChildren(QPlainTextEdit)
        + page.findChildren(QAbstractSpinBox)
    )
    assert len(interactive) >= 6
    for widget in interactive:
        if widget.objectName().startswith("qt_") or type(widget.parent()).__name__ == "QTabBar":
            continue  # Qt's own parts: a table's corner button, a tab bar's scroll arrows
        assert widget.objectName(), widget
        assert widget.toolTip(), widget.objectName()
    for name in ("askButton", "cancelAskButton"):
        assert "&" in _button(page, name).text()
    assert page.objectName() == "evaluatePage" and page.title == "Evaluate"


def test_running_out_of_memory_is_explained_without_training_retries():
    message = plain_message(MemoryError())
    assert "not enough memory" in message and "Traceback" not in message
    # The training dialog's retry buttons (smaller batch) make no sense here.
    dialog = ErrorDialog(message, "details")
    assert dialog.retry_batch_button is None and dialog.retry_shorter_button is None
    dialog.deleteLater()
