"""Start-up: the network guard is installed and ``app_started`` is audited before any
command runs; a workspace whose audit log cannot be written stops Enclave plainly."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest
from fresh_process import run_python

from desktop_app import __version__
from desktop_app.__main__ import EXIT_CANNOT_START, main
from desktop_app.core.audit import AuditLog


def audit_entries(enclave_home: Path) -> list[dict]:
    return AuditLog(enclave_home / "audit").entries()


def test_a_command_is_audited_as_started_before_it_runs(
    enclave_home: Path, capsys: pytest.CaptureFixture[str]
):
    assert main(["--version"]) == 0

    assert f"Enclave {__version__}" in capsys.readouterr().out
    [entry] = audit_entries(enclave_home)
    assert entry["event"] == "app_started" and entry["user"] and entry["host"]
    assert entry["details"] == {
        "version": __version__,
        "interface": "command line",
        "command": "--version",
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def test_the_audit_names_the_subcommand_but_not_its_arguments(enclave_home: Path, tmp_path: Path):
    missing = tmp_path / "private-name.json"

    assert main(["config", "check", str(missing)]) == 2

    [entry] = audit_entries(enclave_home)
    assert entry["details"]["command"] == "config check"
    assert "private-name" not in str(entry)


def test_an_unwritable_audit_log_stops_the_start_with_a_plain_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    workspace = tmp_path / "workspace"
    workspace.write_text("a file where the workspace folder should be", encoding="utf-8")
    monkeypatch.setenv("ENCLAVE_HOME", str(workspace))

    assert main(["--version"]) == EXIT_CANNOT_START

    captured = capsys.readouterr()
    assert __version__ not in captured.out  # the command did not run
    assert captured.err.startswith("Error: Enclave could not write to its audit log")
    assert "does not start without its audit log" in captured.err
    assert "Traceback" not in captured.err


def test_main_installs_the_guard_before_any_hugging_face_library(enclave_home: Path):
    # A fresh process: here the test suite has already installed the guard itself.
    completed = run_python(
        [
            "-c",
            "import sys\n"
            "import desktop_app.core.network_guard as guard\n"
            "from desktop_app.__main__ import main\n"
            "assert guard.network_guard() is None\n"
            "code = main(['--version'])\n"
            "assert guard.network_guard() is not None\n"
            "loaded = [name for name in ('huggingface_hub', 'transformers')\n"
            "          if name in sys.modules]\n"
            "print('started', code, loaded)\n",
        ],
        enclave_home,
    )

    assert completed.returncode == 0, completed.stderr
    assert "started 0 []" in completed.stdout


@pytest.mark.slow
def test_the_window_starts_audited_and_tries_no_connection(enclave_home: Path):
    completed = run_python(["-m", "desktop_app"], enclave_home, ENCLAVE_EXIT_AFTER_START_MS="1500")

    assert completed.returncode == 0, completed.stderr
    entries = audit_entries(enclave_home)
    assert entries[0]["event"] == "app_started"
    assert entries[0]["details"]["interface"] == "window"
    assert "command" not in entries[0]["details"]
    assert [entry for entry in entries if entry["event"] == "network_blocked"] == []
