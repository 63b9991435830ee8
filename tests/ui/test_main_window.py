"""The main window: steps, Back and Next, projects, autosave and restore, objectNames."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QThread
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSplitter,
    QWidget,
)

from desktop_app.core.config import DEMO_MODEL
from desktop_app.ui.main_window import STEPS, MainWindow, PlaceholderPage
from desktop_app.ui.pages.data_page import DataPage
from desktop_app.ui.pages.model_page import ModelPage
from desktop_app.ui.project import Project, app_settings, autosave_path

WAIT_MS = 60_000


@pytest.fixture
def open_windows(qtbot):
    """Windows made by a test; closed (and their threads checked) at its end."""
    windows: list[MainWindow] = []
    yield windows
    for window in windows:
        window.close()
        assert not any(thread.isRunning() for thread in window.findChildren(QThread))


def make_window(qtbot, open_windows: list[MainWindow]) -> MainWindow:
    window = MainWindow(settings=app_settings())
    qtbot.addWidget(window)
    window.show()
    open_windows.append(window)
    wait_idle(qtbot, window)
    return window


def wait_idle(qtbot, window: MainWindow) -> None:
    """Wait until no page reads anything in the background (model facts, data files)."""
    assert isinstance(window.pages[0], ModelPage)
    busy = [page.is_busy for page in window.pages if hasattr(page, "is_busy")]
    qtbot.waitUntil(lambda: not any(is_busy() for is_busy in busy), timeout=WAIT_MS)


def choose_data(qtbot, window: MainWindow, path: Path) -> None:
    """On the Data step: add the training file and wait until it has been checked."""
    data_page = window.pages[1]
    assert isinstance(data_page, DataPage)
    assert window.current == 1
    data_page.add_files([str(path)])
    wait_idle(qtbot, window)


def go_to_hyperparameters(qtbot, window: MainWindow, tiny_model_dir: Path, data: Path) -> None:
    choose_model(qtbot, window, tiny_model_dir)
    window.go_next()
    choose_data(qtbot, window, data)
    window.go_next()  # Method
    window.go_next()
    assert window.pages[window.current].title == "Hyperparameters"


def choose_model(qtbot, window: MainWindow, path: Path | str) -> None:
    model_page = window.pages[0]
    assert isinstance(model_page, ModelPage)
    model_page.choose(str(path))
    wait_idle(qtbot, window)


def test_the_window_shows_six_steps_and_offers_the_demo(qtbot, open_windows):
    window = make_window(qtbot, open_windows)
    steps = window.findChild(QListWidget, "stepList")
    assert [steps.item(i).text() for i in range(steps.count())] == [t for _, t, _ in STEPS]
    assert window.findChild(QWidget, "demoBanner").isVisible()
    placeholders = [p for p in window.pages if isinstance(p, PlaceholderPage)]
    assert not placeholders
    assert window.step_state(0) == "current"


def test_next_waits_for_a_model_and_enter_goes_on(
    qtbot, open_windows, tiny_model_dir, training_data
):
    window = make_window(qtbot, open_windows)
    next_button = window.findChild(QPushButton, "nextButton")
    reason = window.findChild(QLabel, "blockedReason")
    assert not next_button.isEnabled()
    assert reason.isVisible() and "Choose a base model" in reason.text()
    assert window.step_state(0) == "current"
    assert window.step_state(3) == "locked"  # Hyperparameters, after the blocked Model step
    assert window.step_state(1) == "locked"

    choose_model(qtbot, window, tiny_model_dir)
    assert next_button.isEnabled()
    assert not reason.isVisible()
    assert window.project.config.model.path == str(tiny_model_dir)
    assert window.project.dirty

    qtbot.keyClick(window, Qt.Key.Key_Return)
    assert window.current == 1
    assert window.step_state(0) == "done"
    assert window.project.step == "data"
    window.go_next()
    assert window.current == 1  # no data yet
    assert "Choose a training data file" in reason.text()
    choose_data(qtbot, window, training_data)
    assert next_button.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Enter)
    assert window.current == 2
    assert window.step_state(1) == "done"
    assert window.project.config.data.train == str(training_data.resolve())


def test_back_keeps_every_value(qtbot, open_windows, tiny_model_dir, training_data):
    window = make_window(qtbot, open_windows)
    go_to_hyperparameters(qtbot, window, tiny_model_dir, training_data)
    epochs = window.findChild(QLineEdit, "hyperparameters_epochs")
    epochs.selectAll()
    qtbot.keyClicks(epochs, "2")
    assert window.project.config.hyperparameters.epochs == 2.0

    for _ in range(3):
        qtbot.mouseClick(window.findChild(QPushButton, "backButton"), Qt.MouseButton.LeftButton)
    assert window.current == 0
    assert window.findChild(QLineEdit, "modelPath").text() == str(tiny_model_dir)
    for _ in range(3):
        window.go_next()
    assert window.findChild(QLineEdit, "hyperparameters_epochs").text() == "2"
    assert window.project.config.model.path == str(tiny_model_dir)


def test_an_invalid_field_blocks_next_with_its_message(
    qtbot, open_windows, tiny_model_dir, training_data
):
    window = make_window(qtbot, open_windows)
    go_to_hyperparameters(qtbot, window, tiny_model_dir, training_data)
    batch = window.findChild(QAbstractSpinBox, "hyperparameters_batch_size")
    batch.setValue(0)
    next_button = window.findChild(QPushButton, "nextButton")
    reason = window.findChild(QLabel, "blockedReason")
    assert not next_button.isEnabled()
    assert "Batch size" in reason.text()
    assert window.findChild(QLabel, "hyperparameters_batch_size_error").isVisible()
    assert window.step_state(3) == "current"
    batch.setValue(8)
    assert next_button.isEnabled()
    assert window.project.config.hyperparameters.batch_size == 8


def test_save_and_open_round_trip(qtbot, open_windows, tiny_model_dir, tmp_path: Path):
    window = make_window(qtbot, open_windows)
    choose_model(qtbot, window, tiny_model_dir)
    window.go_next()
    window.project.config.hyperparameters.seed = 7
    target = tmp_path / "analysis.enclave.json"
    assert window.save_to(target)
    assert not window.project.dirty
    assert "analysis" in window.windowTitle()

    window.new_project()
    assert window.project.config.model.path == ""
    assert window.current == 0
    assert window.open_project(target)
    wait_idle(qtbot, window)
    assert window.project.path == target
    assert window.project.config.hyperparameters.seed == 7
    assert window.project.config.model.path == str(tiny_model_dir)
    assert window.current == 1
    assert str(target.resolve()) in app_settings().value("recentProjects")


def test_opening_a_broken_file_shows_an_error(qtbot, open_windows, tmp_path, dialogs_do_not_block):
    window = make_window(qtbot, open_windows)
    broken = tmp_path / "broken.enclave.json"
    broken.write_text("{")
    assert not window.open_project(broken)
    assert (
        dialogs_do_not_block
        and "not valid JSON" in dialogs_do_not_block[0].findChild(QLabel, "errorMessage").text()
    )


def test_the_app_reopens_where_the_user_left_off(
    qtbot, open_windows, tiny_model_dir, training_data
):
    window = make_window(qtbot, open_windows)
    go_to_hyperparameters(qtbot, window, tiny_model_dir, training_data)
    window.findChild(QPushButton, "presetQuick").click()
    window.resize(900, 650)
    window.close()
    assert autosave_path().is_file()

    again = make_window(qtbot, open_windows)
    assert not again.findChild(QWidget, "demoBanner").isVisible()
    assert again.pages[again.current].title == "Hyperparameters"
    assert again.project.config.model.path == str(tiny_model_dir)
    assert again.project.config.hyperparameters.max_steps == 30
    assert again.findChild(QLineEdit, "hyperparameters_max_steps").text() == "30"
    # The saved geometry, not the default 1100 x 760 (offscreen frames shift it a little).
    assert abs(again.size().width() - 900) < 50
    assert abs(again.size().height() - 650) < 50


def test_autosave_is_written_shortly_after_a_change(qtbot, open_windows, tiny_model_dir):
    window = make_window(qtbot, open_windows)
    choose_model(qtbot, window, tiny_model_dir)
    qtbot.waitUntil(autosave_path().is_file, timeout=5000)
    saved = Project.load(autosave_path())
    assert saved.config.model.path == str(tiny_model_dir)


def test_the_demo_button_loads_the_demo(qtbot, open_windows):
    window = make_window(qtbot, open_windows)
    qtbot.mouseClick(window.findChild(QPushButton, "useDemoButton"), Qt.MouseButton.LeftButton)
    assert window.project.config.model.path == DEMO_MODEL
    assert window.project.config.data.train.endswith("policy_handbook_qa.jsonl")
    assert not window.findChild(QWidget, "demoBanner").isVisible()
    wait_idle(qtbot, window)
    assert window.pages[0].blocking_reason() is None


def test_every_interactive_widget_has_an_object_name(qtbot, open_windows):
    window = make_window(qtbot, open_windows)
    interactive = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QListWidget)
    unnamed = [
        f"{type(widget).__name__} in {type(widget.parent()).__name__}"
        for widget in window.findChildren(QWidget)
        if isinstance(widget, interactive)
        and not widget.objectName()
        # Qt's own parts (a spin box's line edit, a scroll bar's buttons) are not ours.
        and not isinstance(widget.parent(), interactive)
        and not widget.objectName().startswith("qt_")
    ]
    assert not unnamed


def test_buttons_have_mnemonics(qtbot, open_windows):
    window = make_window(qtbot, open_windows)
    for name in ("backButton", "nextButton", "useDemoButton", "presetQuick"):
        assert "&" in window.findChild(QPushButton, name).text()


def test_every_splitter_is_remembered(qtbot, open_windows):
    window = make_window(qtbot, open_windows)
    data_splitter = window.findChild(QSplitter, "dataSplitter")
    train_splitter = window.findChild(QSplitter, "trainSplitter")
    data_splitter.setSizes([420, 500])
    train_splitter.setSizes([300, 200])
    wanted = {"dataSplitter": data_splitter.sizes(), "trainSplitter": train_splitter.sizes()}
    window.close()

    again = make_window(qtbot, open_windows)
    for name, sizes in wanted.items():
        assert again.findChild(QSplitter, name).sizes() == sizes
