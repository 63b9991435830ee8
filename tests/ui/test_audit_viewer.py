"""The audit viewer on real logs: the rows, each filter, the red banner naming a changed
line, the entry's details, and the export with its audit_exported entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dated_audit import RUN_A, RUN_B, TWO_RUN_ENTRIES, write_dated_entries
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QComboBox, QDateEdit, QLabel, QLineEdit, QPlainTextEdit, QPushButton

from desktop_app.core import audit
from desktop_app.core.audit import AuditLog
from desktop_app.core.hashing import sha256_file
from desktop_app.ui.widgets.audit_viewer import AuditViewer, open_audit_viewer

LOAD_MS = 10_000


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> AuditLog:
    """Six entries of two runs on three days (noon UTC)."""
    return write_dated_entries(monkeypatch, TWO_RUN_ENTRIES)


def _viewer(qtbot, **options) -> AuditViewer:
    viewer = AuditViewer(**options)
    qtbot.addWidget(viewer)
    with qtbot.waitSignal(viewer.loaded, timeout=LOAD_MS):
        viewer.reload()
    qtbot.waitUntil(lambda: not viewer.is_busy(), timeout=LOAD_MS)
    return viewer


def _lines(viewer: AuditViewer) -> list[int]:
    model = viewer.table.model()
    return [int(model.index(row, 0).data()) for row in range(model.rowCount())]


def _select(viewer: AuditViewer, name: str, data: object) -> None:
    combo = viewer.findChild(QComboBox, name)
    combo.setCurrentIndex(combo.findData(data))


def test_every_entry_is_shown_under_a_green_banner(qtbot, log: AuditLog):
    viewer = _viewer(qtbot)

    assert _lines(viewer) == [1, 2, 3, 4, 5, 6]
    model = viewer.table.model()
    assert [model.headerData(column, Qt.Orientation.Horizontal) for column in range(6)] == [
        "Line", "Time (local)", "Event", "User", "Run", "Summary",
    ]  # fmt: skip
    assert [model.index(1, column).data() for column in (2, 4, 5)] == [
        "dataset_imported", "run-20261101-lora", "policy.jsonl, 120 records",
    ]  # fmt: skip
    assert model.index(1, 4).data(Qt.ItemDataRole.ToolTipRole) == RUN_A
    banner = viewer.findChild(QLabel, "auditVerification").text()
    assert "The audit log is intact:</b> 6 entries" in banner
    assert log.entries()[-1]["hash"] in banner
    assert "#e6f4ea" in viewer.banner.styleSheet()


def test_the_run_and_type_filters_list_what_the_log_holds(qtbot, log: AuditLog):
    viewer = _viewer(qtbot)

    runs = viewer.findChild(QComboBox, "auditRunFilter")
    assert [runs.itemText(index) for index in range(runs.count())] == [
        "All runs", "run-20261101-lora", "run-20261105-qlora",
    ]  # fmt: skip
    assert runs.itemData(2, Qt.ItemDataRole.ToolTipRole) == RUN_B
    types = viewer.findChild(QComboBox, "auditTypeFilter")
    assert types.itemText(0) == "All types"
    imported = types.itemText(types.findData("dataset_imported"))
    assert imported == f"{audit.EVENT_TYPES['dataset_imported']} (2)"


def test_each_filter_narrows_the_rows(qtbot, log: AuditLog):
    viewer = _viewer(qtbot)

    _select(viewer, "auditRunFilter", RUN_B)
    assert _lines(viewer) == [5, 6]
    _select(viewer, "auditRunFilter", None)
    _select(viewer, "auditTypeFilter", "dataset_imported")
    assert _lines(viewer) == [2, 5]
    _select(viewer, "auditTypeFilter", None)
    assert _lines(viewer) == [1, 2, 3, 4, 5, 6]

    since = viewer.findChild(QDateEdit, "auditSinceFilter")
    until = viewer.findChild(QDateEdit, "auditUntilFilter")
    assert (since.date(), until.date()) == (QDate(2026, 11, 1), QDate(2026, 11, 5))
    since.setDate(QDate(2026, 11, 2))
    assert _lines(viewer) == [4, 5, 6]
    until.setDate(QDate(2026, 11, 2))
    assert _lines(viewer) == [4]
    assert viewer.findChild(QLabel, "auditCount").text() == "Showing 1 of 6 entries"

    viewer.findChild(QPushButton, "auditClearFilters").click()
    assert _lines(viewer) == [1, 2, 3, 4, 5, 6]

    search = viewer.findChild(QLineEdit, "auditSearch")
    search.setText("disk FULL")
    qtbot.waitUntil(lambda: _lines(viewer) == [6], timeout=2_000)


def test_selecting_an_entry_shows_all_of_it(qtbot, log: AuditLog):
    viewer = _viewer(qtbot)

    viewer.table.selectRow(4)

    text = viewer.findChild(QPlainTextEdit, "auditEntryDetails").toPlainText()
    assert text.startswith("Line 5: dataset_imported, A data file was read")
    body = json.loads(text.split("\n\n", 1)[1])
    assert body == log.entries()[4]


def test_a_changed_log_shows_a_red_banner_naming_the_line(qtbot, log: AuditLog):
    lines = log.path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("abab", "0000", 1)
    log.path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    viewer = _viewer(qtbot)

    banner = viewer.banner.text()
    assert "The audit log has been changed. Line 3:" in banner
    assert "edited after it was written" in banner
    assert "#fce8e6" in viewer.banner.styleSheet()
    # The changed entry is listed, selected and marked.
    assert viewer.table.currentIndex().row() == 2
    assert viewer.model.index(2, 0).data(Qt.ItemDataRole.BackgroundRole) is not None
    assert viewer.model.index(1, 0).data(Qt.ItemDataRole.BackgroundRole) is None
    assert "This entry does not hold" in viewer.details.toPlainText()


def test_verify_again_sees_a_change_made_while_open(qtbot, log: AuditLog):
    viewer = _viewer(qtbot)
    assert "intact" in viewer.banner.text()
    lines = log.path.read_text(encoding="utf-8").splitlines()
    log.path.write_text("".join(line + "\n" for line in lines[:-2]), encoding="utf-8")

    with qtbot.waitSignal(viewer.loaded, timeout=LOAD_MS):
        viewer.findChild(QPushButton, "auditVerifyButton").click()

    assert "Line 5:" in viewer.banner.text() and "removed" in viewer.banner.text()
    assert _lines(viewer) == [1, 2, 3, 4]


def test_export_writes_the_files_and_records_it(qtbot, log: AuditLog, tmp_path: Path):
    original = log.path.read_bytes()
    viewer = _viewer(qtbot, choose_folder=lambda parent: str(tmp_path))

    with qtbot.waitSignal(viewer.exported, timeout=LOAD_MS) as exported_signal:
        viewer.findChild(QPushButton, "auditExportButton").click()
    exported = exported_signal.args[0]
    with qtbot.waitSignal(viewer.loaded, timeout=LOAD_MS):
        pass  # the viewer reads the log again to show the new entry

    assert exported.folder.parent == tmp_path
    assert exported.folder.name.startswith("enclave-audit-")
    assert (exported.folder / "audit.jsonl").read_bytes() == original
    assert (exported.folder / "head.json").exists()
    record = json.loads((exported.folder / "verification.json").read_text(encoding="utf-8"))
    assert record["verification"]["intact"] and record["verification"]["entries"] == 6
    assert record["log_sha256"] == sha256_file(exported.folder / "audit.jsonl")
    assert str(exported.folder) in viewer.findChild(QLabel, "auditStatus").text()

    last = log.entries()[-1]
    assert last["event"] == "audit_exported"
    assert last["details"]["destination"] == str(exported.folder)
    assert last["details"]["log_sha256"] == record["log_sha256"]
    assert _lines(viewer)[-1] == 7
    assert "intact:</b> 7 entries" in viewer.banner.text()


def test_a_failed_export_reaches_the_error_dialog(
    qtbot, log: AuditLog, tmp_path: Path, dialogs_do_not_block
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    viewer = _viewer(qtbot, choose_folder=lambda parent: str(blocker))

    viewer.export()
    qtbot.waitUntil(lambda: bool(dialogs_do_not_block), timeout=LOAD_MS)
    qtbot.waitUntil(lambda: not viewer.is_busy(), timeout=LOAD_MS)

    assert "could not export the audit log" in dialogs_do_not_block[0].message_label.text()
    assert len(log.entries()) == 6


def test_cancelling_the_folder_choice_exports_nothing(qtbot, log: AuditLog):
    viewer = _viewer(qtbot, choose_folder=lambda parent: None)

    assert viewer.export() is False
    assert not viewer.is_busy() and len(log.entries()) == 6


def test_open_audit_viewer_shows_and_reads(qtbot, log: AuditLog):
    viewer = open_audit_viewer(None)
    qtbot.addWidget(viewer)
    # Reading and verifying run in a background job: the window is up before it ends.
    assert viewer.is_busy() and "Checking" in viewer.banner.text()
    assert not viewer.findChild(QPushButton, "auditVerifyButton").isEnabled()
    qtbot.waitUntil(lambda: viewer.snapshot is not None and not viewer.is_busy(), timeout=LOAD_MS)

    assert viewer.isVisible() and viewer.objectName() == "auditViewer"
    assert _lines(viewer) == [1, 2, 3, 4, 5, 6]


def test_every_interactive_widget_has_an_object_name(qtbot, log: AuditLog):
    viewer = _viewer(qtbot)

    for kind in (QPushButton, QComboBox, QDateEdit, QPlainTextEdit):
        for widget in viewer.findChildren(kind):
            assert widget.objectName(), widget
    assert viewer.findChild(QLineEdit, "auditSearch") is viewer.search


def test_an_empty_workspace_says_there_are_no_entries_yet(qtbot):
    viewer = _viewer(qtbot)

    assert "no entries yet" in viewer.banner.text()
    assert _lines(viewer) == [] and viewer.run_filter.count() == 1


def test_closing_during_an_export_waits_for_it_and_starts_nothing_more(
    qtbot, log: AuditLog, tmp_path: Path
):
    viewer = _viewer(qtbot, choose_folder=lambda parent: str(tmp_path))
    shown = viewer.snapshot

    assert viewer.export()
    viewer.close()  # waits for the export's thread

    assert not viewer._runner.job.is_running()
    qtbot.waitUntil(lambda: not viewer.is_busy(), timeout=LOAD_MS)
    qtbot.wait(100)
    assert not viewer.is_busy() and viewer.snapshot is shown  # no new reading started
    assert log.entries()[-1]["event"] == "audit_exported"
