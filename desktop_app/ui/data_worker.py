"""Reads a data file off the GUI thread for the Data page: check, preview, PII, tokens.

One :class:`DataAnalysisWorker` per file and per QThread. It makes three passes, each
sending its result as soon as it is done, so the page fills in step by step:

1. the check (``data.checking.check_file``): format, mapping, problems, counts;
2. the preview and the personal-data scan in one pass over the raw records (the
   preview keeps each record's cells, so the page can show any row of a 100,000-row
   file at once and highlight personal data in it);
3. the token lengths, with the chosen model's tokenizer, rendered as training renders
   them (skipped with a plain note when no model is chosen or it cannot be read).
"""

from __future__ import annotations

import bisect
import threading
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from desktop_app.core.audit import record
from desktop_app.core.errors import EnclaveError
from desktop_app.core.hashing import sha256_file
from desktop_app.data.checking import check_file
from desktop_app.data.pii.findings import PII_TYPES
from desktop_app.data.pii.report import FileFinding, iter_record_findings
from desktop_app.data.readers import is_table
from desktop_app.data.records import RecordProblem

#: The preview's column for a record that is a bare string (JSON string, text file).
TEXT_COLUMN = "text"
#: The preview's column that says why a record could not be read.
UNREADABLE_COLUMN = "cannot be read"
#: How often (in records) the preview pass looks at the cancel flag.
_CANCEL_CHECK_EVERY = 2000


@dataclass(frozen=True)
class AnalysisRequest:
    """What to read and how.

    Args:
        path: The data file.
        format: A format name or ``"auto"``.
        column_map: Field to column, overriding guesses.
        max_chars: The longest record allowed, in characters.
        model_path: The chosen model (for the token count); empty for none.
        max_length: The training maximum length in tokens.
        train_on_prompt: Whether prompts are learned too (changes trainable tokens).
    """

    path: str
    format: str = "auto"
    column_map: tuple[tuple[str, str], ...] = ()
    max_chars: int = 100_000
    model_path: str = ""
    max_length: int = 512
    train_on_prompt: bool = False


@dataclass
class FilePreview:
    """Every record of a file as cells under columns, with its personal data.

    Args:
        path: The file.
        columns: Column titles: the table's headers, or the records' keys in first-seen
            order; :data:`TEXT_COLUMN` for bare strings; :data:`UNREADABLE_COLUMN` when a
            record could not be read.
        rows: One tuple of raw cell values per record, in file order.
        lines: The file line (or record number) of each row.
        unit: What ``lines`` count (``line``, ``record``, ``row``, ``sheet row``).
        table: Whether the file is a table (CSV, TSV, Excel, Parquet).
        findings: Personal data found, in file order (values unmasked, for highlighting).
        pii_counts: Findings per type.
        records_with_pii: How many records hold any.
        keys_seen: Every field name a record had (tells a bare string from a field
            that happens to be called ``text``).
    """

    path: str
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[object, ...]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    unit: str = "line"
    table: bool = False
    findings: list[FileFinding] = field(default_factory=list)
    pii_counts: dict[str, int] = field(default_factory=dict)
    records_with_pii: int = 0
    keys_seen: set[str] = field(default_factory=set)

    def row_of_line(self, line: int) -> int | None:
        """The row holding the record at file ``line``, or None."""
        index = bisect.bisect_left(self.lines, line)
        if index < len(self.lines) and self.lines[index] == line:
            return index
        return None

    def record(self, row: int) -> dict[str, object] | str:
        """Row ``row`` as the record it was: its fields, or the bare string."""
        cells = self.rows[row]
        named = {
            name: value
            for name, value in zip(self.columns, cells, strict=False)
            if value is not None and name != UNREADABLE_COLUMN
        }
        if set(named) == {TEXT_COLUMN} and TEXT_COLUMN not in self.keys_seen:
            return str(named[TEXT_COLUMN])
        return named

    def unreadable_reason(self, row: int) -> str | None:
        """Why row ``row`` could not be read, or None when it could."""
        if UNREADABLE_COLUMN not in self.columns:
            return None
        cells = self.rows[row]
        position = self.columns.index(UNREADABLE_COLUMN)
        value = cells[position] if position < len(cells) else None
        return str(value) if value else None


