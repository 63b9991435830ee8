"""The audit viewer: the workspace's audit log as a table, with whether its hash chain
holds, filters by run, type, date and text, and an export with the verification result.

Reading and verifying a large log takes about a second per 100,000 entries
(docs/benchmarks.md), so both run in a background job; the window stays usable.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from PySide6.QtCore import (
    QCoreApplication,
    QDate,
    QModelIndex,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QCloseEvent, QFontDatabase, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.audit import EVENT_TYPES, AuditLog, Verification
from desktop_app.core.audit_query import (
    AuditFilter,
    AuditSnapshot,
    ExportedLog,
    NumberedEntry,
    export_log,
    filter_entries,
    read_and_verify,
    run_name,
)
from desktop_app.ui.job_worker import JobRunner, JobWorker, busy_bar
from desktop_app.ui.widgets.audit_table import AuditTableModel
from desktop_app.ui.widgets.error_dialog import show_error

#: Asks the user for a folder (None when they cancel); replaced in tests.
FolderChooser = Callable[[QWidget], str | None]
#: Banner colours (background, border, text): dark text on light colours in any theme.
_BANNER = {
    "intact": ("#e6f4ea", "#1e8e3e", "#0d3d1c"),
    "changed": ("#fce8e6", "#d93025", "#5f1410"),
    "checking": ("#f1f3f4", "#9aa0a6", "#202124"),
}
_CENTRE = QAbstractItemView.ScrollHint.PositionAtCenter


def ask_for_folder(parent: QWidget) -> str | None:
    """The standard folder dialog."""
    folder = QFileDialog.getExistingDirectory(parent, "Choose where to save the audit export")
    return folder or None


def plain_message(error: BaseException) -> str:
    """An unexpected failure while reading or exporting the log, in plain words."""
    return f"Enclave could not read or export the audit log ({type(error).__name__}: {error})."


class AuditViewer(QDialog):
    """The audit log, its verification, filters and export.

    Args:
        parent: The main window.
        log: The log to show (default: the workspace's).
        choose_folder: Asks where to export (default: the standard folder dialog).
    """

    #: A reading of the log was shown: its AuditSnapshot.
    loaded = Signal(object)
    #: An export was written: its ExportedLog.
    exported = Signal(object)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        log: AuditLog | None = None,
        choose_folder: FolderChooser | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("auditViewer")
        self.setWindowTitle("Audit log")
        self.resize(1100, 700)
        self.log = log if log is not None else AuditLog()
        self.choose_folder: FolderChooser = choose_folder or ask_for_folder
        self.snapshot: AuditSnapshot | None = None
        self.shown: list[NumberedEntry] = []
        self._dates_set_by_user: set[str] = set()
        self._filling = False
        self._reload_when_idle = False
        self._closing = False
        self._runner = JobRunner(self, "auditThread", self._on_job_ended)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

        self.banner = QLabel("Checking the audit log…")
        self.banner.setObjectName("auditVerification")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.banner.linkActivated.connect(self._on_banner_link_activated)
        self._paint_banner("checking")

        self.run_filter = self._combo("auditRunFilter", "Only the entries of one run.")
        self.type_filter = self._combo("auditTypeFilter", "Only one kind of entry.")
        self.since_filter = self._date_edit("auditSinceFilter", "since", "From this day on.")
        self.until_filter = self._date_edit("auditUntilFilter", "until", "Up to this day.")
        self.search = QLineEdit()
        self.search.setObjectName("auditSearch")
        self.search.setPlaceholderText("Search: file name, user, hash…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Only entries that contain all of these words (any case).")
        self._search_timer = QTimer(self, singleShot=True, interval=250)
        self._search_timer.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(self._search_timer.start)
        self.clear_button = QPushButton("C&lear filters")
        self.clear_button.setObjectName("auditClearFilters")
        self.clear_button.clicked.connect(self.clear_filters)

        filters = QHBoxLayout()
        for label, widget, stretch in (
            ("&Run:", self.run_filter, 2),
            ("&Type:", self.type_filter, 3),
            ("&From:", self.since_filter, 0),
            ("T&o:", self.until_filter, 0),
        ):
            caption = QLabel(label)
            caption.setBuddy(widget)
            filters.addWidget(caption)
            filters.addWidget(widget, stretch)
        filters.addWidget(self.search, 3)
        filters.addWidget(self.clear_button)

        self.count_label = QLabel("")
        self.count_label.setObjectName("auditCount")
        self.model = AuditTableModel()
        self.table = self._table()
        self.details = QPlainTextEdit()
        self.details.setObjectName("auditEntryDetails")
        self.details.setReadOnly(True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setPlaceholderText("Select an entry to see everything it records.")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("auditSplitter")
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setSizes([460, 200])

        self.verify_button = QPushButton("&Verify again")
        self.verify_button.setObjectName("auditVerifyButton")
        self.verify_button.setToolTip("Read the log again and check every link of its chain.")
        self.verify_button.clicked.connect(self.reload)
        self.export_button = QPushButton("&Export…")
        self.export_button.setObjectName("auditExportButton")
        self.export_button.setToolTip(
            "Copy the log to a folder you choose, with the result of verifying the copy."
        )
        self.export_button.clicked.connect(self.export)
        self.busy = busy_bar("auditBusy")
        self.status_label = QLabel("")
        self.status_label.setObjectName("auditStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close_button = QPushButton("&Close")
        close_button.setObjectName("auditCloseButton")
        close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.verify_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.status_label, 1)
        buttons.addWidget(close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(filters)
        layout.addWidget(self.count_label)
        layout.addWidget(self.busy)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)
        self._update_controls()

    # -- building -----------------------------------------------------------------------

    def _combo(self, name: str, tip: str) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(name)
        combo.setToolTip(tip)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(14)
        combo.currentIndexChanged.connect(self.apply_filters)
        return combo

    def _date_edit(self, name: str, key: str, tip: str) -> QDateEdit:
        edit = QDateEdit()
        edit.setObjectName(name)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setToolTip(tip + " Dates are this computer's local dates.")
        edit.dateChanged.connect(lambda _date: self._on_date_changed(key))
        return edit

    def _table(self) -> QTableView:
        table = QTableView()
        table.setObjectName("auditTable")
        table.setModel(self.model)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setTabKeyNavigation(False)
        table.setWordWrap(False)
        table.setAlternatingRowColors(True)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
        header = table.horizontalHeader()
        header.setStretchLastSection(True)
        metrics = table.fontMetrics()
        for column, sample in enumerate(
            (
                "000000",
                "0000-00-00 00:00:00",
                "evaluation_finished",
                "administrator",
                "run-20260101-000000-lora",
            )  # fmt: skip
        ):
            header.resizeSection(column, metrics.horizontalAdvance(sample) + 24)
        table.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        table.doubleClicked.connect(lambda index: self._show_details(index.row()))
        return table

    # -- reading the log ----------------------------------------------------------------

    def is_busy(self) -> bool:
        return self._runner.busy

    def reload(self) -> bool:
        """Read and verify the log in the background; False while a job is running."""
        if self._closing:
            return False
        log = self.log

        def job(reporter: JobWorker, stop: threading.Event) -> AuditSnapshot:
            return read_and_verify(log)

        started = self._runner.start(job, plain_message, self._on_read_succeeded, self._on_failed)
        if started:
            self.banner.setText("Checking the audit log…")
            self._paint_banner("checking")
            self._update_controls()
        return started

    @Slot(object)
    def _on_read_succeeded(self, snapshot: AuditSnapshot) -> None:
        self.snapshot = snapshot
        self._show_verification(snapshot.verification)
        self._fill_filters(snapshot)
        self.apply_filters()
        bad_line = snapshot.verification.first_bad_line
        if bad_line is None or not self.select_line(bad_line):
            self.table.scrollToBottom()
        self.loaded.emit(snapshot)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.banner.setText(message)
        self._paint_banner("changed")
        show_error(self, message, details)

    def _show_verification(self, verification: Verification) -> None:
        checked = datetime.now().strftime("%H:%M:%S")
        if verification.intact and not verification.entries:
            text = f"<b>The audit log has no entries yet</b> (checked at {checked})."
        elif verification.intact:
            text = (
                f"<b>The audit log is intact:</b> {verification.entries:,} entries, each "
                f"linked to the one before (checked at {checked}).<br>Last entry hash: "
                f"<code>{verification.head_hash}</code>"
            )
        else:
            line = verification.first_bad_line
            text = (
                f"<b>The audit log has been changed. Line {line}:</b> {verification.problem}"
                f" <a href='line:{line}' style='color: {_BANNER['changed'][2]}'>Show line "
                f"{line}</a><br>Entries before line {line} "
                "hold. Export the log now and compare it with an earlier export to see what "
                f"changed (checked at {checked})."
            )
        self.banner.setText(text)
        self._paint_banner("intact" if verification.intact else "changed")

    def _paint_banner(self, state: str) -> None:
        background, border, text = _BANNER[state]
        self.banner.setStyleSheet(
            f"QLabel#auditVerification {{ background: {background}; color: {text}; "
            f"border: 1px solid {border}; border-left: 6px solid {border}; "
            "border-radius: 4px; padding: 8px 10px; }"
        )

    # -- filters ------------------------------------------------------------------------

    def _fill_filters(self, snapshot: AuditSnapshot) -> None:
        self._filling = True
        run, event = self.run_filter.currentData(), self.type_filter.currentData()
        entries, runs, counts = snapshot.entries, snapshot.runs, snapshot.event_counts
        names = [run_name(path) for path in runs]
        self.run_filter.clear()
        self.run_filter.addItem("All runs", None)
        for path, name in zip(runs, names, strict=True):
            shown = name if names.count(name) == 1 else f"{name} ({Path(path).parent})"
            self.run_filter.addItem(shown, path)
            self.run_filter.setItemData(
                self.run_filter.count() - 1, path, Qt.ItemDataRole.ToolTipRole
            )
        self.run_filter.setCurrentIndex(max(self.run_filter.findData(run), 0))
        self.type_filter.clear()
        self.type_filter.addItem("All types", None)
        for key, description in EVENT_TYPES.items():
            self.type_filter.addItem(f"{description} ({counts.get(key, 0):,})", key)
            self.type_filter.setItemData(
                self.type_filter.count() - 1, key, Qt.ItemDataRole.ToolTipRole
            )
        self.type_filter.setCurrentIndex(max(self.type_filter.findData(event), 0))
        for combo in (self.run_filter, self.type_filter):  # the list shows whole names
            combo.view().setMinimumWidth(combo.view().sizeHintForColumn(0) + 24)
        times = [item.local_time for item in (entries[:1] + entries[-1:]) if item.local_time]
        first, last = (times[0].date(), times[-1].date()) if times else (date.today(),) * 2
        if "since" not in self._dates_set_by_user:
            self.since_filter.setDate(QDate(first.year, first.month, first.day))
        if "until" not in self._dates_set_by_user:
            self.until_filter.setDate(QDate(last.year, last.month, last.day))
        self._filling = False

    def current_filter(self) -> AuditFilter:
        """The filter the controls describe (a date the user has not set does not filter)."""
        return AuditFilter(
            run=self.run_filter.currentData(),
            event=self.type_filter.currentData(),
            since=self.since_filter.date().toPython()
            if "since" in self._dates_set_by_user
            else None,
            until=self.until_filter.date().toPython()
            if "until" in self._dates_set_by_user
            else None,
            text=self.search.text().strip() or None,
        )

    @Slot()
    def apply_filters(self) -> None:
        """Show the entries that pass the filters."""
        if self._filling or self.snapshot is None:
            return
        entries = self.snapshot.entries
        self.shown = filter_entries(entries, self.current_filter())
        self.model.set_entries(self.shown, self.snapshot.verification.first_bad_line)
        self.details.clear()
        total = len(entries)
        self.count_label.setText(
            f"All {total:,} entries" if len(self.shown) == total
            else f"Showing {len(self.shown):,} of {total:,} entries"
        )  # fmt: skip

    @Slot()
    def clear_filters(self) -> None:
        self._filling = True
        self.run_filter.setCurrentIndex(0)
        self.type_filter.setCurrentIndex(0)
        self.search.clear()
        self._search_timer.stop()
        self._dates_set_by_user.clear()
        self._filling = False
        if self.snapshot is not None:
            self._fill_filters(self.snapshot)
        self.apply_filters()

    def _on_date_changed(self, key: str) -> None:
        if not self._filling:
            self._dates_set_by_user.add(key)
            self.apply_filters()

    # -- details ------------------------------------------------------------------------

    @Slot(QModelIndex, QModelIndex)
    def _on_current_row_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        if current.isValid():
            self._show_details(current.row())

    def _show_details(self, row: int) -> None:
        if not 0 <= row < len(self.shown):
            return
        item = self.shown[row]
        heading = f"Line {item.line}: {item.event}, {EVENT_TYPES.get(item.event, '')}"
        verification = self.snapshot.verification if self.snapshot else None
        if verification is not None and item.line == verification.first_bad_line:
            heading += f"\nThis entry does not hold: {verification.problem}"
        body = json.dumps(item.entry, indent=2, ensure_ascii=False, sort_keys=True)
        self.details.setPlainText(f"{heading}\n\n{body}")

    def select_line(self, line: int) -> bool:
        """Select and show the entry on ``line`` if it is listed; False if it is not."""
        for row, item in enumerate(self.shown):
            if item.line == line:
                self.table.selectRow(row)
                # Once laid out: a view that was just filled does not scroll yet.
                QTimer.singleShot(0, lambda row=row: self._scroll_to_row(row))
                return True
        return False

    def _scroll_to_row(self, row: int) -> None:
        if row < self.model.rowCount():
            self.table.scrollTo(self.model.index(row, 0), _CENTRE)

    def _on_banner_link_activated(self, link: str) -> None:
        line = int(link.partition(":")[2] or 0)
        if not any(item.line == line for item in self.shown):
            self.clear_filters()
        if not self.select_line(line):
            self.status_label.setText(
                f"Line {line} cannot be read as an entry, so it is not listed."
            )

    # -- export -------------------------------------------------------------------------

    @Slot()
    def export(self) -> bool:
        """Ask for a folder and export into a new folder inside it, in the background."""
        if self._runner.busy or self._closing:
            return False
        chosen = self.choose_folder(self)
        if not chosen:
            return False
        destination = Path(chosen) / datetime.now().strftime("enclave-audit-%Y%m%d-%H%M%S")
        log = self.log

        def job(reporter: JobWorker, stop: threading.Event) -> ExportedLog:
            return export_log(destination, log)

        self._runner.start(job, plain_message, self._on_export_succeeded, self._on_export_failed)
        self.status_label.setText("Exporting…")
        self._update_controls()
        return True

    @Slot(object)
    def _on_export_succeeded(self, exported: ExportedLog) -> None:
        verdict = "intact" if exported.verification.intact else "NOT intact"
        self.status_label.setText(
            f"Exported to {exported.folder} ({exported.verification.entries:,} entries, "
            f"{verdict}; see verification.json)."
        )
        self.exported.emit(exported)
        self._reload_when_idle = True  # the export added an entry: show it

    @Slot(str, str)
    def _on_export_failed(self, message: str, details: str) -> None:
        self.status_label.setText("The export did not complete.")
        show_error(self, message, details)

    # -- closing ------------------------------------------------------------------------

    def _on_job_ended(self) -> None:
        self._update_controls()
        if self._reload_when_idle:
            self._reload_when_idle = False
            self.reload()

    def _update_controls(self) -> None:
        busy = self._runner.busy
        self.verify_button.setEnabled(not busy)
        self.export_button.setEnabled(not busy)
        self.busy.setVisible(busy)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Start no more jobs, and wait for a running read or export to end (before the
        window goes)."""
        self._closing = True
        return self._runner.shutdown(timeout_ms)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        self._closing = False  # shown again after a close
        super().showEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.shutdown()
        super().closeEvent(event)

    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)


def open_audit_viewer(parent: QWidget | None) -> AuditViewer:
    """Show the audit viewer over ``parent`` and start reading the log."""
    viewer = AuditViewer(parent)
    viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    viewer.show()
    viewer.reload()
    return viewer
