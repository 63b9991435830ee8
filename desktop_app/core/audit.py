"""The workspace's audit trail: one append-only log of JSON lines, in a hash chain.

Each entry carries the sha256 of the entry before it (``prev``) and its own sha256
(``hash``, computed over every other field). Editing an entry breaks its own hash;
removing or moving one breaks the ``prev`` link of the entry that now follows; removing
entries from the end is caught by ``head.json``, which records the count and the last
hash after every append. :func:`verify_log` names the first line that does not hold.

Entries cut from the end and then followed by new ones (every start of Enclave appends
``app_started``) are caught too: an append that finds the log shorter than head.json
says keeps that finding in head.json for good. An append whose head update was lost
(Enclave stopped between the two writes) is told apart and is not reported.

A hash chain shows that the log was changed, not who changed it: someone who rewrites
the whole chain and head.json can hide an edit. The head hash is therefore also printed
by ``enclave audit show`` and written into exports' manifest.json and model cards, so a
copy kept elsewhere anchors the log up to that point.

Writers in several processes (the app and the command line) take a file lock around
each append, so the chain never forks.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import portalocker

from desktop_app.core.errors import UserInputError
from desktop_app.core.manifest import utc_now, who_and_where
from desktop_app.core.paths import enclave_home
from desktop_app.core.permissions import make_private, make_private_dir

#: The ``prev`` of the first entry.
GENESIS_HASH = "0" * 64
LOG_NAME = "audit.jsonl"
HEAD_NAME = "head.json"

#: Every kind of entry Enclave writes, with what it means (the viewer's filter uses it).
EVENT_TYPES: dict[str, str] = {
    "app_started": "Enclave started (version, OS user, host)",
    "model_opened": "A base model was opened (path, sha256 of its weight files)",
    "dataset_imported": "A data file was read for training (path, sha256, record counts)",
    "pii_scanned": "A data file was scanned for personal data (counts by kind)",
    "pii_decision": "A choice about personal data (redact, pseudonymise or keep)",
    "rows_excluded": "Records left out of training, with the reason",
    "run_started": "A training run started (config hash)",
    "run_finished": "A training run finished (final metrics)",
    "run_failed": "A training run failed (the reason)",
    "run_cancelled": "A training run was cancelled (the checkpoint kept)",
    "evaluation_finished": "A run was evaluated against its base model",
    "signed_off": "A reviewer signed a run off (or rejected it)",
    "exported": "A model was exported (artifact hashes)",
    "run_deleted": "A run and its data copies, checkpoints and exports were deleted",
    "network_blocked": "An outbound connection or name lookup was refused",
    "remote_code_allowed": "A model's own code was allowed to run (advanced opt-in)",
    "pickle_converted": "Pickle weights were converted to safetensors (opt-in)",
    "audit_exported": "The audit log was exported with its verification result",
}

_FILE_MODE = 0o600
#: Enough of the log's end to hold its last entry.
_TAIL_BYTES = 1 << 16
_process_lock = threading.Lock()


class AuditError(UserInputError):
    """The audit log cannot be written or read."""


def audit_dir() -> Path:
    """The workspace's audit folder: ENCLAVE_HOME/audit."""
    return enclave_home() / "audit"


