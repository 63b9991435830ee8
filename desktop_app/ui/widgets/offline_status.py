"""The status bar's network indicator: "Offline", and how many attempts were blocked."""

from __future__ import annotations

import html
from datetime import datetime

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget

from desktop_app.core.network_guard import BlockedAttempt, NetworkGuard, network_guard

#: How often the label reads the guard's count (the guard never calls into Qt).
REFRESH_MS = 1000
#: How many of the latest attempts the tooltip lists (the audit log has them all).
TOOLTIP_ATTEMPTS = 5

_CALM = "#2e7d32"
_NOTICE = "#b26a00"
_ALARM = "#c62828"
_PROMISE = (
    "Enclave works offline: every connection and name lookup to another machine is "
    "blocked and recorded in the audit log."
)


def _local_time(text: str) -> str:
    try:
        return datetime.fromisoformat(text).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return text


def _attempt_line(attempt: BlockedAttempt) -> str:
    via = f" through {attempt.package}" if attempt.package else ""
    return (
        f"{_local_time(attempt.time)}  {attempt.target} ({attempt.operation}), "
        f"from {attempt.module}{via}"
    )


def blocked_summary(count: int) -> str:
    """The label's words for ``count`` blocked attempts."""
    if count == 0:
        return "Offline"
    noun = "attempt" if count == 1 else "attempts"
    return f"Offline · {count} connection {noun} blocked"


class OfflineStatus(QLabel):
    """Shows that Enclave is offline and counts the attempts the network guard blocked.

    The label polls the guard's count once a second from the GUI thread, so attempts
    made in any thread show up without a widget ever being touched from that thread.

    Args:
        guard: The guard to report on; None uses the process's installed guard.
        parent: The Qt parent.
    """

    def __init__(self, guard: NetworkGuard | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("offlineStatus")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setAccessibleName("Network status")
        self._guard = guard if guard is not None else network_guard()
        self._shown_count: int | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.refresh()

    def refresh(self) -> None:
        """Read the guard's count and update the text and tooltip if it changed."""
        guard = self._guard
        if guard is None:
            self._show(
                _ALARM,
                "Network guard not running",
                "Enclave's network guard is not running in this process, so connections "
                "are not being blocked. Start Enclave with the enclave command.",
            )
            return
        count = guard.blocked_count()
        if count == self._shown_count:
            return
        self._shown_count = count
        if count == 0:
            self._show(_CALM, blocked_summary(0), f"{_PROMISE}\nNothing has tried so far.")
            return
        latest = guard.attempts()[-TOOLTIP_ATTEMPTS:]
        lines = "\n".join(_attempt_line(attempt) for attempt in reversed(latest))
        self._show(
            _NOTICE,
            blocked_summary(count),
            f"{_PROMISE}\nBlocked so far: {count}. The latest:\n{lines}",
        )

    def _show(self, colour: str, text: str, tooltip: str) -> None:
        self.setText(f'<span style="color:{colour}">&#9679;</span> {html.escape(text)}')
        # Rich text with escaped lines: a target such as "<broadcast>" must show as text.
        self.setToolTip("<qt>" + html.escape(tooltip).replace("\n", "<br>") + "</qt>")
        self.setAccessibleDescription(f"{text}. {tooltip}")
