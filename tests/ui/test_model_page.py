"""The Model page: choosing a model, its facts read off the GUI thread, the hardware panel."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QThread, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QLabel, QListWidget, QPushButton

from desktop_app.core.config import RunConfig
from desktop_app.ui.pages.model_page import ModelPage
from desktop_app.ui.project import app_settings, new_config

WAIT_MS = 60_000


def make_page(qtbot) -> ModelPage:
    page = ModelPage(app_settings())
    qtbot.addWidget(page)
    page.load(new_config())
    return page


def wait_until_read(qtbot, page: ModelPage) -> None:
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=WAIT_MS)
    page.shutdown()
    assert not any(t.isRunning() for t in page.findChildren(QThread))


def test_an_empty_path_blocks(qtbot):
    page = make_page(qtbot)
    assert "Choose a base model" in page.blocking_reason()
    config = RunConfig()
    page.apply(config)
    assert config.model.path == ""


def test_choosing_the_tiny_model_shows_its_facts_and_the_hardware(qtbot, tiny_model_dir: Path):
    page = make_page(qtbot)
    facts_seen = []
    page.facts_changed.connect(facts_seen.append)
    page.facts_cleared.connect(lambda: facts_seen.append(None))
    page.choose(str(tiny_model_dir))
    assert page.is_busy()
    assert page.busy.isVisibleTo(page)
    assert page.blocking_reason() == "Reading the model's files…"
    wait_until_read(qtbot, page)

    assert page.blocking_reason() is None
    assert not page.busy.isVisibleTo(page)
    facts = page.findChild(QLabel, "modelFacts").text()
    assert "LlamaForCausalLM" in facts
    hardware = page.findChild(QLabel, "hardwarePanel").text()
    assert "Memory:" in hardware
    assert "lora" in hardware and ("Should fit" in hardware or "fit" in hardware)
    assert facts_seen[-1] is not None and facts_seen[-1].path == str(tiny_model_dir)
    config = RunConfig()
    page.apply(config)
    assert config.model.path == str(tiny_model_dir)

    recent = page.findChild(QListWidget, "recentModels")
    assert recent.item(0).data(Qt.ItemDataRole.UserRole) == str(tiny_model_dir)
    # A second page (the next start) sees the recent model too.
    again = ModelPage(app_settings())
    qtbot.addWidget(again)
    assert again.recent_list.count() == 1


def test_a_missing_model_blocks_with_a_plain_message(qtbot, tmp_path: Path):
    page = make_page(qtbot)
    page.choose(str(tmp_path / "nowhere"))
    wait_until_read(qtbot, page)
    reason = page.blocking_reason()
    assert reason is not None and "Model not found" in reason
    assert "Model not found" in page.findChild(QLabel, "modelFacts").text()
    assert page.findChild(QListWidget, "recentModels").count() == 0


def test_a_dropped_folder_is_chosen(qtbot, tiny_model_dir: Path):
    page = make_page(qtbot)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(tiny_model_dir))])
    event = QDropEvent(
        QPointF(5, 5),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    page.dropEvent(event)
    assert page.path_edit.text() == str(tiny_model_dir)
    wait_until_read(qtbot, page)
    assert page.blocking_reason() is None


def test_a_dropped_text_file_is_ignored(qtbot, tmp_path: Path):
    page = make_page(qtbot)
    note = tmp_path / "note.txt"
    note.write_text("hello")
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(note))])
    event = QDropEvent(
        QPointF(5, 5),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    page.dropEvent(event)
    assert page.path_edit.text() == ""


def test_buttons_have_mnemonics(qtbot):
    page = make_page(qtbot)
    for button in page.findChildren(QPushButton):
        assert "&" in button.text(), button.objectName()


def test_stop_reading_frees_the_page_at_once_and_ignores_the_late_result(
    qtbot, tiny_model_dir: Path
):
    page = make_page(qtbot)
    page.show()
    page.choose(str(tiny_model_dir))
    stop = page.findChild(QPushButton, "stopModelReadButton")
    assert page.is_busy() and stop.isVisible()
    qtbot.mouseClick(stop, Qt.MouseButton.LeftButton)
    assert not page.is_busy() and not stop.isVisible()
    assert "stopped" in page.blocking_reason()
    # The read's thread ends on its own; what it found is not shown.
    page.shutdown()
    assert not any(t.isRunning() for t in page.findChildren(QThread))
    qtbot.wait(50)  # let its queued signals arrive
    assert page.facts is None and "stopped" in page.blocking_reason()

    page.choose(str(tiny_model_dir))  # choosing again reads it
    wait_until_read(qtbot, page)
    assert page.facts is not None and page.blocking_reason() is None