def entry_hash(entry: Mapping[str, Any]) -> str:
    """The sha256 of an entry's fields other than ``hash``, in a canonical JSON form."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def config_hash(config: Mapping[str, Any]) -> str:
    """The sha256 of a configuration dictionary in canonical JSON (for run_started)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_log` found.

    Args:
        intact: True when every entry holds and none is missing.
        entries: How many entries were read.
        first_bad_line: The 1-based line of the first entry that does not hold, or None.
        problem: What is wrong there, in plain words ("" when intact).
        head_hash: The hash of the last entry that holds (GENESIS_HASH for an empty log).
        path: The log that was checked.
    """

    intact: bool
    entries: int
    first_bad_line: int | None
    problem: str
    head_hash: str
    path: Path

    def summary(self) -> str:
        """One or two sentences for a person."""
        if self.intact:
            return (
                f"The audit log is intact: {self.entries} entries, each linked to the one "
                f"before. Last entry hash: {self.head_hash}."
            )
        return f"The audit log has been changed. Line {self.first_bad_line}: {self.problem}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "entries": self.entries,
            "first_bad_line": self.first_bad_line,
            "problem": self.problem,
            "head_hash": self.head_hash,
            "path": str(self.path),
        }


class AuditLog:
    """The append-only log in ``folder`` (default: the workspace's audit folder)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else audit_dir()

    @property
    def path(self) -> Path:
        return self.folder / LOG_NAME

    @property
    def head_path(self) -> Path:
        return self.folder / HEAD_NAME

    def append(
        self, event: str, details: Mapping[str, Any] | None = None, *, run: str | None = None
    ) -> dict[str, Any]:
        """Add one entry at the end of the chain and return it.

        Args:
            event: One of :data:`EVENT_TYPES`.
            details: What the entry records (JSON-serialisable; paths become strings).
            run: The run folder the entry concerns, if any (the viewer filters by it).

        Raises:
            AuditError: the log could not be written (the caller's action should stop:
                an action that cannot be recorded must not happen unrecorded).
        """
        if event not in EVENT_TYPES:
            raise ValueError(f"unknown audit event type: {event!r}")
        try:
            self._make_folder()
            with _process_lock, portalocker.Lock(str(self.folder / ".lock"), mode="a", timeout=30):
                count, previous, last_prev = self._tail()
                mismatch = self._head_mismatch(count, previous, last_prev)
                who = who_and_where()
                entry: dict[str, Any] = {
                    "seq": count + 1,
                    "time": utc_now(),
                    "event": event,
                    "user": who["user"],
                    "host": who["host"],
                    "pid": os.getpid(),
                    "run": run,
                    "details": json.loads(json.dumps(dict(details or {}), default=str)),
                    "prev": previous,
                }
                entry["hash"] = entry_hash(entry)
                line = json.dumps(entry, ensure_ascii=False, sort_keys=True)
                descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, _FILE_MODE)
                with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                self._write_head(entry["seq"], entry["hash"], mismatch)
        except (OSError, portalocker.LockException) as error:
            raise AuditError(
                f"Enclave could not write to its audit log ({self.path}): {error}.",
                "Check that the workspace folder exists, is writable and has free space.",
            ) from error
        return entry

    def entries(self) -> list[dict[str, Any]]:
        """Every entry that can be read, in order (unreadable lines are skipped; use
        :func:`verify_log` to find them)."""
        found = []
        for _, text in self._lines():
            try:
                value = json.loads(text)
            except ValueError:
                continue
            if isinstance(value, dict):
                found.append(value)
        return found

    def head(self) -> dict[str, Any] | None:
        """The recorded count and last hash, or None before the first entry."""
        try:
            value = json.loads(self.head_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def _make_folder(self) -> None:
        # Missing parents (the workspace itself) are created user-only too.
        make_private_dir(self.folder)
        make_private(self.folder)

    def _lines(self) -> Iterator[tuple[int, str]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as handle:
            for number, text in enumerate(handle, start=1):
                yield number, text.rstrip("\n")

    def _tail(self) -> tuple[int, str, str | None]:
        """(entries so far, hash of the last one, that entry's ``prev``), read from the
        end of the log itself."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return 0, GENESIS_HASH, None
        with open(self.path, "rb") as handle:
            handle.seek(max(size - _TAIL_BYTES, 0))
            lines = [line for line in handle.read().split(b"\n") if line.strip()]
        if not lines:
            return 0, GENESIS_HASH, None
        link = _chain_link(lines[-1])
        if link is not None:
            return link
        # The last line is longer than the tail read, or damaged: read it whole. A
        # damaged one is chained to by its text, so the damage stays visible.
        count, last = 0, ""
        for _, text in self._lines():
            if text.strip():
                count, last = count + 1, text
        link = _chain_link(last.encode("utf-8"))
        if link is not None:
            return link
        return count, hashlib.sha256(last.encode("utf-8")).hexdigest(), None

    def _head_mismatch(
        self, count: int, last_hash: str, last_prev: str | None
    ) -> dict[str, Any] | None:
        """What the recorded head says was lost, if the log no longer ends where the
        head says it did (kept in head.json for good once noticed)."""
        head = self.head()
        if head is None:
            return None
        if isinstance(head.get("mismatch"), dict):
            return dict(head["mismatch"])
        recorded = (head.get("entries"), head.get("hash"))
        if recorded == (count, last_hash) or _head_update_lost(head, count, last_prev):
            return None
        return {
            "recorded_entries": head.get("entries"),
            "recorded_hash": head.get("hash"),
            "found_entries": count,
            "found_hash": last_hash,
            "noticed_at": utc_now(),
        }

    def _write_head(
        self, count: int, last_hash: str, mismatch: dict[str, Any] | None = None
    ) -> None:
        head: dict[str, Any] = {"entries": count, "hash": last_hash}
        if mismatch is not None:
            head["mismatch"] = mismatch
        temporary = self.head_path.with_name(f".{HEAD_NAME}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(head, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.head_path)


def verify_log(log: AuditLog | None = None) -> Verification:
    """Check every link of the chain and the recorded head; name the first bad line."""
    log = log if log is not None else AuditLog()
    previous = GENESIS_HASH
    last_prev: str | None = None
    count = 0

    def broken(line: int, problem: str) -> Verification:
        return Verification(False, count, line, problem, previous, log.path)

    for number, text in log._lines():
        try:
            entry = json.loads(text)
            if not isinstance(entry, dict):
                raise ValueError
        except ValueError:
            return broken(number, "the entry is not readable JSON: it was edited or cut.")
        if entry.get("hash") != entry_hash(entry):
            return broken(number, "the entry was edited after it was written.")
        if entry.get("prev") != previous or entry.get("seq") != number:
            return broken(
                number,
                f"the entry does not follow the one before it: an entry before line "
                f"{number} was removed, or entries were reordered.",
            )
        last_prev = previous
        previous = str(entry["hash"])
        count += 1
    head = log.head()
    mismatch = head.get("mismatch") if head is not None else None
    if isinstance(mismatch, dict):
        found = mismatch.get("found_entries")
        return broken(
            found + 1 if isinstance(found, int) else count,
            f"entries were removed from the end of the log: {mismatch.get('recorded_entries')} "
            f"had been written, but only {found} were left when the entry on line "
            f"{found + 1 if isinstance(found, int) else '?'} was added "
            f"(noticed {mismatch.get('noticed_at')}).",
        )
    if head is not None and _head_update_lost(head, count, last_prev):
        return Verification(True, count, None, "", previous, log.path)
    if head is not None and (head.get("entries"), head.get("hash")) != (count, previous):
        recorded = head.get("entries")
        if isinstance(recorded, int) and recorded > count:
            return broken(
                count + 1,
                f"the log ends after {count} entries but {recorded} were written: "
                "the last entries were removed.",
            )
        return broken(count, "the log does not match its recorded head (head.json).")
    if head is None and count:
        return broken(count, "the recorded head (head.json) is missing.")
    return Verification(True, count, None, "", previous, log.path)


def _chain_link(line: bytes) -> tuple[int, str, str | None] | None:
    """An entry's (seq, hash, prev), or None when the line is not a whole entry."""
    try:
        entry = json.loads(line)
        return int(entry["seq"]), str(entry["hash"]), entry.get("prev")
    except (ValueError, KeyError, TypeError):
        return None


def _head_update_lost(head: dict[str, Any], count: int, last_prev: str | None) -> bool:
    """Whether the log holds exactly one entry more than the head records, chained to
    the recorded last one: Enclave stopped between writing an entry and its head."""
    return (
        head.get("entries") == count - 1 and last_prev is not None and head.get("hash") == last_prev
    )


def record(
    event: str, details: Mapping[str, Any] | None = None, *, run: str | Path | None = None
) -> dict[str, Any]:
    """Append an entry to the workspace's audit log (see :meth:`AuditLog.append`)."""
    return AuditLog().append(event, details, run=str(run) if run is not None else None)
