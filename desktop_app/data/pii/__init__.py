"""Personal data in training files: find it, report it, and write redacted copies.

Types: e-mail addresses, phone numbers, payment card numbers, IBANs, US Social
Security numbers, IP addresses, UK National Insurance numbers and NHS numbers. Each is
a validated pattern, not a guess: card numbers must pass Luhn and fall in an issuer's
range, IBANs must pass mod-97, phone numbers must be valid for their country
(libphonenumber, offline), SSNs must avoid the ranges never issued, NHS numbers need
their check digit and the word "NHS". Look-alikes such as order numbers, references and
version strings are left alone. Names, postal addresses and dates of birth are not
detected.

Entry points: :func:`scan_text` for one text, :func:`scan_file` for a data file,
:func:`redact_file` for a redacted copy, :func:`format_pii_report` for the CLI.
"""

from __future__ import annotations

from desktop_app.data.pii.findings import PII_TYPES, PiiFinding
from desktop_app.data.pii.pseudonyms import Pseudonymizer
from desktop_app.data.pii.redact import (
    REDACTION_MODES,
    RedactedText,
    RedactionSummary,
    file_sha256,
    redact_file,
    redact_text,
)
from desktop_app.data.pii.report import (
    SCAN_LIMITS,
    FileFinding,
    PiiReport,
    format_pii_report,
    iter_record_findings,
    mask_value,
    scan_file,
)
from desktop_app.data.pii.scanner import canonical_value, scan_text
from desktop_app.data.pii.writers import writable_types

__all__ = [
    "PII_TYPES",
    "REDACTION_MODES",
    "SCAN_LIMITS",
    "FileFinding",
    "PiiFinding",
    "PiiReport",
    "Pseudonymizer",
    "RedactedText",
    "RedactionSummary",
    "canonical_value",
    "file_sha256",
    "format_pii_report",
    "iter_record_findings",
    "mask_value",
    "redact_file",
    "redact_text",
    "scan_file",
    "scan_text",
    "writable_types",
]
