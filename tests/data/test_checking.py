"""check_file: every record that cannot be used is reported with its line, a reason and
a category; counts per reason; the JSON report's shape; the plain-text report; and
load_records judging records the same way."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from desktop_app.core.errors import DataError
from desktop_app.data.checking import check_file, format_check_report
from desktop_app.data.loading import load_records, usable_records

Writer = Callable[..., Path]


def chat(*turns: tuple[str, str]) -> dict[str, object]:
    return {"messages": [{"role": role, "content": content} for role, content in turns]}


GOOD = chat(("user", "Hi"), ("assistant", "Hello"))


@pytest.fixture
def bad_chat_file(tmp_path: Path) -> Path:
    """A chat file with one record of each kind of problem, and the line of each."""
    lines = [
        json.dumps(GOOD),  # 1
        '{"messages": [}',  # 2 broken_json
        json.dumps(["not", "an", "object"]),  # 3 not_an_object
        json.dumps({"text": "no messages"}),  # 4 missing_field
        json.dumps(chat(("user", "Hi"), ("assistant", " "))),  # 5 empty_field
        json.dumps({"messages": [{"role": "user", "content": 7}]}),  # 6 wrong_type
        json.dumps(chat(("user", "Hi"), ("bot", "Hello"))),  # 7 unknown_role
        json.dumps(chat(("assistant", "Hello"), ("user", "Hi"))),  # 8 role_order
        json.dumps(chat(("user", "Hi"), ("assistant", "Yo"), ("user", "?"))),  # 9 no_answer
        "",  # 10 blank: not a record
        json.dumps(chat(("user", "y" * 150), ("assistant", "x" * 150))),  # 11 too_long
        json.dumps(GOOD),  # 12 exact_duplicate of line 1
        json.dumps(chat(("user", "hi!"), ("assistant", "hello"))),  # 13 normalized_duplicate
    ]
    path = tmp_path / "chat.jsonl"
    body = "\n".join(lines).encode() + b"\n"
    body += b'{"messages": [{"role": "user", "content": "caf\xe9"}]}\n'  # 14 invalid_utf8
    path.write_bytes(b"\xef\xbb\xbf" + body)  # a byte-order mark is not a problem
    return path


EXPECTED = [
    (2, "broken_json", "error"),
    (3, "not_an_object", "error"),
    (4, "missing_field", "error"),
    (5, "empty_field", "error"),
    (6, "wrong_type", "error"),
    (7, "unknown_role", "error"),
    (8, "role_order", "error"),
    (9, "no_answer", "error"),
    (11, "too_long", "error"),
    (12, "exact_duplicate", "error"),
    (13, "normalized_duplicate", "warning"),
    (14, "invalid_utf8", "error"),
]


def test_every_bad_record_is_reported_with_its_line(bad_chat_file: Path) -> None:
    report = check_file(bad_chat_file, max_chars=200)
    assert (report.format, report.format_confidence) == ("chat", 9 / 10)
    assert [(p.line, p.code, p.severity) for p in report.problems] == EXPECTED
    assert report.rows_total == 13
    assert report.rows_valid == 2  # line 1, and line 13 whose problem is only a warning
    assert (report.error_count, report.warning_count) == (11, 1)
    assert report.problems[9].reason == "is an exact duplicate of line 1"
    assert report.problems[8].reason.startswith(
        "is in all 300 characters long, over the limit of 200"
    )


def test_counts_per_reason(bad_chat_file: Path) -> None:
    counts = check_file(bad_chat_file, max_chars=200).counts_by_reason
    assert counts == {code: 1 for _, code, _ in EXPECTED}
    assert sum(counts.values()) == len(EXPECTED)


def test_load_records_judges_records_the_same_way(bad_chat_file: Path) -> None:
    report = check_file(bad_chat_file, max_chars=200)
    data = load_records(bad_chat_file, max_chars=200)
    assert data.problems == report.problems
    assert [record.line for record in data.records] == [1, 13]
    assert (data.rows_total, data.rows_valid) == (report.rows_total, report.rows_valid)
    assert data.counts_by_reason == report.counts_by_reason


def test_the_json_report(bad_chat_file: Path) -> None:
    report = check_file(bad_chat_file, max_chars=200)
    document = json.loads(json.dumps(report.to_json()))
    assert {"path", "format", "format_confidence", "column_map", "rows_total"} <= set(document)
    assert {"rows_valid", "problems", "counts_by_reason", "errors", "warnings"} <= set(document)
    assert (document["rows_total"], document["rows_valid"]) == (13, 2)
    assert document["path"] == str(bad_chat_file)
    first = document["problems"][0]
    assert set(first) == {"line", "unit", "field", "code", "severity", "reason", "message"}
    assert (first["line"], first["unit"], first["severity"]) == (2, "line", "error")
    assert document["problems"][3]["field"] == "messages[1].content"
    assert document["chars"] == {"min": 7, "mean": 7.5, "median": 7.5, "p95": 7.95, "max": 8}


def test_the_text_report(bad_chat_file: Path) -> None:
    text = format_check_report(check_file(bad_chat_file, max_chars=200))
    assert text.startswith("chat.jsonl: 13 records, read as chat (detected, 90% of the sampled")
    assert "2 can be used, 11 cannot; 11 errors, 1 warning." in text
    assert "        1  not valid JSON (error)" in text
    assert "  warning  chat.jsonl, line 13: is the same as line 1 apart from case" in text


def test_the_text_report_lists_at_most_50_problems(write_jsonl: Writer) -> None:
    path = write_jsonl([{"text": "ok"}] + [{"text": ""}] * 120)
    report = check_file(path)
    text = format_check_report(report)
    assert "      120  empty field (error)" in text
    assert text.count("field 'text': is empty") == 50
    assert text.endswith("  ... and 70 more")
    assert "No problems found." in format_check_report(check_file(write_jsonl([{"text": "a"}])))


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.jsonl", None, "does not exist"),
        ("empty.csv", b"", "is empty"),
        ("image.png", b"\x89PNG", "'.png' files are not supported"),
        ("blank.txt", b"\n \n", "contains no records"),
        ("header_only.csv", b"instruction,output\n", "contains no records"),
    ],
)
def test_files_that_cannot_be_read_at_all(
    tmp_path: Path, name: str, content: bytes | None, expected: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        check_file(path)
    assert caught.value.message.startswith(f"{path}: ")
    assert expected in caught.value.message


def test_usable_records_refuses_errors_unless_told_to_leave_them_out(
    bad_chat_file: Path,
) -> None:
    data = load_records(bad_chat_file, max_chars=200)
    with pytest.raises(DataError) as caught:
        usable_records(data, exclude_errors=False)
    assert "11 of 13 records cannot be used:\n  chat.jsonl, line 2: is not valid JSON" in (
        caught.value.message
    )
    assert "leave them out" in caught.value.hint
    records, excluded = usable_records(data, exclude_errors=True)
    assert [record.line for record in records] == [1, 13]
    assert [problem.line for problem in excluded] == [2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 14]


def test_usable_records_with_only_warnings(write_jsonl: Writer) -> None:
    data = load_records(write_jsonl([{"text": "Hello there."}, {"text": "hello there"}]))
    assert [problem.severity for problem in data.problems] == ["warning"]
    records, excluded = usable_records(data, exclude_errors=False)
    assert ([record.line for record in records], excluded) == ([1, 2], [])


def test_usable_records_with_nothing_left(write_jsonl: Writer) -> None:
    data = load_records(write_jsonl(["{", {"text": "a"}]), "text")
    data.records.clear()
    with pytest.raises(DataError, match="holds no usable training records"):
        usable_records(data, exclude_errors=True)
