"""``enclave audit verify|show|export`` in-process, on real logs written with AuditLog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dated_audit import RUN_A, TWO_RUN_ENTRIES, write_dated_entries

from desktop_app.cli import run_cli
from desktop_app.core.audit import AuditLog
from desktop_app.core.hashing import sha256_file


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> AuditLog:
    """Six entries of two runs on three days, in the test's own workspace."""
    return write_dated_entries(monkeypatch, TWO_RUN_ENTRIES)


def _edit_lines(log: AuditLog, change) -> None:
    lines = log.path.read_text(encoding="utf-8").splitlines()
    change(lines)
    log.path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _table_lines(output: str) -> list[int]:
    """The line numbers in the first column of ``show``'s table."""
    rows = output.split("\n\n")[0].splitlines()[1:]
    return [int(row.split()[0]) for row in rows]


# -- verify -------------------------------------------------------------------------------


def test_verify_an_intact_log_exits_0(log: AuditLog, capsys: pytest.CaptureFixture[str]):
    assert run_cli(["audit", "verify"]) == 0
    output = capsys.readouterr().out
    assert "intact: 6 entries" in output
    assert log.entries()[-1]["hash"] in output


def test_verify_names_the_edited_line(log: AuditLog, capsys: pytest.CaptureFixture[str]):
    def edit(lines: list[str]) -> None:
        lines[2] = lines[2].replace("abab", "0000", 1)

    _edit_lines(log, edit)

    assert run_cli(["audit", "verify"]) == 1
    output = capsys.readouterr().out
    assert "Line 3: the entry was edited" in output
    assert "Entries before line 3 hold" in output


def test_verify_names_where_a_line_was_removed(log: AuditLog, capsys: pytest.CaptureFixture[str]):
    _edit_lines(log, lambda lines: lines.pop(3))

    assert run_cli(["audit", "verify"]) == 1
    output = capsys.readouterr().out
    assert "Line 4" in output and "removed" in output


def test_verify_catches_lines_cut_from_the_end(log: AuditLog, capsys: pytest.CaptureFixture[str]):
    _edit_lines(log, lambda lines: lines.pop())

    assert run_cli(["audit", "verify"]) == 1
    assert "Line 6" in capsys.readouterr().out


def test_verify_json_is_the_verification(log: AuditLog, capsys: pytest.CaptureFixture[str]):
    def swap(lines: list[str]) -> None:
        lines[1], lines[2] = lines[2], lines[1]

    _edit_lines(log, swap)

    assert run_cli(["audit", "verify", "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["intact"] is False and payload["first_bad_line"] == 2
    assert payload["path"] == str(log.path)


def test_verify_a_workspace_without_a_log(capsys: pytest.CaptureFixture[str]):
    assert run_cli(["audit", "verify"]) == 0
    assert "No audit entry has been written yet" in capsys.readouterr().out


# -- show ---------------------------------------------------------------------------------


def test_show_lists_every_entry_as_a_table(log: AuditLog, capsys: pytest.CaptureFixture[str]):
    assert run_cli(["audit", "show"]) == 0
    output = capsys.readouterr().out
    assert _table_lines(output) == [1, 2, 3, 4, 5, 6]
    header = output.splitlines()[0].split()
    assert header == ["Line", "Time", "(local)", "Event", "User", "Run", "Details"]
    row = output.splitlines()[2]
    assert "dataset_imported" in row and "run-20261101-lora" in row
    assert "policy.jsonl, 120 records" in row
    assert "6 of 6 entries" in output and log.entries()[-1]["hash"] in output


@pytest.mark.parametrize(
    ("options", "lines"),
    [
        (["--run", "run-20261105-qlora"], [5, 6]),
        (["--run", RUN_A], [2, 3, 4]),
        (["--type", "dataset_imported"], [2, 5]),
        (["--since", "2026-11-02"], [4, 5, 6]),
        (["--until", "2026-11-01"], [1, 2, 3]),
        (["--run", "run-20261101-lora", "--since", "2026-11-02"], [4]),
        (["--limit", "2"], [5, 6]),
    ],
)
def test_show_filters(
    log: AuditLog, capsys: pytest.CaptureFixture[str], options: list[str], lines: list[int]
):
    assert run_cli(["audit", "show", *options]) == 0
    assert _table_lines(capsys.readouterr().out) == lines


def test_show_says_when_nothing_matches(log: AuditLog, capsys: pytest.CaptureFixture[str]):
    assert run_cli(["audit", "show", "--type", "signed_off"]) == 0
    assert "None of the 6 entries matches the filters." in capsys.readouterr().out


def test_show_json_prints_the_entries_as_written(log: AuditLog, capsys: pytest.CaptureFixture[str]):
    assert run_cli(["audit", "show", "--json", "--type", "dataset_imported"]) == 0
    captured = capsys.readouterr()
    printed = captured.out.splitlines()
    written = log.path.read_text(encoding="utf-8").splitlines()
    assert printed == [written[1], written[4]]
    assert "Last entry hash" in captured.err


def test_show_warns_about_a_changed_log(log: AuditLog, capsys: pytest.CaptureFixture[str]):
    def edit(lines: list[str]) -> None:
        lines[4] = lines[4].replace("claims.csv", "other.csv")

    _edit_lines(log, edit)

    assert run_cli(["audit", "show"]) == 0
    assert "Warning: The audit log has been changed. Line 5" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--since", "21/11/2026"], "is not a date; write it as YYYY-MM-DD"),
        (["--type", "logged_in"], "invalid choice"),
        (["--limit", "0"], "must be at least 1"),
    ],
)
def test_show_rejects_bad_options_with_exit_2(
    log: AuditLog, capsys: pytest.CaptureFixture[str], options: list[str], message: str
):
    assert run_cli(["audit", "show", *options]) == 2
    assert message in capsys.readouterr().err


