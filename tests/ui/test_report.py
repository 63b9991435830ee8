"""The sign-off report written into a real run folder: the PDF has pages and its text
holds the numbers; the HTML holds the same, with its chart beside it as a real PNG."""

from __future__ import annotations

import html as html_module
import json
import re
import shutil
import unicodedata
from pathlib import Path
from typing import Any

import pypdf
import pytest
from PySide6.QtGui import QColor, QImage

from desktop_app.core.errors import UserInputError
from desktop_app.core.report_markup import format_number
from desktop_app.core.run_folder import RunFolder
from desktop_app.ui.report import LOSS_IMAGE, draw_loss_curves, write_report

ATTACK = "What is item 3? <script>alert('x')</script>"
EVALUATION: dict[str, Any] = {
    "base": {"loss": 3.217654, "perplexity": 24.97, "exact_match": 0.0, "bleu": 2.5},
    "tuned": {"loss": 0.812345, "perplexity": 2.25, "exact_match": 0.75, "bleu": 41.0},
    "examples": [
        {"prompt": ATTACK, "reference": "Item 3 is a box.", "base": "Unsure.", "tuned": "Item 3."}
    ],
}
REVIEW = {"tuned_wins": 7, "ties": 2, "base_wins": 1, "comments": ["Tuned is shorter."]}
PROBE = {
    "records_probed": 16,
    "records_leaking": 0,
    "types": {},
    "verbatim": {"records_probed": 4, "records_repeated": 0},
}
SIGN_OFF = {
    "reviewer": "Dana Whitfield",
    "decision": "approved",
    "date": "2026-11-21",
    "notes": "Pilot use only.",
}


@pytest.fixture(scope="module")
def trained_run(train_finished_run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished eight-step LoRA run on the tiny model, shared by the module."""
    return train_finished_run(tmp_path_factory.mktemp("report-run")).run_dir


@pytest.fixture
def run_dir(trained_run: Path, tmp_path: Path) -> Path:
    """The shared run, copied so each test writes its own report."""
    return Path(shutil.copytree(trained_run, tmp_path / trained_run.name))


def _pdf_text(path: Path) -> tuple[int, str]:
    """Page count and the text of every page, ligatures undone and spaces collapsed."""
    reader = pypdf.PdfReader(str(path))
    text = " ".join(page.extract_text() for page in reader.pages)
    return len(reader.pages), " ".join(unicodedata.normalize("NFKC", text).split())


def _html_text(html: str) -> str:
    """The HTML's visible text, tags removed, entities decoded and spaces collapsed."""
    return " ".join(html_module.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _data_sha256(run_dir: Path) -> str:
    (entry,) = RunFolder(run_dir).read_manifest()["data_files"].values()
    return str(entry["sha256"])


def _last_training_loss(run_dir: Path) -> float:
    steps = [e for e in RunFolder(run_dir).read_events() if e["event"] == "StepMetrics"]
    return float(steps[-1]["loss"])


def test_pdf_and_html_hold_the_numbers_the_reviewer_and_the_fingerprints(run_dir: Path) -> None:
    html_path, pdf_path = write_report(run_dir, EVALUATION, REVIEW, PROBE, SIGN_OFF)

    assert html_path == run_dir / "report.html" and pdf_path == run_dir / "report.pdf"
    assert pdf_path.read_bytes().startswith(b"%PDF")
    pages, text = _pdf_text(pdf_path)
    assert pages >= 2
    html = html_path.read_text(encoding="utf-8")
    expected = [
        format_number(EVALUATION["tuned"]["loss"]),
        format_number(EVALUATION["base"]["loss"]),
        format_number(_last_training_loss(run_dir)),
        "Dana Whitfield",
        _data_sha256(run_dir),
        "Fine-tuned model better 7 70%",
    ]
    for figure in expected:
        assert figure in text, figure
        assert figure in _html_text(html), figure
    assert "0.8123" in text and "3.2177" in text
    assert f"page 1 of {pages}" in text
    # The prompt is shown as text in both: escaped in the HTML, never run as a script.
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<script>alert('x')</script>" in text


def test_loss_chart_is_a_real_png_beside_the_html(run_dir: Path) -> None:
    html_path, _ = write_report(run_dir, EVALUATION, REVIEW, PROBE, SIGN_OFF)

    image_path = run_dir / LOSS_IMAGE
    assert image_path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f'src="{LOSS_IMAGE}"' in html_path.read_text(encoding="utf-8")
    image = QImage(str(image_path))
    assert not image.isNull() and image.width() > 800
    colours = {
        image.pixelColor(x, y).name()
        for x in range(0, image.width(), 4)
        for y in range(0, image.height(), 4)
    }
    assert len(colours) > 10  # lines, labels and grid, not a blank image
    assert QColor("#1f77b4").name() in colours  # the training curve
    assert QColor("#d62728").name() in colours  # the validation curve
    assert not list(run_dir.glob(".tmp*")) and not list(run_dir.glob(".*.tmp"))


def test_results_are_read_from_the_run_folder_when_not_given(run_dir: Path) -> None:
    (run_dir / "evaluation.json").write_text(json.dumps(EVALUATION), encoding="utf-8")
    (run_dir / "review.json").write_text(json.dumps(REVIEW), encoding="utf-8")
    (run_dir / "memorisation.json").write_text(json.dumps(PROBE), encoding="utf-8")

    _, pdf_path = write_report(run_dir)

    _, text = _pdf_text(pdf_path)
    assert format_number(EVALUATION["tuned"]["loss"]) in text
    assert "Records probed 16" in text
    assert "Original model better 1 10%" in text
    assert "Not signed off yet" in text


def test_missing_evidence_is_stated_in_the_pdf(run_dir: Path) -> None:
    _, pdf_path = write_report(run_dir)

    _, text = _pdf_text(pdf_path)
    assert "No evaluation has been run yet" in text
    assert "No blind review has been done" in text
    assert "The memorisation probe has not been run" in text


def test_a_folder_without_a_run_record_is_refused_plainly(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="no run record"):
        write_report(tmp_path)
    assert not (tmp_path / "report.pdf").exists()


def test_an_unreadable_result_file_is_refused_plainly(run_dir: Path) -> None:
    (run_dir / "review.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(UserInputError, match="review.json in the run folder cannot be read"):
        write_report(run_dir)


def test_no_chart_without_recorded_loss() -> None:
    assert draw_loss_curves([{"event": "StageChanged"}]) is None
    image = draw_loss_curves([{"event": "StepMetrics", "step": 1, "loss": 2.0}])
    assert image is not None and not image.isNull()
