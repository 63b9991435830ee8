"""The Qt binding in use is not one known to crash the app."""

from __future__ import annotations

import PySide6


def test_pyside6_is_not_the_release_that_crashes_live_plots():
    # 6.12.0 over-releases None on every Python paint override; pyqtgraph's live plots
    # abort the interpreter within seconds ("none_dealloc"). pyproject excludes it.
    assert PySide6.__version__ != "6.12.0"
