"""Writes a run's sign-off report into its folder: ``report.html`` with its loss-curve
image beside it, and ``report.pdf`` printed with Qt's own PDF writer.

The HTML comes from :func:`desktop_app.core.report_html.build_report_html`; this module
draws the chart with QPainter on a QImage (works headless) and lays the same HTML out on
A4 pages with page numbers. It needs only a QGuiApplication and creates one (on the
``offscreen`` platform unless one is set) when none exists, so the CLI can call it.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMarginsF, QPointF, QRectF, QSizeF, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPainterPath,
    QPdfWriter,
    QPen,
    QTextDocument,
)
from PySide6.QtWidgets import QApplication

from desktop_app.core.errors import UserInputError
from desktop_app.core.report_html import build_report_html
from desktop_app.core.run_folder import EVALUATION_FILE, RunFolder

#: File names the report writes into the run folder.
REPORT_HTML = "report.html"
REPORT_PDF = "report.pdf"
LOSS_IMAGE = "report-loss-curves.png"
#: Files in the run folder read when the caller passes no dict.
REVIEW_FILE = "review.json"
PROBE_FILE = "memorisation.json"

#: The chart's size in pixels (drawn at twice the size it is shown, for sharp print).
CHART_SIZE = (1600, 760)
_TRAINING_COLOUR = "#1f77b4"
_VALIDATION_COLOUR = "#d62728"
#: Layout resolution of the PDF: the same as the screen's, so the HTML lays out alike.
_PDF_DPI = 96
_PAGE_MARGINS_MM = QMarginsF(16, 16, 16, 14)

_application: QApplication | None = None


def _ensure_gui_application() -> None:
    """Fonts and painting need a QGuiApplication; make one if the caller has none.

    A QApplication (a QGuiApplication that can also hold widgets), so that the same
    process can still open windows afterwards: with a bare QGuiApplication, the first
    QWidget aborts the process.
    """
    global _application
    if QGuiApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        _application = QApplication(["enclave-report"])


def _series(rows: list[dict[str, Any]], event: str, key: str) -> list[tuple[float, float]]:
    points = []
    for row in rows:
        value = row.get(key)
        if row.get("event") == event and isinstance(value, int | float) and math.isfinite(value):
            points.append((float(row.get("step", 0)), float(value)))
    return points


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering low..high (1, 2 or 5 times a power of ten apart)."""
    span = high - low if high > low else max(abs(high), 1.0)
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks: list[float] = []
    value = first
    while value <= high + step * 0.999 or len(ticks) < 2:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _tick_text(value: float) -> str:
    return f"{value:g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.1e}"


def draw_loss_curves(rows: list[dict[str, Any]]) -> QImage | None:
    """The training and validation loss by step, as an image; None if no loss was
    recorded.

    Args:
        rows: The run's metrics.jsonl events (StepMetrics and EvalMetrics are drawn).
    """
    training = _series(rows, "StepMetrics", "loss")
    validation = _series(rows, "EvalMetrics", "eval_loss")
    if not training and not validation:
        return None
    _ensure_gui_application()
    width, height = CHART_SIZE
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        _paint_chart(painter, training, validation)
    finally:
        painter.end()
    return image


def _paint_chart(
    painter: QPainter, training: list[tuple[float, float]], validation: list[tuple[float, float]]
) -> None:
    width, height = CHART_SIZE
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont("DejaVu Sans")
    font.setPixelSize(24)
    painter.setFont(font)
    metrics = QFontMetricsF(font)
    plot = QRectF(130, 90, width - 170, height - 200)

    points = training + validation
    steps = [step for step, _ in points]
    losses = [loss for _, loss in points]
    x_ticks = _nice_ticks(min(steps), max(steps) if max(steps) > min(steps) else min(steps) + 1)
    y_ticks = _nice_ticks(min(losses), max(losses))
    x_low, x_high = x_ticks[0], x_ticks[-1]
    y_low, y_high = y_ticks[0], y_ticks[-1]

    def at(step: float, loss: float) -> QPointF:
        x = plot.left() + (step - x_low) / (x_high - x_low) * plot.width()
        y = plot.bottom() - (loss - y_low) / (y_high - y_low) * plot.height()
        return QPointF(x, y)

    grid = QPen(QColor("#dddddd"), 1)
    text = QColor("#333333")
    for value in y_ticks:
        y = at(x_low, value).y()
        painter.setPen(grid)
        painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        painter.setPen(text)
        label = _tick_text(value)
        painter.drawText(QPointF(plot.left() - 14 - metrics.horizontalAdvance(label), y + 8), label)
    for value in x_ticks:
        x = at(value, y_low).x()
        painter.setPen(grid)
        painter.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
        painter.setPen(text)
        label = _tick_text(value)
        painter.drawText(
            QPointF(x - metrics.horizontalAdvance(label) / 2, plot.bottom() + 34), label
        )
    painter.setPen(QPen(QColor("#555555"), 2))
    painter.drawRect(plot)
    painter.setPen(text)
    title = "Training step"
    painter.drawText(
        QPointF(plot.center().x() - metrics.horizontalAdvance(title) / 2, height - 40), title
    )
    painter.save()
    painter.translate(40, plot.center().y())
    painter.rotate(-90)
    title = "Loss (lower is better)"
    painter.drawText(QPointF(-metrics.horizontalAdvance(title) / 2, 0), title)
    painter.restore()

    for series, colour, marker in (
        (training, _TRAINING_COLOUR, False),
        (validation, _VALIDATION_COLOUR, True),
    ):
        if not series:
            continue
        path = QPainterPath(at(*series[0]))
        for point in series[1:]:
            path.lineTo(at(*point))
        painter.setPen(QPen(QColor(colour), 4))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        if marker or len(series) == 1:
            painter.setBrush(QColor(colour))
            for point in series:
                painter.drawEllipse(at(*point), 8, 8)

    legend_x = plot.left()
    for label, colour in (
        ("Training loss (records the model learns from)", _TRAINING_COLOUR),
        ("Validation loss (records it never learns from)", _VALIDATION_COLOUR),
    ):
        painter.setPen(QPen(QColor(colour), 6))
        painter.drawLine(QPointF(legend_x, 45), QPointF(legend_x + 40, 45))
        painter.setPen(text)
        painter.drawText(QPointF(legend_x + 52, 53), label)
        legend_x += 52 + metrics.horizontalAdvance(label) + 50


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise UserInputError(
            f"{path.name} in the run folder cannot be read ({error}).",
            "Run that step again to write it anew, or delete the file to leave it out of "
            "the report.",
        ) from error


