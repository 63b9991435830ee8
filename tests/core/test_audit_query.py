"""Reading the audit log for people: line numbers, filters, digests and the export."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from dated_audit import write_dated_entries

from desktop_app.core import audit
from desktop_app.core.audit import AuditError, AuditLog, verify_log
from desktop_app.core.audit_query import (
    AuditFilter,
    detail_digest,
    export_log,
    filter_entries,
    read_and_verify,
    read_entries,
    run_matches,
)
from desktop_app.core.hashing import sha256_file

RUN_A = "/work/runs/run-20261101-a"
RUN_B = "/work/runs/run-20261105-b"


@pytest.fixture
def dated_log(monkeypatch: pytest.MonkeyPatch) -> AuditLog:
    """Seven entries on three days (noon UTC, the same local date almost everywhere)."""
    log = AuditLog()
    writes = [
        ("2026-11-01", "app_started", {"version": "0.4.0"}, None),
        ("2026-11-01", "dataset_imported", {"path": "/d/policy.jsonl", "records": 120}, RUN_A),
        ("2026-11-01", "run_started", {"config_hash": "ab" * 32}, RUN_A),
        ("2026-11-02", "run_finished", {"metrics": {"eval_loss": 1.25}}, RUN_A),
        ("2026-11-05", "dataset_imported", {"path": "/d/claims.csv", "records": 9}, RUN_B),
        ("2026-11-05", "network_blocked", {"host": "huggingface.co", "port": 443}, None),
        ("2026-11-05", "run_failed", {"reason": "The disk is full."}, RUN_B),
    ]
    return write_dated_entries(monkeypatch, writes, log)


def _lines(items) -> list[int]:
    return [item.line for item in items]


def test_entries_keep_their_line_numbers_past_a_damaged_line(dated_log: AuditLog):
    lines = dated_log.path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1][:25]
    dated_log.path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    entries = read_entries(dated_log)
    assert _lines(entries) == [1, 3, 4, 5, 6, 7]
    assert entries[1].event == "run_started" and entries[1].run == RUN_A


def test_each_filter_narrows_the_entries(dated_log: AuditLog):
    entries = read_entries(dated_log)

    assert _lines(filter_entries(entries, AuditFilter())) == [1, 2, 3, 4, 5, 6, 7]
    assert _lines(filter_entries(entries, AuditFilter(run=RUN_B))) == [5, 7]
    assert _lines(filter_entries(entries, AuditFilter(run="run-20261101-a"))) == [2, 3, 4]
    assert _lines(filter_entries(entries, AuditFilter(event="dataset_imported"))) == [2, 5]
    assert _lines(filter_entries(entries, AuditFilter(since=date(2026, 11, 2)))) == [4, 5, 6, 7]
    assert _lines(filter_entries(entries, AuditFilter(until=date(2026, 11, 1)))) == [1, 2, 3]
    one_day = AuditFilter(since=date(2026, 11, 2), until=date(2026, 11, 2))
    assert _lines(filter_entries(entries, one_day)) == [4]
    assert _lines(filter_entries(entries, AuditFilter(text="HUGGINGFACE 443"))) == [6]
    both = AuditFilter(run=RUN_A, event="dataset_imported", since=date(2026, 11, 1))
    assert _lines(filter_entries(entries, both)) == [2]


def test_a_run_is_matched_by_path_or_folder_name_only():
    assert run_matches("/runs/run-1", "/runs/run-1")
    assert run_matches("/runs/run-1", "run-1")
    assert run_matches("C:\\runs\\run-1", "run-1")
    assert not run_matches("/runs/run-10", "run-1")
    assert not run_matches("/other/run-1", "/runs/run-1")
    assert not run_matches(None, "run-1")


@pytest.mark.parametrize(
    ("event", "details", "expected"),
    [
        (
            "dataset_imported",
            {"records": 120, "path": "/d/policy.jsonl"},
            "policy.jsonl, 120 records",
        ),
        ("run_failed", {"reason": "The disk is full."}, "The disk is full."),
        (
            "pii_scanned",
            {"path": "C:\\a.csv", "counts": {"email": 3, "phone": 1}},
            "a.csv, 3 email, 1 phone",
        ),
        ("run_started", {"config_hash": "ab" * 32}, "config hash abababababab…"),
        ("network_blocked", {"host": "example.org", "port": 8080}, "host example.org, port 8080"),
        ("audit_exported", {"intact": True, "entries": 12}, "12 entries, intact: yes"),
        ("run_finished", {"metrics": {"eval_loss": 1.23456}}, "eval_loss 1.235"),
        ("app_started", {}, ""),
    ],
)
def test_the_digest_is_a_short_plain_line(event: str, details: dict, expected: str):
    assert detail_digest({"event": event, "details": details}) == expected


def test_a_long_digest_is_cut():
    digest = detail_digest({"event": "run_failed", "details": {"reason": "word " * 100}})
    assert len(digest) == 140 and digest.endswith("…")


def test_read_and_verify_reports_the_first_bad_line(dated_log: AuditLog):
    lines = dated_log.path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("abab", "cdcd", 1)
    dated_log.path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    snapshot = read_and_verify(dated_log)
    assert not snapshot.verification.intact
    assert snapshot.verification.first_bad_line == 3
    assert len(snapshot.entries) == 7


def test_the_export_copies_verifies_and_records(dated_log: AuditLog, tmp_path: Path):
    original = dated_log.path.read_bytes()
    destination = tmp_path / "export" / "2026-11"

    exported = export_log(destination, dated_log)

    assert exported.log_path.read_bytes() == original
    assert exported.head_path is not None and exported.head_path.exists()
    record = json.loads(exported.verification_path.read_text(encoding="utf-8"))
    assert record["verification"]["intact"] is True
    assert record["verification"]["entries"] == 7
    assert record["log_sha256"] == sha256_file(exported.log_path) == exported.log_sha256
    assert record["exported_by"] and record["host"] and record["exported_at"]
    assert record["source"] == str(dated_log.path)
    # The export is recorded in the live log after the copy, so the copy lacks it.
    last = dated_log.entries()[-1]
    assert last["event"] == "audit_exported" and last["seq"] == 8
    assert last["details"]["destination"] == str(destination.resolve())
    assert last["details"]["log_sha256"] == exported.log_sha256
    assert verify_log(dated_log).intact
    assert len(read_entries(AuditLog(destination))) == 7


def test_a_changed_log_is_exported_with_the_verdict(dated_log: AuditLog, tmp_path: Path):
    lines = dated_log.path.read_text(encoding="utf-8").splitlines()
    del lines[3]
    dated_log.path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    exported = export_log(tmp_path / "copy", dated_log)

    record = json.loads(exported.verification_path.read_text(encoding="utf-8"))
    assert record["verification"]["intact"] is False
    assert record["verification"]["first_bad_line"] == 4
    assert "Line 4" in record["summary"]


def test_an_earlier_export_is_never_overwritten(dated_log: AuditLog, tmp_path: Path):
    export_log(tmp_path, dated_log)
    before = (tmp_path / "audit.jsonl").read_bytes()

    with pytest.raises(AuditError, match="already holds an audit export"):
        export_log(tmp_path, dated_log)
    assert (tmp_path / "audit.jsonl").read_bytes() == before


def test_an_empty_workspace_exports_an_empty_intact_log(tmp_path: Path):
    exported = export_log(tmp_path / "copy")

    assert exported.log_path.read_bytes() == b"" and exported.head_path is None
    assert exported.verification.intact and exported.verification.entries == 0
    assert [entry["event"] for entry in AuditLog().entries()] == ["audit_exported"]


@pytest.fixture
def new_york_time() -> Iterator[None]:
    """The computer's time zone set to New York (UTC-5 in November) for the test."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is not available on this platform")
    original = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if original is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = original
    time.tzset()


def test_dates_are_the_computers_local_dates(new_york_time: None, monkeypatch: pytest.MonkeyPatch):
    log = AuditLog()
    clock = audit.utc_now
    for moment in ("2026-11-02T02:00:00+00:00", "2026-11-02T06:00:00+00:00"):
        monkeypatch.setattr(audit, "utc_now", lambda moment=moment: moment)
        log.append("app_started", {"version": "0.4.0"})
    monkeypatch.setattr(audit, "utc_now", clock)
    entries = read_entries(log)

    # 02:00 UTC on 2 November is 21:00 on 1 November in New York.
    assert entries[0].local_time is not None and entries[0].local_time.day == 1
    assert _lines(filter_entries(entries, AuditFilter(until=date(2026, 11, 1)))) == [1]
    assert _lines(filter_entries(entries, AuditFilter(since=date(2026, 11, 2)))) == [2]
