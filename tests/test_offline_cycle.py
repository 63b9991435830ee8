"""A whole train, evaluate and export cycle under the network guard: not one connection
attempt, no listening socket, and an audit trail that verifies.

The suite's autouse fixture (tests/conftest.py) already fails any test during which the
guard refused something; these tests also count the attempts themselves, so they cannot
pass just because the fixture was switched off.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from tiny_runs import OPENINGS, facts_config

from desktop_app.core.audit import AuditLog, verify_log
from desktop_app.core.config import RunConfig
from desktop_app.core.config_io import save_config
from desktop_app.core.events import ListReporter
from desktop_app.core.network_guard import network_guard
from desktop_app.engine.evaluation import evaluate_run
from desktop_app.engine.export import export_run
from desktop_app.engine.generation import GenerationSettings
from desktop_app.engine.train import run_training


def _config(tiny_model_dir: Path, folder: Path, method: str) -> RunConfig:
    return facts_config(
        tiny_model_dir,
        folder,
        method=method,
        max_steps=4,
        learning_rate=1e-2,
        openings=OPENINGS[:3],
    )


def _listening_sockets() -> list[object]:
    return [
        connection
        for connection in psutil.Process().net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN
    ]


def test_qlora_train_evaluate_export_in_process_touches_no_network(
    tiny_model_dir: Path, tmp_path: Path, enclave_home: Path
):
    guard = network_guard()
    assert guard is not None, "the network guard must be installed for the whole suite"
    blocked_before = guard.blocked_count()

    trained = run_training(_config(tiny_model_dir, tmp_path, "qlora"), ListReporter())
    assert trained.status == "finished", trained.message
    evaluated = evaluate_run(
        trained.run_dir, settings=GenerationSettings(max_new_tokens=8), max_examples=2
    )
    assert evaluated.status == "finished"
    adapter = export_run(trained.run_dir, tmp_path / "export-adapter")
    merged = export_run(trained.run_dir, tmp_path / "export-merged", merge=True)

    assert guard.blocked_count() == blocked_before
    assert _listening_sockets() == []
    assert (adapter.destination / "MODEL_CARD.md").is_file()
    assert (merged.destination / "manifest.json").is_file()
    log = AuditLog(enclave_home / "audit")
    assert verify_log(log).intact
    events = [entry["event"] for entry in log.entries()]
    for expected in (
        "dataset_imported",
        "pii_decision",
        "model_opened",
        "run_started",
        "run_finished",
        "evaluation_finished",
        "exported",
    ):
        assert expected in events, expected
    assert events.count("exported") == 2
    assert "network_blocked" not in events


@pytest.mark.slow
def test_the_command_line_cycle_records_no_blocked_attempt(
    tiny_model_dir: Path, tmp_path: Path, enclave_home: Path
):
    """The real entry point in fresh processes, each installing its own guard: anything a
    library tried would be refused there and land in the audit log as network_blocked."""
    config_path = tmp_path / "run.json"
    save_config(_config(tiny_model_dir, tmp_path, "lora"), config_path)

    def enclave(*args: str) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [sys.executable, "-m", "desktop_app", *args],
            capture_output=True,
            text=True,
            timeout=600,
            env=os.environ.copy(),
        )
        assert completed.returncode == 0, completed.stderr[-2000:]
        return completed

    enclave("train", str(config_path))
    [run_dir] = (tmp_path / "runs").iterdir()
    enclave("evaluate", str(run_dir), "--max-examples", "2", "--max-new-tokens", "8")
    enclave("export", str(run_dir), str(tmp_path / "exported"))
    verified = enclave("audit", "verify")

    assert "intact" in verified.stdout
    entries = AuditLog(enclave_home / "audit").entries()
    events = [entry["event"] for entry in entries]
    assert events.count("app_started") == 4
    assert {"run_finished", "evaluation_finished", "exported"} <= set(events)
    assert "network_blocked" not in events
