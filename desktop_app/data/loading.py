"""Load a data file into training records, reporting every record that cannot be used."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

from desktop_app.core.config import DATA_FORMATS
from desktop_app.data.errors import data_error
from desktop_app.data.formats import DETECTION_SAMPLE_SIZE, detect_format, to_record
from desktop_app.data.readers import iter_raw_records, reader_for
from desktop_app.data.records import (
    LoadedData,
    RawRecord,
    RecordProblem,
    RecordProblemError,
    TrainingRecord,
)

ContentKey = tuple[str | None, tuple[tuple[str, str], ...]]


def _check_file(path: Path, source: str) -> None:
    """Refuse a path that is missing, a folder, of an unknown type, or empty."""
    if not path.exists():
        raise data_error(source, "does not exist.", "Check the path and choose the file again.")
    if path.is_dir():
        raise data_error(source, "is a folder, not a data file.", "Choose the file itself.")
    reader_for(path)  # raises for an unsupported extension
    if path.stat().st_size == 0:
        raise data_error(source, "is empty.", "Choose a file that holds training examples.")


def _take_sample(items: Iterator[RawRecord]) -> list[RawRecord]:
    """Read items until :data:`DETECTION_SAMPLE_SIZE` objects are in hand, or the end."""
    head: list[RawRecord] = []
    objects = 0
    for item in items:
        head.append(item)
        objects += isinstance(item.value, dict)
        if objects >= DETECTION_SAMPLE_SIZE:
            break
    return head


def _detect(head: list[RawRecord], source: str) -> tuple[str, float]:
    samples = [item.value for item in head if isinstance(item.value, dict)]
    if not head:
        raise data_error(source, "contains no records.", "Each line must hold one record.")
    problems = [item.value for item in head if isinstance(item.value, RecordProblem)]
    if not samples and len(problems) == len(head):
        first = problems[0]
        hint = "Fix that record, or check that the file is in the format its name says."
        if source.lower().endswith(".jsonl"):
            hint = (
                "A .jsonl file holds one JSON object per line; a file holding one JSON "
                "array should be named .json."
            )
        raise data_error(
            source, f"has no record that can be read. The first problem: {first.describe()}", hint
        )
    return detect_format(samples, path=source)


def content_key(record: TrainingRecord) -> ContentKey:
    """What makes two records the same example: their text, ignoring surrounding spaces."""
    text = record.text.strip() if record.text is not None else None
    return text, tuple((message.role, message.content.strip()) for message in record.messages)


def _collect(items: Iterator[RawRecord], data: LoadedData, max_chars: int) -> None:
    """Convert every item, adding it to the records or, with the reason, to the problems."""
    first_seen: dict[ContentKey, int] = {}
    for item in items:
        data.total_lines += 1
        if isinstance(item.value, RecordProblem):
            data.problems.append(item.value)
            continue
        try:
            record = to_record(
                item.value, data.format, data.path, item.line, unit=item.unit, max_chars=max_chars
            )
        except RecordProblemError as error:
            data.problems.append(error.problem)
            continue
        earlier = first_seen.setdefault(content_key(record), record.line)
        if earlier != record.line:
            reason = f"is an exact duplicate of {record.unit} {earlier}"
            data.problems.append(RecordProblem(data.path, record.line, None, reason, record.unit))
            continue
        data.records.append(record)


def load_records(path: str | Path, format: str = "auto", *, max_chars: int = 100_000) -> LoadedData:
    """Read a data file into training records.

    Records that cannot be used (broken JSON, a missing or empty field, text of the
    wrong type or too long, an exact duplicate) are not dropped silently: each gives a
    :class:`RecordProblem` in ``problems``, with its line and field.

    Args:
        path: A .jsonl, .json, .csv or .tsv file.
        format: A name from ``config.DATA_FORMATS``; ``"auto"`` detects it from the
            first records.
        max_chars: Longest text allowed in one field.

    Returns:
        The records, the problems, and the format used with the confidence in it.

    Raises:
        DataError: the file is missing, unreadable, of an unsupported type or empty, or
            its format cannot be detected.
    """
    source = str(path)
    if format not in DATA_FORMATS:
        raise data_error(
            source,
            f"cannot be read as '{format}', which is not a data format.",
            f"Choose one of: {', '.join(DATA_FORMATS)}.",
        )
    file_path = Path(path)
    _check_file(file_path, source)
    try:
        items = iter_raw_records(file_path)
        if format == "auto":
            head = _take_sample(items)
            resolved, confidence = _detect(head, source)
            items = itertools.chain(head, items)
        else:
            resolved, confidence = format, 1.0
        data = LoadedData(source, resolved, confidence)
        _collect(items, data, max_chars)
    except OSError as error:
        raise data_error(
            source,
            f"cannot be read ({error.strerror or error}).",
            "Check that the file is not open elsewhere and that you may read it.",
        ) from None
    if data.total_lines == 0:
        raise data_error(source, "contains no records.", "Add training examples to the file.")
    return data
