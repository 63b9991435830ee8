"""The status bar's "Offline" indicator, and the promise that the app listens on no port."""

from __future__ import annotations

import contextlib
import socket
import threading

import psutil
import pytest
from PySide6.QtCore import QThread

from desktop_app.core.network_guard import NetworkGuard, NetworkRefusedError, network_guard
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.pages.model_page import ModelPage
from desktop_app.ui.project import app_settings
from desktop_app.ui.widgets.offline_status import OfflineStatus, blocked_summary

WAIT_MS = 10_000


def make_status(qtbot, guard: NetworkGuard | None = None) -> OfflineStatus:
    status = OfflineStatus(guard)
    qtbot.addWidget(status)
    status.show()
    return status


def test_offline_with_nothing_blocked_says_so(qtbot):
    status = make_status(qtbot, NetworkGuard())

    assert status.objectName() == "offlineStatus"
    assert status.text().endswith(" Offline")
    assert "Nothing has tried so far" in status.toolTip()


def test_a_real_blocked_attempt_shows_up_within_a_second(qtbot, expect_network_attempts):
    guard = network_guard()
    assert guard is not None
    status = make_status(qtbot)
    before = guard.blocked_count()

    # From another thread, as a library's background worker would try.
    def try_to_phone_home() -> None:
        with contextlib.suppress(NetworkRefusedError):
            socket.create_connection(("metrics.example.com", 443), timeout=5)

    worker = threading.Thread(target=try_to_phone_home, name="phone-home")
    worker.start()
    worker.join(10)

    expected = blocked_summary(before + 1)
    qtbot.waitUntil(lambda: status.text().endswith(expected), timeout=WAIT_MS)
    assert expect_network_attempts.count() == 1
    assert "metrics.example.com:443 (getaddrinfo), from test_offline_status" in status.toolTip()


def test_the_count_and_the_latest_attempts_are_listed(qtbot):
    guard = NetworkGuard()
    status = make_status(qtbot, guard)
    for target in ("<broadcast>:9", "a.example:1", "b.example:2"):
        with contextlib.suppress(NetworkRefusedError):
            guard.refuse("sendto", target, None)

    qtbot.waitUntil(lambda: "3 connection attempts blocked" in status.text(), timeout=WAIT_MS)
    tooltip = status.toolTip()
    # Newest first; a target that looks like a tag is shown as text.
    assert tooltip.index("b.example:2") < tooltip.index("a.example:1")
    assert "&lt;broadcast&gt;:9" in tooltip


def test_the_summary_counts_in_plain_words():
    assert blocked_summary(0) == "Offline"
    assert blocked_summary(1) == "Offline · 1 connection attempt blocked"
    assert blocked_summary(12) == "Offline · 12 connection attempts blocked"


@pytest.fixture
def main_window(qtbot):
    window = MainWindow(settings=app_settings())
    qtbot.addWidget(window)
    window.show()
    assert isinstance(window.pages[0], ModelPage)
    busy = [page.is_busy for page in window.pages if hasattr(page, "is_busy")]
    qtbot.waitUntil(lambda: not any(is_busy() for is_busy in busy), timeout=60_000)
    yield window
    window.close()
    assert not any(thread.isRunning() for thread in window.findChildren(QThread))


def test_the_app_opens_no_listening_socket(main_window):
    # Any network attempt while the window starts also fails this test (the suite's
    # guard fixture); here, the app must not even listen on loopback.
    listening = [
        connection
        for connection in psutil.Process().net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN
    ]

    assert listening == []
