"""Exporting from the Evaluate step: a real finished tiny run exported in the background,
merged or not, with the folder dialog and the file manager replaced."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QCheckBox, QPushButton
from transformers import AutoModelForCausalLM

from desktop_app.engine.export import EXPORTS_FILE
from desktop_app.engine.finished_run import FinishedRun, open_finished_run
from desktop_app.ui.pages.evaluate_page import EvaluatePage
from desktop_app.ui.widgets.error_dialog import ErrorDialog
from desktop_app.ui.widgets.export_panel import ExportPanel, export_destination

WAIT_MS = 120_000


@pytest.fixture(scope="module")
def run_dir(train_finished_run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_finished_run(tmp_path_factory.mktemp("export-run")).run_dir


@pytest.fixture
def run(run_dir: Path) -> FinishedRun:
    return open_finished_run(run_dir)


class Chooser:
    """Stands in for the folder dialog: answers with a fixed folder, counts the calls."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.calls = 0

    def __call__(self, parent: object) -> str | None:
        self.calls += 1
        return str(self.folder) if self.folder is not None else None


@pytest.fixture
def opened() -> list[Path]:
    return []


def _panel(qtbot, chooser: Chooser, opened: list[Path]) -> ExportPanel:
    panel = ExportPanel(choose_folder=chooser, open_folder=opened.append)
    qtbot.addWidget(panel)
    panel.show()
    return panel


def _export(qtbot, panel: ExportPanel) -> object:
    button = panel.findChild(QPushButton, "exportButton")
    with qtbot.waitSignal(panel.exported, timeout=WAIT_MS) as finished:
        button.click()
        assert panel.is_busy() and not button.isEnabled()
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=10_000)
    return finished.args[0]


