"""Reading the audit log for people: entries with their line numbers, filters, a one-line
digest of each entry, and an export that carries its own verification.

Shared by ``enclave audit show``/``export`` and the app's audit viewer, so both list,
filter and export the log the same way. Dates in filters are the computer's local dates
(the log itself keeps UTC times).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import desktop_app
from desktop_app.core.audit import (
    HEAD_NAME,
    LOG_NAME,
    AuditError,
    AuditLog,
    Verification,
    verify_log,
)
from desktop_app.core.hashing import sha256_file
from desktop_app.core.manifest import utc_now, who_and_where

#: The file an export writes next to the copied log.
VERIFICATION_NAME = "verification.json"
#: The longest digest :func:`detail_digest` returns.
DIGEST_CHARS = 140

_HEX = re.compile(r"^[0-9a-f]{32,}$")
_SEPARATORS = re.compile(r"[\\/]")
#: Keys whose whole-number values read best after the number ("120 records").
_COUNTED = {"records", "rows", "entries", "files", "examples", "steps", "findings", "tokens"}
#: Keys that hold a path: shown by their last part (the file or folder name).
_PATH_KEYS = (
    "path", "file", "folder", "dir", "destination", "source", "model", "output", "checkpoint",
)  # fmt: skip
#: Per event type, the details worth reading first; the other keys follow in order.
_LEADING_KEYS: dict[str, tuple[str, ...]] = {
    "app_started": ("version",),
    "model_opened": ("path", "model", "sha256"),
    "dataset_imported": ("path", "file", "records", "sha256"),
    "pii_scanned": ("path", "file", "counts", "records"),
    "pii_decision": ("decision", "choice", "mode", "kind", "path"),
    "rows_excluded": ("count", "rows", "records", "reason"),
    "run_started": ("model", "method", "config_hash"),
    "run_finished": ("metrics",),
    "run_failed": ("reason", "message"),
    "run_cancelled": ("step", "checkpoint"),
    "evaluation_finished": ("metrics",),
    "signed_off": ("decision", "verdict", "reviewer", "comment"),
    "exported": ("format", "destination", "path"),
    "run_deleted": ("path", "reason"),
    "network_blocked": ("host", "address", "url", "port"),
    "remote_code_allowed": ("model", "path"),
    "pickle_converted": ("path", "files"),
    "audit_exported": ("destination", "entries", "intact", "log_sha256"),
}
#: Keys whose text reads on its own, without the key in front.
_BARE_KEYS = {"reason", "message", "decision", "verdict", "comment", "choice"}


@dataclass(frozen=True, eq=False)
class NumberedEntry:
    """One readable entry of the log and the line it is on.

    Args:
        line: The 1-based line of the log file (what ``verify`` names).
        entry: The entry as written (seq, time, event, user, host, pid, run, details,
            prev, hash).
        text: The line as written, when it was read from a file (searched as it is).
    """

    line: int
    entry: dict[str, Any]
    text: str = field(default="", repr=False)

    @property
    def event(self) -> str:
        return str(self.entry.get("event", ""))

    @property
    def run(self) -> str | None:
        run = self.entry.get("run")
        return str(run) if run else None

    @cached_property
    def when(self) -> datetime | None:
        """When the entry was written, time-zone aware (None if unreadable)."""
        try:
            moment = datetime.fromisoformat(str(self.entry.get("time")))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    @property
    def local_time(self) -> datetime | None:
        """When the entry was written, in the computer's time zone (None if unreadable)."""
        return self.when.astimezone() if self.when is not None else None

    @property
    def search_text(self) -> str:
        """The entry's text in lower case, for searching (lowered on each call: faster
        than keeping a lowered copy of every entry)."""
        return (self.text or json.dumps(self.entry, ensure_ascii=False, sort_keys=True)).lower()


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to list; a field left as None does not filter.

    Args:
        run: A run folder: its full path, or only its folder name.
        event: One of ``EVENT_TYPES``.
        since: The first local date to list (inclusive).
        until: The last local date to list (inclusive).
        text: Words that must appear somewhere in the entry (any case).
    """

    run: str | None = None
    event: str | None = None
    since: date | None = None
    until: date | None = None
    text: str | None = None

    def matches(self, item: NumberedEntry) -> bool:
        """Whether ``item`` passes every filter that is set."""
        if self.run is not None and not run_matches(item.run, self.run):
            return False
        if self.event is not None and item.event != self.event:
            return False
        if self.since is not None or self.until is not None:
            start, end = self._instants
            when = item.when
            if when is None or (start is not None and when < start):
                return False
            if end is not None and when >= end:
                return False
        if self.text:
            text = item.search_text
            return all(word in text for word in self._words)
        return True

    @cached_property
    def _instants(self) -> tuple[datetime | None, datetime | None]:
        """The local midnights that start ``since`` and end ``until`` (converting two
        bounds once is far faster than converting every entry's time)."""
        start = _local_midnight(self.since) if self.since is not None else None
        end = _local_midnight(self.until + timedelta(days=1)) if self.until is not None else None
        return start, end

    @cached_property
    def _words(self) -> list[str]:
        return (self.text or "").lower().split()


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time()).astimezone()


