"""Redacted copies of data files: personal data replaced, the original left untouched.

Two modes: ``tags`` replaces each value with its type in brackets (``[EMAIL]``);
``pseudonyms`` replaces it with a consistent made-up stand-in (see :mod:`pseudonyms`).
The copy is written next to its destination under a temporary name and renamed into
place only when complete, so a crash or a full disk never leaves half a file under
the destination's name, and the source is only ever opened for reading.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from desktop_app.core.hashing import sha256_file
from desktop_app.data.errors import data_error
from desktop_app.data.pii.findings import PII_TYPES, PiiFinding
from desktop_app.data.pii.pseudonyms import Pseudonymizer
from desktop_app.data.pii.record_fields import replace_text_fields
from desktop_app.data.pii.scanner import scan_text
from desktop_app.data.pii.writers import check_writable, write_records
from desktop_app.data.readers import iter_raw_records
from desktop_app.data.records import RecordProblem

#: The redaction modes.
REDACTION_MODES = ("tags", "pseudonyms")


class RedactedText(NamedTuple):
    """A text with its personal data replaced, and what was replaced."""

    text: str
    findings: list[PiiFinding]


def redact_text(
    text: str,
    mode: str = "tags",
    pseudonymizer: Pseudonymizer | None = None,
    types: Collection[str] | None = None,
) -> RedactedText:
    """Replace the personal data in one text.

    Args:
        text: Any text.
        mode: ``"tags"`` (``[EMAIL]``) or ``"pseudonyms"`` (consistent stand-ins).
        pseudonymizer: The stand-in table to use in ``pseudonyms`` mode; share one
            across texts for consistent stand-ins. A new one with a random salt if None.
        types: Only these types; all if None.

    Raises:
        ValueError: ``mode`` is not one of :data:`REDACTION_MODES`.
    """
    if mode not in REDACTION_MODES:
        raise ValueError(f"unknown redaction mode {mode!r}; use one of {REDACTION_MODES}")
    findings = scan_text(text, types)
    if not findings:
        return RedactedText(text, findings)
    if mode == "pseudonyms" and pseudonymizer is None:
        pseudonymizer = Pseudonymizer()
    pieces: list[str] = []
    position = 0
    for finding in findings:
        pieces.append(text[position : finding.start])
        if pseudonymizer is not None and mode == "pseudonyms":
            pieces.append(pseudonymizer.stand_in(finding.type, finding.value))
        else:
            pieces.append(f"[{finding.type}]")
        position = finding.end
    pieces.append(text[position:])
    return RedactedText("".join(pieces), findings)


@dataclass(frozen=True)
class RedactionSummary:
    """What a redaction did, for the run manifest.

    Args:
        source: The original file (unchanged).
        destination: The redacted copy.
        mode: ``"tags"`` or ``"pseudonyms"``.
        counts_by_type: Values replaced per type, every type present.
        records_written: Records in the copy.
        records_changed: Records with at least one value replaced.
        skipped_lines: Lines of source records that could not be read; they are left
            out of the copy, since text that could not be scanned cannot be vouched for.
        source_sha256: SHA-256 of the source file.
        destination_sha256: SHA-256 of the copy.
        salt_given: In ``pseudonyms`` mode, whether a salt was given (the salt itself is
            never recorded); None in ``tags`` mode.
    """

    source: str
    destination: str
    mode: str
    counts_by_type: dict[str, int]
    records_written: int
    records_changed: int
    skipped_lines: tuple[int, ...]
    source_sha256: str
    destination_sha256: str
    salt_given: bool | None = None

    @property
    def values_replaced(self) -> int:
        """Values replaced, of every type."""
        return sum(self.counts_by_type.values())

    def to_json(self) -> dict[str, object]:
        """The summary as JSON-ready data."""
        return {
            "source": self.source,
            "destination": self.destination,
            "mode": self.mode,
            "counts_by_type": dict(self.counts_by_type),
            "values_replaced": self.values_replaced,
            "records_written": self.records_written,
            "records_changed": self.records_changed,
            "records_skipped": len(self.skipped_lines),
            "skipped_lines": list(self.skipped_lines),
            "source_sha256": self.source_sha256,
            "destination_sha256": self.destination_sha256,
            "salt_given": self.salt_given,
        }


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file (the project's one implementation, in core.hashing)."""
    return sha256_file(path)


