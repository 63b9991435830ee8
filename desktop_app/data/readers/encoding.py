"""Text encoding checks shared by the readers.

JSON and JSON Lines must be UTF-8, as the JSON standard says. Delimited and plain text
files come from many tools, so their encoding is sniffed: UTF-8 (with or without a
byte-order mark), UTF-16 with a byte-order mark (Excel's "Unicode Text"), or Windows-1252
(Excel's "CSV" in Western locales) when the file has non-ASCII bytes and none of them
form UTF-8.
"""

from __future__ import annotations

import re
from pathlib import Path

from desktop_app.data.errors import data_error

UTF8_BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_SNIFF_BYTES = 1 << 20
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


def sniff_text_encoding(path: Path) -> str:
    """The encoding to read a delimited or plain text file with, from its first 1 MiB.

    A file that is mostly UTF-8 with a few bad bytes stays UTF-8, so the records holding
    those bytes are reported rather than misread.

    Returns:
        ``"utf-16"``, ``"utf-8-sig"`` (which also reads UTF-8 without a mark) or
        ``"cp1252"``.
    """
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if head.startswith(_UTF16_BOMS):
        return "utf-16"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A character cut in two by the end of the sample is not a bad byte.
        cut_short = len(head) == _SNIFF_BYTES and len(head) - error.start < 4
        if not cut_short and _UTF8_MULTIBYTE.search(head) is None:
            return "cp1252"
    return "utf-8-sig"


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
    Walks the item without recursion, so deeply nested JSON cannot overflow the stack.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item) is not None:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def may_hold_undecodable_text(json_text: str) -> bool:
    """A quick test of JSON source: False means no string in it holds a lone surrogate.

    Saves walking every parsed record when the text has no surrogates and no escapes
    that could make one.
    """
    return _SURROGATE_ESCAPE.search(json_text) is not None or (
        not json_text.isascii() and _SURROGATE.search(json_text) is not None
    )