def run_matches(entry_run: str | None, wanted: str) -> bool:
    """Whether an entry's run folder is ``wanted`` (a full path, or a folder name only)."""
    if entry_run is None:
        return False
    if entry_run == wanted:
        return True
    if _SEPARATORS.search(wanted):
        return entry_run.rstrip("\\/") == wanted.rstrip("\\/")
    return run_name(entry_run) == wanted


def run_name(run: str) -> str:
    """A run folder's name: the last part of its path."""
    return _SEPARATORS.split(run.rstrip("\\/"))[-1]


def read_entries(log: AuditLog | None = None) -> list[NumberedEntry]:
    """Every readable entry of the log with its line number, in order.

    Lines that are not JSON objects are left out; :func:`verify_log` names them.
    """
    log = log if log is not None else AuditLog()
    if not log.path.exists():
        return []
    found = []
    try:
        with open(log.path, encoding="utf-8", errors="replace") as handle:
            for number, text in enumerate(handle, start=1):
                try:
                    value = json.loads(text)
                except ValueError:
                    continue
                if isinstance(value, dict):
                    found.append(NumberedEntry(number, value, text))
    except OSError as error:
        raise AuditError(
            f"Enclave could not read its audit log ({log.path}): {error}.",
            "Check that the workspace folder exists and that you may read it.",
        ) from error
    return found


def filter_entries(
    entries: Iterable[NumberedEntry], audit_filter: AuditFilter
) -> list[NumberedEntry]:
    """The entries that pass ``audit_filter``, in their order."""
    if audit_filter == AuditFilter():
        return list(entries)
    return [item for item in entries if audit_filter.matches(item)]


@dataclass(frozen=True)
class AuditSnapshot:
    """The log as read at one moment.

    Args:
        verification: What :func:`verify_log` found.
        entries: The readable entries, in order.
        runs: The run folders the entries name, in the order they first appear.
        event_counts: How many entries there are of each event type.
    """

    verification: Verification
    entries: list[NumberedEntry] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    event_counts: dict[str, int] = field(default_factory=dict)


def read_and_verify(log: AuditLog | None = None) -> AuditSnapshot:
    """Verify the log, then read its entries and parse their times (the viewer's
    background job: about 3 s for 100,000 entries, docs/benchmarks.md)."""
    log = log if log is not None else AuditLog()
    verification = verify_log(log)
    entries = read_entries(log)
    runs: dict[str, None] = {}
    for item in entries:
        _ = item.when  # parsed once here, not in a filter
        run = item.entry.get("run")
        if run:
            runs[str(run)] = None
    counts = Counter(str(item.entry.get("event", "")) for item in entries)
    return AuditSnapshot(verification, entries, list(runs), dict(counts))


# -- the digest ---------------------------------------------------------------------------


def detail_digest(entry: Mapping[str, Any]) -> str:
    """A short line saying what an entry's details hold, for tables.

    The event type is not repeated (tables show it in its own column). For example a
    ``dataset_imported`` entry with ``{"path": "/data/policy.jsonl", "records": 120}``
    reads "policy.jsonl, 120 records".
    """
    details = entry.get("details")
    if not isinstance(details, Mapping):
        return _shorten(_plain(details))
    leading = [key for key in _LEADING_KEYS.get(str(entry.get("event")), ()) if key in details]
    keys = leading + [key for key in details if key not in leading]
    parts = [_describe(str(key), details[key]) for key in keys]
    return _shorten(", ".join(part for part in parts if part))


def _describe(key: str, value: Any) -> str:
    label = key.replace("_", " ")
    if value is None or value == "" or value == [] or value == {}:
        return ""
    if isinstance(value, bool):
        return f"{label}: {'yes' if value else 'no'}"
    if isinstance(value, int):
        return f"{value:,} {label}" if key in _COUNTED else f"{label} {value}"
    if isinstance(value, float):
        return f"{label} {value:.4g}"
    if isinstance(value, str):
        if _HEX.match(value):
            return f"{label} {value[:12]}…"
        if key.lower().endswith(_PATH_KEYS) and _SEPARATORS.search(value):
            return run_name(value)
        return value if key in _BARE_KEYS else f"{label} {value}"
    if isinstance(value, Mapping):
        if all(
            isinstance(item, int | float) and not isinstance(item, bool) for item in value.values()
        ):
            return ", ".join(
                f"{name} {number:.4g}" if isinstance(number, float) else f"{number:,} {name}"
                for name, number in value.items()
            )
        return f"{label}: {len(value)} items"
    if isinstance(value, list | tuple):
        if len(value) <= 3 and all(isinstance(item, str) for item in value):
            return f"{label} " + ", ".join(run_name(item) for item in value)
        return f"{len(value):,} {label}"
    return f"{label} {_plain(value)}"


