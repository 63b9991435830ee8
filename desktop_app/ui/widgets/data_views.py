"""The Data page's views of one file: preview, problems, personal data, token lengths.

They are tabs of a :class:`DataInspector`. Clicking a problem or a piece of personal
data shows its record in the preview and, below it, the whole record with the personal
data highlighted.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop_app.data.checking import CheckReport
from desktop_app.data.pii.record_fields import iter_text_fields
from desktop_app.data.pii.report import FileFinding
from desktop_app.engine.token_stats import TokenStats
from desktop_app.ui.data_worker import FilePreview
from desktop_app.ui.widgets.rows_model import RowsModel, cell_text
from desktop_app.ui.widgets.token_histogram import TokenHistogram

_ERROR_ROW = "#fdecea"
_WARNING_ROW = "#fff8e1"
_HIGHLIGHT = "#ffd54f"

#: Personal-data types in words.
PII_NAMES = {
    "EMAIL": "e-mail address",
    "PHONE": "phone number",
    "CREDIT_CARD": "payment card number",
    "IBAN": "bank account (IBAN)",
    "SSN": "US social security number",
    "IP_ADDRESS": "IP address",
    "UK_NINO": "UK National Insurance number",
    "NHS_NUMBER": "NHS number",
}


def _table(name: str) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setWordWrap(False)
    view.setTabKeyNavigation(False)  # Tab leaves the table; arrows move within it
    view.setAlternatingRowColors(True)
    view.verticalHeader().setDefaultSectionSize(22)
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    view.horizontalHeader().setStretchLastSection(True)
    return view


def _placeholder(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    return label


def highlighted_html(value: object, findings: list[FileFinding]) -> str:
    """A record as HTML, one field per paragraph, its personal data highlighted."""
    by_field: dict[str, list[FileFinding]] = defaultdict(list)
    for finding in findings:
        by_field[finding.field].append(finding)
    parts: list[str] = []
    fields = list(iter_text_fields(value))
    if isinstance(value, dict):  # fields that hold no text (numbers, true/false)
        texts = {path.split(".")[0].split("[")[0] for path, _ in fields}
        fields += [(str(k), json.dumps(v)) for k, v in value.items() if str(k) not in texts]
    for path, text in fields:
        pieces, position = [], 0
        for finding in sorted(by_field.get(path, []), key=lambda f: f.start):
            pieces.append(html.escape(text[position : finding.start]))
            kind = PII_NAMES.get(finding.type, finding.type)
            pieces.append(
                f"<span style='background:{_HIGHLIGHT}; color:#1a1a1a' title='{kind}'>"
                f"{html.escape(text[finding.start : finding.end])}</span>"
            )
            position = finding.end
        pieces.append(html.escape(text[position:]))
        body = "".join(pieces).replace("\n", "<br>")
        title = f"<b>{html.escape(path)}</b><br>" if path else ""
        parts.append(f"<p>{title}{body}</p>")
    return "".join(parts) or "<p><i>(empty record)</i></p>"


class DataInspector(QTabWidget):
    """Tabs showing one analysed file."""

    PREVIEW, PROBLEMS, PERSONAL, TOKENS = range(4)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataInspector")
        self.preview: FilePreview | None = None
        self.report: CheckReport | None = None
        self._findings_by_line: dict[int, list[FileFinding]] = {}
        self._problem_lines: dict[int, str] = {}

        self.preview_view = _table("previewTable")
        self.preview_view.setToolTip("Every record of the file. Scroll to load more.")
        self.record_view = QTextBrowser()
        self.record_view.setObjectName("recordDetail")
        self.record_view.setPlaceholderText("Click a row to see the whole record here.")
        self.preview_status = QLabel()
        self.preview_status.setWordWrap(True)
        self.preview_status.setObjectName("previewStatus")
        preview_split = QSplitter(Qt.Orientation.Vertical)
        preview_split.setObjectName("previewSplitter")
        preview_split.addWidget(self.preview_view)
        preview_split.addWidget(self.record_view)
        preview_split.setSizes([300, 140])
        preview_tab = QWidget()
        preview_layout = QVBoxLayout(preview_tab)
        preview_layout.addWidget(self.preview_status)
        preview_layout.addWidget(preview_split, 1)
        self.addTab(preview_tab, "&Preview")

        self.problems_view = _table("problemsTable")
        self.problems_view.setToolTip("Click a problem to see its record.")
        self.problems_summary = _placeholder("The check has not run yet.")
        self.problems_summary.setObjectName("problemsSummary")
        problems_tab = QWidget()
        problems_layout = QVBoxLayout(problems_tab)
        problems_layout.addWidget(self.problems_summary)
        problems_layout.addWidget(self.problems_view, 1)
        self.addTab(problems_tab, "Probl&ems")

        self.pii_view = _table("piiTable")
        self.pii_view.setToolTip("Click a finding to see it highlighted in its record.")
        self.pii_summary = _placeholder("The scan has not run yet.")
        self.pii_summary.setObjectName("piiSummary")
        self.personal_tab = QWidget()
        pii_layout = QVBoxLayout(self.personal_tab)
        pii_layout.addWidget(self.pii_summary)
        pii_layout.addWidget(self.pii_view, 1)
        self.addTab(self.personal_tab, "Personal &data")

        self.histogram = TokenHistogram()
        self.histogram.setObjectName("tokenHistogram")
        self.histogram.setMinimumHeight(180)
        self.tokens_summary = _placeholder("Lengths in tokens appear after the check.")
        self.tokens_summary.setObjectName("tokensSummary")
        tokens_tab = QWidget()
        tokens_layout = QVBoxLayout(tokens_tab)
        tokens_layout.addWidget(self.tokens_summary)
        tokens_layout.addWidget(self.histogram, 1)
        self.addTab(tokens_tab, "Token len&gths")

        self.problems_view.clicked.connect(self._on_problem_clicked)
        self.pii_view.clicked.connect(self._on_finding_clicked)
        self.show_nothing()

    # -- filling -----------------------------------------------------------------------

    def show_nothing(self, note: str = "") -> None:
        """Empty every tab (no file, or the file cannot be read)."""
        self.preview = None
        self.report = None
        self._findings_by_line = {}
        self._problem_lines = {}
        self.preview_view.setModel(RowsModel())
        self.problems_view.setModel(RowsModel())
        self.pii_view.setModel(RowsModel())
        self.record_view.clear()
        self.preview_status.setText(note or "Choose a file to see its records.")
        self.problems_summary.setText("The check has not run yet.")
        self.pii_summary.setText("The scan has not run yet.")
        self.show_tokens(None, "Lengths in tokens appear after the check.")
        self._set_counts()

    def show_report(self, report: CheckReport) -> None:
        """The check's problems."""
        self.report = report
        self._problem_lines = {}
        rows = []
        for problem in report.problems:
            rows.append(
                (
                    problem.severity,
                    f"{problem.unit} {problem.line}",
                    problem.field or "",
                    problem.reason,
                )
            )
            if problem.severity == "error" or problem.line not in self._problem_lines:
                self._problem_lines[problem.line] = problem.severity
        severities = [problem.severity for problem in report.problems]
        model = RowsModel(
            ("severity", "where", "field", "problem"),
            rows,
            row_colour=lambda i: _ERROR_ROW if severities[i] == "error" else _WARNING_ROW,
        )
        self.problems_view.setModel(model)
        self.problems_view.resizeColumnsToContents()
        if report.problems:
            self.problems_summary.setText(
                f"{report.error_count:,} error(s): those records are left out of training "
                f"or must be fixed. {report.warning_count:,} warning(s): worth a look, "
                "the records are still used."
            )
        else:
            self.problems_summary.setText("No problems: every record can be used.")
        self._set_counts()

    def show_preview(self, preview: FilePreview) -> None:
        """The records and the personal data found in them."""
        self.preview = preview
        self._findings_by_line = defaultdict(list)
        for finding in preview.findings:
            self._findings_by_line[finding.line].append(finding)
        lines = preview.lines

        def colour(row: int) -> str | None:
            severity = self._problem_lines.get(lines[row])
            if severity is not None:
                return _ERROR_ROW if severity == "error" else _WARNING_ROW
            return _HIGHLIGHT if lines[row] in self._findings_by_line else None

        self.preview_view.setModel(
            RowsModel(preview.columns, preview.rows, row_colour=colour, vertical_headers=lines)
        )
        self.preview_view.selectionModel().currentRowChanged.connect(self._on_preview_row)
        self._size_preview_columns(preview)
        self.preview_status.setText(
            f"{len(preview.rows):,} records. Rows with errors are red, with warnings "
            "amber, with personal data yellow. Click a row to see it whole."
        )
        self.pii_view.setModel(
            RowsModel(
                ("type", "where", "field", "value (masked)"),
                [
                    (
                        PII_NAMES.get(f.type, f.type),
                        f"{f.unit} {f.line}",
                        f.field or "(record)",
                        f.preview(),
                    )
                    for f in preview.findings
                ],
            )
        )
        self.pii_view.resizeColumnsToContents()
        found = {kind: count for kind, count in preview.pii_counts.items() if count}
        if found:
            listing = ", ".join(f"{count:,} {PII_NAMES.get(k, k)}" for k, count in found.items())
            self.pii_summary.setText(
                f"{preview.records_with_pii:,} record(s) hold personal data: {listing}. "
                "Choose below the table whether training sees it."
            )
        else:
            self.pii_summary.setText("No personal data of the kinds Enclave looks for was found.")
        self._set_counts()

    def _size_preview_columns(self, preview: FilePreview) -> None:
        """Give each column a width by how much text it holds in the first records, so a
        mostly empty column (alpaca's ``input``) does not take half the table."""
        header = self.preview_view.horizontalHeader()
        sample = preview.rows[:200]
        for column, name in enumerate(preview.columns):
            lengths = [len(cell_text(row[column])) if column < len(row) else 0 for row in sample]
            average = sum(lengths) / len(lengths) if lengths else 0
            characters = max(len(name) + 2, min(average, 36))
            width = self.preview_view.fontMetrics().averageCharWidth() * characters + 16
            header.resizeSection(column, int(width))
        if preview.rows:
            self.preview_view.selectionModel().setCurrentIndex(
                self.preview_view.model().index(0, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )

    def show_tokens(self, stats: TokenStats | None, note: str = "") -> None:
        """The token-length histogram, or ``note`` saying why there is none."""
        self.histogram.show_stats(stats)
        self.histogram.setVisible(stats is not None)
        if stats is None:
            self.tokens_summary.setText(note)
            return
        cut = stats.share_truncated
        self.tokens_summary.setText(
            f"{stats.count:,} records: median {stats.median_tokens:,.0f} tokens, 95% at most "
            f"{stats.p95_tokens:,}, longest {stats.max_tokens:,}. With the maximum length of "
            f"{stats.max_length:,} tokens (set on the Hyperparameters step) "
            + (
                f"{cut:.0%} of the records are cut short (red bars)."
                if cut
                else "no record is cut short."
            )
            + f" Training sees about {stats.total_tokens:,} tokens per epoch."
        )

    def _set_counts(self) -> None:
        problems = len(self.report.problems) if self.report else 0
        findings = len(self.preview.findings) if self.preview else 0
        self.setTabText(self.PROBLEMS, f"Probl&ems ({problems:,})")
        self.setTabText(self.PERSONAL, f"Personal &data ({findings:,})")

    # -- showing one record --------------------------------------------------------------

    def show_line(self, line: int) -> bool:
        """Select the record at file ``line`` in the preview and show it whole."""
        if self.preview is None:
            return False
        row = self.preview.row_of_line(line)
        if row is None:
            return False
        model = self.preview_view.model()
        assert isinstance(model, RowsModel)
        model.reveal(row)
        index = model.index(row, 0)
        self.preview_view.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.preview_view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        self.setCurrentIndex(self.PREVIEW)
        return True

    def _on_preview_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self.preview is None or not current.isValid():
            return
        row = current.row()
        line = self.preview.lines[row]
        where = f"<p><b>{self.preview.unit.capitalize()} {line}</b></p>"
        reason = self.preview.unreadable_reason(row)
        if reason is not None:
            self.record_view.setHtml(
                f"{where}<p>This record cannot be read: {html.escape(reason)}</p>"
            )
            return
        problems = ""
        if self.report is not None:
            listed = [p for p in self.report.problems if p.line == line]
            problems = "".join(
                f"<p style='color:{'#b71c1c' if p.severity == 'error' else '#8d6e00'}'>"
                f"{p.severity.capitalize()}: {html.escape(p.describe())}</p>"
                for p in listed
            )
        findings = self._findings_by_line.get(line, [])
        self.record_view.setHtml(
            where + problems + highlighted_html(self.preview.record(row), findings)
        )

    def _on_problem_clicked(self, index: QModelIndex) -> None:
        if self.report is not None and index.isValid():
            self.show_line(self.report.problems[index.row()].line)

    def _on_finding_clicked(self, index: QModelIndex) -> None:
        if self.preview is not None and index.isValid():
            self.show_line(self.preview.findings[index.row()].line)