def _check_paths(source: Path, destination: Path, overwrite: bool) -> None:
    name = str(source)
    if not source.is_file():
        what = "is a folder, not a data file." if source.is_dir() else "does not exist."
        raise data_error(name, what, "Check the path and choose the file again.")
    if destination.suffix.lower() != source.suffix.lower():
        raise data_error(
            str(destination),
            f"cannot hold the redacted copy: it must be a {source.suffix.lower()} file "
            "like the original.",
            f"Give the copy a name ending in {source.suffix.lower()}.",
        )
    same = destination.resolve() == source.resolve() or (
        destination.exists() and os.path.samefile(destination, source)
    )
    if same:
        raise data_error(
            str(destination),
            "is the original file; a redacted copy never replaces the original.",
            "Choose another name for the copy.",
        )
    if destination.exists() and not overwrite:
        raise data_error(
            str(destination),
            "already exists.",
            "Choose another name for the redacted copy, or allow overwriting it.",
        )
    if not destination.parent.is_dir():
        raise data_error(
            str(destination),
            "cannot be written: its folder does not exist.",
            "Create the folder or choose another place for the copy.",
        )


def redact_file(
    source: str | Path,
    destination: str | Path,
    mode: str = "tags",
    *,
    salt: str | None = None,
    overwrite: bool = False,
    pseudonymizer: Pseudonymizer | None = None,
    types: Collection[str] | None = None,
) -> RedactionSummary:
    """Write a copy of a data file with its personal data replaced.

    The copy has the source's type (JSON Lines, JSON, CSV or TSV with the source's
    delimiter; Excel and Parquet when openpyxl or pyarrow is installed). Records that
    cannot be read are left out and listed in the summary. The source is never written.

    Args:
        source: The data file.
        destination: The new file; its extension must match the source's.
        mode: ``"tags"`` or ``"pseudonyms"``.
        salt: Key for the pseudonyms (see :class:`Pseudonymizer`); a random one if None.
        overwrite: Replace ``destination`` if it exists (never when it is the source).
        pseudonymizer: A stand-in table shared with other files; overrides ``salt``.
        types: Only these types; all if None.

    Returns:
        Counts, the number of records changed, and both files' SHA-256.

    Raises:
        DataError: the source is missing or unreadable, the destination is the source,
            exists, has another extension or cannot be written, or the file type cannot
            be written on this installation.
        ValueError: ``mode`` is not one of :data:`REDACTION_MODES`.
    """
    if mode not in REDACTION_MODES:
        raise ValueError(f"unknown redaction mode {mode!r}; use one of {REDACTION_MODES}")
    source_path, destination_path = Path(source), Path(destination)
    _check_paths(source_path, destination_path, overwrite)
    check_writable(source_path)
    if mode == "pseudonyms" and pseudonymizer is None:
        pseudonymizer = Pseudonymizer(salt)
    source_sha256 = file_sha256(source_path)
    counts: Counter[str] = Counter()
    written = changed = 0
    skipped: list[int] = []

    record_counts: Counter[str] = Counter()

    def replace(_field: str, text: str) -> str:
        redacted = redact_text(text, mode, pseudonymizer, types)
        record_counts.update(finding.type for finding in redacted.findings)
        return redacted.text

    def redacted_records() -> Iterator[object]:
        nonlocal written, changed
        for item in iter_raw_records(source_path):
            if isinstance(item.value, RecordProblem):
                skipped.append(item.line)
                continue
            record_counts.clear()
            try:
                redacted = replace_text_fields(item.value, replace)
            except RecursionError:
                skipped.append(item.line)  # nested too deeply to walk: left out
                continue
            yield redacted
            written += 1
            changed += bool(record_counts)
            counts.update(record_counts)

    handle, temporary_name = tempfile.mkstemp(
        dir=destination_path.parent, prefix=f".{destination_path.name}.", suffix=".partial"
    )
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        write_records(source_path, temporary, redacted_records())
        with open(temporary, "r+b") as finished:
            os.fsync(finished.fileno())
        destination_sha256 = file_sha256(temporary)
        os.replace(temporary, destination_path)
    except OSError as error:
        raise data_error(
            str(source_path),
            f"could not be copied to {destination_path} ({error.strerror or error}).",
            "Check that neither file is open elsewhere, that there is enough disk space, "
            "and that you may write to the folder.",
        ) from None
    finally:
        temporary.unlink(missing_ok=True)
    return RedactionSummary(
        source=str(source_path),
        destination=str(destination_path),
        mode=mode,
        counts_by_type={pii_type: counts[pii_type] for pii_type in PII_TYPES},
        records_written=written,
        records_changed=changed,
        skipped_lines=tuple(skipped),
        source_sha256=source_sha256,
        destination_sha256=destination_sha256,
        salt_given=pseudonymizer.salt_given if pseudonymizer is not None else None,
    )