# -- export -------------------------------------------------------------------------------


def test_export_copies_the_log_with_its_verification(
    log: AuditLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    original_log = log.path.read_bytes()
    original_head = log.head_path.read_bytes()
    destination = tmp_path / "for-the-auditor"

    assert run_cli(["audit", "export", str(destination)]) == 0

    output = capsys.readouterr().out
    assert (destination / "audit.jsonl").read_bytes() == original_log
    assert (destination / "head.json").read_bytes() == original_head
    record = json.loads((destination / "verification.json").read_text(encoding="utf-8"))
    log_sha256 = sha256_file(destination / "audit.jsonl")
    assert record["log_sha256"] == log_sha256
    assert record["verification"]["intact"] is True
    assert record["verification"]["entries"] == 6
    assert record["exported_by"] and record["host"] and record["exported_at"]
    assert str(destination) in output and log_sha256 in output

    entries = log.entries()
    assert len(entries) == 7
    exported = entries[-1]
    assert exported["event"] == "audit_exported"
    assert exported["details"]["destination"] == str(destination)
    assert exported["details"]["log_sha256"] == log_sha256
    assert run_cli(["audit", "verify"]) == 0


def test_export_json_and_no_overwrite(
    log: AuditLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    assert run_cli(["audit", "export", str(tmp_path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["verification"]["intact"] and payload["audit_entry"]["seq"] == 7

    assert run_cli(["audit", "export", str(tmp_path)]) == 2
    assert "already holds an audit export" in capsys.readouterr().err
    assert len(log.entries()) == 7


def test_an_export_can_be_verified_later_and_edits_to_it_are_caught(
    log: AuditLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    copy = tmp_path / "copy"
    assert run_cli(["audit", "export", str(copy)]) == 0
    capsys.readouterr()

    assert run_cli(["audit", "verify", "--folder", str(copy)]) == 0
    assert "unchanged since it was exported" in capsys.readouterr().out

    # The copy's last line is dropped and head.json rewritten to match: the chain holds,
    # but the copy is no longer the one exported.
    lines = (copy / "audit.jsonl").read_text(encoding="utf-8").splitlines()[:-1]
    (copy / "audit.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    last = json.loads(lines[-1])
    (copy / "head.json").write_text(json.dumps({"entries": 5, "hash": last["hash"]}))
    assert run_cli(["audit", "verify", "--folder", str(copy)]) == 1
    assert "The copy has changed since it was exported" in capsys.readouterr().out


def test_verify_a_folder_without_a_log_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    assert run_cli(["audit", "verify", "--folder", str(tmp_path)]) == 2
    assert "holds no audit log" in capsys.readouterr().err
