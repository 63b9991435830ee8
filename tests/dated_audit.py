"""Audit logs with entries on chosen days, for the tests of reading, filtering and
showing the log. Importable as ``dated_audit`` (tests/ is on the import path through its
conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from desktop_app.core import audit
from desktop_app.core.audit import AuditLog

RUN_A = "/work/runs/run-20261101-lora"
RUN_B = "/work/runs/run-20261105-qlora"
#: Six entries of two runs on three days.
TWO_RUN_ENTRIES: list[tuple[str, str, dict[str, Any], str | None]] = [
    ("2026-11-01", "app_started", {"version": "0.4.0"}, None),
    ("2026-11-01", "dataset_imported", {"path": "/d/policy.jsonl", "records": 120}, RUN_A),
    ("2026-11-01", "run_started", {"config_hash": "ab" * 32}, RUN_A),
    ("2026-11-02", "run_finished", {"metrics": {"eval_loss": 1.25}}, RUN_A),
    ("2026-11-05", "dataset_imported", {"path": "/d/claims.csv", "records": 9}, RUN_B),
    ("2026-11-05", "run_failed", {"reason": "The disk is full."}, RUN_B),
]


def write_dated_entries(
    monkeypatch: pytest.MonkeyPatch,
    entries: list[tuple[str, str, dict[str, Any], str | None]],
    log: AuditLog | None = None,
) -> AuditLog:
    """Append (day, event, details, run) entries, each stamped at noon UTC on its day
    (the same local date almost everywhere), to ``log`` (the workspace's by default)."""
    log = log if log is not None else AuditLog()
    clock = audit.utc_now
    for day, event, details, run in entries:
        monkeypatch.setattr(audit, "utc_now", lambda day=day: f"{day}T12:00:00+00:00")
        log.append(event, details, run=run)
    monkeypatch.setattr(audit, "utc_now", clock)  # not undo(): it would drop ENCLAVE_HOME
    return log
