"""Run one engine function off the GUI thread: one worker QObject in one QThread.

For the Evaluate step's longer jobs (comparing on held-out data, the memorisation
probe). The function gets a reporter and a stop event, like ``run_training``; the
worker turns the reporter's events into a signal, every exception into ``failed``
(plain message, details), and always ends with ``finished``.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import QProgressBar

from desktop_app.core.errors import EnclaveError
from desktop_app.core.events import Event
from desktop_app.ui.gui_gc import collect_before_worker_starts

#: The job: ``function(reporter, stop_event)`` returning its result (never None).
Job = Callable[[Any, threading.Event], object]


class JobWorker(QObject):
    """Calls the job in its thread; only plain data leaves it."""

    #: An engine event the job reported (a frozen dataclass from core.events), or any
    #: other non-None object the job passed to ``reporter.report``.
    event_reported = Signal(object)
    #: The job returned this result.
    succeeded = Signal(object)
    #: The job raised: (plain message, details).
    failed = Signal(str, str)
    #: Always the last signal.
    finished = Signal()

    def __init__(self, job: Job, describe_failure: Callable[[BaseException], str]) -> None:
        super().__init__()
        self._job = job
        self._describe_failure = describe_failure
        self.stop_event = threading.Event()

    def report(self, event: Event | object) -> None:
        """The engine's Reporter protocol, as a signal."""
        if event is not None:
            self.event_reported.emit(event)

    @Slot()
    def run(self) -> None:
        try:
            result = self._job(self, self.stop_event)
            if result is not None:
                self.succeeded.emit(result)
        except EnclaveError as error:
            self.failed.emit(error.user_message(), "")
        except Exception as error:  # noqa: BLE001 - every failure must reach the window
            self.failed.emit(self._describe_failure(error), traceback.format_exc())
        finally:
            self.finished.emit()


class BackgroundJob:
    """A running job: its thread and worker, kept until the thread has really ended.

    The worker is deleted with this object's last reference (never with deleteLater,
    which races with that deletion at the thread's end).
    """

    def __init__(self, thread: QThread, worker: JobWorker) -> None:
        self.thread = thread
        self.worker = worker
        self._done = threading.Event()
        thread.finished.connect(self._done.set, Qt.ConnectionType.DirectConnection)

    def cancel(self) -> None:
        """Ask the job to stop (thread-safe, returns at once)."""
        self.worker.stop_event.set()

    @property
    def cancel_requested(self) -> bool:
        return self.worker.stop_event.is_set()

    def is_running(self) -> bool:
        return not self._done.is_set()

    def wait(self, timeout_ms: int) -> bool:
        """Wait for the thread to end; True if it did."""
        if not self._done.wait(timeout_ms / 1000):
            return False
        return bool(self.thread.wait(max(timeout_ms, 1)))


def start_job(
    parent: QObject,
    job: Job,
    describe_failure: Callable[[BaseException], str],
    connect: Callable[[JobWorker], None],
    name: str = "jobThread",
) -> BackgroundJob:
    """Start ``job`` in a new QThread owned by ``parent``; ``connect`` wires the worker's
    signals (to slots of GUI-thread objects) before the thread starts."""
    thread = QThread(parent)
    thread.setObjectName(name)
    worker = JobWorker(job, describe_failure)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    # Direct: quit() is thread-safe and must not wait for the GUI thread.
    worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    connect(worker)
    background = BackgroundJob(thread, worker)
    collect_before_worker_starts(thread)  # evaluation jobs free model memory: ui.gui_gc
    thread.start()
    return background


class JobRunner(QObject):
    """At most one background job at a time for a panel: start, cancel, wait, clean up.

    Args:
        parent: The panel (a GUI-thread object); the runner's slots run in its thread.
        name: The thread's objectName.
        on_idle: Called (in the GUI thread) once a job's thread has ended.
    """

    def __init__(self, parent: QObject, name: str, on_idle: Callable[[], None]) -> None:
        super().__init__(parent)
        self._name = name
        self._on_idle = on_idle
        self.job: BackgroundJob | None = None

    @property
    def busy(self) -> bool:
        return self.job is not None

    @property
    def cancel_requested(self) -> bool:
        return self.job is not None and self.job.cancel_requested

    def start(
        self,
        job: Job,
        describe_failure: Callable[[BaseException], str],
        succeeded: Callable[[Any], None],
        failed: Callable[[str, str], None],
        event_reported: Callable[[Any], None] | None = None,
    ) -> bool:
        """Start ``job``; False when one is still running.

        Args:
            job: The work, run in the job's thread.
            describe_failure: Turns an unexpected exception into a plain message.
            succeeded: Receives the job's result; a bound slot of a GUI-thread object.
            failed: Receives (plain message, details).
            event_reported: Receives each engine event the job reports, if given.
        """
        if self.job is not None:
            return False

        def wire(worker: JobWorker) -> None:
            if event_reported is not None:
                worker.event_reported.connect(event_reported)
            worker.succeeded.connect(succeeded)
            worker.failed.connect(failed)
            worker.finished.connect(self._on_finished)

        self.job = start_job(self, job, describe_failure, wire, self._name)
        return True

    def cancel(self) -> None:
        """Ask the running job to stop (returns at once)."""
        if self.job is not None:
            self.job.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop the running job and wait for its thread; True when none is left."""
        if self.job is None:
            return True
        self.job.cancel()
        return self.job.wait(timeout_ms)

    @Slot()
    def _on_finished(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.thread.wait()  # finished is emitted just before the thread really ends
            job.thread.deleteLater()
        self._on_idle()


def busy_bar(name: str) -> QProgressBar:
    """A thin bar that moves without a known end, shown while a job runs."""
    bar = QProgressBar()
    bar.setObjectName(name)
    bar.setRange(0, 0)
    bar.setMaximumHeight(12)
    bar.setTextVisible(False)
    return bar
