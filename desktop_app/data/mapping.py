"""Column mapping: which table column holds each field of a record format.

Tables (CSV, TSV, Parquet, Excel) come with any headers. Each field of a format is
looked for among the headers, first by its own name, then by common synonyms
(``question`` for ``instruction``, ``answer`` for ``output``), ignoring case, spaces,
underscores and hyphens. A mapping the user gives (``--map output=answer``) overrides
the guesses. A user's mapping also renames the keys of JSON records; headers are never
guessed for JSON, whose keys are the format's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from desktop_app.core.errors import UserInputError
from desktop_app.data.errors import data_error
from desktop_app.data.formats import (
    FORMAT_FIELDS,
    MIN_CONFIDENCE,
    expected_fields_text,
)

#: Header names (normalised, see :func:`normalize_header`) that may hold each field, the
#: preferred first. A field's own name always comes first.
FIELD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "instruction": ("instruction", "question", "prompt", "query", "request", "task"),
    "input": ("input", "context", "inputtext"),
    "output": ("output", "answer", "response", "reply", "completion", "target"),
    "system": ("system", "systemprompt", "systemmessage"),
    "prompt": ("prompt", "question", "query", "instruction", "request", "input"),
    "completion": ("completion", "answer", "response", "reply", "output", "target"),
    "text": ("text", "body", "content", "document", "passage", "sentence"),
    "label": ("label", "category", "class", "labels", "classname", "tag"),
    "chosen": ("chosen", "preferred", "accepted", "better", "chosenresponse"),
    "rejected": ("rejected", "dispreferred", "worse", "rejectedresponse"),
    "messages": ("messages", "conversation", "dialog", "dialogue"),
    "conversations": ("conversations", "conversation", "dialog", "dialogue"),
}

_IGNORED = re.compile(r"[\s_\-.]+")
_MAP_HINT = "map a column to it (--map FIELD=COLUMN on the command line)"


def normalize_header(name: str) -> str:
    """A header as compared with field names: lower case, no spaces, ``_``, ``-`` or ``.``."""
    return _IGNORED.sub("", name).lower()


def known_fields() -> tuple[str, ...]:
    """Every field of every format, each once."""
    return tuple(dict.fromkeys(f for fields in FORMAT_FIELDS.values() for f in fields.all))


def parse_column_map(items: Iterable[str]) -> dict[str, str]:
    """Parse ``FIELD=COLUMN`` items, as given to ``--map``.

    Args:
        items: Strings such as ``"output=Answer text"``; the column may contain spaces
            and ``=``.

    Raises:
        UserInputError: an item has no ``=``, names an unknown field, or repeats a field.
    """
    column_map: dict[str, str] = {}
    fields = known_fields()
    for item in items:
        field, separator, column = item.partition("=")
        field, column = field.strip(), column.strip()
        if not separator or not field or not column:
            raise UserInputError(
                f"--map {item!r}: expected FIELD=COLUMN, such as output=answer.",
                f"The fields are: {', '.join(fields)}.",
            )
        if field not in fields:
            raise UserInputError(
                f"--map {item!r}: '{field}' is not a field of any data format.",
                f"The fields are: {', '.join(fields)}.",
            )
        if field in column_map:
            raise UserInputError(f"--map: the field '{field}' is mapped more than once.")
        column_map[field] = column
    return column_map


def _find_column(headers: Sequence[str], wanted: str, taken: set[str]) -> str | None:
    """The first header, not yet taken, whose normalised form is ``wanted``."""
    for header in headers:
        if header not in taken and normalize_header(header) == wanted:
            return header
    return None


def guess_column_map(
    headers: Sequence[str], format: str, given: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The column for each field of ``format`` that the headers make obvious.

    Fields named exactly (case, spaces and underscores aside) are matched first, then
    synonyms in order of preference; a column is used for one field only. The user's
    own mapping, ``given``, always wins.

    Args:
        headers: The table's column names.
        format: A format name (not ``"auto"``).
        given: Fields the user mapped themselves; those not of this format are ignored.

    Returns:
        Field to column, for each field found, in the format's field order.
    """
    fields = FORMAT_FIELDS[format].all
    chosen = {field: column for field, column in (given or {}).items() if field in fields}
    taken = set(chosen.values())
    for synonyms_from in (0, 1):  # own names first, then synonyms
        for field in fields:
            if field in chosen:
                continue
            names = (field,) if synonyms_from == 0 else FIELD_SYNONYMS.get(field, (field,))
            for name in names:
                column = _find_column(headers, name, taken)
                if column is not None:
                    chosen[field] = column
                    taken.add(column)
                    break
    return {field: chosen[field] for field in fields if field in chosen}


