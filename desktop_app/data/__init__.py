"""Training data without Qt or torch: readers, format detection, record checks, split.

Nothing in this package imports Qt, torch or the ML libraries (an import-linter contract
enforces it). The engine calls :func:`load_records` and :func:`split_records`.
"""

from __future__ import annotations

from desktop_app.data.formats import detect_format, to_record
from desktop_app.data.loading import load_records
from desktop_app.data.records import (
    LoadedData,
    Message,
    RecordProblem,
    RecordProblemError,
    TrainingRecord,
)
from desktop_app.data.split import split_records

__all__ = [
    "LoadedData",
    "Message",
    "RecordProblem",
    "RecordProblemError",
    "TrainingRecord",
    "detect_format",
    "load_records",
    "split_records",
    "to_record",
]
