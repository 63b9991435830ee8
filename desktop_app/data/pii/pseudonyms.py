"""Consistent made-up stand-ins for personal data.

The same value always gets the same stand-in (within a file, and across files given
the same salt), so a model still learns that the customer in turn one is the customer
in turn five. Values are compared in a canonical spelling, so ``+44 20 7946 0958`` and
``020 7946 0958`` are one person's number.

Stand-ins look like their type but are obviously fake, and come from ranges reserved
for examples, so they are never anyone's real data and a rescan of redacted output
finds nothing:

* EMAIL ``person.048213@example.com``: example.com is reserved (RFC 2606).
* PHONE ``+1 555 048 2133``: area code 555 is not in service.
* CREDIT_CARD ``0000 4821 3377 0192``: no card issuer uses the prefix 0.
* IBAN ``XX00 0000 4821 3377 0192``: XX is no country.
* SSN ``000-48-2133``: area 000 is never issued.
* IP_ADDRESS ``192.0.2.17`` or ``2001:db8::4f2a``: documentation blocks (RFC 5737, 3849).
* UK_NINO ``QQ 48 21 33 C``: HMRC's example prefix, never issued.
* NHS_NUMBER ``999 482 1337``: the 999 range is kept for testing.

The number in a stand-in comes from an HMAC-SHA256 of the value keyed with the salt,
so stand-ins reveal nothing about the value to someone without the salt; without a
salt a random one is drawn, and the stand-ins then differ from run to run. Two values
whose numbers collide get neighbouring numbers, so stand-ins never merge two people.
The table of values seen grows with the distinct values only.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Callable

from desktop_app.data.pii.findings import (
    CREDIT_CARD,
    EMAIL,
    IBAN,
    IP_ADDRESS,
    NHS_NUMBER,
    PHONE,
    SSN,
    UK_NINO,
)
from desktop_app.data.pii.scanner import canonical_value

# Reserved IPv4 blocks, in order: the three documentation /24s, then the /15 for
# benchmarks, so there are enough stand-ins for a large log file.
_IPV4_BLOCKS = tuple(
    ipaddress.ip_network(block)
    for block in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15")
)
_IPV4_CAPACITY = sum(block.num_addresses for block in _IPV4_BLOCKS)
_IPV6_BASE = int(ipaddress.IPv6Address("2001:db8::"))


def _ipv4(number: int) -> str:
    for block in _IPV4_BLOCKS:
        if number < block.num_addresses:
            return str(block.network_address + number)
        number -= block.num_addresses
    raise AssertionError("number beyond the IPv4 blocks")


def _four(number: int, groups: int) -> str:
    digits = f"{number:0{groups * 4}d}"
    return " ".join(digits[index : index + 4] for index in range(0, len(digits), 4))


def _phone(number: int) -> str:
    digits = f"{number:07d}"
    return f"+1 555 {digits[:3]} {digits[3:]}"


def _nino(number: int) -> str:
    digits = f"{number // 4:06d}"
    return f"QQ {digits[:2]} {digits[2:4]} {digits[4:]} {'ABCD'[number % 4]}"


# Each type's number of distinct stand-ins and how to write stand-in number n.
_FORMATS: dict[str, tuple[int, Callable[[int], str]]] = {
    EMAIL: (10**6, lambda n: f"person.{n:06d}@example.com"),
    PHONE: (10**7, _phone),
    CREDIT_CARD: (10**12, lambda n: "0000 " + _four(n, 3)),
    IBAN: (10**12, lambda n: "XX00 0000 " + _four(n, 3)),
    SSN: (10**6, lambda n: f"000-{n // 10**4:02d}-{n % 10**4:04d}"),
    UK_NINO: (4 * 10**6, _nino),
    NHS_NUMBER: (10**7, lambda n: f"999 {n // 10**4:03d} {n % 10**4:04d}"),
}
_IPV6_CAPACITY = 2**64


class Pseudonymizer:
    """Hands out one stand-in per distinct value and remembers it.

    Share one instance between files (a training and a validation file) to keep their
    stand-ins consistent with each other.

    Args:
        salt: Key for the stand-in numbers. The same salt gives the same stand-ins for
            the same values in the same order; None draws a random one.
    """

    def __init__(self, salt: str | None = None) -> None:
        self.salt_given = salt is not None
        key = salt if salt is not None else secrets.token_hex(32)
        self._key = key.encode("utf-8")
        self._assigned: dict[tuple[str, str], str] = {}
        self._taken: dict[str, set[int]] = {}

    def __len__(self) -> int:
        """Distinct values seen so far."""
        return len(self._assigned)

    def _number(self, pii_type: str, canonical: str, capacity: int) -> int:
        message = f"{pii_type}\x00{canonical}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        number = int.from_bytes(digest[:8], "big") % capacity
        taken = self._taken.setdefault(pii_type, set())
        if len(taken) >= capacity:
            raise ValueError(f"more than {capacity:,} distinct {pii_type} values to replace")
        while number in taken:
            number = (number + 1) % capacity
        taken.add(number)
        return number

    def stand_in(self, pii_type: str, value: str) -> str:
        """The stand-in for a value, the same every time it is asked for.

        Args:
            pii_type: One of ``PII_TYPES``.
            value: The value as found in the text.

        Raises:
            ValueError: the type is unknown, or it has run out of stand-ins (a million
                distinct e-mail addresses or SSNs in one set).
        """
        canonical = canonical_value(pii_type, value)
        if pii_type == IP_ADDRESS and ":" in canonical:
            pii_type = "IP_ADDRESS_V6"
        key = (pii_type, canonical)
        known = self._assigned.get(key)
        if known is not None:
            return known
        if pii_type == IP_ADDRESS:
            made = _ipv4(self._number(pii_type, canonical, _IPV4_CAPACITY))
        elif pii_type == "IP_ADDRESS_V6":
            number = self._number(pii_type, canonical, _IPV6_CAPACITY)
            made = str(ipaddress.IPv6Address(_IPV6_BASE + number))
        elif pii_type in _FORMATS:
            capacity, write = _FORMATS[pii_type]
            made = write(self._number(pii_type, canonical, capacity))
        else:
            raise ValueError(f"unknown personal data type {pii_type!r}")
        self._assigned[key] = made
        return made
