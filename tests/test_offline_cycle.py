"""A whole train, evaluate and export cycle under the network guard: not one connection
attempt, no listening socket, and an audit trail that verifies.

The suite's autouse fixture (tests/conftest.py) already fails any test during which the
guard refused something; these tests also count the attempts themselves, so they cannot
pass just because the fixture was switched off.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from desktop_app.core.audit import AuditLog, verify_log
from desktop_app.core.config import RunConfig
from desktop_app.core.config_io import save_config
from desktop_app.core.events import ListReporter
from desktop_app.core.network_guard import network_guard
from desktop_app.engine.evaluation import evaluate_run
from desktop_app.engine.export import export_run
from desktop_app.engine.generation import GenerationSettings
from desktop_app.engine.train import run_training

FACTS = [
    ("What is the capital of France?", "The capital of France is Paris."),
    ("Who approves the claim?", "The underwriting team approves the claim."),
    ("When is the invoice due?", "The invoice is due within thirty days."),
    ("What must patients sign?", "Patients must sign the consent form."),
]


def _config(tiny_model_dir: Path, folder: Path, method: str) -> RunConfig:
    data = folder / "facts.jsonl"
    data.write_text(
        "".join(
            json.dumps({"instruction": opening + question, "input": "", "output": answer}) + "\n"
            for opening in ("", "Tell me: ", "Question: ")
            for question, answer in FACTS
        ),
        encoding="utf-8",
    )
    config = RunConfig()
    config.model.path = str(tiny_model_dir)
    config.data.train = str(data)
    config.data.validation_fraction = 0.25
    config.method.name = method
    hyper = config.hyperparameters
    hyper.max_steps = 4
    hyper.batch_size = 4
    hyper.learning_rate = 1e-2
    hyper.max_length = 64
    hyper.eval_every_steps = 0
    hyper.save_every_steps = 0
    config.output.dir = str(folder / "runs")
    return config


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
