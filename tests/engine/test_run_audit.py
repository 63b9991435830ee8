"""A training run leaves its inputs, start and ending in the workspace audit log."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from desktop_app.core.audit import AuditLog, config_hash, verify_log
from desktop_app.core.config import RunConfig
from desktop_app.core.config_io import config_to_dict
from desktop_app.core.events import ListReporter, RunStarted, StepMetrics, WarningRaised
from desktop_app.core.hashing import sha256_file
from desktop_app.engine.train import run_training


def _entries(home: Path, run_dir: Path | None = None) -> list[dict]:
    entries = AuditLog(home / "audit").entries()
    return [e for e in entries if run_dir is None or e["run"] == str(run_dir)]


def test_a_finished_run_records_its_data_decisions_start_and_end(
    tiny_config: RunConfig, memorisable_data: Path, enclave_home: Path
):
    with open(memorisable_data, "a", encoding="utf-8") as handle:
        handle.write(
            '{"instruction": "Mail jane.doe@northbank.co.uk?", "input": "", "output": "Yes."}\n'
        )
        handle.write('{"instruction": "", "input": "", "output": ""}\n')  # excluded
    tiny_config.data.exclude_invalid = True
    tiny_config.data.pii_redaction = "tags"
    reporter = ListReporter()

    result = run_training(tiny_config, reporter)

    assert result.status == "finished", result.message
    entries = _entries(enclave_home, result.run_dir)
    kinds = [entry["event"] for entry in entries]
    assert kinds[:3] == ["dataset_imported", "pii_decision", "rows_excluded"]
    assert kinds[-2:] == ["run_started", "run_finished"]
    imported = entries[0]["details"]
    assert imported["path"] == str(memorisable_data.resolve())
    assert imported["sha256"] == sha256_file(memorisable_data)
    assert (imported["records_read"], imported["records_used"]) == (18, 17)
    assert entries[1]["details"]["redaction"] == "tags"
    assert entries[1]["details"]["values_found"] == {"EMAIL": 1}
    assert entries[2]["details"]["count"] == 1 and entries[2]["details"]["records"][0]["line"] == 18
    started = reporter.of_type(RunStarted)[0]
    assert entries[-2]["details"]["config_sha256"] == config_hash(started.config)
    assert entries[-2]["details"]["config_sha256"] == config_hash(config_to_dict(tiny_config))
    assert entries[-1]["details"]["metrics"]["eval_loss"] == result.metrics["eval_loss"]
    assert verify_log(AuditLog(enclave_home / "audit")).intact


def test_a_cancelled_then_resumed_run_records_both(tiny_config: RunConfig, enclave_home: Path):
    stop = threading.Event()

    class CancelAtFirstStep(ListReporter):
        def report(self, event):
            super().report(event)
            if isinstance(event, StepMetrics):
                stop.set()

    cancelled = run_training(tiny_config, CancelAtFirstStep(), stop)
    assert cancelled.status == "cancelled"
    resumed = run_training(RunConfig(), ListReporter(), resume_dir=cancelled.run_dir)
    assert resumed.status == "finished", resumed.message

    kinds = [entry["event"] for entry in _entries(enclave_home, cancelled.run_dir)]
    assert kinds.count("run_started") == 2
    assert "run_cancelled" in kinds and kinds[-1] == "run_finished"
    resumed_imports = [
        e for e in _entries(enclave_home, cancelled.run_dir) if e["event"] == "dataset_imported"
    ]
    assert [e["details"]["resumed"] for e in resumed_imports] == [False, True]


def test_a_failed_run_records_why(tiny_config: RunConfig, enclave_home: Path):
    tiny_config.hyperparameters.max_length = 8  # no answer survives the cut

    result = run_training(tiny_config, ListReporter())

    assert result.status == "invalid_input"
    last = _entries(enclave_home, result.run_dir)[-1]
    assert last["event"] == "run_failed"
    assert "max_length" in last["details"]["message"]


def test_a_run_that_cannot_be_audited_does_not_train(tiny_config: RunConfig, enclave_home: Path):
    # A folder where the log file should be: every append fails.
    (enclave_home / "audit" / "audit.jsonl").mkdir(parents=True)
    reporter = ListReporter()

    result = run_training(tiny_config, reporter)

    assert result.status == "invalid_input"
    assert "audit log" in result.message
    assert not reporter.of_type(StepMetrics)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert not any(isinstance(e, WarningRaised) and "audit" in e.message for e in reporter.events)
