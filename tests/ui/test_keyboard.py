"""Keyboard use of the wizard: Tab reaches every control of every step, in page order,
then Back and Next."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QWidget

from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.project import app_settings

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample_data" / "insurance_qa.jsonl"
WAIT_MS = 60_000
MAX_TABS = 120


@pytest.fixture
def window(qtbot, tiny_model_dir: Path) -> MainWindow:
    window = MainWindow(settings=app_settings(), restore=False)
    qtbot.addWidget(window)
    window.resize(1100, 760)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    config = window.project.config
    config.model.path = str(tiny_model_dir)
    config.data.train = str(SAMPLE)
    window.set_project(window.project)
    yield window
    window.close()


def _wait_idle(qtbot, window: MainWindow) -> None:
    busy = [page.is_busy for page in window.pages if hasattr(page, "is_busy")]
    qtbot.waitUntil(lambda: not any(is_busy() for is_busy in busy), timeout=WAIT_MS)


def _tab_cycle(qtbot, window: MainWindow) -> list[QWidget]:
    """Press Tab from the step list until focus comes back to it; the widgets visited."""
    window.step_list.setFocus(Qt.FocusReason.TabFocusReason)
    visited: list[QWidget] = []
    for _ in range(MAX_TABS):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        focused = QApplication.focusWidget()
        if focused is window.step_list:
            return visited
        visited.append(focused)
    raise AssertionError(
        "Tab never came back to the step list: "
        + ", ".join(widget.objectName() or type(widget).__name__ for widget in visited[-10:])
    )


def _tab_stops(page: QWidget) -> list[QWidget]:
    """The page's visible, enabled controls that take keyboard focus."""
    return [
        widget
        for widget in page.findChildren(QWidget)
        if widget.isVisible()
        and widget.isEnabled()
        and widget.focusPolicy() & Qt.FocusPolicy.TabFocus
        and widget.focusProxy() is None
        and (not isinstance(widget, QAbstractButton) or widget.objectName())
    ]


@pytest.mark.parametrize("step", range(6))
def test_tab_reaches_every_control_of_the_step_then_back_and_next(
    qtbot, window: MainWindow, step: int
) -> None:
    _wait_idle(qtbot, window)
    window.step_list.setCurrentRow(step)
    window._show_step(step)  # the step list only allows reachable steps; show any here
    _wait_idle(qtbot, window)
    page = window.pages[step]
    visited = _tab_cycle(qtbot, window)

    expected = _tab_stops(page)
    missed = [w.objectName() or type(w).__name__ for w in expected if w not in visited]
    assert not missed, f"{page.title}: Tab never reaches {missed}"
    names = [widget.objectName() for widget in visited]
    last_on_page = max(index for index, widget in enumerate(visited) if page.isAncestorOf(widget))
    navigation = [
        name for name in ("backButton", "nextButton") if window.findChild(QWidget, name).isEnabled()
    ]
    for name in navigation:
        assert last_on_page < names.index(name), f"{name} comes before the page's controls"
    if len(navigation) == 2:
        assert names.index("backButton") < names.index("nextButton")
