"""Deleting a run: its folder and its exports go, anything not clearly Enclave's stays,
a run still training is refused, and the audit log keeps the record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.core.audit import AuditError, AuditLog, record, verify_log
from desktop_app.core.config import RunConfig
from desktop_app.core.errors import UserInputError
from desktop_app.core.events import ListReporter
from desktop_app.core.run_folder import RunFolder
from desktop_app.engine.export import export_run
from desktop_app.engine.run_deletion import (
    EXPORTS_FILE,
    RunDeletionError,
    delete_run,
    format_deletion_plan,
    plan_run_deletion,
)
from desktop_app.engine.train import run_training


def _deleted_entries() -> list[dict]:
    return [entry for entry in AuditLog().entries() if entry["event"] == "run_deleted"]


def _bare_run(tmp_path: Path, status: str = "finished", name: str = "run") -> RunFolder:
    config = RunConfig()
    config.output.dir = str(tmp_path / "runs")
    config.output.run_name = name
    folder = RunFolder.create(config, "lora")
    folder.write_manifest({"status": status, "method": "lora", "config": {"seed": 1}})
    (folder.checkpoints_dir / "checkpoint-2").mkdir()
    (folder.checkpoints_dir / "checkpoint-2" / "optimizer.pt").write_bytes(b"x" * 1000)
    return folder


def _fake_export(path: Path, run: Path | str) -> Path:
    path.mkdir(parents=True)
    (path / "manifest.json").write_text(json.dumps({"run": str(run), "export": {}}))
    (path / "adapter_model.safetensors").write_bytes(b"w" * 500)
    return path


def _list_exports(run: Path, paths: list[Path]) -> None:
    entries = [{"path": str(path), "time": "2025-01-01T00:00:00+00:00"} for path in paths]
    (run / EXPORTS_FILE).write_text(json.dumps(entries))


def test_a_trained_run_and_its_exports_are_deleted_and_audited(
    tiny_config: RunConfig, tmp_path: Path
):
    tiny_config.hyperparameters.max_steps = 4
    result = run_training(tiny_config, ListReporter())
    assert result.status == "finished", result.message
    run_dir = result.run_dir.resolve()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    export = export_run(run_dir, tmp_path / "exports" / "adapter").destination

    # Listed for the run but not clearly its export: they must survive.
    other_run = _fake_export(tmp_path / "exports" / "other-run", tmp_path / "runs" / "elsewhere")
    documents = tmp_path / "my-documents"
    documents.mkdir()
    (documents / "thesis.txt").write_text("keep me")
    listed = json.loads((run_dir / EXPORTS_FILE).read_text())
    listed += [
        {"path": str(other_run), "time": "t"},
        {"path": str(documents), "time": "t"},
        {"path": str(tmp_path / "gone"), "time": "t"},
        {"path": str(run_dir.parent), "time": "t"},
    ]
    (run_dir / EXPORTS_FILE).write_text(json.dumps(listed))

    plan = plan_run_deletion(run_dir)
    text = format_deletion_plan(plan)
    assert "checkpoints" in text and "the trained adapter" in text and str(export) in text
    assert run_dir.exists() and export.exists()  # planning deletes nothing

    report = delete_run(run_dir)

    assert not run_dir.exists() and not export.exists()
    assert other_run.exists() and (documents / "thesis.txt").read_text() == "keep me"
    assert run_dir.parent.exists()
    assert not [p for p in run_dir.parent.iterdir() if p.name.startswith(".deleting-")]
    kept = {kept.path: kept.reason for kept in report.plan.kept_exports}
    assert "does not name this run" in kept[other_run]
    assert "no readable Enclave export manifest" in kept[documents]
    assert "no longer exists" in kept[tmp_path / "gone"]
    assert "contains or is inside the run folder" in kept[run_dir.parent]
    assert "Deleted the run" in report.summary() and "1 export(s)" in report.summary()

    (entry,) = _deleted_entries()
    assert entry["hash"] == report.audit_hash
    details = entry["details"]
    removed = {item["path"]: item for item in details["removed"]}
    assert removed[str(run_dir / "checkpoints")]["bytes"] > 0
    assert removed[str(export)]["what"] == "export of the run"
    assert details["bytes"] == report.total_bytes > 0
    recorded = details["recorded"]
    assert recorded["model"]["weights"] == manifest["model"]["weights"]
    assert recorded["data_files"] == manifest["data_files"]
    assert recorded["outputs"] == manifest["outputs"]
    assert verify_log().intact


def test_exports_are_found_in_the_audit_log_when_the_list_is_lost(tmp_path: Path):
    folder = _bare_run(tmp_path)
    export = _fake_export(tmp_path / "export", folder.path)
    record("exported", {"destination": str(export)}, run=folder.path)

    report = delete_run(folder.path)

    assert not export.exists() and not folder.path.exists()
    assert [item.path for item in report.plan.exports] == [export]


def test_a_run_recorded_as_running_is_refused_unless_forced(tmp_path: Path):
    folder = _bare_run(tmp_path, status="running")

    with pytest.raises(RunDeletionError) as caught:
        delete_run(folder.path)
    assert "may still be training" in caught.value.message
    assert "--force" in caught.value.hint
    assert folder.path.exists() and not _deleted_entries()

    delete_run(folder.path, force=True)
    assert not folder.path.exists()
    assert _deleted_entries()[0]["details"]["forced"] is True


def test_a_running_run_is_told_apart_from_an_interrupted_one(tmp_path: Path):
    alive = _bare_run(tmp_path, status="running", name="alive")
    record("run_started", {}, run=alive.path)  # written by this (living) process
    with pytest.raises(RunDeletionError, match=f"process {os.getpid()} is running"):
        plan_run_deletion(alive.path)

    ended = _bare_run(tmp_path, status="running", name="ended")
    # The run's last entry written by a process that has ended since (an interrupted run).
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from desktop_app.core.audit import record; "
            "record('run_started', {}, run=sys.argv[1])",
            str(ended.path),
        ],
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert AuditLog().entries()[-1]["pid"] != os.getpid()

    plan = plan_run_deletion(ended.path)
    assert any("has ended" in note for note in plan.notes)
    delete_run(ended.path)
    assert not ended.path.exists() and alive.path.exists()
    assert verify_log().intact


def test_only_enclave_run_folders_are_deleted(tmp_path: Path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("mine")
    with pytest.raises(UserInputError, match="not an Enclave run folder"):
        delete_run(plain)

    (plain / "config.json").write_text("{}")
    with pytest.raises(RunDeletionError, match="does not look like a run Enclave made"):
        delete_run(plain)
    assert (plain / "notes.txt").exists()

    run = _bare_run(tmp_path)
    link = tmp_path / "link-to-run"
    link.symlink_to(run.path, target_is_directory=True)
    with pytest.raises(RunDeletionError, match="is a link"):
        delete_run(link)
    assert run.path.exists() and not _deleted_entries()


def test_nothing_is_deleted_when_the_deletion_cannot_be_recorded(
    tmp_path: Path, enclave_home: Path
):
    folder = _bare_run(tmp_path)
    (enclave_home / "audit").write_text("a file where the audit folder should be")

    with pytest.raises(AuditError):
        delete_run(folder.path)

    assert (folder.checkpoints_dir / "checkpoint-2" / "optimizer.pt").exists()
