"""The Evaluate step's evidence tabs on a real finished run: held-out comparison
streamed into the page, the blind review over its answers, the memorisation probe and
the sign-off report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget

from desktop_app.core.audit import AuditLog
from desktop_app.core.hashing import sha256_file
from desktop_app.engine.finished_run import open_finished_run
from desktop_app.ui.pages.evaluate_page import EvaluatePage

WAIT_MS = 180_000


@pytest.fixture(scope="module")
def run_dir(train_finished_run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 8-step LoRA run on the tiny model with an e-mail address in one answer."""
    records = [
        {"instruction": f"What is item {index}?", "input": "", "output": f"Item {index} is a box."}
        for index in range(16)
    ]
    records[3]["output"] = "Write to jane.doe@acme-insurance.co.uk for item 3."
    return train_finished_run(tmp_path_factory.mktemp("evidence-run"), records).run_dir


@pytest.fixture
def page(qtbot, run_dir: Path) -> Iterator[EvaluatePage]:
    page = EvaluatePage()
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()
    page._show_run(open_finished_run(run_dir))
    yield page
    assert page.shutdown(60_000)


def test_the_comparison_fills_the_scores_and_the_blind_review(qtbot, page: EvaluatePage) -> None:
    held_out = page.tabs.held_out
    held_out.examples_spin.setValue(3)
    with qtbot.waitSignal(held_out.evaluation_finished, timeout=WAIT_MS) as finished:
        assert held_out.compare()
        assert page.is_busy()
    result = finished.args[0]
    assert result.status == "finished"
    measures = [held_out.scores_table.item(row, 0).text()
                for row in range(held_out.scores_table.rowCount())]  # fmt: skip
    assert measures[:2] == ["Held-out loss", "Perplexity"]
    base_loss = held_out.scores_table.item(0, 1).text()
    assert base_loss == f"{result.base.loss:.4g}"
    examples = held_out.examples_view.model()
    assert examples.rowCount() == result.data.answered == 3
    assert (page.run.run_dir / "evaluation.json").is_file()
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=10_000)

    review = page.tabs.review
    assert review.review is not None and len(review.review.items) == 3
    # Reopening the run shows the saved comparison again.
    page.tabs.set_run(page.run)
    assert held_out.scores_table.rowCount() == len(measures)
    assert held_out.examples_view.model().rowCount() == 3


def test_the_probe_runs_and_is_saved_with_the_run(qtbot, page: EvaluatePage) -> None:
    probe = page.tabs.probe
    with qtbot.waitSignal(probe.probe_finished, timeout=WAIT_MS) as finished:
        assert probe.start()
    result = finished.args[0]
    assert result.records_with_personal_data >= 1
    qtbot.waitUntil(lambda: not probe.is_busy(), timeout=10_000)
    saved = json.loads((page.run.run_dir / "memorisation.json").read_text(encoding="utf-8"))
    assert saved["records_probed"] == result.records_probed
    assert "jane.doe@acme-insurance.co.uk" not in json.dumps(saved)
    assert "Saved with the run" in probe.result_view.toPlainText()


def test_the_sign_off_report_needs_a_reviewer_and_is_written(
    qtbot, page: EvaluatePage, run_dir: Path, enclave_home: Path
) -> None:
    sign_off = page.tabs.sign_off
    assert not sign_off.write()
    assert "reviewer" in sign_off.result_label.text()
    sign_off.reviewer_edit.setText("Dana Reviewer")
    sign_off.decision_combo.setCurrentText("needs changes")
    with qtbot.waitSignal(sign_off.report_written) as written:
        assert sign_off.write()
    html_path, pdf_path = (Path(path) for path in written.args)
    assert pdf_path.is_file() and pdf_path.stat().st_size > 1000
    html = html_path.read_text(encoding="utf-8")
    assert "Dana Reviewer" in html and "needs changes" in html
    # Kept with the run (manifest and model card) and in the audit log.
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["sign_off"]["reviewer"] == "Dana Reviewer"
    assert "needs changes" in (run_dir / "MODEL_CARD.md").read_text(encoding="utf-8")
    [entry] = [e for e in AuditLog(enclave_home / "audit").entries() if e["event"] == "signed_off"]
    assert entry["run"] == str(run_dir) and entry["details"]["decision"] == "needs changes"
    assert entry["details"]["report_files"][str(pdf_path)] == sha256_file(pdf_path)


def test_every_evidence_control_has_a_name(page: EvaluatePage) -> None:
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit, QSpinBox

    kinds = (QAbstractButton, QComboBox, QLineEdit, QSpinBox)
    unnamed = [
        type(widget).__name__
        for widget in page.tabs.findChildren(QWidget)
        if isinstance(widget, kinds)
        and not widget.objectName()
        and not isinstance(widget.parent(), QSpinBox | QComboBox)
        and type(widget.parent()).__name__ not in ("QTabBar",)
    ]
    assert not unnamed


def test_the_playground_keeps_a_conversation_with_the_tuned_model(
    qtbot, page: EvaluatePage
) -> None:
    playground = page.tabs.playground
    playground.length_spin.setValue(8)
    playground.message_input.setPlainText("What is item 2?")
    with qtbot.waitSignal(playground.replied, timeout=WAIT_MS):
        assert playground.send()
    qtbot.waitUntil(lambda: not playground.is_busy(), timeout=10_000)
    playground.message_input.setPlainText("And item 3?")
    with qtbot.waitSignal(playground.replied, timeout=WAIT_MS):
        assert playground.send()
    qtbot.waitUntil(lambda: not playground.is_busy(), timeout=10_000)
    roles = [turn["role"] for turn in playground.conversation]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert "And item 3?" in playground.transcript.toPlainText()
    # Varied replies use the sampling settings.
    playground.sample_check.setChecked(True)
    assert playground.temperature_spin.isEnabled()
    settings = playground.settings()
    assert settings.sample and settings.max_new_tokens == 8
    playground.clear()
    assert playground.conversation == [] and not playground.transcript.toPlainText()