def _replace_atomically(temporary: Path, target: Path) -> None:
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, target)


def _save_png(image: QImage, target: Path) -> None:
    # The format comes from the suffix, so the temporary name keeps ".png".
    temporary = target.with_name(f".tmp-{target.name}")
    if not image.save(str(temporary)):
        raise OSError(f"Could not write {temporary}")
    _replace_atomically(temporary, target)


def _write_text(text: str, target: Path) -> None:
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    _replace_atomically(temporary, target)


def _write_pdf(html: str, images: dict[str, QImage], target: Path, title: str) -> int:
    """Lay ``html`` out on A4 pages with "Page n of N" at the foot; returns the page
    count."""
    temporary = target.with_name(f".{target.name}.tmp")
    writer = QPdfWriter(str(temporary))
    writer.setResolution(_PDF_DPI)
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            _PAGE_MARGINS_MM,
            QPageLayout.Unit.Millimeter,
        )
    )
    writer.setTitle(title)
    writer.setCreator("Enclave")
    page = writer.pageLayout().paintRectPixels(_PDF_DPI)
    footer = 28.0
    document = QTextDocument()
    document.documentLayout().setPaintDevice(writer)
    for name, image in images.items():
        document.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
    document.setHtml(html)
    document.setPageSize(QSizeF(page.width(), page.height() - footer))
    body_height = page.height() - footer
    pages = document.pageCount()
    painter = QPainter(writer)
    try:
        font = QFont("DejaVu Sans")
        font.setPointSizeF(8)
        for index in range(pages):
            if index:
                writer.newPage()
            painter.save()
            painter.translate(0, -index * body_height)
            document.drawContents(
                painter, QRectF(0, index * body_height, page.width(), body_height)
            )
            painter.restore()
            painter.setFont(font)
            painter.setPen(QColor("#666666"))
            painter.drawText(
                QRectF(0, body_height, page.width(), footer),
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom),
                f"{title} · page {index + 1} of {pages}",
            )
    finally:
        painter.end()
    _replace_atomically(temporary, target)
    return pages


def write_report(
    run_dir: Path,
    evaluation: dict[str, Any] | None = None,
    review: dict[str, Any] | None = None,
    probe: dict[str, Any] | None = None,
    sign_off: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``report.html`` (with its chart beside it) and ``report.pdf`` into a run's
    folder, each replaced in one step so a reader never sees half a file.

    Args:
        run_dir: The run folder (holding manifest.json and metrics.jsonl).
        evaluation: Base and tuned figures and sample answers; read from
            evaluation.json in the run folder when not given.
        review: The blind-review tally; read from review.json when not given.
        probe: The memorisation probe's result; read from memorisation.json when not
            given.
        sign_off: {"reviewer", "decision", "date", "notes"}, or None when not signed.

    Returns:
        The paths of the HTML and the PDF report.

    Raises:
        UserInputError: the folder is not a run folder, or one of its result files
            cannot be read.
    """
    folder = RunFolder(Path(run_dir))
    manifest = folder.read_manifest()
    if not manifest:
        raise UserInputError(
            f"{run_dir} holds no run record (manifest.json), so there is nothing to report.",
            "Choose the folder of a run that Enclave trained.",
        )
    rows = folder.read_events()
    if evaluation is None:
        evaluation = _read_json(folder.path / EVALUATION_FILE)
    if review is None:
        review = _read_json(folder.path / REVIEW_FILE)
    if probe is None:
        probe = _read_json(folder.path / PROBE_FILE)
    _ensure_gui_application()
    chart = draw_loss_curves(rows)
    images: dict[str, str] = {}
    if chart is not None:
        _save_png(chart, folder.path / LOSS_IMAGE)
        images["Training and validation loss by step"] = LOSS_IMAGE
    html = build_report_html(manifest, rows, evaluation, review, probe, sign_off, images)
    html_path = folder.path / REPORT_HTML
    pdf_path = folder.path / REPORT_PDF
    _write_text(html, html_path)
    title = f"Sign-off report: {folder.path.name}"
    _write_pdf(html, {LOSS_IMAGE: chart} if chart is not None else {}, pdf_path, title)
    return html_path, pdf_path
