"""Detectors for each type of personal data except phones (see :mod:`phones`).

Every detector is a regular expression that finds candidates and a check that keeps
only real ones: card numbers pass Luhn and fall in an issuer's range, IBANs pass
mod-97 at their country's length, SSNs avoid the never-issued ranges, IP addresses
parse. What each deliberately leaves out is listed in its docstring; precision comes
first, because a false alarm on every order number teaches users to ignore the scan.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from desktop_app.data.pii.checks import (
    IBAN_LENGTHS,
    card_number_valid,
    iban_valid,
    nhs_number_valid,
    nino_valid,
    ssn_valid,
)
from desktop_app.data.pii.findings import (
    CREDIT_CARD,
    EMAIL,
    IBAN,
    IP_ADDRESS,
    NHS_NUMBER,
    SSN,
    UK_NINO,
    PiiFinding,
)

# An address is found from its "@": the local part is the run of allowed characters
# just before it (64 at most), the domain the labels just after it.
_EMAIL_LOCAL = re.compile(r"[\w%+\-]+(?:[.'][\w%+\-]+)*\Z")
_EMAIL_DOMAIN = re.compile(r"(?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.)+[^\W\d_]{2,24}(?![\w\-])")
_LOCAL_PART_LIMIT = 64
# Domains reserved for documentation (RFC 2606, RFC 6761): nobody's address.
_RESERVED_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
_RESERVED_SUBDOMAINS = tuple("." + domain for domain in sorted(_RESERVED_DOMAINS))
_RESERVED_TLDS = frozenset({"example", "invalid", "test", "localhost"})
# "icon@2x.png" is an image, not an address.
_FILE_EXTENSIONS = frozenset(
    {
        "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "tif", "tiff", "ico", "heic",
        "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "csv", "txt", "json", "xml",
        "yaml", "yml", "html", "htm", "css", "js", "ts", "py", "md", "log", "zip", "gz",
        "tar", "mp3", "mp4", "mov", "wav",
    }
)  # fmt: skip

# Patterns start with a plain character and only then look behind it (``\d(?<!\w\d)``
# rather than ``(?<!\w)\d``), so the regex engine skips straight to the places worth
# trying instead of trying every position of every text.
_CARD = re.compile(
    r"\d(?<![\w.\-/+,]\d)(?:\d{12,18}|\d{3}([ \-])\d{3,6}(?:\1\d{3,6}){1,3})"
    r"(?![\w])(?![.\-/,]\d)"
)

# Found from the check digits, which are far rarer in text than letters.
_IBAN_CHECK_DIGITS = re.compile(r"\d(?<=(?<!\w)[A-Za-z]{2}\d)\d(?= ?[A-Za-z0-9]{4})")

_SSN = re.compile(r"(\d(?<![\w.\-/+]\d)\d{2})([\- ]?)(\d{2})\2(\d{4})(?![\w])(?![.\-/]\d)")
_SSN_KEYWORD = re.compile(
    r"(?i)(?:\bSSNs?\b|\bsocial security\b|\bSS ?(?:#|No\b|number\b))[^\d\n]{0,30}$"
)

_IPV4 = re.compile(r"\d(?<![\w.\-]\d)\d{0,2}(?:\.\d{1,3}){3}(?![\w\-])(?!\.\d)")
# Words after which four dotted numbers are a version or a section, not an address.
_VERSION_WORD = re.compile(
    r"(?i)\b(?:version|ver|v|release|rel|build|firmware|fw|patch|revision|rev|kernel|"
    r"driver|sdk|agent|upgrade[ds]? to|updated? to|"
    r"section|sect|table|figure|fig|clause|chapter|appendix|para|paragraph|step|item|room|"
    r"java|jdk|jre|python|node|chrome|firefox|edge|safari|windows|office|outlook|excel|"
    r"teams|zoom|acrobat|reader|ios|ipados|macos|android|linux|ubuntu|exchange|oracle|"
    r"citrix|vmware|esxi|vcenter|powershell|openssl|tomcat|nginx|apache)\.?\s*[:#]?\s*$"
)
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?![\w:]|\.\d)"
)
# Address blocks reserved for documentation and benchmarks; pseudonyms come from them.
_UNASSIGNED_NETWORKS = tuple(
    ipaddress.ip_network(block)
    for block in (
        "192.0.2.0/24",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "198.18.0.0/15",
        "2001:db8::/32",
    )
)

_NHS = re.compile(r"\d(?<![\w.\-/+]\d)\d{2}([ \-]?)\d{3}\1\d{4}(?![\w])(?![.\-/]\d)")
_NHS_KEYWORD = re.compile(r"(?i)\bNHS\b[^\d\n]{0,30}$")

_NINO = re.compile(r"(?<![\w])([A-Z]{2}) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-D])(?![\w])")
_NINO_DIGITS = re.compile(r"\d(?<=[A-Z][A-Z ]\d)\d ?\d\d ?\d\d ?[A-D](?![\w])")


def find_emails(text: str) -> Iterator[PiiFinding]:
    """Email addresses. Not reported: addresses at documentation domains
    (``example.com``, ``*.test``, ``*.invalid``) and file names such as
    ``logo@2x.png`` whose "domain" ends in a file extension."""
    at = text.find("@")
    while at > 0:
        window_start = max(0, at - _LOCAL_PART_LIMIT)
        local = _EMAIL_LOCAL.search(text, window_start, at)
        domain = _EMAIL_DOMAIN.match(text, at + 1)
        if local is not None and domain is not None:
            start = local.start()
            before = text[start - 1] if start else " "
            if not (before.isalnum() or before in "_%+-."):
                name = domain.group().lower()
                top_level = name.rsplit(".", 1)[-1]
                reserved = name in _RESERVED_DOMAINS or name.endswith(_RESERVED_SUBDOMAINS)
                if not (reserved or top_level in _FILE_EXTENSIONS or top_level in _RESERVED_TLDS):
                    yield PiiFinding(EMAIL, start, domain.end(), text[start : domain.end()])
        at = text.find("@", at + 1)


def _continues_digits(text: str, start: int) -> bool:
    """Whether the match is a later digit group of a longer number (say an IBAN's)."""
    return start >= 2 and text[start - 1] in " -" and text[start - 2].isdigit()


def find_card_numbers(text: str) -> Iterator[PiiFinding]:
    """Payment card numbers: 13 to 19 digits, unbroken or in groups (4-4-4-4, 4-6-5,
    4-4-4-4-3 ...) split by spaces or hyphens used consistently, in an issuer range,
    passing Luhn. A number followed by another digit group (``... 1111 12/26``) is tried
    without the trailing groups."""
    for match in _CARD.finditer(text):
        start = match.start()
        if _continues_digits(text, start):
            continue
        candidate = match.group()
        separator = match.group(1)
        while True:
            digits = candidate.replace(" ", "").replace("-", "")
            if len(digits) < 13:
                break
            if card_number_valid(digits):
                yield PiiFinding(CREDIT_CARD, start, start + len(candidate), candidate)
                break
            if separator is None:
                break
            candidate = candidate.rsplit(separator, 1)[0]


def find_ibans(text: str) -> Iterator[PiiFinding]:
    """IBANs, unbroken or in the printed groups of four, at their country's length and
    passing the mod-97 check. References that fail the check are not IBANs."""
    for match in _IBAN_CHECK_DIGITS.finditer(text):
        start = match.start() - 2
        length = IBAN_LENGTHS.get(text[start : start + 2].upper())
        if length is None:
            continue
        characters = [*text[start : match.end()]]
        position = match.end()
        while len(characters) < length and position < len(text):
            character = text[position]
            if character == " " and len(characters) % 4 == 0 and position + 1 < len(text):
                position += 1
                character = text[position]
            if not (character.isascii() and character.isalnum()):
                break
            characters.append(character)
            position += 1
        if len(characters) != length:
            continue
        if position < len(text) and text[position].isalnum():
            continue
        if iban_valid("".join(characters).upper()):
            yield PiiFinding(IBAN, start, position, text[start:position])


def find_ssns(text: str) -> Iterator[PiiFinding]:
    """US Social Security numbers outside the never-issued ranges. ``123-45-6789`` with
    hyphens counts anywhere; with spaces or none (``123456789``) only after "SSN" or
    "social security" in the 30 characters before it."""
    for match in _SSN.finditer(text):
        if _continues_digits(text, match.start()):
            continue
        if not ssn_valid(match.group(1) + match.group(3) + match.group(4)):
            continue
        if match.group(2) != "-" and not _SSN_KEYWORD.search(
            text, max(0, match.start() - 50), match.start()
        ):
            continue
        yield PiiFinding(SSN, match.start(), match.end(), match.group())


def _identifies_nobody(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Addresses that are the same on every machine, or reserved for examples."""
    return (
        address.is_unspecified
        or address.is_loopback
        or address.is_multicast
        or any(address in network for network in _UNASSIGNED_NETWORKS)
    )


def _is_netmask(address: ipaddress.IPv4Address) -> bool:
    inverted = ~int(address) & 0xFFFFFFFF
    return str(address).startswith("255.") and inverted & (inverted + 1) == 0


def _is_network_address(
    text: str, end: int, address: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> bool:
    """Whether ``10.0.0.0/8``-style notation names a whole network rather than a host."""
    prefix = re.match(r"/(\d{1,3})(?!\d)", text[end : end + 5])
    if prefix is None or int(prefix.group(1)) > address.max_prefixlen:
        return False
    network = ipaddress.ip_network(f"{address}/{prefix.group(1)}", strict=False)
    return network.network_address == address and network.prefixlen < address.max_prefixlen


def find_ip_addresses(text: str) -> Iterator[PiiFinding]:
    """IPv4 and IPv6 addresses of hosts.

    Not reported: version numbers (``v10.2.3.4``, anything with a fifth part such as
    ``10.0.19045.3693``), octets
    over 255 or with leading zeros, a last part 0 (a network, or a version like
    ``8.10.185.0``), four numbers after a word such as "version", "build", "section",
    "table" or a well-known product ("Java 17.0.10.7"), subnet masks, network ranges
    (``10.0.0.0/8``, ``2a02:8010:6c93::/48``),
    and addresses that identify nobody: unspecified, loopback, multicast, and the
    blocks reserved for documentation (192.0.2.0/24, 2001:db8::/32 ...).
    """
    if "." in text:
        for match in _IPV4.finditer(text):
            octets = match.group().split(".")
            if any(len(octet) > 1 and octet[0] == "0" for octet in octets):
                continue
            if any(int(octet) > 255 for octet in octets):
                continue
            if _VERSION_WORD.search(text, max(0, match.start() - 30), match.start()):
                continue
            if octets[3] == "0":
                continue  # a network (10.1.2.0) or a version (8.10.185.0), seldom a host
            v4 = ipaddress.IPv4Address(match.group())
            if _identifies_nobody(v4) or v4.is_reserved or _is_netmask(v4):
                continue
            if _is_network_address(text, match.end(), v4):
                continue
            yield PiiFinding(IP_ADDRESS, match.start(), match.end(), match.group())
    if "::" in text or text.count(":") >= 7:
        for match in _IPV6.finditer(text):
            candidate = match.group()
            if candidate.endswith(":") and not candidate.endswith("::"):
                candidate = candidate[:-1]
            try:
                v6 = ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            if not any(character.isdigit() for character in candidate) or _identifies_nobody(v6):
                continue
            if _is_network_address(text, match.start() + len(candidate), v6):
                continue
            yield PiiFinding(IP_ADDRESS, match.start(), match.start() + len(candidate), candidate)


def find_uk_ninos(text: str) -> Iterator[PiiFinding]:
    """UK National Insurance numbers (``AB 12 34 56 C`` or ``AB123456C``) with a prefix
    HMRC issues; the example prefix ``QQ`` and never-used pairs like ``GB`` are out."""
    for digits in _NINO_DIGITS.finditer(text):
        letters = digits.start() - (3 if text[digits.start() - 1] == " " else 2)
        match = _NINO.match(text, max(0, letters))
        if match is None or match.start() != letters:
            continue
        if nino_valid("".join(match.groups())):
            yield PiiFinding(UK_NINO, match.start(), match.end(), match.group())


def find_nhs_numbers(text: str) -> Iterator[PiiFinding]:
    """NHS numbers (``943 476 5919``) with a valid check digit, after "NHS" in the 30
    characters before them: ten digits alone look like any phone or account number."""
    if "NHS" not in text and "nhs" not in text.lower():
        return
    for match in _NHS.finditer(text):
        start = match.start()
        if _continues_digits(text, start):
            continue
        digits = match.group().replace(" ", "").replace("-", "")
        if nhs_number_valid(digits) and _NHS_KEYWORD.search(text, max(0, start - 40), start):
            yield PiiFinding(NHS_NUMBER, start, match.end(), match.group())
