"""The Data step: files read in the background, problems, preview, personal data,
mapping, token lengths and split settings."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from desktop_app.core.audit import AuditLog
from desktop_app.core.config import RunConfig
from desktop_app.core.hashing import sha256_file
from desktop_app.ui.data_worker import TEXT_COLUMN, UNREADABLE_COLUMN, build_preview
from desktop_app.ui.pages.data_page import DataPage
from desktop_app.ui.widgets.rows_model import PAGE_SIZE, RowsModel

READ_TIMEOUT_MS = 60_000


def _write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records),
        encoding="utf-8",
    )
    return path


def _qa(index: int, output: str | None = None) -> dict[str, str]:
    return {
        "instruction": f"What does clause {index} cover?",
        "input": "",
        "output": output if output is not None else f"Clause {index} covers water damage.",
    }


@pytest.fixture
def page(qtbot: QtBot) -> DataPage:
    widget = DataPage()
    qtbot.addWidget(widget)
    widget.resize(1000, 650)
    yield widget
    widget.shutdown()


def _load(page: DataPage, qtbot: QtBot, config: RunConfig) -> None:
    page.load(config)
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=READ_TIMEOUT_MS)


def _config(train: Path, **data: object) -> RunConfig:
    config = RunConfig()
    config.model.path = ""  # no token count unless a test chooses a model
    config.data.train = str(train)
    for name, value in data.items():
        setattr(config.data, name, value)
    return config


def test_without_a_file_next_is_blocked_with_a_reason(page: DataPage) -> None:
    page.load(RunConfig())
    assert "Choose a training data file" in (page.blocking_reason() or "")


def test_records_with_errors_block_next_until_left_out(
    page: DataPage, qtbot: QtBot, tmp_path: Path
) -> None:
    records: list[object] = [_qa(i) for i in range(5)]
    records[2] = _qa(2, output="")  # line 3: empty answer
    records.append("{not json")  # line 6
    path = _write_jsonl(tmp_path / "broken.jsonl", records)
    _load(page, qtbot, _config(path))

    reason = page.blocking_reason() or ""
    assert "2 record(s) in broken.jsonl have errors" in reason
    problems = page.inspector.problems_view.model()
    assert problems.rowCount() == 2
    assert page.inspector.tabText(page.inspector.PROBLEMS) == "Probl&ems (2)"

    # Clicking the second problem shows line 6 in the preview, with why it is unreadable.
    page.inspector.problems_view.clicked.emit(problems.index(1, 0))
    assert page.inspector.currentIndex() == page.inspector.PREVIEW
    current = page.inspector.preview_view.currentIndex()
    assert page.inspector.preview.lines[current.row()] == 6
    assert "cannot be read" in page.inspector.record_view.toPlainText()

    page.inspector.problems_view.clicked.emit(problems.index(0, 0))
    assert "Line 3" in page.inspector.record_view.toPlainText()
    assert "is empty" in page.inspector.record_view.toPlainText()

    with qtbot.waitSignal(page.changed):
        page.settings.exclude_check.setChecked(True)
    assert page.blocking_reason() is None
    config = RunConfig()
    page.apply(config)
    assert config.data.exclude_invalid is True
    assert config.data.train == str(path)


def test_a_missing_file_says_so_and_blocks(page: DataPage, qtbot: QtBot, tmp_path: Path) -> None:
    _load(page, qtbot, _config(tmp_path / "gone.jsonl"))
    reason = page.blocking_reason() or ""
    assert "gone.jsonl cannot be used" in reason
    assert "does not exist" in reason
    assert "does not exist" in page.summary_label.text()


def test_personal_data_is_listed_highlighted_and_the_choice_is_saved(
    page: DataPage, qtbot: QtBot, tmp_path: Path, enclave_home: Path
) -> None:
    records = [_qa(i) for i in range(4)]
    records[1]["input"] = "Write to jane.doe@acme-insurance.co.uk about the claim."
    path = _write_jsonl(tmp_path / "pii.jsonl", records)
    _load(page, qtbot, _config(path))

    findings = page.inspector.pii_view.model()
    assert findings.rowCount() == 1
    assert findings.index(0, 0).data() == "e-mail address"
    assert "jane.doe" not in findings.index(0, 3).data()  # masked in the list
    page.inspector.pii_view.clicked.emit(findings.index(0, 0))
    html = page.inspector.record_view.toHtml()
    assert "jane.doe@acme-insurance.co.uk" in html
    assert "#ffd54f" in html  # highlighted

    with qtbot.waitSignal(page.changed):
        page.findChild(QWidget, "redaction_pseudonyms").setChecked(True)
    config = RunConfig()
    page.apply(config)
    assert config.data.pii_redaction == "pseudonyms"
    # The scan is in the audit log, once for this content however often the page rereads.
    scans = [e for e in AuditLog(enclave_home / "audit").entries() if e["event"] == "pii_scanned"]
    assert len(scans) == 1
    assert scans[0]["details"]["sha256"] == sha256_file(path)
    assert scans[0]["details"]["counts_by_type"] == {"EMAIL": 1}


def test_a_table_shows_its_columns_and_a_pinned_column_is_used(
    page: DataPage, qtbot: QtBot, tmp_path: Path
) -> None:
    path = tmp_path / "faq.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["instruction", "output", "notes"])
        for index in range(6):
            writer.writerow([f"Question {index}?", f"Answer {index}.", f"Short note {index}."])
    _load(page, qtbot, _config(path))
    assert page.blocking_reason() is None
    combos = page.mapping.combos()
    assert set(combos) == {"instruction", "output", "input", "system"}
    assert combos["output"].currentText() == "Automatic (output)"
    assert page.inspector.preview.columns == ["instruction", "output", "notes"]

    with qtbot.waitSignal(page.changed):
        combos["output"].setCurrentIndex(combos["output"].findData("notes"))
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=READ_TIMEOUT_MS)
    config = RunConfig()
    page.apply(config)
    assert config.data.column_map == {"output": "notes"}
    assert page.files[0].report is not None
    assert page.files[0].report.column_map["output"] == "notes"


def test_token_lengths_are_counted_with_the_chosen_model(
    page: DataPage, qtbot: QtBot, tmp_path: Path, tiny_model_dir: Path
) -> None:
    path = _write_jsonl(tmp_path / "qa.jsonl", [_qa(i) for i in range(12)])
    config = _config(path)
    config.model.path = str(tiny_model_dir)
    config.hyperparameters.max_length = 16
    _load(page, qtbot, config)
    stats = page.files[0].tokens
    assert stats is not None and stats.count == 12
    assert page.inspector.histogram.bin_count > 0
    assert "cut short" in page.inspector.tokens_summary.text()


def test_without_a_model_the_token_tab_says_what_to_do(
    page: DataPage, qtbot: QtBot, tmp_path: Path
) -> None:
    _load(page, qtbot, _config(_write_jsonl(tmp_path / "qa.jsonl", [_qa(1), _qa(2)])))
    assert "Choose a model" in page.inspector.tokens_summary.text()


def test_more_files_are_mixed_with_their_weight(
    page: DataPage, qtbot: QtBot, tmp_path: Path
) -> None:
    main = _write_jsonl(tmp_path / "main.jsonl", [_qa(i) for i in range(4)])
    extra = _write_jsonl(tmp_path / "extra.jsonl", [_qa(i + 10) for i in range(4)])
    _load(page, qtbot, _config(main))
    with qtbot.waitSignal(page.changed):
        page.add_files([str(extra)])
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=READ_TIMEOUT_MS)
    assert page.file_list.currentRow() == 1
    page.weight_spin.setValue(2.5)
    config = RunConfig()
    page.apply(config)
    assert config.data.train == str(main)
    assert config.data.mix == [{"path": str(extra.resolve()), "weight": 2.5}]

    page.remove_selected()
    page.apply(config)
    assert config.data.mix == []


def test_dropping_a_data_file_adds_it(page: DataPage, qtbot: QtBot, tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "dropped.jsonl", [_qa(1), _qa(2)])
    page.load(RunConfig())
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)), QUrl.fromLocalFile(str(tmp_path / "x.pdf"))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    page.dropEvent(event)
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=READ_TIMEOUT_MS)
    assert [state.path for state in page.files] == [str(path.resolve())]
    assert page.blocking_reason() is None


def test_split_settings_round_trip_and_bad_values_block(
    page: DataPage, qtbot: QtBot, tmp_path: Path
) -> None:
    path = _write_jsonl(tmp_path / "qa.jsonl", [_qa(i) for i in range(4)])
    _load(
        page,
        qtbot,
        _config(path, validation_fraction=0.2, test_fraction=0.05, train_on_prompt=True),
    )
    assert page.settings.validation_spin.value() == 20
    assert page.settings.test_spin.value() == 5
    assert page.settings.prompt_check.isChecked()
    page.settings.validation_file.setText(str(tmp_path / "missing.jsonl"))
    assert "does not exist" in (page.blocking_reason() or "")
    page.settings.validation_file.setText("")
    page.settings.validation_spin.setValue(45)
    page.settings.test_spin.setValue(45)
    assert "below 90%" in (page.blocking_reason() or "")
    page.settings.test_spin.setValue(10)
    config = RunConfig()
    page.apply(config)
    assert (config.data.validation_fraction, config.data.test_fraction) == (0.45, 0.1)
    assert config.data.validation_file is None


def test_every_interactive_widget_has_an_object_name(page: DataPage) -> None:
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractItemView,
        QAbstractSpinBox,
        QComboBox,
        QLineEdit,
        QTabBar,
    )

    kinds = (QAbstractButton, QAbstractItemView, QAbstractSpinBox, QComboBox, QLineEdit)
    parts_of_other_widgets = (QAbstractItemView, QAbstractSpinBox, QComboBox, QTabBar)

    def part_of_another(widget: QWidget) -> bool:
        parent = widget.parent()
        while parent is not None and parent is not page:
            if isinstance(parent, parts_of_other_widgets):
                return True  # a drop-down's list, a spin box's editor, a tab's button
            parent = parent.parent()
        return False

    unnamed = [
        widget
        for widget in page.findChildren(QWidget)
        if isinstance(widget, kinds)
        and not isinstance(widget, QTabBar)
        and not widget.objectName()
        and not part_of_another(widget)
    ]
    assert not unnamed, [type(widget).__name__ for widget in unnamed]


# -- the preview behind the page -------------------------------------------------------------


def test_the_preview_keeps_every_record_with_its_line(tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "mixed.jsonl", [_qa(1), '"a bare string"', "{broken", {"other": 5}]
    )
    preview = build_preview(str(path))
    assert preview.lines == [1, 2, 3, 4]
    assert preview.columns == [
        "instruction",
        "input",
        "output",
        TEXT_COLUMN,
        UNREADABLE_COLUMN,
        "other",
    ]
    assert preview.record(0) == _qa(1)
    assert preview.record(1) == "a bare string"
    assert preview.unreadable_reason(2)
    assert preview.record(3) == {"other": 5}
    assert preview.row_of_line(4) == 3
    assert preview.row_of_line(9) is None


def test_the_rows_model_reveals_a_large_table_page_by_page() -> None:
    rows = [(f"question {index}", f"answer {index}") for index in range(100_000)]
    model = RowsModel(("q", "a"), rows)
    assert model.rowCount() == PAGE_SIZE
    assert model.canFetchMore()
    model.fetchMore()
    assert model.rowCount() == 2 * PAGE_SIZE
    model.reveal(99_999)
    assert model.rowCount() == 100_000
    assert not model.canFetchMore()
    assert model.index(99_999, 1).data() == "answer 99999"
    long = RowsModel(("text",), [("word " * 100,)])
    shown = long.index(0, 0).data()
    assert len(shown) == 160 and shown.endswith("…")