def test_the_adapter_is_exported_in_the_background(
    qtbot, run: FinishedRun, tmp_path: Path, opened: list[Path]
) -> None:
    destination = tmp_path / "for-the-team"
    chooser = Chooser(destination)
    panel = _panel(qtbot, chooser, opened)
    panel.set_run(run)
    open_button = panel.findChild(QPushButton, "openExportFolderButton")
    assert not open_button.isEnabled()

    result = _export(qtbot, panel)

    assert chooser.calls == 1
    assert result.destination == destination.resolve() and result.kind == "adapter"
    assert (destination / "adapter_model.safetensors").is_file()
    assert (destination / "MODEL_CARD.md").is_file()
    manifest = json.loads((destination / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run"] == str(run.run_dir.resolve())
    assert str(destination) in panel.result_label.text()
    assert "recorded in the audit log" in panel.result_label.text()
    assert panel.findChild(QPushButton, "exportButton").isEnabled()
    open_button.click()
    assert opened == [destination.resolve()]


def test_merge_into_a_folder_that_holds_files_makes_a_new_folder_there(
    qtbot, run: FinishedRun, tmp_path: Path, opened: list[Path]
) -> None:
    (tmp_path / "something-else.txt").write_text("mine", encoding="utf-8")
    panel = _panel(qtbot, Chooser(tmp_path), opened)
    panel.set_run(run)
    merge = panel.findChild(QCheckBox, "exportMerge")
    assert merge.isVisible() and merge.isEnabled() and not merge.isChecked()
    merge.setChecked(True)

    result = _export(qtbot, panel)

    assert result.destination == (tmp_path / f"{run.run_dir.name}-merged").resolve()
    assert result.kind == "merged"
    model = AutoModelForCausalLM.from_pretrained(str(result.destination))  # needs no base
    assert model.config.model_type == "llama"
    assert (tmp_path / "something-else.txt").read_text(encoding="utf-8") == "mine"
    exports = json.loads((run.run_dir / EXPORTS_FILE).read_text(encoding="utf-8"))
    assert str(result.destination) in [entry["path"] for entry in exports]


def test_a_failed_export_shows_the_error_and_leaves_nothing(
    qtbot, run_dir: Path, tmp_path: Path, opened: list[Path], dialogs_do_not_block
) -> None:
    copy = Path(shutil.copytree(run_dir, tmp_path / "run"))
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["model"]["weights"].values():
        entry["sha256"] = "0" * 64  # as if the base model had been replaced
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    destination = tmp_path / "export"
    panel = _panel(qtbot, Chooser(destination), opened)
    panel.set_run(open_finished_run(copy))
    panel.merge_check.setChecked(True)

    assert panel.choose_and_export()
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=WAIT_MS)

    shown: list[ErrorDialog] = dialogs_do_not_block
    assert len(shown) == 1
    assert "not the ones this run was trained on" in shown[0].message_label.text()
    assert "Traceback" not in shown[0].message_label.text()
    assert "nothing was written" in panel.status_label.text()
    assert not destination.exists()
    assert not panel.open_button.isEnabled()


def test_cancelling_the_folder_dialog_starts_nothing(
    qtbot, run: FinishedRun, opened: list[Path]
) -> None:
    chooser = Chooser(None)
    panel = _panel(qtbot, chooser, opened)
    panel.set_run(run)

    assert not panel.choose_and_export()

    assert chooser.calls == 1 and not panel.is_busy()


def test_nothing_to_export_without_a_finished_run(qtbot, opened: list[Path]) -> None:
    chooser = Chooser(None)
    panel = _panel(qtbot, chooser, opened)

    assert not panel.findChild(QPushButton, "exportButton").isEnabled()
    assert not panel.choose_and_export() and chooser.calls == 0
    assert "Train a model first" in panel.status_label.text()


def test_export_destination_uses_an_empty_folder_as_it_is(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "20260101-lora"
    assert export_destination(tmp_path / "new", run_dir, "adapter") == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    assert export_destination(tmp_path / "empty", run_dir, "adapter") == tmp_path / "empty"
    (tmp_path / "20260101-lora-adapter").mkdir()
    assert export_destination(tmp_path, run_dir, "adapter") == tmp_path / "20260101-lora-adapter-2"


@pytest.fixture
def page(qtbot, run_dir: Path) -> Iterator[EvaluatePage]:
    page = EvaluatePage()
    qtbot.addWidget(page)
    page.resize(1100, 760)
    page.show()
    page._show_run(open_finished_run(run_dir))
    yield page
    assert page.shutdown(60_000)


def test_the_evaluate_page_has_an_export_tab(
    qtbot, page: EvaluatePage, tmp_path: Path, opened: list[Path]
) -> None:
    tabs = page.tabs
    index = tabs.indexOf(page.export_panel)
    assert index >= 0 and tabs.tabText(index) == "E&xport"
    tabs.setCurrentIndex(index)
    page.export_panel.choose_folder = Chooser(tmp_path / "from-the-page")
    page.export_panel.open_folder = opened.append
    image = page.grab()
    assert not image.isNull() and image.save(str(tmp_path / "evaluate_export_tab.png"))

    with qtbot.waitSignal(page.export_panel.exported, timeout=WAIT_MS):
        page.findChild(QPushButton, "exportButton").click()
        assert page.is_busy()
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=10_000)

    assert (tmp_path / "from-the-page" / "MODEL_CARD.md").is_file()


def test_the_sign_off_is_kept_in_the_manifest_and_the_model_card(
    qtbot, page: EvaluatePage, run_dir: Path, tmp_path: Path
) -> None:
    copy = Path(shutil.copytree(run_dir, tmp_path / "run"))
    page._show_run(open_finished_run(copy))
    sign_off = page.tabs.sign_off
    sign_off.reviewer_edit.setText("M. Tanaka")
    sign_off.decision_combo.setCurrentText("needs changes")
    sign_off.notes_edit.setPlainText("More examples of item 7.")

    assert sign_off.write()

    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["sign_off"]["reviewer"] == "M. Tanaka"
    assert manifest["sign_off"]["decision"] == "needs changes"
    card = (copy / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "**Decision:** needs changes" in card and "More examples of item 7." in card
