"""Open a data file, check each record, and load the usable ones.

:func:`open_data` settles everything about a file as a whole (it exists, its type, its
format, its column mapping); :func:`check_item` turns one raw item into a record or a
problem. :func:`load_records` and the streaming ``checking.check_file`` both use these
two, so a record is judged the same way wherever it is read.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from desktop_app.data.duplicates import DuplicateFinder
from desktop_app.data.errors import data_error
from desktop_app.data.formats import (
    DETECTION_SAMPLE_SIZE,
    FORMAT_CHOICES,
    detect_format,
    to_record,
)
from desktop_app.data.mapping import (
    apply_column_map,
    check_given_fields,
    detect_table_format,
    known_fields,
    resolve_given_columns,
    table_column_map,
)
from desktop_app.data.readers import is_plain_text, is_table, iter_raw_records, reader_for
from desktop_app.data.records import (
    LoadedData,
    RawRecord,
    RecordProblem,
    RecordProblemError,
    TrainingRecord,
    list_problems,
)

#: The longest text a record may have, in characters, unless the user says otherwise.
DEFAULT_MAX_CHARS = 100_000

_FIELD_ROOT = re.compile(r"[\[.]")
# Conversation fields, which a table can only hold as JSON text in a cell.
_LIST_FIELDS = {"chat": "messages", "sharegpt": "conversations"}


@dataclass
class OpenedData:
    """A data file opened for reading, its format settled.

    Args:
        path: The file.
        format: The format to read it as, never ``"auto"``.
        format_confidence: Share of the sampled records that fit the format; 1.0 when
            the user chose it.
        column_map: Field to column (or JSON key) for every mapped field.
        items: The raw items, from the first; read them once.
        table: Whether the file is a table (CSV, TSV, Parquet, Excel).
    """

    path: str
    format: str
    format_confidence: float
    column_map: dict[str, str]
    items: Iterator[RawRecord]
    table: bool = False


def _check_path(path: Path, source: str) -> None:
    """Refuse a path that is missing, a folder, of an unknown type, or empty."""
    if not path.exists():
        raise data_error(source, "does not exist.", "Check the path and choose the file again.")
    if path.is_dir():
        raise data_error(source, "is a folder, not a data file.", "Choose the file itself.")
    reader_for(path)  # raises for an unsupported extension
    if path.stat().st_size == 0:
        raise data_error(source, "is empty.", "Choose a file that holds training examples.")


@contextmanager
def reading(source: str) -> Iterator[None]:
    """Turn an operating-system error while reading ``source`` into a DataError."""
    try:
        yield
    except OSError as error:
        raise data_error(
            source,
            f"cannot be read ({error.strerror or error}).",
            "Check that the file is not open elsewhere and that you may read it.",
        ) from None


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


def _refuse_unreadable(head: list[RawRecord], source: str) -> None:
    """Refuse a file with no records, or whose sampled records are all unreadable."""
    if not head:
        raise data_error(source, "contains no records.", "Add training examples to the file.")
    if any(not isinstance(item.value, RecordProblem) for item in head):
        return
    first = head[0].value
    assert isinstance(first, RecordProblem)
    hint = "Fix that record, or check that the file is in the format its name says."
    if source.lower().endswith(".jsonl"):
        hint = (
            "A .jsonl file holds one JSON object per line; a file holding one JSON "
            "array should be named .json."
        )
    raise data_error(
        source, f"has no record that can be read. The first problem: {first.describe()}", hint
    )


def _settle_format(
    source: str, head: list[RawRecord], format: str, given: Mapping[str, str], table: bool
) -> tuple[str, float, dict[str, str]]:
    """The format, the confidence in it, and the column mapping, from the sampled items."""
    samples = [item.value for item in head if isinstance(item.value, dict)]
    unknown = [name for name in given if name not in known_fields()]
    if unknown:
        raise data_error(
            source,
            f"cannot map the field '{unknown[0]}': no data format has such a field.",
            f"The fields are: {', '.join(known_fields())}.",
        )
    headers = list(samples[0]) if table and samples else sorted({k for s in samples for k in s})
    column_map = resolve_given_columns(source, given, headers) if given else {}
    if table:
        if format == "auto":
            return detect_table_format(source, headers, samples, column_map)
        return format, 1.0, table_column_map(source, headers, format, column_map)
    if format == "auto":
        mapped = [apply_column_map(sample, column_map) for sample in samples]
        resolved, confidence = detect_format(mapped, path=source)
    else:
        resolved, confidence = format, 1.0
    check_given_fields(source, column_map, resolved)
    return resolved, confidence, column_map


def open_data(
    path: str | Path,
    format: str = "auto",
    *,
    column_map: Mapping[str, str] | None = None,
    sheet: str | None = None,
) -> OpenedData:
    """Open a data file and settle its format and column mapping from its first records.

    Args:
        path: A .jsonl, .json, .csv, .tsv, .parquet, .xlsx or .txt file.
        format: A name from :data:`FORMAT_CHOICES`; ``"auto"`` detects it.
        column_map: Field to column (``{"output": "answer"}``), overriding guesses.
        sheet: For an Excel workbook, the sheet to read; None for the first.

    Raises:
        DataError: the file is missing, unreadable, of an unsupported type or empty; its
            format cannot be told; or a mapped column is not in it.
    """
    source = str(path)
    if format not in FORMAT_CHOICES:
        raise data_error(
            source,
            f"cannot be read as '{format}', which is not a data format.",
            f"Choose one of: {', '.join(FORMAT_CHOICES)}.",
        )
    file_path = Path(path)
    _check_path(file_path, source)
    given = dict(column_map or {})
    table = is_table(file_path)
    with reading(source):
        items = iter_raw_records(file_path, sheet=sheet)
        head = _take_sample(items)
    _refuse_unreadable(head, source)
    if is_plain_text(file_path):
        if format not in ("auto", "text") or given:
            raise data_error(
                source,
                "is plain text, so it can only be read as the text format, with no column mapping.",
                "Choose the text format, or a JSON Lines or table file for other formats.",
            )
        resolved, confidence, used = "text", 1.0, dict[str, str]()
    else:
        resolved, confidence, used = _settle_format(source, head, format, given, table)
    return OpenedData(source, resolved, confidence, used, itertools.chain(head, items), table)


def _renamed(problem: RecordProblem, opened: OpenedData) -> RecordProblem:
    """The problem with a mapped field called by the column the user knows."""
    if not opened.column_map or not problem.field:
        return problem
    columns = {name: column for name, column in opened.column_map.items() if name != column}
    root = _FIELD_ROOT.split(problem.field, maxsplit=1)[0]
    if root not in columns:
        return problem
    return dataclasses.replace(problem, field=columns[root] + problem.field[len(root) :])


def _json_cell(
    value: dict[str, object], key: str, item: RawRecord, source: str
) -> RecordProblem | None:
    """Parse a conversation a table holds as JSON text in a cell, in place."""
    cell = value.get(key)
    if not isinstance(cell, str) or not cell.strip().startswith("["):
        return None
    try:
        value[key] = json.loads(cell)
    except (ValueError, RecursionError):
        reason = "is not valid JSON, so its conversation cannot be read"
        return RecordProblem(source, item.line, key, reason, item.unit, code="broken_json")
    return None


def check_item(
    item: RawRecord, opened: OpenedData, max_chars: int | None
) -> TrainingRecord | RecordProblem:
    """Turn one raw item into a training record, or the problem that keeps it out.

    Args:
        item: As the reader gave it.
        opened: The file it came from.
        max_chars: Most characters allowed in one record; None for no limit.
    """
    value = item.value
    if isinstance(value, RecordProblem):
        return value
    if isinstance(value, dict):
        value = apply_column_map(value, opened.column_map)
        list_key = _LIST_FIELDS.get(opened.format)
        if opened.table and list_key:
            value = dict(value)
            problem = _json_cell(value, list_key, item, opened.path)
            if problem is not None:
                return _renamed(problem, opened)
    try:
        return to_record(
            value, opened.format, opened.path, item.line, unit=item.unit, max_chars=max_chars
        )
    except RecordProblemError as error:
        return _renamed(error.problem, opened)


def apply_duplicates(finder: DuplicateFinder, datasets: Sequence[LoadedData]) -> None:
    """Report the duplicates among the records of ``datasets``, added to ``finder`` in
    order, and leave exact duplicates out of the records.

    Each dataset's problems are sorted into file order afterwards.
    """
    ends = list(itertools.accumulate(len(data.records) for data in datasets))
    left_out: list[set[int]] = [set() for _ in datasets]
    for finding in finder.findings():
        which = bisect.bisect_right(ends, finding.index)
        datasets[which].problems.append(finding.problem)
        if finding.problem.severity == "error":
            left_out[which].add(finding.index - (ends[which - 1] if which else 0))
    for data, dropped in zip(datasets, left_out, strict=True):
        if dropped:
            data.records = [r for i, r in enumerate(data.records) if i not in dropped]
        data.problems.sort(key=lambda problem: problem.line)


def collect(
    opened: OpenedData, data: LoadedData, finder: DuplicateFinder, max_chars: int | None
) -> None:
    """Check every item of ``opened`` into ``data``, adding usable records to ``finder``."""
    with reading(opened.path):
        for item in opened.items:
            data.total_lines += 1
            result = check_item(item, opened, max_chars)
            if isinstance(result, RecordProblem):
                data.problems.append(result)
            else:
                data.records.append(result)
                finder.add(result)


def load_records(
    path: str | Path,
    format: str = "auto",
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    column_map: Mapping[str, str] | None = None,
    sheet: str | None = None,
) -> LoadedData:
    """Read a data file into training records.

    Records that cannot be used (broken JSON, a missing or empty field, text of the
    wrong type or too long, an exact duplicate) are not dropped silently: each gives an
    error in ``problems``, with its line and field. Records that only look wrong (the
    same as another apart from case or punctuation, or nearly the same) give a warning
    and stay in ``records``.

    Args:
        path: A .jsonl, .json, .csv, .tsv, .parquet, .xlsx or .txt file.
        format: A name from :data:`FORMAT_CHOICES`; ``"auto"`` detects it from the
            first records.
        max_chars: Most characters allowed in one record.
        column_map: Field to column, for files whose columns have other names.
        sheet: For an Excel workbook, the sheet to read; None for the first.

    Returns:
        The records, the problems, the format used with the confidence in it, and the
        column mapping used.

    Raises:
        DataError: the file is missing, unreadable, of an unsupported type or empty, or
            its format cannot be detected.
    """
    opened = open_data(path, format, column_map=column_map, sheet=sheet)
    data = LoadedData(
        opened.path, opened.format, opened.format_confidence, column_map=dict(opened.column_map)
    )
    finder = DuplicateFinder()
    collect(opened, data, finder, max_chars)
    apply_duplicates(finder, [data])
    return data


def usable_records(
    loaded: LoadedData, exclude_errors: bool
) -> tuple[list[TrainingRecord], list[RecordProblem]]:
    """The records to train on, and the errors of the records left out.

    Args:
        loaded: A loaded file.
        exclude_errors: Whether the user chose to train without the records that have
            errors; their lines belong in the run's manifest.

    Returns:
        The usable records, and the errors (empty when there were none).

    Raises:
        DataError: there are errors and the user did not choose to leave those records
            out (the message lists them), or no usable record is left.
    """
    errors = loaded.errors
    if errors and not exclude_errors:
        raise data_error(
            loaded.path,
            f"{len(errors):,} of {loaded.total_lines:,} records cannot be used:\n"
            + list_problems(errors),
            "Fix these records, or leave them out: set data.exclude_invalid to true (in "
            "the app, 'Leave out records with errors'); the lines left out are recorded "
            "with the run.",
        )
    if not loaded.records:
        raise data_error(
            loaded.path, "holds no usable training records.", "Fix the problems listed."
        )
    return list(loaded.records), errors


def iter_usable_records(
    path: str | Path,
    format: str = "auto",
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    column_map: Mapping[str, str] | None = None,
    sheet: str | None = None,
) -> Iterator[TrainingRecord]:
    """The file's records that have no error of their own, read one at a time.

    For figures over a whole file (token counts) without holding it in memory.
    Duplicates are not looked for here: that needs the whole file (see
    :func:`load_records` and :func:`~desktop_app.data.checking.check_file`).

    Raises:
        DataError: the file cannot be read at all.
    """
    opened = open_data(path, format, column_map=column_map, sheet=sheet)
    with reading(opened.path):
        for item in opened.items:
            result = check_item(item, opened, max_chars)
            if isinstance(result, TrainingRecord):
                yield result
