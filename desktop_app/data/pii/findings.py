"""What a scan finds: one piece of personal data in one text, with its type and place."""

from __future__ import annotations

from dataclasses import dataclass

EMAIL = "EMAIL"
PHONE = "PHONE"
CREDIT_CARD = "CREDIT_CARD"
IBAN = "IBAN"
SSN = "SSN"
IP_ADDRESS = "IP_ADDRESS"
UK_NINO = "UK_NINO"
NHS_NUMBER = "NHS_NUMBER"

#: Every type a scan reports, in the order reports list them.
PII_TYPES: tuple[str, ...] = (
    EMAIL,
    PHONE,
    CREDIT_CARD,
    IBAN,
    SSN,
    IP_ADDRESS,
    UK_NINO,
    NHS_NUMBER,
)

#: Which type wins when two findings of the same length overlap: the one with the
#: stricter check (a checksum beats a pattern, a pattern beats a phone number).
SPECIFICITY: dict[str, int] = {
    IBAN: 0,
    CREDIT_CARD: 1,
    SSN: 2,
    UK_NINO: 3,
    NHS_NUMBER: 4,
    EMAIL: 5,
    IP_ADDRESS: 6,
    PHONE: 7,
}


@dataclass(frozen=True, slots=True)
class PiiFinding:
    """One piece of personal data in a text.

    Args:
        type: One of :data:`PII_TYPES`, such as ``"EMAIL"``.
        start: Offset of its first character in the text (Python string index, so
            counted in Unicode code points, not bytes).
        end: Offset just past its last character: ``text[start:end] == value``.
        value: The text found.
    """

    type: str
    start: int
    end: int
    value: str


def resolve_overlaps(candidates: list[PiiFinding]) -> list[PiiFinding]:
    """Keep one finding wherever candidates overlap, in text order.

    The longest candidate wins, so a card number is not also reported as the phone
    number hiding in its digits; between equally long ones, the more specific type
    (see :data:`SPECIFICITY`) wins.
    """
    if len(candidates) < 2:
        return list(candidates)
    ranked = sorted(
        candidates,
        key=lambda found: (found.start - found.end, SPECIFICITY[found.type], found.start),
    )
    kept: list[PiiFinding] = []
    for candidate in ranked:
        if all(candidate.end <= other.start or other.end <= candidate.start for other in kept):
            kept.append(candidate)
    kept.sort(key=lambda found: found.start)
    return kept
