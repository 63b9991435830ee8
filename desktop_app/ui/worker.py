"""Runs the engine off the GUI thread: one worker QObject moved to one QThread.

The worker implements the engine's Reporter protocol by emitting signals that carry
the engine's frozen dataclass events. It never touches a widget; every exception
becomes the ``failed`` signal; ``finished`` is always emitted last. Cancel is the
engine's own ``threading.Event``, set directly from the GUI thread (the worker's event
loop is busy training, so a queued slot would never run).
"""

from __future__ import annotations

import errno
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from desktop_app.core.config import RunConfig
from desktop_app.core.config_io import config_from_dict, config_to_dict
from desktop_app.core.errors import UserInputError
from desktop_app.core.events import Event, RunFailed, StepMetrics
from desktop_app.engine.train import run_training
from desktop_app.ui.gui_gc import collect_before_worker_starts

#: At most this many StepMetrics signals per second reach the GUI thread.
STEP_EVENTS_PER_SECOND = 20


def plain_message(error: BaseException) -> str:
    """What an unexpected exception means for the user, in plain words."""
    text = str(error)
    if (
        isinstance(error, MemoryError)
        or type(error).__name__ == "OutOfMemoryError"
        or "out of memory" in text.lower()
    ):
        return (
            "Training ran out of memory. Lower the batch size or the maximum length, "
            "or choose the QLoRA method, and try again."
        )
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return "The disk is full. Free some space (or choose another output folder) and try again."
    reason = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return f"Training stopped because of an unexpected error ({reason})."


class TrainingWorker(QObject):
    """Calls :func:`~desktop_app.engine.train.run_training` in its thread.

    Args:
        config: The run configuration; the worker keeps its own copy.
        resume_dir: A run folder to continue from its latest checkpoint.
    """

    #: One engine event (a frozen dataclass from desktop_app.core.events). StepMetrics
    #: are throttled; every other event, and the last step, always comes through.
    event_reported = Signal(object)
    #: The run could not start or ended in failure: (plain message, details/traceback).
    failed = Signal(str, str)
    #: run_training returned: the TrainResult (status finished, cancelled, failed or
    #: invalid_input). Not emitted when it raised; ``failed`` says why instead.
    run_ended = Signal(object)
    #: Always the last signal, whatever happened.
    finished = Signal()

    def __init__(self, config: RunConfig, resume_dir: str | Path | None = None) -> None:
        super().__init__()
        self._config = config_from_dict(config_to_dict(config))
        self._resume_dir = resume_dir
        self._stop = threading.Event()
        self._min_interval = 1.0 / STEP_EVENTS_PER_SECOND
        self._last_step_emit = float("-inf")
        self._pending_step: StepMetrics | None = None
        self._failure_details = ""
        #: Set once ``finished`` was emitted: the thread is only exiting now.
        self.done = threading.Event()

    @property
    def stop_event(self) -> threading.Event:
        """The event the engine checks every step."""
        return self._stop

    def cancel(self) -> None:
        """Ask the run to stop at the end of the current step, saving a checkpoint.

        Thread-safe; call it directly from the GUI thread.
        """
        self._stop.set()

    def report(self, event: Event) -> None:
        """The engine's Reporter protocol: pass ``event`` on as a signal (throttled)."""
        if isinstance(event, StepMetrics):
            now = time.monotonic()
            if now - self._last_step_emit < self._min_interval and event.step < event.total_steps:
                self._pending_step = event
                return
            self._pending_step = None
            self._last_step_emit = now
            self.event_reported.emit(event)
            return
        self._flush_pending_step()
        if isinstance(event, RunFailed):
            self._failure_details = event.details
        self.event_reported.emit(event)

    def _flush_pending_step(self) -> None:
        if self._pending_step is not None:
            event, self._pending_step = self._pending_step, None
            self._last_step_emit = time.monotonic()
            self.event_reported.emit(event)

    @Slot()
    def run(self) -> None:
        """Train; every outcome ends in signals, never in an exception."""
        try:
            result = run_training(self._config, self, self._stop, resume_dir=self._resume_dir)
            self._flush_pending_step()
            self.run_ended.emit(result)
            if result.status in ("failed", "invalid_input"):
                self.failed.emit(result.message, self._failure_details)
        except UserInputError as error:
            self._flush_pending_step()
            self.failed.emit(error.user_message(), "")
        except Exception as error:  # noqa: BLE001 - every failure must reach the window
            self._flush_pending_step()
            self.failed.emit(plain_message(error), traceback.format_exc())
        finally:
            self.finished.emit()
            self.done.set()


