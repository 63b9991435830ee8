"""Start the desktop app: the QApplication, its style, and the main window."""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from desktop_app.core.paths import APP_NAME
from desktop_app.ui.gui_gc import keep_garbage_collection_in_gui_thread
from desktop_app.ui.main_window import MainWindow, default_pages
from desktop_app.ui.project import app_settings
from desktop_app.ui.qt_platform import QtPlatformError, check_qt_platform
from desktop_app.ui.startup_probe import (
    EXIT_AFTER_START_ENV,
    FIRST_WINDOW_LINE,
    REPORT_FIRST_WINDOW_ENV,
)

#: Exit code when the window cannot open (the command line's "cannot use this" code).
EXIT_CANNOT_OPEN_WINDOW = 2


def create_application(argv: list[str]) -> QApplication:
    """The QApplication (or the one that exists), named and styled.

    Python's garbage collection then runs in this (the GUI) thread only.
    Qt 6 scales for high-DPI screens by default. Fusion follows the system's light or
    dark colour scheme and looks the same on every platform.
    """
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        keep_garbage_collection_in_gui_thread()
        return existing
    app = QApplication([sys.argv[0] if sys.argv else "enclave", *argv])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setStyle("Fusion")
    keep_garbage_collection_in_gui_thread()
    return app


def run_app(argv: list[str]) -> int:
    """Open the wizard and run until the window is closed; returns the exit code (2 when
    the window cannot open, with the reason on standard error)."""
    try:
        check_qt_platform()
    except QtPlatformError as error:
        print(f"Error: {error.user_message()}", file=sys.stderr)
        return EXIT_CANNOT_OPEN_WINDOW
    app = create_application(argv)
    settings = app_settings()
    window = MainWindow(default_pages(settings), settings)
    window.show()
    if os.environ.get(REPORT_FIRST_WINDOW_ENV):
        # A zero timer fires once the event loop has handled the show and first paint.
        QTimer.singleShot(0, lambda: print(FIRST_WINDOW_LINE, flush=True))
    exit_after = os.environ.get(EXIT_AFTER_START_ENV)
    if exit_after:
        QTimer.singleShot(int(exit_after), window.close)
    return app.exec()
