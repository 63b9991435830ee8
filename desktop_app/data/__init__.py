"""Training data without Qt or torch: readers, format detection, record checks, personal
data, split.

Nothing in this package imports Qt, torch or the ML libraries (an import-linter contract
enforces it). The engine calls :func:`load_mix`, :func:`usable_records` and
:func:`split_records_three`; the CLI and the Data page call :func:`check_file`.
"""

from __future__ import annotations

from desktop_app.data.checking import CheckReport, check_file, format_check_report
from desktop_app.data.formats import FORMAT_CHOICES, detect_format, to_record
from desktop_app.data.loading import DEFAULT_MAX_CHARS, load_records, usable_records
from desktop_app.data.mapping import apply_column_map, guess_column_map, parse_column_map
from desktop_app.data.records import (
    PROBLEM_CODES,
    LoadedData,
    Message,
    RecordProblem,
    RecordProblemError,
    TrainingRecord,
)
from desktop_app.data.sources import DataFile, load_mix
from desktop_app.data.split import SplitResult, split_records, split_records_three

__all__ = [
    "DEFAULT_MAX_CHARS",
    "FORMAT_CHOICES",
    "PROBLEM_CODES",
    "CheckReport",
    "DataFile",
    "LoadedData",
    "Message",
    "RecordProblem",
    "RecordProblemError",
    "SplitResult",
    "TrainingRecord",
    "apply_column_map",
    "check_file",
    "detect_format",
    "format_check_report",
    "guess_column_map",
    "load_mix",
    "load_records",
    "parse_column_map",
    "split_records",
    "split_records_three",
    "to_record",
    "usable_records",
]