_live_sessions: set[TrainingSession] = set()
_registry_lock = threading.Lock()


def live_sessions() -> list[TrainingSession]:
    """Sessions whose thread has not finished yet (tests assert this is empty)."""
    with _registry_lock:
        return list(_live_sessions)


class TrainingSession:
    """One training run in its own QThread: the thread, the worker and a way to wait.

    Create it with :func:`start_training`, which connects the worker's signals (through
    its ``connect`` argument) before the thread starts, so that no early signal is lost.
    """

    def __init__(self, thread: QThread, worker: TrainingWorker) -> None:
        self.thread = thread
        self.worker = worker
        self._stop = worker.stop_event
        self._worker_done = worker.done
        self._done = threading.Event()
        with _registry_lock:
            _live_sessions.add(self)
        # Direct: runs in the worker thread as it ends, even if the GUI thread is
        # blocked in wait().
        thread.finished.connect(self._on_thread_finished, Qt.ConnectionType.DirectConnection)

    def _on_thread_finished(self) -> None:
        self._done.set()
        with _registry_lock:
            _live_sessions.discard(self)

    def cancel(self) -> None:
        """Ask the run to stop with a checkpoint (thread-safe, returns at once)."""
        self._stop.set()

    @property
    def cancel_requested(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._stop.is_set()

    def is_running(self) -> bool:
        """Whether the thread has not finished yet."""
        return not self._done.is_set()

    def is_exiting(self) -> bool:
        """Whether the worker has finished and the thread is only shutting down."""
        return self._worker_done.is_set()

    def wait(self, timeout_ms: int) -> bool:
        """Block until the thread has finished, at most ``timeout_ms``; True if it did."""
        started = time.monotonic()
        if not self._done.wait(timeout_ms / 1000):
            return False
        remaining = max(int(timeout_ms - (time.monotonic() - started) * 1000), 1)
        try:
            return bool(self.thread.wait(remaining))
        except RuntimeError:  # the QThread was already deleted: it had finished
            return True


def start_training(
    parent: QObject | None,
    config: RunConfig,
    resume_dir: str | Path | None = None,
    *,
    connect: Callable[[TrainingWorker], None] | None = None,
) -> TrainingSession:
    """Start a training run in a new QThread and return its session.

    Args:
        parent: The object the run belongs to; if it is destroyed, the run is cancelled.
            The thread itself has no Qt parent, so destroying ``parent`` never destroys
            a running thread.
        config: The run configuration (copied).
        resume_dir: A run folder to continue from its latest checkpoint.
        connect: Called with the worker before the thread starts: connect its signals
            here (a run that fails at once emits ``failed`` within milliseconds).
    """
    thread = QThread()
    thread.setObjectName("trainingThread")
    worker = TrainingWorker(config, resume_dir)
    worker.moveToThread(thread)
    session = TrainingSession(thread, worker)
    thread.started.connect(worker.run)
    # Direct: quit() is thread-safe, and a queued call would wait for the GUI thread.
    worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    # No worker.deleteLater: the worker goes with the session's last reference. Deleting
    # it both ways races at the thread's end (a segfault).
    thread.finished.connect(thread.deleteLater)
    if parent is not None:
        stop = worker.stop_event
        parent.destroyed.connect(lambda *_: stop.set())
    if connect is not None:
        connect(worker)
    # accelerate calls gc.collect() in the worker as training starts: see ui.gui_gc.
    collect_before_worker_starts(thread)
    thread.start()
    return session
