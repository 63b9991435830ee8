"""Phone numbers: loose patterns find candidates, Google's libphonenumber decides.

A candidate is reported only if libphonenumber (the ``phonenumbers`` package, which
works offline from metadata it ships) says it is a *valid* number, meaning it matches
an assigned numbering range of its country, not merely a plausible length. Three kinds
of candidate are tried:

* International: ``+44 20 7946 0958``, ``+1-212-555-0147``, ``0049 30 901820``. The
  country code says which rules apply.
* North American national: ``(212) 555-0147``, ``212-555-0147``, ``1 800 555 0199``,
  always written with separators, checked as a US/Canadian number. Split by spaces
  alone (``212 555 0147``) they are written like NHS numbers, so they need a keyword
  (below).
* National with a trunk ``0``: ``020 7946 0958``, ``030 901820``, ``01 42 68 53 00``,
  checked against each of :data:`TRUNK_REGIONS` in turn.

Digits written without any separator or ``+`` (``02079460958``, ``2125550147``) look
like any account or claim number, so they count only after a word such as "phone",
"tel", "mobile", "call" or "contact" shortly before them, with no digits in between.
Candidates glued to other digits or letters (``ORD-020-7946``, the digit groups of an
IBAN) are not phone numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers

from desktop_app.data.pii.findings import PHONE, PiiFinding

#: Countries with a trunk prefix 0 whose national numbers we recognise, most likely
#: first. Countries whose national numbers have no trunk prefix (Spain, Italy) are left
#: out: their bare nine-digit numbers are indistinguishable from reference numbers.
TRUNK_REGIONS: tuple[str, ...] = ("GB", "IE", "DE", "AT", "CH", "FR", "BE", "NL", "AU", "NZ")

_SEPARATOR = r"[ .\-\u00a0/]"
# Each pattern starts with a plain character (a digit, "+", "(", "0") and only then
# looks behind it, so the regex engine can skip straight to the places worth trying;
# a leading look-behind would make it try every position of every text.
_INTERNATIONAL = re.compile(
    r"(?:\+|0(?<!\d0)0)[ \u00a0]?[1-9]"
    r"(?:" + _SEPARATOR + r"?(?:\d|\(0\)|\(\d{1,5}\))){6,17}"
)
_NANP = re.compile(
    r"(?:\((?<!\w\()\d{3}\)[ \u00a0]?|\d(?<!\w\d)\d{2}[ .\-\u00a0])\d{3}[ .\-\u00a0]\d{4}(?!\d)"
)
_NANP_TRUNK = re.compile(r"(?<!\w)1[ .\-]$")  # the "1 " of "1 800 555 0199"
_TRUNK = re.compile(
    r"(?:\(0[1-9]\d{0,4}\)|0(?<!\d0)[1-9]\d{0,4})(?:" + _SEPARATOR + r"?\d{1,5}){1,5}"
)
_BARE = re.compile(r"\d(?<!\d\d)\d{9,10}(?!\d)")
_KEYWORD = re.compile(
    r"(?i)\b(?:phone|telephone|tel|mobile|mob|cell|fax|call|ring|dial|whatsapp|sms|text|"
    r"contact|reach|hotline|helpline|line|landline)"
    r"(?:s|ed|ing|ephone)?\b[^\d\n]{0,25}$"
)
_NON_DIGIT = re.compile(r"\D")


def _glued_before(text: str, start: int) -> bool:
    """Whether the candidate continues a longer token on its left."""
    before = text[start - 1] if start else " "
    if before.isalnum() or before in "+-/.#_@$£€":
        return True
    # A later digit group of something longer: an IBAN, a card, an account number.
    return start >= 2 and before in " -" and text[start - 2].isdigit()


def _glued_after(text: str, end: int) -> bool:
    """Whether the candidate continues a longer token on its right."""
    after = text[end] if end < len(text) else " "
    if after.isalnum() or after in "_@":
        return True
    return after in ".-/" and end + 1 < len(text) and text[end + 1].isdigit()


def _has_keyword_before(text: str, start: int) -> bool:
    return _KEYWORD.search(text, max(0, start - 40), start) is not None


def _needs_keyword(pattern: re.Pattern[str], raw: str) -> bool:
    """Digits with no separator at all look like any account number; North American
    numbers split only by spaces (``943 476 5919``) are also how NHS numbers are
    written, so both count only after a word like "phone"."""
    if raw.isdigit():
        return True
    return pattern is _NANP and re.fullmatch(r"\d{3} \d{3} \d{4}", raw) is not None


def _parse_valid(number: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    return parsed if phonenumbers.is_valid_number(parsed) else None


def _group_ends(value: str) -> set[int]:
    """Digit counts at which a written number's groups end: ``030-123 609`` -> {3, 6, 9}."""
    ends: set[int] = set()
    count = 0
    for group in re.split(r"[ .\-/]+", value.replace("(", "").replace(")", "")):
        count += len(group)
        ends.add(count)
    return ends


