"""Cyclic garbage is collected in the GUI thread only (see desktop_app.ui.gui_gc)."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QObject, QThread

from desktop_app.ui.gui_gc import collect_before_worker_starts


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_automatic_collection_is_off_and_a_gui_timer_collects(qtbot):
    assert not gc.isenabled()
    collected_in: list[int] = []

    class Tracked(_Node):
        def __del__(self) -> None:
            collected_in.append(threading.get_ident())

    gone = weakref.ref(Tracked())
    garbage = [_Node() for _ in range(5 * gc.get_threshold()[0])]
    del garbage

    qtbot.waitUntil(lambda: gone() is None, timeout=10_000)
    assert collected_in == [threading.get_ident()]  # the GUI (test) thread


def test_objects_are_frozen_while_a_guarded_worker_runs(qtbot):
    release = threading.Event()

    class Waiter(QObject):
        def run(self) -> None:
            release.wait(10)
            self.thread().quit()

    thread = QThread()
    waiter = Waiter()
    waiter.moveToThread(thread)
    thread.started.connect(waiter.run)
    collect_before_worker_starts(thread)
    thread.start()
    assert gc.get_freeze_count() > 0
    release.set()
    assert thread.wait(10_000)
    qtbot.waitUntil(lambda: gc.get_freeze_count() == 0, timeout=5_000)
