"""The shapes data takes on its way to the engine: raw items, records, problems.

A reader turns a file into :class:`RawRecord` items; a format turns each item into a
:class:`TrainingRecord` or a :class:`RecordProblem`; the loader gathers both into a
:class:`LoadedData`. Nothing is dropped without a problem saying why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from desktop_app.core.errors import DataError

#: How serious a problem is: an error keeps the record out of training, a warning does not.
SEVERITIES = ("error", "warning")

#: Each problem code, in plain words, for counts per reason.
PROBLEM_CODES: dict[str, str] = {
    "broken_json": "not valid JSON",
    "not_an_object": "not an object with named fields",
    "missing_field": "missing field",
    "empty_field": "empty field",
    "wrong_type": "value of the wrong type",
    "unknown_role": "unknown role",
    "role_order": "roles out of order",
    "no_answer": "does not end on an answer",
    "same_answers": "chosen and rejected answers are the same",
    "invalid_utf8": "not valid UTF-8 text",
    "too_long": "over the length limit",
    "row_shape": "wrong number of values in the row",
    "exact_duplicate": "exact duplicate",
    "normalized_duplicate": "same apart from case, spacing or punctuation",
    "near_duplicate": "near duplicate",
    "invalid_record": "cannot be used",
}


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
            with ``unit`` set to ``"record"``; for Parquet the row number (``"row"``),
            for Excel the sheet row (``"sheet row"``).
        messages: The conversation, for every format but ``text``; it ends with an
            assistant message. Classification records are the text as the user turn
            and the label as the answer; preference pairs the prompt and the chosen
            answer.
        text: The plain text, for the ``text`` format (continued pre-training).
        unit: What ``line`` counts: ``"line"``, ``"record"``, ``"row"`` or
            ``"sheet row"``.
        label: The class, for the ``classification`` format.
        rejected: The rejected answer, for the ``preference`` format.
    """

    source: str
    line: int
    messages: tuple[Message, ...] = ()
    text: str | None = None
    unit: str = "line"
    label: str | None = None
    rejected: str | None = None

    @property
    def location(self) -> str:
        """Where the record is, for messages: ``"data.jsonl, line 7"``."""
        return _location(self.source, self.line, self.unit)

    @property
    def char_count(self) -> int:
        """Characters of text in the record, all messages and the rejected answer included."""
        count = len(self.text) if self.text is not None else 0
        count += sum(len(message.content) for message in self.messages)
        return count + (len(self.rejected) if self.rejected is not None else 0)


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """Why one record cannot be used (an error), or what looks wrong with it (a warning).

    Args:
        path: The file.
        line: 1-based line (or record number, see ``unit``) of the record.
        field: The field concerned, such as ``output`` or ``messages[2].role``; None when
            the problem is with the record as a whole. For a mapped table column, the
            column's name.
        reason: What is wrong, in plain language, worded to follow the location:
            ``"is empty"``, ``"must be text, got a number"``.
        unit: What ``line`` counts: ``"line"``, ``"record"``, ``"row"`` or ``"sheet row"``.
        severity: ``"error"`` (the record is left out of training) or ``"warning"``.
        code: A short stable category for counts per reason, a key of
            :data:`PROBLEM_CODES` such as ``"empty_field"``.
    """

    path: str
    line: int
    field: str | None
    reason: str
    unit: str = "line"
    severity: str = "error"
    code: str = "invalid_record"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be 'error' or 'warning', not {self.severity!r}")

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


def list_problems(problems: Sequence[RecordProblem], limit: int = 50) -> str:
    """Problems one per line, indented, with ``"... and N more"`` past ``limit``."""
    lines = [f"  {problem.describe()}" for problem in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"  ... and {len(problems) - limit:,} more")
    return "\n".join(lines)


def count_by_reason(problems: Sequence[RecordProblem]) -> dict[str, int]:
    """How many problems there are of each code, most frequent first."""
    return dict(Counter(problem.code for problem in problems).most_common())


class RecordProblemError(DataError):
    """Raised when one record cannot be used; carries the :class:`RecordProblem`.

    Its message is :meth:`RecordProblem.describe`.

    Args:
        problem: What is wrong and where.
    """

    def __init__(self, problem: RecordProblem) -> None:
        super().__init__(problem.path, problem.reason, line=problem.line, field=problem.field)
        self.message = problem.describe()
        self.args = (self.message,)
        self.problem = problem


class RawRecord(NamedTuple):
    """One item as a reader found it, before any format is applied.

    Args:
        line: 1-based line (or record number, see ``unit``) where the item starts.
        value: The parsed item (usually a dict of fields), or a :class:`RecordProblem`
            when the item could not even be parsed.
        unit: What ``line`` counts: ``"line"``, ``"record"``, ``"row"`` or ``"sheet row"``.
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
        records: The usable records, in file order: every record without an error,
            records with only warnings included.
        problems: Errors and warnings, in file order; each error is a record left out.
        total_lines: Records read, usable and not (blank lines are not counted).
        column_map: For tables, the column used for each field (guessed from the
            headers or given); for JSON, the mapping the user gave, if any.
    """

    path: str
    format: str
    format_confidence: float
    records: list[TrainingRecord] = field(default_factory=list)
    problems: list[RecordProblem] = field(default_factory=list)
    total_lines: int = 0
    column_map: dict[str, str] = field(default_factory=dict)

    @property
    def rows_total(self) -> int:
        """Records read, usable and not."""
        return self.total_lines

    @property
    def rows_valid(self) -> int:
        """Records without an error."""
        return len(self.records)

    @property
    def errors(self) -> list[RecordProblem]:
        """The problems that keep a record out of training."""
        return [problem for problem in self.problems if problem.severity == "error"]

    @property
    def warnings(self) -> list[RecordProblem]:
        """The problems worth a look that do not keep a record out."""
        return [problem for problem in self.problems if problem.severity == "warning"]

    @property
    def counts_by_reason(self) -> dict[str, int]:
        """How many problems there are of each code."""
        return count_by_reason(self.problems)
