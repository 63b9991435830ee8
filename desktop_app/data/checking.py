"""Check a data file without loading it: the report behind ``enclave data check``.

:func:`check_file` reads the file once, as a stream, judging each record exactly as
:func:`desktop_app.data.loading.load_records` does, but keeps only the problems and a
few numbers per record (duplicate fingerprints and the length), never the records, so a
file of any size can be checked.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.data.duplicates import DuplicateFinder
from desktop_app.data.loading import DEFAULT_MAX_CHARS, check_item, open_data, reading
from desktop_app.data.records import PROBLEM_CODES, RecordProblem, count_by_reason

#: How many problems the plain-text report lists before "... and N more".
REPORT_PROBLEM_LINES = 50


@dataclass(frozen=True)
class LengthStats:
    """Characters per usable record (all fields together).

    Args:
        shortest: The fewest characters in a record.
        mean: The average.
        median: Half the records have at most this many.
        p95: 95 in 100 records have at most this many.
        longest: The most characters in a record.
    """

    shortest: int = 0
    mean: float = 0.0
    median: float = 0.0
    p95: float = 0.0
    longest: int = 0


@dataclass
class CheckReport:
    """What a check of one data file found.

    Args:
        path: The file.
        format: The format it was read as.
        format_confidence: Share of sampled records that fit the format; 1.0 when chosen.
        format_detected: Whether the format was detected rather than chosen.
        column_map: Field to column used (guessed from the headers or given).
        rows_total: Records read, usable and not.
        rows_valid: Records without an error (records with warnings included).
        problems: Errors and warnings, in file order.
        max_chars: The length limit the records were checked against.
        lengths: Characters per usable record.
    """

    path: str
    format: str
    format_confidence: float
    format_detected: bool
    column_map: dict[str, str]
    rows_total: int
    rows_valid: int
    problems: list[RecordProblem] = field(default_factory=list)
    max_chars: int = DEFAULT_MAX_CHARS
    lengths: LengthStats = field(default_factory=LengthStats)

    @property
    def error_count(self) -> int:
        """Problems that keep a record out of training."""
        return sum(problem.severity == "error" for problem in self.problems)

    @property
    def warning_count(self) -> int:
        """Problems that do not keep a record out."""
        return len(self.problems) - self.error_count

    @property
    def counts_by_reason(self) -> dict[str, int]:
        """How many problems there are of each code, most frequent first."""
        return count_by_reason(self.problems)

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON values, for ``enclave data check --json``."""
        return {
            "path": self.path,
            "format": self.format,
            "format_confidence": round(self.format_confidence, 4),
            "format_detected": self.format_detected,
            "column_map": dict(self.column_map),
            "rows_total": self.rows_total,
            "rows_valid": self.rows_valid,
            "errors": self.error_count,
            "warnings": self.warning_count,
            "counts_by_reason": self.counts_by_reason,
            "max_chars": self.max_chars,
            "chars": {
                "min": self.lengths.shortest,
                "mean": round(self.lengths.mean, 1),
                "median": self.lengths.median,
                "p95": self.lengths.p95,
                "max": self.lengths.longest,
            },
            "problems": [
                {
                    "line": problem.line,
                    "unit": problem.unit,
                    "field": problem.field,
                    "code": problem.code,
                    "severity": problem.severity,
                    "reason": problem.reason,
                    "message": problem.describe(),
                }
                for problem in self.problems
            ],
        }


def _length_stats(lengths: np.ndarray) -> LengthStats:
    if not lengths.size:
        return LengthStats()
    median, p95 = np.percentile(lengths, [50, 95])
    return LengthStats(
        int(lengths.min()), float(lengths.mean()), float(median), float(p95), int(lengths.max())
    )


def check_file(
    path: str | Path,
    format: str = "auto",
    *,
    column_map: Mapping[str, str] | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    sheet: str | None = None,
) -> CheckReport:
    """Check every record of a data file, reading it as a stream.

    Args:
        path: A .jsonl, .json, .csv, .tsv, .parquet, .xlsx or .txt file.
        format: A format name, or ``"auto"`` to detect it.
        column_map: Field to column, overriding the guessed mapping.
        max_chars: Most characters allowed in one record.
        sheet: For an Excel workbook, the sheet to read; None for the first.

    Returns:
        The report: counts, problems in file order, lengths.

    Raises:
        DataError: the file cannot be read at all (missing, empty, not a data file, a
            format that cannot be told, a mapped column that is not there).
    """
    opened = open_data(path, format, column_map=column_map, sheet=sheet)
    problems: list[RecordProblem] = []
    finder = DuplicateFinder()
    lengths = array("Q")
    rows_total = 0
    with reading(opened.path):
        for item in opened.items:
            rows_total += 1
            result = check_item(item, opened, max_chars)
            if isinstance(result, RecordProblem):
                problems.append(result)
            else:
                finder.add(result)
                lengths.append(result.char_count)
    usable = np.ones(len(lengths), dtype=bool)
    for finding in finder.findings():
        problems.append(finding.problem)
        if finding.problem.severity == "error":
            usable[finding.index] = False
    problems.sort(key=lambda problem: problem.line)
    return CheckReport(
        path=opened.path,
        format=opened.format,
        format_confidence=opened.format_confidence,
        format_detected=format == "auto",
        column_map=dict(opened.column_map),
        rows_total=rows_total,
        rows_valid=int(usable.sum()),
        problems=problems,
        max_chars=max_chars,
        lengths=_length_stats(np.frombuffer(lengths, dtype=np.uint64)[usable]),
    )


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def format_check_report(report: CheckReport, limit: int = REPORT_PROBLEM_LINES) -> str:
    """The report as plain text: what was read, counts per reason, then the problems.

    Args:
        report: From :func:`check_file`.
        limit: Most problems listed; the rest are counted in ``"... and N more"``.
    """
    name = Path(report.path).name
    how = (
        f"detected, {report.format_confidence:.0%} of the sampled records fit"
        if report.format_detected
        else "as chosen"
    )
    lines = [f"{name}: {_plural(report.rows_total, 'record')}, read as {report.format} ({how})."]
    mapped = [f"{field} <- {column}" for field, column in report.column_map.items()]
    if mapped:
        lines.append(f"Columns: {', '.join(mapped)}.")
    unusable = report.rows_total - report.rows_valid
    lines.append(
        f"{report.rows_valid:,} can be used, {unusable:,} cannot; "
        f"{_plural(report.error_count, 'error')}, {_plural(report.warning_count, 'warning')}."
    )
    if report.rows_valid:
        stats = report.lengths
        lines.append(
            f"Characters per record: shortest {stats.shortest:,}, mean {stats.mean:,.0f}, "
            f"longest {stats.longest:,} (limit {report.max_chars:,})."
        )
    if not report.problems:
        lines.append("No problems found.")
        return "\n".join(lines)
    severity_of = {problem.code: problem.severity for problem in report.problems}
    lines += ["", "Problems by reason:"]
    for code, count in report.counts_by_reason.items():
        label = PROBLEM_CODES.get(code, code)
        lines.append(f"  {count:>7,}  {label} ({severity_of[code]})")
    lines += ["", "Problems:"]
    for problem in report.problems[:limit]:
        lines.append(f"  {problem.severity:<7}  {problem.describe()}")
    if len(report.problems) > limit:
        lines.append(f"  ... and {len(report.problems) - limit:,} more")
    return "\n".join(lines)
