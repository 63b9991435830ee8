"""The Data page's files and their reading: one background thread per file read.

:class:`DataFileReader` starts a :class:`~desktop_app.ui.data_worker.DataAnalysisWorker`
in its own QThread for each read, stores what it finds in the file's
:class:`DataFileState`, and says so with ``file_updated``. A new read of the same file
cancels the old one; answers of a cancelled read are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from desktop_app.data.checking import CheckReport
from desktop_app.engine.token_stats import TokenStats
from desktop_app.ui.data_worker import AnalysisRequest, DataAnalysisWorker, FilePreview


@dataclass(eq=False)
class DataFileState:
    """One chosen file, how to read it, and what reading it found.

    Args:
        path: The file.
        weight: Its weight when files are mixed (the main file's is ``train_weight``).
        format: The format chosen for it (``"auto"`` to detect).
        column_map: Columns the user pinned to fields.
        request: The read whose results are shown (None before the first).
        report: The check, once done.
        preview: The records and personal data, once read.
        tokens: Lengths in tokens, once counted.
        tokens_note: Why there are no token lengths (no model chosen).
        error: Why the file cannot be used at all (plain message), or empty.
        busy: Whether it is being read now.
    """

    path: str
    weight: float = 1.0
    format: str = "auto"
    column_map: dict[str, str] = field(default_factory=dict)
    request: AnalysisRequest | None = None
    report: CheckReport | None = None
    preview: FilePreview | None = None
    tokens: TokenStats | None = None
    tokens_note: str = ""
    error: str = ""
    busy: bool = False

    @property
    def name(self) -> str:
        """The file's name without its folder."""
        return Path(self.path).name


class DataFileReader(QObject):
    """Reads data files in background threads, one thread per read."""

    #: A file's state changed (a result arrived, or its read ended).
    file_updated = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._counter = 0
        self._states: dict[int, DataFileState] = {}
        self._threads: dict[int, QThread] = {}
        self._workers: dict[int, DataAnalysisWorker] = {}

    def read(self, state: DataFileState, request: AnalysisRequest) -> None:
        """Read ``state``'s file as ``request`` says, cancelling an earlier read of it."""
        for request_id, reading in list(self._states.items()):
            if reading is state:
                self._workers[request_id].cancelled.set()
                del self._states[request_id]
        state.request = request
        state.report = state.preview = state.tokens = None
        state.error = state.tokens_note = ""
        state.busy = True
        self._counter += 1
        request_id = self._counter
        thread = QThread(self)
        thread.setObjectName("dataAnalysisThread")
        worker = DataAnalysisWorker(request_id, request)
        worker.moveToThread(thread)
        worker.checked.connect(self._on_checked)
        worker.previewed.connect(self._on_previewed)
        worker.tokens_counted.connect(self._on_tokens_counted)
        worker.tokens_skipped.connect(self._on_tokens_skipped)
        worker.failed.connect(self._on_failed)
        worker.finished.connect(thread.quit)
        thread.started.connect(worker.run)
        # A bound slot of this (GUI-thread) object: queued, so it runs in the GUI thread.
        thread.finished.connect(self._on_thread_finished)
        self._states[request_id] = state
        self._threads[request_id] = thread
        self._workers[request_id] = worker
        thread.start()

    def is_busy(self) -> bool:
        """Whether any read is still going (cancelled ones included)."""
        return bool(self._threads)

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Cancel every read and wait for the threads."""
        for worker in self._workers.values():
            worker.cancelled.set()
        for thread in list(self._threads.values()):
            thread.quit()
            thread.wait(timeout_ms)

    def _update(self, request_id: int, **values: object) -> None:
        state = self._states.get(request_id)
        if state is None:
            return  # a cancelled read
        for name, value in values.items():
            setattr(state, name, value)
        self.file_updated.emit(state)

    def _on_checked(self, request_id: int, report: CheckReport) -> None:
        self._update(request_id, report=report)

    def _on_previewed(self, request_id: int, preview: FilePreview) -> None:
        self._update(request_id, preview=preview)

    def _on_tokens_counted(self, request_id: int, stats: TokenStats) -> None:
        self._update(request_id, tokens=stats)

    def _on_tokens_skipped(self, request_id: int, note: str) -> None:
        self._update(request_id, tokens_note=note)

    def _on_failed(self, request_id: int, message: str, _details: str) -> None:
        self._update(request_id, error=message)

    def _on_thread_finished(self) -> None:
        sender = self.sender()
        request_id = next((rid for rid, thread in self._threads.items() if thread is sender), None)
        if request_id is None:
            return
        thread = self._threads.pop(request_id)
        thread.wait()  # finished is emitted just before the thread really ends
        # The worker goes with this last reference (never deleteLater: deleting it both
        # ways races at the thread's end).
        del self._workers[request_id]
        thread.deleteLater()
        if request_id in self._states:
            self._update(request_id, busy=False)
            del self._states[request_id]