def apply_column_map(raw: dict[str, object], column_map: Mapping[str, str]) -> dict[str, object]:
    """The record with each mapped field taken from its column.

    Other keys are kept. A field whose column the record lacks is left out, so it is
    reported as missing.

    Args:
        raw: One record as read, keyed by column.
        column_map: Field to column.
    """
    if not column_map:
        return raw
    mapped = dict(raw)
    for field, column in column_map.items():
        if field == column:
            continue
        if column in raw:
            mapped[field] = raw[column]
        else:
            mapped.pop(field, None)
    return mapped


def resolve_given_columns(
    source: str, given: Mapping[str, str], headers: Sequence[str]
) -> dict[str, str]:
    """The user's mapping with each column checked against the headers.

    A column matches exactly, or else case, spaces and underscores aside when only one
    header matches that way.

    Raises:
        DataError: a mapped column is not among the headers; the message names it and
            lists the headers.
    """
    resolved: dict[str, str] = {}
    for field, column in given.items():
        if column in headers:
            resolved[field] = column
            continue
        loose = [
            header for header in headers if normalize_header(header) == normalize_header(column)
        ]
        if len(loose) != 1:
            listed = ", ".join(f"'{header}'" for header in headers[:40]) or "none"
            raise data_error(
                source,
                f"has no column '{column}' (mapped to the field '{field}'); "
                f"its columns are: {listed}.",
                "Check the spelling of the column in the mapping.",
            )
        resolved[field] = loose[0]
    return resolved


def check_given_fields(source: str, given: Mapping[str, str], format: str) -> None:
    """Refuse a mapping of fields that ``format`` does not have.

    Raises:
        DataError: naming the field and the format's fields.
    """
    fields = FORMAT_FIELDS[format]
    for field in given:
        if field not in fields.all:
            raise data_error(
                source,
                f"cannot map the field '{field}': the {format} format has no such field.",
                f"The {format} fields are: {fields.describe()}.",
            )


def _is_blank(value: object) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _share_filled(samples: Sequence[dict[str, object]], columns: list[str]) -> float:
    if not samples:
        return 0.0
    filled = sum(all(not _is_blank(sample.get(column)) for column in columns) for sample in samples)
    return filled / len(samples)


def detect_table_format(
    source: str,
    headers: Sequence[str],
    samples: Sequence[dict[str, object]],
    given: Mapping[str, str],
) -> tuple[str, float, dict[str, str]]:
    """Choose the format of a table from its headers, guessing the column mapping.

    Among the formats whose required fields all have a column, the one preferred is:
    filled in (its columns have values in at least half of the sampled rows), then with
    more required fields, then with more of them named exactly (or mapped by the user),
    then listed first.

    Args:
        source: The file, for messages.
        headers: The column names.
        samples: Rows from the start of the table.
        given: The user's mapping, columns already checked.

    Returns:
        The format, the share of sampled rows with every required field filled in,
        and the column mapping.

    Raises:
        DataError: no format fits the headers; the message lists them and the fields
            each format expects.
    """
    candidates = []
    for order, (name, fields) in enumerate(FORMAT_FIELDS.items()):
        if any(field not in fields.all for field in given):
            continue
        column_map = guess_column_map(headers, name, given)
        if not all(field in column_map for field in fields.required):
            continue
        exact = sum(
            field in given or normalize_header(column_map[field]) == field
            for field in fields.required
        )
        share = _share_filled(samples, [column_map[field] for field in fields.required])
        rank = (share >= MIN_CONFIDENCE, len(fields.required), exact, -order)
        candidates.append((rank, name, share, column_map))
    if not candidates:
        listed = ", ".join(f"'{header}'" for header in headers[:40])
        raise data_error(
            source,
            f"has the columns {listed}, and Enclave cannot tell which format they hold.",
            f"Expected fields per format: {expected_fields_text()}. Rename the columns, "
            f"or {_MAP_HINT}.",
        )
    _, name, share, column_map = max(candidates, key=lambda candidate: candidate[0])
    return name, share, column_map


def table_column_map(
    source: str, headers: Sequence[str], format: str, given: Mapping[str, str]
) -> dict[str, str]:
    """The column mapping for a table whose format the user chose.

    Raises:
        DataError: a required field has no column; the message lists the headers.
    """
    check_given_fields(source, given, format)
    column_map = guess_column_map(headers, format, given)
    fields = FORMAT_FIELDS[format]
    missing = [field for field in fields.required if field not in column_map]
    if missing:
        listed = ", ".join(f"'{header}'" for header in headers[:40])
        raise data_error(
            source,
            f"has no column for the field '{missing[0]}' ({format} needs "
            f"{fields.describe()}); its columns are: {listed}.",
            f"Rename a column to '{missing[0]}', or {_MAP_HINT}.",
        )
    return column_map
