"""Scanning one text: every detector, then one finding wherever candidates overlap."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection, Iterable

from desktop_app.data.pii.detectors import (
    find_card_numbers,
    find_emails,
    find_ibans,
    find_ip_addresses,
    find_nhs_numbers,
    find_ssns,
    find_uk_ninos,
)
from desktop_app.data.pii.findings import (
    CREDIT_CARD,
    EMAIL,
    IBAN,
    IP_ADDRESS,
    NHS_NUMBER,
    PHONE,
    PII_TYPES,
    SSN,
    UK_NINO,
    PiiFinding,
    resolve_overlaps,
)
from desktop_app.data.pii.phones import canonical_phone, find_phones

Detector = Callable[[str], Iterable[PiiFinding]]

#: The detector for each type.
DETECTORS: dict[str, Detector] = {
    EMAIL: find_emails,
    PHONE: find_phones,
    CREDIT_CARD: find_card_numbers,
    IBAN: find_ibans,
    SSN: find_ssns,
    IP_ADDRESS: find_ip_addresses,
    UK_NINO: find_uk_ninos,
    NHS_NUMBER: find_nhs_numbers,
}

# Every type needs a digit or an "@" (IPv6 written only with letters a-f is ignored),
# so most sentences are dismissed by one quick search.
_MIGHT_HOLD_PII = re.compile(r"[\d@]")
_SEPARATORS = re.compile(r"[\s\-.()]")


def scan_text(text: str, types: Collection[str] | None = None) -> list[PiiFinding]:
    """The personal data in a text, in order, never overlapping.

    Args:
        text: Any text.
        types: Only these types (names from ``PII_TYPES``); all of them if None.

    Returns:
        Findings with ``text[finding.start:finding.end] == finding.value``. Where
        candidates overlap the longest wins (a card number is not also a phone number).

    Raises:
        ValueError: ``types`` names a type that does not exist.
    """
    if types is not None:
        unknown = sorted(set(types) - set(PII_TYPES))
        if unknown:
            raise ValueError(f"unknown personal data type {unknown[0]!r}; use {PII_TYPES}")
    if not text or _MIGHT_HOLD_PII.search(text) is None:
        return []
    candidates: list[PiiFinding] = []
    for pii_type, detector in DETECTORS.items():
        if types is None or pii_type in types:
            candidates.extend(detector(text))
    return resolve_overlaps(candidates)


def canonical_value(pii_type: str, value: str) -> str:
    """One spelling per value, so that the same person's data written two ways (with or
    without spaces, in capitals or not, ``+44 20 ...`` or ``020 ...``) is one value."""
    if pii_type == EMAIL:
        return value.lower()
    if pii_type == PHONE:
        return canonical_phone(value)
    if pii_type == IP_ADDRESS:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value.lower()
    if pii_type in (CREDIT_CARD, IBAN, SSN, UK_NINO, NHS_NUMBER):
        return _SEPARATORS.sub("", value).upper()
    return value
