"""The texts inside one record, named the way problems name fields.

A record is usually a flat object (``{"instruction": ..., "output": ...}``) but chat
and ShareGPT records nest their texts in lists of objects; every string at any depth
is visited and named by its path: ``output``, ``messages[1].content``,
``conversations[0].value``, ``meta.author``. Keys are not scanned.

Whole numbers of nine digits or more are visited too, as their decimal text: a phone
or card number stored as a JSON number (or a spreadsheet cell) is still personal data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

#: The field name for a record that is a bare string rather than an object.
WHOLE_RECORD = ""

_SMALLEST_SCANNED_NUMBER = 100_000_000


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _scanned_number(value: object) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and abs(value) >= _SMALLEST_SCANNED_NUMBER
    )


def iter_text_fields(value: object, path: str = WHOLE_RECORD) -> Iterator[tuple[str, str]]:
    """Each text in a record with its field path, in document order.

    Args:
        value: A parsed record: a dict, a list, a string or a number.
        path: The path of ``value`` itself (empty for the record).
    """
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_text_fields(item, _child(path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_text_fields(item, f"{path}[{index}]")
    elif _scanned_number(value):
        yield path, str(value)


def replace_text_fields(
    value: object, replace: Callable[[str, str], str], path: str = WHOLE_RECORD
) -> object:
    """A copy of a record with each text passed through ``replace(field, text)``.

    Numbers that :func:`iter_text_fields` visits keep their type unless ``replace``
    changes their text, in which case the new text takes their place.
    """
    if isinstance(value, str):
        return replace(path, value)
    if isinstance(value, dict):
        return {
            key: replace_text_fields(item, replace, _child(path, str(key)))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            replace_text_fields(item, replace, f"{path}[{index}]")
            for index, item in enumerate(value)
        ]
    if _scanned_number(value):
        text = str(value)
        replaced = replace(path, text)
        return value if replaced == text else replaced
    return value