def _grouped_as_written(value: str, parsed: phonenumbers.PhoneNumber) -> bool:
    """Whether a national number split by hyphens, dots or slashes (``030-123609``)
    splits only where its country's own format does.

    Stock codes and references are split that way too (``0401-2230-11``), rarely at the
    right places. Numbers split by spaces alone are left alone: people group spaced
    numbers freely (``0207 946 0958``).
    """
    if re.search(r"[.\-/]", value) is None:
        return True
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return _group_ends(value) <= _group_ends(national)


def parse_phone(value: str) -> phonenumbers.PhoneNumber | None:
    """The valid phone number a found value stands for, or None.

    Args:
        value: Text as found: international, North American or trunk-0 national.
    """
    digits = _NON_DIGIT.sub("", value.replace("(0)", "", 1) if "+" in value else value)
    if value.lstrip().startswith("+"):
        return _parse_valid("+" + digits, None)
    if digits.startswith("00"):
        return _parse_valid("+" + digits[2:], None)
    if digits.startswith("0"):
        for region in TRUNK_REGIONS:
            parsed = _parse_valid(digits, region)
            if parsed is not None and _grouped_as_written(value, parsed):
                return parsed
        return None
    return _parse_valid(digits, "US")


def canonical_phone(value: str) -> str:
    """The E.164 form (``+442079460958``), so one number written two ways is one value."""
    parsed = parse_phone(value)
    if parsed is None:
        return _NON_DIGIT.sub("", value)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _trimmed(candidate: str) -> Iterator[str]:
    """The candidate, then shorter ones cut before each trailing digit group."""
    yield candidate
    cut = len(candidate)
    while True:
        cut = max(candidate.rfind(sep, 0, cut) for sep in " .-\u00a0/")
        if cut <= 0 or len(_NON_DIGIT.sub("", candidate[:cut])) < 8:
            return
        yield candidate[:cut].rstrip()


def find_phones(text: str) -> Iterator[PiiFinding]:
    """Valid phone numbers in a text (see the module docstring for which count)."""
    for match in _INTERNATIONAL.finditer(text):
        start = match.start()
        if _glued_before(text, start):
            continue
        raw = match.group()
        unformatted = raw.startswith("00") and re.search(_SEPARATOR, raw) is None
        if unformatted and not _has_keyword_before(text, start):
            continue
        for candidate in _trimmed(raw):
            end = start + len(candidate)
            if not _glued_after(text, end) and parse_phone(candidate) is not None:
                yield PiiFinding(PHONE, start, end, candidate)
                break
    for pattern in (_NANP, _TRUNK):
        for match in pattern.finditer(text):
            start, end = match.span()
            if pattern is _NANP:
                prefix = _NANP_TRUNK.search(text, max(0, start - 2), start)
                start = prefix.start() if prefix else start
            if _glued_before(text, start) or _glued_after(text, end):
                continue
            raw = text[start:end]
            digit_count = len(_NON_DIGIT.sub("", raw))
            if not 9 <= digit_count <= 12:
                continue
            if _needs_keyword(pattern, raw) and not _has_keyword_before(text, start):
                continue
            if parse_phone(raw) is not None:
                yield PiiFinding(PHONE, start, end, raw)
    for match in _BARE.finditer(text):
        start, end = match.span()
        if _glued_before(text, start) or _glued_after(text, end):
            continue
        if _has_keyword_before(text, start) and parse_phone(match.group()) is not None:
            yield PiiFinding(PHONE, start, end, match.group())