def build_preview(path: str, cancelled: threading.Event | None = None) -> FilePreview:
    """Read every record of ``path`` into a :class:`FilePreview`, scanning it for PII.

    Raises:
        DataError: the file cannot be read at all.
    """
    preview = FilePreview(path=path, table=is_table(path))
    positions: dict[str, int] = {}
    counts: Counter[str] = Counter()

    def position(name: str) -> int:
        if name not in positions:
            positions[name] = len(preview.columns)
            preview.columns.append(name)
        return positions[name]

    for count, (item, findings) in enumerate(iter_record_findings(path)):
        if cancelled is not None and count % _CANCEL_CHECK_EVERY == 0 and cancelled.is_set():
            break
        preview.unit = item.unit
        cells: list[object] = []
        value = item.value
        if isinstance(value, RecordProblem):
            pairs: list[tuple[str, object]] = [(UNREADABLE_COLUMN, value.reason)]
        elif isinstance(value, dict):
            pairs = [(str(key), cell) for key, cell in value.items()]
            preview.keys_seen.update(str(key) for key in value)
        else:
            pairs = [(TEXT_COLUMN, value)]
        for name, cell in pairs:
            index = position(name)
            if index >= len(cells):
                cells.extend([None] * (index + 1 - len(cells)))
            cells[index] = cell
        preview.rows.append(tuple(cells))
        preview.lines.append(item.line)
        if findings:
            preview.records_with_pii += 1
            preview.findings.extend(findings)
            counts.update(finding.type for finding in findings)
    preview.pii_counts = {kind: counts.get(kind, 0) for kind in PII_TYPES}
    return preview


_audited_scans: set[tuple[str, str]] = set()
_audited_lock = threading.Lock()


def audit_pii_scan(preview: FilePreview) -> None:
    """Record a finished personal-data scan in the audit log, once per file content
    in this session (the page scans again when a setting changes).

    Raises:
        AuditError: the audit log cannot be written.
    """
    path = str(Path(preview.path).resolve())
    digest = sha256_file(path)
    with _audited_lock:
        if (path, digest) in _audited_scans:
            return
        _audited_scans.add((path, digest))
    record(
        "pii_scanned",
        {
            "path": path,
            "sha256": digest,
            "records_scanned": len(preview.rows),
            "records_with_personal_data": preview.records_with_pii,
            "counts_by_type": {kind: n for kind, n in preview.pii_counts.items() if n},
            "where": "Data step",
        },
    )


class DataAnalysisWorker(QObject):
    """Checks, previews and measures one data file (see the module docstring).

    Signals carry the request number first, so the page can ignore a stale answer.
    """

    #: (request, CheckReport)
    checked = Signal(int, object)
    #: (request, FilePreview)
    previewed = Signal(int, object)
    #: (request, TokenStats)
    tokens_counted = Signal(int, object)
    #: (request, why the token count is not shown)
    tokens_skipped = Signal(int, str)
    #: (request, plain message, details): the file cannot be used at all.
    failed = Signal(int, str, str)
    finished = Signal()

    def __init__(self, request_id: int, request: AnalysisRequest) -> None:
        super().__init__()
        self.request_id = request_id
        self.request = request
        self.cancelled = threading.Event()

    @Slot()
    def run(self) -> None:
        """Make the three passes; every outcome ends in signals."""
        request = self.request
        try:
            report = check_file(
                request.path,
                request.format,
                column_map=dict(request.column_map),
                max_chars=request.max_chars,
            )
            self.checked.emit(self.request_id, report)
            if self.cancelled.is_set():
                return
            preview = build_preview(request.path, self.cancelled)
            self.previewed.emit(self.request_id, preview)
            if self.cancelled.is_set():
                return
            audit_pii_scan(preview)
            self._count_tokens(report.format, report.column_map)
        except EnclaveError as error:
            self.failed.emit(self.request_id, error.user_message(), "")
        except Exception as error:  # noqa: BLE001 - every failure must reach the page
            self.failed.emit(
                self.request_id,
                f"{Path(request.path).name} could not be read ({type(error).__name__}: {error}).",
                traceback.format_exc(),
            )
        finally:
            self.finished.emit()

    def _count_tokens(self, format: str, column_map: dict[str, str]) -> None:
        request = self.request
        if not request.model_path:
            self.tokens_skipped.emit(
                self.request_id, "Choose a model on the Model step to see lengths in tokens."
            )
            return
        # The engine is imported here: it pulls in torch and transformers, which the
        # first two passes do not need.
        from desktop_app.data.loading import iter_usable_records
        from desktop_app.engine import quiet_library_output
        from desktop_app.engine.loading import load_tokenizer
        from desktop_app.engine.model_files import prepare_model_folder, resolve_model_source
        from desktop_app.engine.token_stats import token_length_stats

        quiet_library_output()
        try:
            folder = prepare_model_folder(resolve_model_source(request.model_path))
            tokenizer, _ = load_tokenizer(folder)
        except EnclaveError as error:
            self.tokens_skipped.emit(
                self.request_id,
                "Lengths in tokens are not shown: the model's tokenizer could not be read. "
                + error.user_message(),
            )
            return
        records = iter_usable_records(
            request.path, format, max_chars=request.max_chars, column_map=column_map
        )
        stats = token_length_stats(
            records, tokenizer, request.max_length, train_on_prompt=request.train_on_prompt
        )
        self.tokens_counted.emit(self.request_id, stats)
