"""The Model page: choosing a model, its facts read off the GUI thread, the hardware panel."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QThread, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QCheckBox, QLabel, QListWidget, QPushButton

from desktop_app.core.audit import AuditLog
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


# --- models that would run code: refused, then the Advanced opt-in ------------------------


def _pickle_only_copy(tiny_model_dir: Path, target: Path) -> Path:
    import shutil

    import torch
    from safetensors.torch import load_file

    folder = Path(shutil.copytree(tiny_model_dir, target))
    torch.save(load_file(str(folder / "model.safetensors")), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    return folder


def _options(page: ModelPage) -> tuple[QCheckBox, QCheckBox, QLabel]:
    return (
        page.findChild(QCheckBox, "allowRemoteCode"),
        page.findChild(QCheckBox, "convertPickleWeights"),
        page.findChild(QLabel, "remoteCodeWarning"),
    )


def test_an_ordinary_model_shows_no_code_options(qtbot, tiny_model_dir: Path):
    page = make_page(qtbot)
    page.choose(str(tiny_model_dir))
    wait_until_read(qtbot, page)
    remote, pickle, _ = _options(page)
    assert not page.code_options.isVisibleTo(page)
    assert not remote.isChecked() and not pickle.isChecked()


def test_pickle_weights_are_refused_until_the_conversion_is_ticked(
    qtbot, tiny_model_dir: Path, tmp_path: Path
):
    folder = _pickle_only_copy(tiny_model_dir, tmp_path / "pickle-model")
    page = make_page(qtbot)
    page.choose(str(folder))
    wait_until_read(qtbot, page)

    reason = page.blocking_reason()
    assert reason is not None and "pytorch_model.bin" in reason and "can run code" in reason
    remote, pickle, _ = _options(page)
    assert pickle.isVisibleTo(page) and not pickle.isChecked()
    assert not remote.isVisibleTo(page)
    assert "safe mode" in page.findChild(QLabel, "pickleWeightsNote").text()

    changes = []
    page.changed.connect(lambda: changes.append(True))
    pickle.setChecked(True)  # as a click does
    wait_until_read(qtbot, page)

    assert changes and page.blocking_reason() is None
    assert "LlamaForCausalLM" in page.findChild(QLabel, "modelFacts").text()
    assert page.facts.path == str(folder)
    config = RunConfig()
    page.apply(config)
    assert config.model.convert_pickle_weights and not config.model.allow_remote_code
    converted = [e for e in AuditLog().entries() if e["event"] == "pickle_converted"]
    assert len(converted) == 1


def test_a_model_with_its_own_code_is_refused_and_the_opt_in_names_the_files(
    qtbot, tiny_model_dir: Path, tmp_path: Path
):
    import shutil

    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "code-model"))
    (folder / "modeling_custom.py").write_text("raise SystemExit('must never run')\n")
    page = make_page(qtbot)
    page.choose(str(folder))
    wait_until_read(qtbot, page)

    reason = page.blocking_reason()
    assert reason is not None and "modeling_custom.py" in reason and "your rights" in reason
    remote, pickle, warning = _options(page)
    assert remote.isVisibleTo(page) and not remote.isChecked()
    assert not pickle.isVisibleTo(page)
    assert "modeling_custom.py" in warning.text() and "source you trust" in warning.text()
    assert remote.toolTip() and "audit log" in remote.toolTip()

    remote.setChecked(True)
    wait_until_read(qtbot, page)
    assert page.blocking_reason() is None
    assert remote.isVisibleTo(page) and "modeling_custom.py" in warning.text()
    config = RunConfig()
    page.apply(config)
    assert config.model.allow_remote_code and not config.model.convert_pickle_weights
    # Reading the facts runs nothing and allows nothing yet: no audit entry.
    assert not [e for e in AuditLog().entries() if e["event"] == "remote_code_allowed"]

    # Another model starts with the opt-in off again.
    page.choose(str(tiny_model_dir))
    wait_until_read(qtbot, page)
    assert not remote.isChecked() and not page.code_options.isVisibleTo(page)
    page.apply(config)
    assert not config.model.allow_remote_code


def test_the_opt_ins_come_back_from_a_saved_configuration(
    qtbot, tiny_model_dir: Path, tmp_path: Path
):
    folder = _pickle_only_copy(tiny_model_dir, tmp_path / "pickle-model")
    config = new_config()
    config.model.path = str(folder)
    config.model.convert_pickle_weights = True
    page = ModelPage(app_settings())
    qtbot.addWidget(page)
    page.load(config)
    wait_until_read(qtbot, page)
    _, pickle, _ = _options(page)
    assert pickle.isChecked() and page.blocking_reason() is None
