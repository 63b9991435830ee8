"""The shapes data takes on its way to the engine: raw items, records, problems.

A reader turns a file into :class:`RawRecord` items; a format turns each item into a
:class:`TrainingRecord` or a :class:`RecordProblem`; the loader gathers both into a
:class:`LoadedData`. Nothing is dropped without a problem saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple


def _location(path: str, number: int, unit: str) -> str:
    return f"{Path(path).name}, {unit} {number}"


@dataclass(frozen=True)
class Message:
    """One turn of a conversation.

    Args:
        role: ``"system"``, ``"user"`` or ``"assistant"``.
        content: What was said.
    """

    role: str
    content: str


@dataclass(frozen=True)
class TrainingRecord:
    """One usable training example.

    Args:
        source: The file it came from.
        line: 1-based line where the record starts (CSV: the header is line 1); for a
            JSON document whose records share lines, the record's position instead,
            with ``unit`` set to ``"record"``.
        messages: The conversation, for every format but ``text``; it ends with an
            assistant message.
        text: The plain text, for the ``text`` format (continued pre-training).
        unit: What ``line`` counts: ``"line"`` or ``"record"``.
    """

    source: str
    line: int
    messages: tuple[Message, ...] = ()
    text: str | None = None
    unit: str = "line"

    @property
    def location(self) -> str:
        """Where the record is, for messages: ``"data.jsonl, line 7"``."""
        return _location(self.source, self.line, self.unit)


@dataclass(frozen=True)
class RecordProblem:
    """Why one record cannot be used.

    Args:
        path: The file.
        line: 1-based line (or record number, see ``unit``) of the record.
        field: The field concerned, such as ``output`` or ``messages[2].role``; None when
            the problem is with the record as a whole.
        reason: What is wrong, in plain language, worded to follow the location:
            ``"is empty"``, ``"must be text, got a number"``.
        unit: What ``line`` counts: ``"line"`` or ``"record"``.
    """

    path: str
    line: int
    field: str | None
    reason: str
    unit: str = "line"

    @property
    def location(self) -> str:
        """Where the record is: ``"data.jsonl, line 7"``."""
        return _location(self.path, self.line, self.unit)

    def describe(self) -> str:
        """The problem in one line: ``"data.jsonl, line 7, field 'output': is empty"``."""
        where = self.location
        if self.field:
            where += f", field '{self.field}'"
        return f"{where}: {self.reason}"


class RecordProblemError(Exception):
    """Raised when one record cannot be used; carries the :class:`RecordProblem`.

    Args:
        problem: What is wrong and where.
    """

    def __init__(self, problem: RecordProblem) -> None:
        super().__init__(problem.describe())
        self.problem = problem


class RawRecord(NamedTuple):
    """One item as a reader found it, before any format is applied.

    Args:
        line: 1-based line (or record number, see ``unit``) where the item starts.
        value: The parsed item (usually a dict of fields), or a :class:`RecordProblem`
            when the item could not even be parsed.
        unit: What ``line`` counts: ``"line"`` or ``"record"``.
    """

    line: int
    value: object
    unit: str = "line"


@dataclass
class LoadedData:
    """Everything read from one data file.

    Args:
        path: The file.
        format: The format used, never ``"auto"``.
        format_confidence: Share of the sampled records that fit the format (0 to 1);
            1.0 when the user chose the format.
        records: The usable records, in file order.
        problems: One entry per record that cannot be used, in file order.
        total_lines: Records read, usable and not (blank lines are not counted).
    """

    path: str
    format: str
    format_confidence: float
    records: list[TrainingRecord] = field(default_factory=list)
    problems: list[RecordProblem] = field(default_factory=list)
    total_lines: int = 0
