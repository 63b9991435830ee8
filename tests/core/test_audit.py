"""The audit log: a hash chain that names the first line edited, removed or reordered."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from desktop_app.core.audit import (
    GENESIS_HASH,
    AuditError,
    AuditLog,
    entry_hash,
    record,
    verify_log,
)


def _filled(folder: Path, count: int = 5) -> AuditLog:
    log = AuditLog(folder)
    for index in range(count):
        log.append("dataset_imported", {"path": f"/data/file{index}.jsonl", "records": index})
    return log


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text(encoding="utf-8").splitlines()


def _write(log: AuditLog, lines: list[str]) -> None:
    log.path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def test_entries_are_chained_and_the_log_verifies(tmp_path: Path):
    log = _filled(tmp_path)

    entries = log.entries()
    assert [entry["seq"] for entry in entries] == [1, 2, 3, 4, 5]
    assert entries[0]["prev"] == GENESIS_HASH
    for before, after in zip(entries, entries[1:], strict=False):
        assert after["prev"] == before["hash"] == entry_hash(before)
    assert entries[2]["details"] == {"path": "/data/file2.jsonl", "records": 2}
    assert entries[0]["user"] and entries[0]["host"] and entries[0]["time"]

    result = verify_log(log)
    assert result.intact and result.entries == 5 and result.first_bad_line is None
    assert result.head_hash == entries[-1]["hash"]
    assert "intact" in result.summary()


def test_an_empty_or_missing_log_is_intact(tmp_path: Path):
    result = verify_log(AuditLog(tmp_path / "never-written"))
    assert result.intact and result.entries == 0 and result.head_hash == GENESIS_HASH


def test_an_edited_entry_is_named_by_its_line(tmp_path: Path):
    log = _filled(tmp_path)
    lines = _lines(log)
    lines[2] = lines[2].replace("file2.jsonl", "other.jsonl")
    _write(log, lines)

    result = verify_log(log)
    assert not result.intact
    assert result.first_bad_line == 3
    assert "edited" in result.problem
    assert "Line 3" in result.summary()


def test_an_edit_that_also_recomputes_the_entry_hash_breaks_the_next_link(tmp_path: Path):
    log = _filled(tmp_path)
    lines = _lines(log)
    entry = json.loads(lines[1])
    entry["details"]["records"] = 999
    entry["hash"] = entry_hash(entry)
    lines[1] = json.dumps(entry, sort_keys=True)
    _write(log, lines)

    result = verify_log(log)
    assert (result.intact, result.first_bad_line) == (False, 3)


def test_a_removed_entry_is_named_where_the_gap_is(tmp_path: Path):
    log = _filled(tmp_path)
    lines = _lines(log)
    del lines[1]
    _write(log, lines)

    result = verify_log(log)
    assert (result.intact, result.first_bad_line) == (False, 2)
    assert "removed" in result.problem


def test_reordered_entries_are_caught(tmp_path: Path):
    log = _filled(tmp_path)
    lines = _lines(log)
    lines[3], lines[4] = lines[4], lines[3]
    _write(log, lines)

    result = verify_log(log)
    assert (result.intact, result.first_bad_line) == (False, 4)


def test_entries_cut_from_the_end_are_caught_by_the_head(tmp_path: Path):
    log = _filled(tmp_path)
    _write(log, _lines(log)[:3])

    result = verify_log(log)
    assert not result.intact
    assert result.first_bad_line == 4
    assert "5 were written" in result.problem


def test_entries_cut_from_the_end_stay_caught_after_new_entries(tmp_path: Path):
    log = _filled(tmp_path)
    _write(log, _lines(log)[:3])
    log.append("app_started", {"version": "test"})  # as every start of Enclave does
    log.append("app_started", {"version": "test"})

    result = verify_log(log)
    assert not result.intact
    assert result.first_bad_line == 4
    assert "removed from the end" in result.problem and "5 had been written" in result.problem


def test_a_lost_head_update_is_not_taken_for_tampering(tmp_path: Path):
    log = _filled(tmp_path, 3)
    head_after_three = log.head_path.read_text(encoding="utf-8")
    log.append("app_started", {"version": "test"})
    # Enclave stopped after writing the fourth entry but before its head.
    log.head_path.write_text(head_after_three, encoding="utf-8")

    assert verify_log(log).intact
    log.append("app_started", {"version": "test"})
    result = verify_log(log)
    assert result.intact and result.entries == 5


def test_a_garbled_line_is_named(tmp_path: Path):
    log = _filled(tmp_path)
    lines = _lines(log)
    lines[0] = lines[0][:40]
    _write(log, lines)

    assert verify_log(log).first_bad_line == 1


def test_appending_after_damage_keeps_the_damage_visible(tmp_path: Path):
    log = _filled(tmp_path, 2)
    lines = _lines(log)
    _write(log, [lines[0], lines[1][:30]])
    log.append("app_started", {"version": "test"})

    result = verify_log(log)
    assert (result.intact, result.first_bad_line) == (False, 2)


def test_concurrent_writers_never_fork_the_chain(tmp_path: Path):
    log = AuditLog(tmp_path)

    def write_many(worker: int) -> None:
        for index in range(15):
            AuditLog(tmp_path).append("network_blocked", {"worker": worker, "index": index})

    threads = [threading.Thread(target=write_many, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    result = verify_log(log)
    assert result.intact and result.entries == 60


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_the_log_is_readable_by_the_user_only(tmp_path: Path):
    log = _filled(tmp_path / "audit", 1)
    assert stat.S_IMODE(log.folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.head_path.stat().st_mode) == 0o600


def test_record_writes_to_the_workspace_log(enclave_home: Path):
    record("run_started", {"config_sha256": "abc"}, run=enclave_home / "runs" / "one")

    [entry] = AuditLog(enclave_home / "audit").entries()
    assert entry["event"] == "run_started"
    assert entry["run"] == str(enclave_home / "runs" / "one")


def test_unknown_event_types_are_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown audit event"):
        AuditLog(tmp_path).append("made_up", {})


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="POSIX, not root")
def test_an_unwritable_log_is_a_plain_error(tmp_path: Path):
    folder = tmp_path / "audit"
    log = _filled(folder, 1)
    os.chmod(log.path, 0o400)
    try:
        with pytest.raises(AuditError, match="could not write to its audit log"):
            log.append("app_started", {})
    finally:
        os.chmod(log.path, 0o600)