def _plain(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return " ".join(text.split())


def _shorten(text: str, limit: int = DIGEST_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the export ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportedLog:
    """What :func:`export_log` wrote.

    Args:
        folder: The destination folder.
        log_path: The copied log.
        head_path: The copied head.json (None when the log has none yet).
        verification_path: verification.json, the result of verifying the copy.
        log_sha256: The sha256 of the copied log.
        verification: The verification of the copy.
        exported_at: When (ISO 8601, UTC).
        entry: The ``audit_exported`` entry written to the workspace's log afterwards.
    """

    folder: Path
    log_path: Path
    head_path: Path | None
    verification_path: Path
    log_sha256: str
    verification: Verification
    exported_at: str
    entry: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "log": str(self.log_path),
            "head": str(self.head_path) if self.head_path else None,
            "verification_file": str(self.verification_path),
            "log_sha256": self.log_sha256,
            "verification": self.verification.to_dict(),
            "exported_at": self.exported_at,
            "audit_entry": self.entry,
        }


def export_log(destination: str | Path, log: AuditLog | None = None) -> ExportedLog:
    """Copy the log and its head into ``destination``, verify the copy, and record it.

    Writes ``audit.jsonl``, ``head.json`` and ``verification.json`` (the copy's
    verification, when and by whom it was exported, the copy's sha256), then appends an
    ``audit_exported`` entry naming the destination and that sha256 to the live log. An
    earlier export is never overwritten.

    Args:
        destination: A folder (created when missing) that holds no earlier export.
        log: The log to export (default: the workspace's).

    Raises:
        AuditError: the destination already holds an export, or cannot be written.
    """
    log = log if log is not None else AuditLog()
    folder = Path(destination).expanduser().resolve()
    targets = [folder / LOG_NAME, folder / HEAD_NAME, folder / VERIFICATION_NAME]
    taken = [target.name for target in targets if target.exists()]
    if taken:
        raise AuditError(
            f"{folder} already holds an audit export ({', '.join(taken)}).",
            "Choose an empty folder, so that no earlier export is overwritten.",
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        log_text, head_text = _consistent_copy(log)
        targets[0].write_bytes(log_text)
        if head_text is not None:
            targets[1].write_bytes(head_text)
        copy = AuditLog(folder)
        verification = verify_log(copy)
        log_sha256 = sha256_file(copy.path)
        exported_at = utc_now()
        who = who_and_where()
        record = {
            "verification": verification.to_dict(),
            "summary": verification.summary(),
            "log_sha256": log_sha256,
            "head_sha256": sha256_file(copy.head_path) if head_text is not None else None,
            "exported_at": exported_at,
            "exported_by": who["user"],
            "host": who["host"],
            "source": str(log.path),
            "enclave_version": desktop_app.__version__,
        }
        targets[2].write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise AuditError(
            f"Enclave could not export the audit log to {folder}: {error}.",
            "Choose a folder you may write to, on a disk with free space.",
        ) from error
    entry = log.append(
        "audit_exported",
        {
            "destination": str(folder),
            "log_sha256": log_sha256,
            "entries": verification.entries,
            "intact": verification.intact,
            "head_hash": verification.head_hash,
        },
    )
    return ExportedLog(
        folder=folder,
        log_path=targets[0],
        head_path=targets[1] if head_text is not None else None,
        verification_path=targets[2],
        log_sha256=log_sha256,
        verification=verification,
        exported_at=exported_at,
        entry=entry,
    )


def _consistent_copy(log: AuditLog, attempts: int = 5) -> tuple[bytes, bytes | None]:
    """The log's bytes and its head's, read so that they belong together.

    Another process may append while the files are read (the log first, then the head);
    while the head does not match the log's last entry the files are read again. A head
    that still does not match is copied as it is, and the verification says so.
    """
    log_text, head_text = b"", None
    for attempt in range(attempts):
        log_text = log.path.read_bytes() if log.path.exists() else b""
        head_text = log.head_path.read_bytes() if log.head_path.exists() else None
        if _head_matches(log_text, head_text):
            break
        time.sleep(0.05 * (attempt + 1))
    return log_text, head_text


def _head_matches(log_text: bytes, head_text: bytes | None) -> bool:
    lines = [line for line in log_text.split(b"\n") if line.strip()]
    if head_text is None:
        return not lines
    try:
        head = json.loads(head_text)
        last = json.loads(lines[-1]) if lines else None
    except ValueError:
        return False
    if not isinstance(head, dict):
        return False
    if last is None:
        return head.get("entries") == 0
    return isinstance(last, dict) and (head.get("entries"), head.get("hash")) == (
        len(lines),
        last.get("hash"),
    )
