"""Several data files combined into one training mix, each with a weight.

Each file is read and checked on its own (its own format and column mapping), and
duplicates are looked for across the whole mix: a record that repeats one in an earlier
file names that file and line. A separate validation file can be loaded last in the same
mix, so an example that is also in the training files is caught.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from desktop_app.core.errors import UserInputError
from desktop_app.data.duplicates import DuplicateFinder
from desktop_app.data.errors import data_error
from desktop_app.data.formats import FORMAT_CHOICES
from desktop_app.data.loading import DEFAULT_MAX_CHARS, apply_duplicates, collect, open_data
from desktop_app.data.records import LoadedData


@dataclass(frozen=True)
class DataFile:
    """One file of a training mix.

    Args:
        path: The data file.
        weight: How much of the mix comes from this file, relative to the others'
            weights; a number above 0.
        format: A format name, or ``"auto"`` to detect it.
        column_map: Field to column, for a table whose columns have other names.
        sheet: For an Excel workbook, the sheet to read; None for the first.
    """

    path: str
    weight: float = 1.0
    format: str = "auto"
    column_map: Mapping[str, str] = field(default_factory=dict)
    sheet: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", str(self.path))
        object.__setattr__(self, "column_map", dict(self.column_map))
        weight = self.weight
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not math.isfinite(weight)
            or weight <= 0
        ):
            raise data_error(
                self.path,
                f"has the weight {weight!r}, but a weight must be a number above 0.",
                "Give each file a weight such as 1 (an equal share) or 2 (twice as much).",
            )
        if self.format not in FORMAT_CHOICES:
            raise data_error(
                self.path,
                f"cannot be read as '{self.format}', which is not a data format.",
                f"Choose one of: {', '.join(FORMAT_CHOICES)}.",
            )


def _refuse_repeats(files: Sequence[DataFile]) -> None:
    seen: set[Path] = set()
    for data_file in files:
        key = Path(data_file.path).resolve()
        if key in seen:
            raise data_error(
                data_file.path,
                "is listed more than once in the mix.",
                "List each file once, and give it a larger weight instead.",
            )
        seen.add(key)


def load_mix(files: Sequence[DataFile], *, max_chars: int = DEFAULT_MAX_CHARS) -> list[LoadedData]:
    """Load every file of a mix, checking for duplicates within and across files.

    Args:
        files: The files, in order; a duplicate names the earliest copy, so list the
            validation file last.
        max_chars: Most characters allowed in one record.

    Returns:
        One :class:`LoadedData` per file, in the same order. An exact duplicate of a
        record in an earlier file is an error in the later file's problems, and is left
        out of its records.

    Raises:
        UserInputError: no file was given.
        DataError: a file is listed twice, or cannot be read at all.
    """
    if not files:
        raise UserInputError("No data files were given.", "Choose at least one data file.")
    _refuse_repeats(files)
    finder = DuplicateFinder()
    datasets: list[LoadedData] = []
    for data_file in files:
        opened = open_data(
            data_file.path, data_file.format, column_map=data_file.column_map, sheet=data_file.sheet
        )
        data = LoadedData(
            opened.path, opened.format, opened.format_confidence, column_map=opened.column_map
        )
        collect(opened, data, finder, max_chars)
        datasets.append(data)
    apply_duplicates(finder, datasets)
    return datasets
