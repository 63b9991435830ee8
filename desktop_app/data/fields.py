"""Checks on the fields of one raw record, each raising a problem that names the field."""

from __future__ import annotations

from dataclasses import dataclass

from desktop_app.data.records import RecordProblem, RecordProblemError


def describe_type(value: object) -> str:
    """What kind of JSON value this is, in words: ``"a number"``, ``"a list"``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


@dataclass(frozen=True)
class RecordSite:
    """Where a record is, and the limit on its text, for the checks below.

    Args:
        path: The file.
        line: 1-based line (or record number) of the record.
        unit: What ``line`` counts: ``"line"``, ``"record"``, ``"row"`` or ``"sheet row"``.
        max_chars: Longest text allowed in one record; None for no limit.
    """

    path: str
    line: int
    unit: str = "line"
    max_chars: int | None = None

    def problem(self, field: str | None, reason: str, code: str) -> RecordProblemError:
        """The error to raise for a problem with this record.

        Args:
            field: The field concerned, or None for the whole record.
            reason: What is wrong, worded to follow the location.
            code: The problem's category, a key of ``records.PROBLEM_CODES``.
        """
        return RecordProblemError(
            RecordProblem(self.path, self.line, field, reason, self.unit, "error", code)
        )

    def too_long(self, field: str | None, length: int) -> RecordProblemError:
        """The error for text over :attr:`max_chars`."""
        what = "is" if field else "is in all"
        return self.problem(
            field,
            f"{what} {length:,} characters long, over the limit of {self.max_chars:,}; "
            "shorten it or split it into several examples",
            "too_long",
        )


def require_object(raw: object, site: RecordSite) -> dict[str, object]:
    """The record as a dict of fields.

    Raises:
        RecordProblemError: the record is not a JSON object.
    """
    if not isinstance(raw, dict):
        raise site.problem(
            None,
            f"must be a JSON object with named fields, got {describe_type(raw)}",
            "not_an_object",
        )
    return raw


def text_field(
    container: dict[str, object],
    key: str,
    site: RecordSite,
    *,
    optional: bool = False,
    allow_blank: bool = False,
    name: str | None = None,
) -> str | None:
    """The text in one field, checked.

    Args:
        container: The object holding the field.
        key: The field's key in ``container``.
        site: Where the record is.
        optional: Whether the field may be absent or null (which gives None).
        allow_blank: Whether the text may be empty or only whitespace.
        name: The field's name in messages when it is nested, like ``messages[2].content``.

    Raises:
        RecordProblemError: the field is missing, empty, not text, or too long.
    """
    field = name or key
    value = container.get(key)
    if value is None:
        if optional:
            return None
        if key not in container:
            raise site.problem(field, "is missing", "missing_field")
        raise site.problem(field, "is empty (null)", "empty_field")
    if not isinstance(value, str):
        raise site.problem(field, f"must be text, got {describe_type(value)}", "wrong_type")
    if not allow_blank and not value.strip():
        raise site.problem(field, "is empty", "empty_field")
    if site.max_chars is not None and len(value) > site.max_chars:
        raise site.too_long(field, len(value))
    return value


def required_text(
    container: dict[str, object], key: str, site: RecordSite, *, name: str | None = None
) -> str:
    """The text in a field that must be present and not blank (see :func:`text_field`)."""
    value = text_field(container, key, site, name=name)
    assert value is not None  # text_field raises instead of returning None here
    return value


def list_field(container: dict[str, object], key: str, site: RecordSite, what: str) -> list[object]:
    """A field that must hold a non-empty list.

    Args:
        container: The record.
        key: The field.
        site: Where the record is.
        what: What the list holds, for the message, like ``"messages"``.

    Raises:
        RecordProblemError: the field is missing, not a list, or empty.
    """
    value = container.get(key)
    if key not in container:
        raise site.problem(key, "is missing", "missing_field")
    if not isinstance(value, list):
        raise site.problem(
            key, f"must be a list of {what}, got {describe_type(value)}", "wrong_type"
        )
    if not value:
        raise site.problem(key, "is empty", "empty_field")
    return value
