"""The training worker on the real engine and the tiny model, in a real QThread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Slot

from desktop_app.core.config import RunConfig
from desktop_app.core.events import EvalMetrics, RunStarted, StepMetrics, WarningRaised
from desktop_app.engine import train
from desktop_app.engine.train import TrainResult
from desktop_app.ui.worker import (
    STEP_EVENTS_PER_SECOND,
    TrainingSession,
    TrainingWorker,
    live_sessions,
    start_training,
)

TIMEOUT_MS = 300_000


class Recorder(QObject):
    """Receives the worker's signals in the GUI thread, as the Train page does."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[object] = []
        self.failures: list[tuple[str, str]] = []
        self.results: list[TrainResult] = []
        self.finished_count = 0
        self.threads: set[int] = set()
        self.session: TrainingSession | None = None
        self.cancel_at_first_step = False

    def connect(self, worker: TrainingWorker) -> None:
        worker.event_reported.connect(self.on_event_reported)
        worker.failed.connect(self.on_failed)
        worker.run_ended.connect(self.on_run_ended)
        worker.finished.connect(self.on_finished)

    @Slot(object)
    def on_event_reported(self, event: object) -> None:
        self.threads.add(threading.get_ident())
        self.events.append(event)
        if self.cancel_at_first_step and isinstance(event, StepMetrics):
            assert self.session is not None
            self.session.cancel()

    @Slot(str, str)
    def on_failed(self, message: str, details: str) -> None:
        self.failures.append((message, details))

    @Slot(object)
    def on_run_ended(self, result: TrainResult) -> None:
        self.results.append(result)

    @Slot()
    def on_finished(self) -> None:
        self.finished_count += 1

    def of_type(self, kind: type) -> list:
        return [event for event in self.events if isinstance(event, kind)]


def _run(qtbot, config: RunConfig, resume_dir: Path | None = None, **recorder_options) -> Recorder:
    recorder = Recorder()
    for name, value in recorder_options.items():
        setattr(recorder, name, value)
    session = start_training(None, config, resume_dir, connect=recorder.connect)
    recorder.session = session
    # Not waitSignal(session.worker.finished): connected only now, it would miss a run
    # that failed within milliseconds. The recorder was connected before the start.
    qtbot.waitUntil(lambda: recorder.finished_count == 1, timeout=TIMEOUT_MS)
    assert session.wait(TIMEOUT_MS)
    assert session not in live_sessions()
    return recorder


def test_worker_trains_and_reports_in_the_gui_thread(qtbot, ui_config: RunConfig):
    recorder = _run(qtbot, ui_config)

    assert recorder.failures == []
    [result] = recorder.results
    assert result.status == "finished", result.message
    assert (result.output_path / "adapter_model.safetensors").is_file()
    steps = recorder.of_type(StepMetrics)
    assert steps and steps[-1].step == 8  # the last step always comes through
    assert [event.step for event in steps] == sorted(event.step for event in steps)
    assert recorder.of_type(EvalMetrics)
    assert recorder.of_type(RunStarted)[0].total_steps == 8
    assert recorder.threads == {threading.get_ident()}  # delivered in the GUI thread


def _step(step: int, total: int) -> StepMetrics:
    return StepMetrics(step, total, 0.0, 1.0, 1e-3, 1.0, 100.0, 1, 0.0, None)


def test_step_events_are_throttled_but_the_last_and_other_events_pass(qtbot, ui_config):
    worker = TrainingWorker(ui_config)
    emitted: list[object] = []
    worker.event_reported.connect(emitted.append)

    for step in range(1, 51):
        worker.report(_step(step, 100))
    worker.report(WarningRaised("note"))
    for step in range(51, 101):
        worker.report(_step(step, 100))

    steps = [event.step for event in emitted if isinstance(event, StepMetrics)]
    assert len(steps) <= 6  # a few per second at most, not one per step
    assert steps[0] == 1 and steps[-1] == 100
    # The step held back when the warning came is passed on before the warning.
    warning_at = next(i for i, event in enumerate(emitted) if isinstance(event, WarningRaised))
    assert emitted[warning_at - 1].step == 50
    assert STEP_EVENTS_PER_SECOND <= 20


def test_cancel_saves_a_checkpoint_and_resume_finishes(qtbot, ui_config: RunConfig):
    ui_config.hyperparameters.max_steps = 40
    ui_config.hyperparameters.eval_every_steps = 0
    cancelled = _run(qtbot, ui_config, cancel_at_first_step=True)

    [result] = cancelled.results
    assert result.status == "cancelled", result.message
    assert result.output_path is not None and result.output_path.is_dir()
    stopped_at = int(result.output_path.name.split("-")[1])
    assert 1 <= stopped_at < 40

    resumed = _run(qtbot, RunConfig(), resume_dir=result.run_dir)
    [finished] = resumed.results
    assert finished.status == "finished", finished.message
    assert finished.run_dir == result.run_dir
    assert resumed.of_type(RunStarted)[0].resumed_from_step == stopped_at
    assert min(event.step for event in resumed.of_type(StepMetrics)) > stopped_at
    assert resumed.of_type(StepMetrics)[-1].step == 40


def test_bad_data_fails_with_the_line_and_leaves_no_thread(qtbot, ui_config: RunConfig):
    path = Path(ui_config.data.train)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = '{"instruction": "broken", '
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    recorder = _run(qtbot, ui_config)

    assert recorder.results == []
    [(message, details)] = recorder.failures
    assert "line 3" in message
    assert details == ""
    assert not list(Path(ui_config.output.dir).glob("*"))  # nothing was written


def test_unexpected_exception_becomes_failed_with_traceback(
    qtbot, ui_config: RunConfig, monkeypatch: pytest.MonkeyPatch
):
    def explode(*args, **kwargs):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(train, "prepare_training_data", explode)

    recorder = _run(qtbot, ui_config)

    assert recorder.results == []
    [(message, details)] = recorder.failures
    assert "injected fault" in message and "Traceback" not in message
    assert "Traceback" in details and "explode" in details


def test_cancel_and_wait_from_the_gui_thread_returns_promptly(qtbot, ui_config: RunConfig):
    ui_config.hyperparameters.max_steps = 2_000
    recorder = Recorder()
    session = start_training(None, ui_config, connect=recorder.connect)
    qtbot.waitUntil(lambda: bool(recorder.of_type(StepMetrics)), timeout=TIMEOUT_MS)

    session.cancel()
    assert session.wait(TIMEOUT_MS)  # blocks the GUI thread: no queued call may be needed

    assert not session.is_running()
    qtbot.waitUntil(lambda: recorder.finished_count == 1, timeout=5_000)
    assert recorder.results[0].status == "cancelled"
    assert recorder.of_type(StepMetrics)[-1].step < 2_000
