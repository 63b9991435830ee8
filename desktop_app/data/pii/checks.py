"""Check digits and number ranges that tell real identifiers from look-alikes.

Each check takes the identifier's characters without spaces or hyphens. They are pure
functions of the value, so the patterns in :mod:`detectors` stay simple and every rule
here is unit-tested on its own.
"""

from __future__ import annotations

#: IBAN length for each country that uses one (the SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
    "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
    "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    "YE": 30,
}  # fmt: skip

# Card issuer ranges: (lowest prefix, highest prefix, allowed lengths). A number must
# fall in one of them as well as pass the Luhn check; random digit strings that pass
# Luhn (one in ten) mostly do not.
_CARD_RANGES: tuple[tuple[int, int, frozenset[int]], ...] = (
    (4, 4, frozenset({13, 16, 19})),  # Visa
    (51, 55, frozenset({16})),  # Mastercard
    (2221, 2720, frozenset({16})),  # Mastercard 2-series
    (34, 34, frozenset({15})),  # American Express
    (37, 37, frozenset({15})),
    (300, 305, frozenset(range(14, 20))),  # Diners Club
    (36, 36, frozenset(range(14, 20))),
    (38, 39, frozenset(range(16, 20))),
    (3528, 3589, frozenset(range(16, 20))),  # JCB
    (6011, 6011, frozenset(range(16, 20))),  # Discover
    (644, 649, frozenset(range(16, 20))),
    (65, 65, frozenset(range(16, 20))),
    (62, 62, frozenset(range(16, 20))),  # UnionPay
    (2200, 2204, frozenset(range(16, 20))),  # Mir
    (5018, 5018, frozenset(range(12, 20))),  # Maestro
    (5020, 5020, frozenset(range(12, 20))),
    (5038, 5038, frozenset(range(12, 20))),
    (5893, 5893, frozenset(range(12, 20))),
    (6304, 6304, frozenset(range(12, 20))),
    (6759, 6759, frozenset(range(12, 20))),
    (6761, 6763, frozenset(range(12, 20))),
)

# SSNs the Social Security Administration voided after they appeared in advertising,
# plus the sequence everybody uses as an example.
_VOID_SSNS = frozenset({"078051120", "219099999", "123456789"})

_NINO_FIRST = frozenset("ABCEGHJKLMNOPRSTWXYZ")
_NINO_SECOND = frozenset("ABCEGHJKLMNPRSTWXYZ")
_NINO_UNUSED_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn (mod 10) check used by card numbers."""
    total = 0
    for position, character in enumerate(reversed(digits)):
        digit = ord(character) - 48
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def card_number_valid(digits: str) -> bool:
    """Whether digits are a plausible payment card number: a known issuer range, a
    length that issuer uses, and a passing Luhn check."""
    length = len(digits)
    if not 12 <= length <= 19 or not digits.isdigit():
        return False
    for low, high, lengths in _CARD_RANGES:
        width = len(str(low))
        if length in lengths and low <= int(digits[:width]) <= high:
            return luhn_valid(digits)
    return False


def iban_valid(compact: str) -> bool:
    """Whether an IBAN (upper case, no spaces) has its country's length and passes the
    ISO 7064 mod-97 check."""
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected is None or len(compact) != expected or not compact.isalnum():
        return False
    if not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(character, 36)) for character in rearranged)
    return int(number) % 97 == 1


def ssn_valid(digits: str) -> bool:
    """Whether nine digits could be a US Social Security number.

    Area 000, 666 and 900-999, group 00 and serial 0000 are never issued, and a few
    numbers were voided after appearing in advertising.
    """
    if len(digits) != 9 or not digits.isdigit() or digits in _VOID_SSNS:
        return False
    area = int(digits[:3])
    return area != 0 and area != 666 and area < 900 and digits[3:5] != "00" and digits[5:] != "0000"


def nino_valid(compact: str) -> bool:
    """Whether a UK National Insurance number (upper case, no spaces) is in an issued
    format: two prefix letters HMRC uses, six digits, and a suffix A to D."""
    return (
        len(compact) == 9
        and compact[0] in _NINO_FIRST
        and compact[1] in _NINO_SECOND
        and compact[:2] not in _NINO_UNUSED_PREFIXES
        and compact[2:8].isdigit()
        and compact[8] in "ABCD"
    )


def nhs_number_valid(digits: str) -> bool:
    """Whether ten digits are an NHS number: a valid modulus-11 check digit, and not in
    the 999 range kept for testing."""
    if len(digits) != 10 or not digits.isdigit() or digits.startswith("999"):
        return False
    total = sum(
        int(digit) * weight for digit, weight in zip(digits[:9], range(10, 1, -1), strict=True)
    )
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])
