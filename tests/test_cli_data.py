"""`enclave data ...` as a user runs it: real subprocesses, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from desktop_app.core.audit import AuditLog
from desktop_app.core.hashing import sha256_file

ROOT = Path(__file__).resolve().parents[1]
HANDBOOK = ROOT / "resources" / "sample_data" / "policy_handbook_qa.jsonl"


def enclave(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )


def test_check_clean_file_exits_0_with_the_json_shape():
    completed = enclave("data", "check", str(HANDBOOK), "--json")
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["format"] == "alpaca"
    assert report["rows_total"] == report["rows_valid"] >= 300
    assert not [p for p in report["problems"] if p["severity"] == "error"]


def test_check_reports_errors_with_lines_and_exits_1(tmp_path: Path):
    data = tmp_path / "claims.jsonl"
    data.write_text(
        '{"instruction": "Who approves claims?", "output": "The claims team."}\n'
        '{"instruction": "Broken", "output": \n'
        '{"instruction": "Empty answer?", "output": ""}\n'
        '{"instruction": "Who approves claims?", "output": "The claims team."}\n'
    )
    completed = enclave("data", "check", str(data), "--json")
    assert completed.returncode == 1
    report = json.loads(completed.stdout)
    errors = {p["line"]: p for p in report["problems"] if p["severity"] == "error"}
    assert set(errors) == {2, 3, 4}
    assert "line 1" in errors[4]["reason"]
    assert report["rows_total"] == 4 and report["rows_valid"] == 1
    text = enclave("data", "check", str(data))
    assert text.returncode == 1 and "line 2" in text.stdout


def test_check_unreadable_file_exits_2_with_one_plain_message(tmp_path: Path):
    for path in (tmp_path / "missing.jsonl", tmp_path / "empty.csv", tmp_path / "notes.docx"):
        if path.name != "missing.jsonl":
            path.write_bytes(b"")
        completed = enclave("data", "check", str(path))
        assert completed.returncode == 2, (path, completed.stderr)
        assert completed.stderr.startswith("Error: ")
        assert "Traceback" not in completed.stderr


def test_check_with_column_map_for_a_table(tmp_path: Path):
    table = tmp_path / "faq.csv"
    table.write_text("Frage,Antwort\nWer zahlt?,Die Kasse.\nWann?,Sofort.\n")
    mapped = enclave(
        "data",
        "check",
        str(table),
        "--format",
        "prompt_completion",
        "--map",
        "prompt=Frage",
        "--map",
        "completion=Antwort",
        "--json",
    )
    assert mapped.returncode == 0, mapped.stdout + mapped.stderr
    assert json.loads(mapped.stdout)["column_map"] == {"prompt": "Frage", "completion": "Antwort"}
    bad = enclave("data", "check", str(table), "--map", "prompt")
    assert bad.returncode == 2 and "expected FIELD=COLUMN" in bad.stderr


def test_check_with_a_model_adds_token_figures(tiny_model_dir: Path):
    completed = enclave(
        "data",
        "check",
        str(HANDBOOK),
        "--model",
        str(tiny_model_dir),
        "--max-length",
        "64",
        "--json",
    )
    assert completed.returncode == 0, completed.stderr
    tokens = json.loads(completed.stdout)["tokens"]
    assert tokens["count"] >= 300 and tokens["total_tokens"] > 0
    assert 0 < tokens["share_truncated"] <= 1


def _audited(home: Path, event: str) -> list[dict]:
    return [e for e in AuditLog(home / "audit").entries() if e["event"] == event]


def test_scan_pii_finds_the_planted_values_with_offsets(enclave_home: Path):
    completed = enclave("data", "scan-pii", str(HANDBOOK), "--json")
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    kinds = {finding["type"] for finding in report["findings"]}
    assert {"PHONE", "CREDIT_CARD", "IBAN", "SSN", "IP_ADDRESS"} <= kinds
    for finding in report["findings"]:
        assert {"line", "type", "start", "end", "field"} <= set(finding)
        assert finding["end"] > finding["start"] >= 0
    [scan] = _audited(enclave_home, "pii_scanned")
    assert scan["details"]["sha256"] == sha256_file(HANDBOOK)
    assert scan["details"]["records_scanned"] == report["records_scanned"]
    assert scan["details"]["counts_by_type"]["CREDIT_CARD"] >= 1


def test_redact_writes_a_new_file_and_leaves_the_original(tmp_path: Path, enclave_home: Path):
    before = sha256_file(HANDBOOK)
    out = tmp_path / "redacted.jsonl"
    completed = enclave("data", "redact", str(HANDBOOK), str(out), "--mode", "tags")
    assert completed.returncode == 0, completed.stderr
    assert "original file was not modified" in completed.stdout
    assert sha256_file(HANDBOOK) == before
    text = out.read_text()
    assert "[CREDIT_CARD]" in text and "4111 1111 1111 1111" not in text
    rescanned = json.loads(enclave("data", "scan-pii", str(out), "--json").stdout)
    assert rescanned["findings"] == []
    [decision] = _audited(enclave_home, "pii_decision")
    assert decision["details"]["source_sha256"] == before
    assert decision["details"]["destination_sha256"] == sha256_file(out)
    assert decision["details"]["decision"] == "redacted copy (tags)"
    again = enclave("data", "redact", str(HANDBOOK), str(out))
    assert again.returncode == 2 and "Traceback" not in again.stderr
