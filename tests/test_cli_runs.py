"""``enclave runs list`` and ``enclave runs delete`` through the CLI's own parsing,
error handling and exit codes."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app import cli
from desktop_app.cli import EXIT_BAD_INPUT, EXIT_OK, run_cli
from desktop_app.cli_runs import EXIT_NOT_CONFIRMED, add_runs_commands
from desktop_app.core.audit import AuditLog
from desktop_app.core.config import RunConfig
from desktop_app.core.run_folder import RunFolder


@pytest.fixture(autouse=True)
def runs_command_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The real ``enclave`` parser, with ``runs`` added if cli.py does not add it yet."""
    build = cli.build_parser

    def build_with_runs() -> argparse.ArgumentParser:
        parser = build()
        commands = next(
            action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
        )
        if "runs" not in commands.choices:
            add_runs_commands(commands)
        return parser

    monkeypatch.setattr(cli, "build_parser", build_with_runs)
    yield


def _run(root: Path, name: str, status: str, started: str) -> Path:
    config = RunConfig()
    config.output.dir = str(root)
    config.output.run_name = name
    folder = RunFolder.create(config, "lora")
    folder.write_manifest({"status": status, "method": "lora", "started_at": started})
    (folder.checkpoints_dir / "checkpoint-4").mkdir()
    (folder.checkpoints_dir / "checkpoint-4" / "optimizer.pt").write_bytes(b"x" * 2048)
    return folder.path


def test_runs_list_shows_the_workspace_runs_by_default(
    enclave_home: Path, capsys: pytest.CaptureFixture[str]
):
    root = enclave_home / "runs"
    _run(root, "second", "finished", "2025-02-01T10:00:00+00:00")
    _run(root, "first", "cancelled", "2025-01-01T10:00:00+00:00")
    (root / "not-a-run").mkdir()

    assert run_cli(["runs", "list"]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"Runs in {root}" in out
    assert out.index("first") < out.index("second")
    assert "cancelled" in out and "finished" in out and "not-a-run" not in out

    assert run_cli(["runs", "list", str(root), "--json"]) == EXIT_OK
    listed = json.loads(capsys.readouterr().out)
    assert [run["name"] for run in listed] == ["first", "second"]
    assert listed[0]["bytes"] >= 2048 and listed[0]["exports"] == 0


def test_runs_list_of_an_empty_folder_says_so(tmp_path: Path, capsys):
    assert run_cli(["runs", "list", str(tmp_path / "none")]) == EXIT_OK
    assert "No runs in" in capsys.readouterr().out


def test_runs_delete_asks_and_keeps_the_run_unless_confirmed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    run = _run(tmp_path, "keep", "finished", "2025-01-01T10:00:00+00:00")
    questions: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: questions.append(prompt) or "n")

    assert run_cli(["runs", "delete", str(run)]) == EXIT_NOT_CONFIRMED

    assert run.exists() and questions and "cannot be undone" in questions[0]
    out = capsys.readouterr().out
    assert "checkpoints" in out and "Nothing was deleted" in out
    assert not [e for e in AuditLog().entries() if e["event"] == "run_deleted"]


def test_runs_delete_with_confirmation_deletes_and_audits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    run = _run(tmp_path, "old", "finished", "2025-01-01T10:00:00+00:00")
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")

    assert run_cli(["runs", "delete", str(run)]) == EXIT_OK

    assert not run.exists()
    assert "Deleted the run" in capsys.readouterr().out
    (entry,) = [e for e in AuditLog().entries() if e["event"] == "run_deleted"]
    assert entry["details"]["run_dir"] == str(run.resolve())


def test_runs_delete_yes_asks_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    run = _run(tmp_path, "old", "failed", "2025-01-01T10:00:00+00:00")

    def no_questions(prompt: str) -> str:
        raise AssertionError("asked despite --yes")

    monkeypatch.setattr("builtins.input", no_questions)
    assert run_cli(["runs", "delete", str(run), "--yes"]) == EXIT_OK
    assert not run.exists()


def test_runs_delete_refuses_plainly(tmp_path: Path, capsys):
    running = _run(tmp_path, "busy", "running", "2025-01-01T10:00:00+00:00")

    assert run_cli(["runs", "delete", str(running), "--yes"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "may still be training" in err and "--force" in err and "Traceback" not in err
    assert running.exists()

    assert run_cli(["runs", "delete", str(running), "--yes", "--force"]) == EXIT_OK
    assert not running.exists()

    assert run_cli(["runs", "delete", str(tmp_path), "--yes"]) == EXIT_BAD_INPUT
    assert "not an Enclave run folder" in capsys.readouterr().err
    assert tmp_path.exists()
