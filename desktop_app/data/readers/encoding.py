"""Text encoding checks shared by the readers: everything we read must be UTF-8."""

from __future__ import annotations

import re

from desktop_app.data.errors import data_error

UTF8_BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_FIX = "save the file with UTF-8 encoding"


def check_not_utf16(path: str, head: bytes) -> None:
    """Refuse a file that starts with a UTF-16 byte-order mark.

    Args:
        path: The file, for the message.
        head: Its first bytes.

    Raises:
        DataError: the file is UTF-16, which would otherwise fail on every line.
    """
    if head.startswith(_UTF16_BOMS):
        raise data_error(
            path, "is saved as UTF-16 text; Enclave reads UTF-8.", _FIX.capitalize() + "."
        )


def decode_problem(error: UnicodeDecodeError) -> str:
    """The reason for a line that is not UTF-8, naming the first bad byte."""
    bad = error.object[error.start : error.start + 1].hex().upper()
    return f"is not valid UTF-8 text (byte 0x{bad} at position {error.start + 1}); {_FIX}"


#: The reason for an item holding bytes that were decoded with ``surrogateescape``.
UNDECODABLE_REASON = f"contains bytes that are not valid UTF-8 text; {_FIX}"


def has_undecodable_text(value: object) -> bool:
    """Whether any string in a parsed item holds a lone surrogate.

    Bytes that are not UTF-8, read with ``errors="surrogateescape"``, and JSON escapes
    such as ``"\\ud800"`` both end up as lone surrogates, which no tokenizer can encode.
    """
    if isinstance(value, str):
        return not value.isascii() and _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(has_undecodable_text(k) or has_undecodable_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_undecodable_text(item) for item in value)
    return False


def may_hold_undecodable_text(json_text: str) -> bool:
    """A quick test of JSON source: False means no string in it holds a lone surrogate.

    Saves walking every parsed record when the text has no surrogates and no escapes
    that could make one.
    """
    return _SURROGATE_ESCAPE.search(json_text) is not None or (
        not json_text.isascii() and _SURROGATE.search(json_text) is not None
    )
