"""The Train page on the real engine: start, cancel, resume, failures, retries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPlainTextEdit, QProgressBar, QPushButton

from desktop_app.core.config import RunConfig
from desktop_app.core.events import (
    CheckpointSaved,
    EvalMetrics,
    RunCancelled,
    StageChanged,
    StepMetrics,
    WarningRaised,
)
from desktop_app.core.run_folder import RunFolder
from desktop_app.engine import train
from desktop_app.ui.pages.train_events import (
    duration_text,
    log_line,
    progress_format,
    step_line,
)
from desktop_app.ui.pages.train_page import TrainPage
from desktop_app.ui.widgets import error_dialog
from desktop_app.ui.widgets.error_dialog import ErrorDialog

TIMEOUT_MS = 300_000


@pytest.fixture
def page(qtbot) -> TrainPage:
    page = TrainPage()
    qtbot.addWidget(page)
    page.resize(1100, 750)
    page.show()
    return page


def _button(page: TrainPage, name: str) -> QPushButton:
    return page.findChild(QPushButton, name)


def _click(qtbot, page: TrainPage, name: str) -> None:
    qtbot.mouseClick(_button(page, name), Qt.MouseButton.LeftButton)


def test_start_is_disabled_until_a_config_is_loaded(page: TrainPage, ui_config: RunConfig):
    assert not _button(page, "startButton").isEnabled()
    assert page.blocking_reason() is not None
    page.load(ui_config)
    assert _button(page, "startButton").isEnabled()
    assert not _button(page, "cancelButton").isEnabled()
    assert not _button(page, "resumeButton").isEnabled()


def test_a_run_fills_the_plots_and_the_progress_bar(qtbot, page: TrainPage, ui_config):
    page.load(ui_config)
    with qtbot.waitSignal(page.run_finished, timeout=TIMEOUT_MS) as blocker:
        _click(qtbot, page, "startButton")
        assert page.is_running()
        assert not _button(page, "startButton").isEnabled()
        assert _button(page, "cancelButton").isEnabled()

    assert blocker.args[0].status == "finished"
    assert not page.is_running()
    plots = page.plots()
    loss = plots["lossPlot"]
    assert loss.point_count("training") > 0
    assert loss.point_count("training (smoothed)") == loss.point_count("training")
    assert loss.point_count("validation") >= 2  # steps 4 and 8
    for name, curve in [
        ("learningRatePlot", "learning rate"),
        ("gradNormPlot", "grad norm"),
        ("tokensPerSecondPlot", "tokens/s"),
        ("memoryPlot", "memory"),
    ]:
        assert plots[name].point_count(curve) > 0, name
    assert loss.data("training")[0][-1] == 8  # the last step is always shown
    for plot in plots.values():  # the end of the run drew every buffered point
        assert not plot.redraw_pending()
    assert np.array_equal(loss.drawn_data("training")[0], loss.data("training")[0])
    progress = page.findChild(QProgressBar, "progressBar")
    assert progress.value() == progress.maximum() == 8
    log = page.findChild(QPlainTextEdit, "logPanel")
    assert log.isReadOnly() and "Finished" in log.toPlainText()
    assert _button(page, "startButton").isEnabled()
    assert not _button(page, "cancelButton").isEnabled()
    assert not _button(page, "resumeButton").isEnabled()
    assert page.blocking_reason() is None


def test_cancel_then_resume_continues_the_same_run(qtbot, page: TrainPage, ui_config):
    ui_config.hyperparameters.max_steps = 40
    ui_config.hyperparameters.eval_every_steps = 0
    page.load(ui_config)
    with qtbot.waitSignal(page.run_finished, timeout=TIMEOUT_MS) as blocker:
        page.start()
        qtbot.waitUntil(lambda: page.loss_plot.point_count("training") > 0, timeout=TIMEOUT_MS)
        _click(qtbot, page, "cancelButton")
        assert not _button(page, "cancelButton").isEnabled()
    cancelled = blocker.args[0]
    assert cancelled.status == "cancelled"
    assert _button(page, "resumeButton").isEnabled()
    assert "checkpoint" in page.findChild(QPlainTextEdit, "logPanel").toPlainText()
    points_before = page.loss_plot.point_count("training")
    assert points_before > 0

    with qtbot.waitSignal(page.run_finished, timeout=TIMEOUT_MS) as blocker:
        _click(qtbot, page, "resumeButton")
    resumed = blocker.args[0]
    assert resumed.status == "finished" and resumed.run_dir == cancelled.run_dir
    steps = page.loss_plot.data("training")[0]
    assert steps[-1] == 40 and list(steps) == sorted(set(steps))  # one curve, no repeats
    assert not _button(page, "resumeButton").isEnabled()


def test_stop_and_wait_cancels_and_leaves_no_thread(qtbot, page: TrainPage, ui_config):
    ui_config.hyperparameters.max_steps = 2_000
    page.start(ui_config)
    qtbot.waitUntil(lambda: page.loss_plot.point_count("training") > 0, timeout=TIMEOUT_MS)

    assert page.stop_and_wait(TIMEOUT_MS)
    assert not page.is_running()
    qtbot.waitUntil(lambda: _button(page, "startButton").isEnabled(), timeout=5_000)
    assert page.last_result().status == "cancelled"


def test_shutdown_stops_the_run_as_the_window_closes(qtbot, page: TrainPage, ui_config):
    ui_config.hyperparameters.max_steps = 2_000
    page.start(ui_config)
    qtbot.waitUntil(lambda: page.loss_plot.point_count("training") > 0, timeout=TIMEOUT_MS)

    page.shutdown(TIMEOUT_MS)
    assert not page.is_running()


def test_events_read_as_plain_sentences():
    step = StepMetrics(
        step=5,
        total_steps=40,
        epoch=0.5,
        loss=1.23456,
        learning_rate=2e-4,
        grad_norm=None,
        tokens_per_second=None,
        memory_bytes=None,
        elapsed_seconds=3.0,
        eta_seconds=3725.0,
    )
    assert step_line(step) == "Step 5 of 40: loss 1.2346, learning rate 0.0002."
    assert progress_format(step) == "%p%  ·  step 5 of 40  ·  about 1:02:05 left"
    assert duration_text(65) == "1:05" and duration_text(59.6) == "1:00"
    assert log_line(EvalMetrics(step=4, epoch=0.5, eval_loss=0.5, perplexity=1.6)) == (
        "Step 4: validation loss 0.5000."
    )
    assert log_line(StageChanged("tokenizing", "Preparing the examples")) == (
        "Preparing the examples"
    )
    assert log_line(StageChanged("saving")) == "saving"
    assert log_line(CheckpointSaved(step=8, path="/runs/a/checkpoint-8")).endswith("checkpoint-8")
    assert log_line(WarningRaised("Few examples.")) == "Warning: Few examples."
    assert "no checkpoint" in log_line(RunCancelled(run_dir="/runs/a", step=0, checkpoint=None))
    assert log_line(step) is None  # steps are logged at most every few seconds, by the page


def test_an_exception_shows_the_dialog_and_the_page_stays_usable(
    qtbot, page: TrainPage, ui_config, monkeypatch: pytest.MonkeyPatch, dialogs_do_not_block
):
    real = train.prepare_training_data

    def explode(*args, **kwargs):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(train, "prepare_training_data", explode)
    page.load(ui_config)
    with qtbot.waitSignal(page.error_occurred, timeout=TIMEOUT_MS) as blocker:
        _click(qtbot, page, "startButton")
    message, details = blocker.args
    assert "injected fault" in message and "Traceback" in details

    [dialog] = dialogs_do_not_block
    assert dialog.isVisible() and dialog.message_label.text() == message
    assert dialog.details_view.toPlainText() == details
    assert _button(page, "startButton").isEnabled() and not page.is_running()
    assert page.progress_bar.maximum() > 0  # not left spinning
    dialog.close()

    monkeypatch.setattr(train, "prepare_training_data", real)
    with qtbot.waitSignal(page.run_finished, timeout=TIMEOUT_MS) as blocker:
        _click(qtbot, page, "startButton")
    assert blocker.args[0].status == "finished"


def test_bad_data_names_the_line(qtbot, page: TrainPage, ui_config, dialogs_do_not_block):
    path = Path(ui_config.data.train)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[4] = "not json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page.load(ui_config)

    with qtbot.waitSignal(page.error_occurred, timeout=TIMEOUT_MS) as blocker:
        page.start()
    assert "line 5" in blocker.args[0]
    [dialog] = dialogs_do_not_block
    assert not dialog.details_button.isEnabled()  # nothing technical to show
    assert _button(page, "startButton").isEnabled()


def test_out_of_memory_retry_halves_the_batch(
    qtbot, page: TrainPage, ui_config, monkeypatch: pytest.MonkeyPatch
):
    real = train.prepare_training_data
    calls: list[int] = []

    def out_of_memory_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(*args, **kwargs)

    def choose_smaller_batch(dialog: ErrorDialog) -> None:
        dialog.findChild(QPushButton, "retrySmallerBatchButton").click()

    monkeypatch.setattr(train, "prepare_training_data", out_of_memory_once)
    monkeypatch.setattr(error_dialog, "_runner", choose_smaller_batch)
    page.load(ui_config)

    with qtbot.waitSignal(page.run_finished, timeout=TIMEOUT_MS) as blocker:
        page.start()
    result = blocker.args[0]
    assert result.status == "finished"
    hyper = RunFolder.open(result.run_dir).load_config().hyperparameters
    assert (hyper.batch_size, hyper.gradient_accumulation_steps) == (2, 2)

    window_config = RunConfig()
    page.apply(window_config)  # the window learns the new settings once
    assert window_config.hyperparameters.batch_size == 2
