"""Fixtures for GUI tests: no thread may outlive its test, no dialog may block one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from tiny_runs import write_jsonl

from desktop_app.core.config import RunConfig
from desktop_app.core.events import ListReporter
from desktop_app.engine.train import TrainResult, run_training
from desktop_app.ui import worker
from desktop_app.ui.gui_gc import keep_garbage_collection_in_gui_thread
from desktop_app.ui.widgets import error_dialog
from desktop_app.ui.widgets.error_dialog import ErrorDialog

#: Seconds a test's leftover training thread gets to stop before the suite gives up on it.
_LEFTOVER_WAIT_MS = 60_000
#: Seconds a new non-daemon thread that is already on its way out gets to end.
_EXITING_THREAD_WAIT_S = 10.0


@pytest.fixture(scope="session", autouse=True)
def garbage_collected_in_gui_thread(qapp: QApplication) -> None:
    """As in the app: no cyclic collection in worker threads (see desktop_app.ui.gui_gc)."""
    keep_garbage_collection_in_gui_thread()


@pytest.fixture(autouse=True)
def no_thread_left_running(qapp: QApplication) -> Iterator[None]:
    """Fail a test that leaves a training QThread (or any new non-daemon thread) running.

    A QThread still running when Python tears it down aborts the whole process, so the
    fixture first cancels and waits for leftovers, then fails the test.
    """
    before = set(threading.enumerate())
    yield
    # A thread whose worker has emitted finished is only exiting: give it a moment.
    for session in worker.live_sessions():
        if session.is_exiting():
            session.wait(5_000)
    leftovers = worker.live_sessions()
    for session in leftovers:
        session.cancel()
        session.wait(_LEFTOVER_WAIT_MS)
    new_threads = [
        thread
        for thread in threading.enumerate()
        if thread not in before and thread.is_alive() and not thread.daemon
    ]
    # A pool shut down without waiting (transformers' loader calls
    # ThreadPoolExecutor.shutdown(wait=False)) has threads that are only exiting.
    for thread in new_threads:
        thread.join(_EXITING_THREAD_WAIT_S)
    new_threads = [thread for thread in new_threads if thread.is_alive()]
    assert not leftovers, f"{len(leftovers)} training thread(s) were still running"
    assert not new_threads, f"threads left running: {new_threads}"


@pytest.fixture(autouse=True)
def dialogs_do_not_block(qapp: QApplication) -> Iterator[list[ErrorDialog]]:
    """show_error shows its dialog without a modal loop; the test gets the dialogs shown
    (also findable among QApplication.topLevelWidgets()), and they are closed afterwards."""
    shown: list[ErrorDialog] = []

    def show_without_blocking(dialog: ErrorDialog) -> None:
        shown.append(dialog)
        dialog.show()

    previous = error_dialog.set_dialog_runner(show_without_blocking)
    yield shown
    error_dialog.set_dialog_runner(previous)
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, ErrorDialog):
            widget.close()


def item_records() -> list[dict[str, str]]:
    """Sixteen short alpaca records."""
    return [
        {"instruction": f"What is item {index}?", "input": "", "output": f"Item {index} is a box."}
        for index in range(16)
    ]


def quick_lora_config(model_dir: Path, train: Path, output_dir: Path) -> RunConfig:
    """A LoRA run on the tiny model that takes about a tenth of a second per eight steps."""
    config = RunConfig()
    config.model.path = str(model_dir)
    config.data.train = str(train)
    config.data.validation_fraction = 0.25
    config.method.name = "lora"
    hyper = config.hyperparameters
    hyper.max_steps = 8
    hyper.batch_size = 4
    hyper.learning_rate = 1e-2
    hyper.warmup_ratio = 0.0
    hyper.lr_scheduler = "constant"
    hyper.max_length = 64
    hyper.eval_every_steps = 4
    hyper.save_every_steps = 0
    config.output.dir = str(output_dir)
    return config


@pytest.fixture
def training_data(tmp_path: Path) -> Path:
    """Sixteen short alpaca records."""
    return write_jsonl(tmp_path / "train.jsonl", item_records())


@pytest.fixture
def ui_config(tiny_model_dir: Path, training_data: Path, tmp_path: Path) -> RunConfig:
    """A LoRA run on the tiny model that takes about a tenth of a second per eight steps."""
    return quick_lora_config(tiny_model_dir, training_data, tmp_path / "runs")


@pytest.fixture(scope="session")
def train_finished_run(tiny_model_dir: Path) -> Callable[..., TrainResult]:
    """Train the quick LoRA run (:func:`quick_lora_config`) into ``folder`` for real and
    return its finished result; ``records`` replaces the sixteen item records."""

    def train(folder: Path, records: list[dict[str, str]] | None = None) -> TrainResult:
        data = write_jsonl(folder / "train.jsonl", records or item_records())
        result = run_training(
            quick_lora_config(tiny_model_dir, data, folder / "runs"), ListReporter()
        )
        assert result.status == "finished" and result.run_dir is not None, result.message
        return result

    return train
