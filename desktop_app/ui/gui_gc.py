"""Python's cyclic garbage collection runs in the GUI thread only.

CPython collects in whichever thread crosses an allocation threshold. A collection in a
worker thread can destroy GUI objects caught in reference cycles from the wrong thread,
which crashes Qt or deadlocks it (a CI run hung for 84 minutes with a training worker
starting while the GUI thread waited). So automatic collection is switched off and a
timer in the GUI thread collects instead (pyqtgraph's GarbageCollector; calibre and
napari do the same).

Libraries may still call ``gc.collect()`` themselves in a worker thread (accelerate
does when training starts, Enclave does to free a model's memory after evaluating);
:func:`collect_before_worker_starts` runs a full collection in the GUI thread first and
freezes what survives until the thread ends, so such a call only sees objects made
after it.
"""

from __future__ import annotations

import gc

from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QObject, QThread, Slot

#: How often the GUI thread checks whether a collection is due, in seconds.
CHECK_INTERVAL_SECONDS = 0.5

_collector: GarbageCollector | None = None


def keep_garbage_collection_in_gui_thread() -> None:
    """Switch automatic collection off and collect from a GUI-thread timer instead.

    Call it in the GUI thread once a QApplication exists; later calls do nothing.
    """
    global _collector
    if _collector is None:
        _collector = GarbageCollector(interval=CHECK_INTERVAL_SECONDS)


def collect_before_worker_starts(thread: QThread) -> None:
    """Collect everything now, in the GUI thread, and exclude the survivors (modules,
    windows, loaded models) from later collections until ``thread`` has finished.

    Call it just before ``thread.start()``, for threads whose work calls ``gc.collect()``
    (training, and evaluation, which frees model memory). A full collection scans every
    object in the process (about 300 ms with torch, transformers and Qt loaded on a
    2-core machine); while frozen, collections scan only what is new, so the worker's
    ``gc.collect()`` neither freezes the window nor touches GUI objects. The objects
    are released when the last such thread has finished, so models dropped meanwhile
    are not kept for good.
    """
    global _release
    if _release is None:
        _release = _FrozenObjectsRelease()
    if _release.running == 0:
        gc.collect()
        gc.freeze()
    _release.running += 1
    thread.finished.connect(_release.thread_finished)


class _FrozenObjectsRelease(QObject):
    """Lives in the GUI thread; unfreezes once no guarded worker thread is running."""

    def __init__(self) -> None:
        super().__init__()
        self.running = 0

    @Slot()
    def thread_finished(self) -> None:
        self.running = max(self.running - 1, 0)
        if self.running == 0:
            gc.unfreeze()


_release: _FrozenObjectsRelease | None = None
