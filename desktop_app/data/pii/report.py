"""Scanning a whole data file, and the report the CLI prints and the run records.

Reports never repeat the personal data they found unless asked: findings carry the
value for the code that redacts, but :meth:`PiiReport.to_json` and
:func:`format_pii_report` show a masked preview (``j***@northwind.co.uk``,
``**** **** **** 1111``). A scan report is written to run folders, logs and terminals
that are kept, copied and shared; a preview is enough to find the record, and a report
that listed every number in full would be a second copy of the data it warns about.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from desktop_app.data.errors import data_error
from desktop_app.data.pii.findings import EMAIL, PII_TYPES
from desktop_app.data.pii.record_fields import WHOLE_RECORD, iter_text_fields
from desktop_app.data.pii.scanner import scan_text
from desktop_app.data.readers import iter_raw_records
from desktop_app.data.records import RawRecord, RecordProblem

#: Said with every report: what the scan cannot see.
SCAN_LIMITS = (
    "The scan finds e-mail addresses, phone numbers, card numbers, IBANs, US Social "
    "Security numbers, IP addresses, UK National Insurance numbers and NHS numbers. It "
    "does not find "
    "names, postal addresses or dates of birth: check for those yourself."
)


def mask_value(pii_type: str, value: str) -> str:
    """A preview that helps find a value without revealing it.

    E-mail addresses keep their first character and domain (``j***@northwind.co.uk``);
    other values keep their punctuation and their last four letters or digits (two when
    shorter than twelve), the rest becoming ``*``.
    """
    if pii_type == EMAIL and "@" in value:
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}***@{domain}"
    alphanumerics = sum(character.isalnum() for character in value)
    shown = 4 if alphanumerics >= 12 else 2
    masked: list[str] = []
    for character in reversed(value):
        if character.isalnum():
            masked.append(character if shown > 0 else "*")
            shown -= 1
        else:
            masked.append(character)
    return "".join(reversed(masked))


@dataclass(frozen=True, slots=True)
class FileFinding:
    """One piece of personal data in a data file.

    Args:
        line: 1-based file line where the record starts (for CSV/TSV, the row's line,
            the header being line 1); a record number when ``unit`` is ``"record"``.
        field: The field holding it: ``output``, ``messages[1].content``; empty when the
            record is a bare string.
        type: One of ``PII_TYPES``.
        start: Offset of its first character within that field's text.
        end: Offset just past it: ``text[start:end] == value``.
        value: The text found. Not shown in reports; see :meth:`preview`.
        unit: What ``line`` counts: ``"line"`` or ``"record"``.
    """

    line: int
    field: str
    type: str
    start: int
    end: int
    value: str
    unit: str = "line"

    def preview(self) -> str:
        """The value masked, for reports (see :func:`mask_value`)."""
        return mask_value(self.type, self.value)

    def to_json(self, *, include_value: bool = False) -> dict[str, object]:
        """The finding as JSON-ready data, with a masked preview instead of the value
        unless ``include_value``."""
        data: dict[str, object] = {
            "line": self.line,
            "unit": self.unit,
            "field": self.field,
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "preview": self.preview(),
        }
        if include_value:
            data["value"] = self.value
        return data


@dataclass
class PiiReport:
    """What a scan of one file found.

    Args:
        path: The file.
        findings: Every finding, in file order.
        counts_by_type: Findings per type, every type present (zero when none).
        records_with_pii: Line (or record) numbers of the records with any finding.
        records_scanned: Records scanned.
        skipped_lines: Lines of records that could not be read (broken JSON, bad
            encoding, wrong number of columns), which were not scanned.
    """

    path: str
    findings: list[FileFinding] = field(default_factory=list)
    counts_by_type: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PII_TYPES, 0))
    records_with_pii: list[int] = field(default_factory=list)
    records_scanned: int = 0
    skipped_lines: list[int] = field(default_factory=list)

    @property
    def records_skipped(self) -> int:
        """Records that could not be read and so were not scanned."""
        return len(self.skipped_lines)

    @property
    def total_findings(self) -> int:
        """Findings of every type."""
        return sum(self.counts_by_type.values())

    def summary(self) -> dict[str, object]:
        """The counts without the findings, for the run manifest."""
        return {
            "path": self.path,
            "records_scanned": self.records_scanned,
            "records_skipped": self.records_skipped,
            "records_with_pii": len(self.records_with_pii),
            "findings_total": self.total_findings,
            "counts_by_type": dict(self.counts_by_type),
        }

    def to_json(self, *, include_values: bool = False) -> dict[str, object]:
        """The summary and every finding, for ``scan-pii --json``; values are masked
        unless ``include_values``."""
        data = self.summary()
        data["record_lines_with_pii"] = list(self.records_with_pii)
        data["skipped_lines"] = list(self.skipped_lines)
        data["findings"] = [
            finding.to_json(include_value=include_values) for finding in self.findings
        ]
        return data


def too_deep(path: str, item: RawRecord) -> RawRecord:
    """The record as a problem: nested too deeply to walk (thousands of levels)."""
    reason = "is nested too deeply to scan for personal data"
    return RawRecord(item.line, RecordProblem(path, item.line, None, reason, item.unit), item.unit)


def findings_in_record(item: RawRecord, types: Collection[str] | None = None) -> list[FileFinding]:
    """The findings in every text of one readable record."""
    found: list[FileFinding] = []
    for field_name, text in iter_text_fields(item.value):
        for finding in scan_text(text, types):
            found.append(
                FileFinding(
                    item.line,
                    field_name,
                    finding.type,
                    finding.start,
                    finding.end,
                    finding.value,
                    item.unit,
                )
            )
    return found


def _check_data_file(path: Path) -> None:
    if not path.exists():
        raise data_error(str(path), "does not exist.", "Check the path and choose the file again.")
    if path.is_dir():
        raise data_error(str(path), "is a folder, not a data file.", "Choose the file itself.")


def iter_record_findings(
    path: str | Path, types: Collection[str] | None = None
) -> Iterator[tuple[RawRecord, list[FileFinding]]]:
    """Each record of a file with its findings, streamed: the file is never held whole.

    A record that could not be read (its value a :class:`RecordProblem`) comes with no
    findings: it was not scanned.

    Raises:
        DataError: the file is missing, a folder, of an unsupported type, or cannot be
            read as a whole.
    """
    file_path = Path(path)
    _check_data_file(file_path)
    try:
        for item in iter_raw_records(file_path):
            if isinstance(item.value, RecordProblem):
                yield item, []
                continue
            try:
                found = findings_in_record(item, types)
            except RecursionError:
                yield too_deep(str(path), item), []
                continue
            yield item, found
    except OSError as error:
        raise data_error(
            str(path),
            f"cannot be read ({error.strerror or error}).",
            "Check that the file is not open elsewhere and that you may read it.",
        ) from None


def scan_file(path: str | Path, types: Collection[str] | None = None) -> PiiReport:
    """Scan every text of every record of a data file for personal data.

    Args:
        path: A data file of a type :func:`iter_raw_records` reads.
        types: Only these types; all of them if None.

    Returns:
        The report; its findings keep their values (for redaction), but its JSON and
        text forms show masked previews.

    Raises:
        DataError: the file is missing, a folder, unsupported or unreadable as a whole.
    """
    report = PiiReport(str(path))
    counts: Counter[str] = Counter()
    for item, findings in iter_record_findings(path, types):
        if isinstance(item.value, RecordProblem):
            report.skipped_lines.append(item.line)
            continue
        report.records_scanned += 1
        if findings:
            report.records_with_pii.append(item.line)
            report.findings.extend(findings)
            counts.update(finding.type for finding in findings)
    report.counts_by_type.update(counts)
    return report


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number:,} {singular if number == 1 else plural}"


def format_pii_report(report: PiiReport, *, limit: int | None = 50) -> str:
    """The report as plain text for the terminal: totals, counts per type, then one
    line per finding (the first ``limit`` of them; all when None), values masked."""
    name = Path(report.path).name
    lines: list[str] = []
    unread = ""
    if report.records_skipped:
        skipped = _count(report.records_skipped, "record", "records")
        verb = "was" if report.records_skipped == 1 else "were"
        unread = f" {skipped} could not be read and {verb} not scanned."
    scanned = _count(report.records_scanned, "record", "records")
    if not report.findings:
        lines.append(f"No personal data found in {scanned} of {name}.{unread}")
    else:
        found = _count(report.total_findings, "piece", "pieces")
        lines.append(
            f"{name}: {found} of personal data in {len(report.records_with_pii):,} of "
            f"{scanned}.{unread}"
        )
        width = max(len(pii_type) for pii_type in PII_TYPES)
        for pii_type, count in report.counts_by_type.items():
            if count:
                lines.append(f"  {pii_type:<{width}}  {count:,}")
        lines.append("")
        shown = report.findings if limit is None else report.findings[:limit]
        for finding in shown:
            where = f"{finding.unit} {finding.line}"
            if finding.field != WHOLE_RECORD:
                where += f", field '{finding.field}'"
            lines.append(
                f"{where}, characters {finding.start}-{finding.end}: "
                f"{finding.type} {finding.preview()}"
            )
        if len(shown) < len(report.findings):
            hidden = len(report.findings) - len(shown)
            lines.append(f"... and {hidden:,} more (use --json to list them all).")
    lines.append(SCAN_LIMITS)
    return "\n".join(lines)
