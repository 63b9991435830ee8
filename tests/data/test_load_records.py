"""load_records on real files: every record is either a training record or a problem
with its line and field; whole-file failures raise DataError naming the file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from desktop_app.core.errors import DataError
from desktop_app.data.loading import load_records
from desktop_app.data.records import Message, RecordProblem

WriteLines = Callable[..., Path]
SAMPLE = Path(__file__).parents[2] / "resources" / "sample_data" / "insurance_qa.jsonl"
QA = {"instruction": "What is a deductible?", "output": "The part of a claim you pay."}


def located(problems: list[RecordProblem]) -> list[tuple[int, str | None]]:
    return [(problem.line, problem.field) for problem in problems]


def test_the_sample_dataset_loads_without_problems() -> None:
    data = load_records(SAMPLE)
    assert (data.format, data.format_confidence) == ("alpaca", 1.0)
    assert data.problems == []
    assert len(data.records) == data.total_lines >= 50
    assert all(record.messages[-1].role == "assistant" for record in data.records)


def test_every_problem_has_its_line_and_field(write_jsonl: WriteLines) -> None:
    path = write_jsonl(
        [
            QA,
            {"instruction": "Q2", "output": ""},
            '{"instruction": "Q3", "output": }',
            {"instruction": "Q4", "output": 12},
            ["Q5", "A5"],
            {"instruction": "Q6"},
            {"instruction": "Q7", "output": "A7"},
            {"instruction": "Q8", "output": "x" * 51},
        ]
    )
    data = load_records(path, max_chars=50)
    assert [record.line for record in data.records] == [1, 7]
    assert located(data.problems) == [
        (2, "output"),
        (3, None),
        (4, "output"),
        (5, None),
        (6, "output"),
        (8, "output"),
    ]
    reasons = [problem.reason for problem in data.problems]
    assert reasons[0] == "is empty"
    assert reasons[1].startswith("is not valid JSON (Expecting value at column")
    assert reasons[2] == "must be text, got a number"
    assert reasons[3].startswith("must be a JSON object")
    assert reasons[4] == "is missing"
    assert "over the limit of 50" in reasons[5]
    assert data.total_lines == 8
    assert all(problem.path == str(path) for problem in data.problems)


def test_invalid_utf8_spoils_only_its_line(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(
        json.dumps(QA).encode()
        + b'\n{"instruction": "caf\xe9", "output": "A"}\n'
        + b'{"text": "x"}\n'
    )
    data = load_records(path, "alpaca")
    assert located(data.problems) == [(2, None), (3, "instruction")]
    assert data.problems[0].reason.startswith("is not valid UTF-8 text (byte 0xE9")


def test_byte_order_mark_and_blank_lines_are_not_problems(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    body = f"{json.dumps(QA)}\n\n   \n{json.dumps({'instruction': 'Q', 'output': 'A'})}\n\n"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    data = load_records(path)
    assert data.problems == []
    assert [record.line for record in data.records] == [1, 4]
    assert data.total_lines == 2


def test_exact_duplicates_name_the_earlier_line(write_jsonl: WriteLines) -> None:
    path = write_jsonl(
        [
            QA,
            {"instruction": "Other", "output": "Else"},
            {**QA, "input": ""},
            {"instruction": QA["instruction"] + "  ", "output": QA["output"], "id": 3},
            {"instruction": QA["instruction"], "output": "A different answer."},
        ]
    )
    data = load_records(path)
    assert located(data.problems) == [(3, None), (4, None)]
    assert [problem.reason for problem in data.problems] == ["is an exact duplicate of line 1"] * 2
    assert data.problems[0].describe() == "data.jsonl, line 3: is an exact duplicate of line 1"
    assert [record.line for record in data.records] == [1, 2, 5]


def test_auto_detection_reports_confidence(write_jsonl: WriteLines) -> None:
    path = write_jsonl([{"text": "one"}, {"text": "two"}, {"text": "three"}, {"body": "four"}])
    data = load_records(path)
    assert (data.format, data.format_confidence) == ("text", 0.75)
    assert located(data.problems) == [(4, "text")]


def test_a_chosen_format_is_used_with_full_confidence(write_jsonl: WriteLines) -> None:
    path = write_jsonl([{"prompt": "P", "completion": "C", "text": "T"}])
    data = load_records(path, "text")
    assert (data.format, data.format_confidence) == ("text", 1.0)
    assert data.records[0].text == "T"


def test_undetectable_format_names_the_fields(write_jsonl: WriteLines) -> None:
    path = write_jsonl([{"question": "Q", "answer": "A"}] * 2)
    with pytest.raises(DataError) as caught:
        load_records(path)
    assert str(path) in caught.value.message
    assert "question, answer" in caught.value.message
    assert "alpaca: instruction, output" in caught.value.hint


def test_a_json_array_in_a_jsonl_file_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps([QA, QA], indent=2))
    with pytest.raises(DataError) as caught:
        load_records(path)
    assert "has no record that can be read" in caught.value.message
    assert "line 1: is not valid JSON" in caught.value.message
    assert "named .json" in caught.value.hint


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.jsonl", None, "does not exist"),
        ("notes.docx", "hello", "'.docx' files are not supported"),
        ("README", "hello", "files without an extension are not supported"),
        ("empty.jsonl", "", "is empty"),
        ("blank.jsonl", "\n\n", "contains no records"),
        ("empty.json", "[]", "contains no records"),
        ("utf16.jsonl", "utf16", "is saved as UTF-16"),
    ],
)
def test_whole_file_problems_raise_data_error(
    tmp_path: Path, name: str, content: str | None, expected: str
) -> None:
    path = tmp_path / name
    if content == "utf16":
        path.write_bytes(json.dumps(QA).encode("utf-16"))
    elif content is not None:
        path.write_text(content)
    with pytest.raises(DataError) as caught:
        load_records(path)
    assert caught.value.path == str(path)
    assert caught.value.message.startswith(f"{path}: ")
    assert expected in caught.value.message


def test_unsupported_extension_lists_the_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "data.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(DataError) as caught:
        load_records(path)
    assert caught.value.hint == (
        "Save it from Excel as an Excel Workbook (.xlsx), or as CSV UTF-8. "
        "Use one of these file types: .jsonl, .json, .csv, .tsv, .parquet, .xlsx, .txt."
    )


def test_a_folder_is_not_a_data_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a folder"):
        load_records(tmp_path)


def test_an_unknown_format_name_is_refused(write_jsonl: WriteLines) -> None:
    with pytest.raises(DataError, match="'alpacca', which is not a data format"):
        load_records(write_jsonl([QA]), "alpacca")


def test_a_file_with_only_bad_records_still_loads_with_a_chosen_format(
    write_jsonl: WriteLines,
) -> None:
    data = load_records(write_jsonl(["not json", {"instruction": "Q"}]), "alpaca")
    assert data.records == []
    assert located(data.problems) == [(1, None), (2, "output")]
    assert data.total_lines == 2


def test_chat_records_load_with_messages(write_jsonl: WriteLines) -> None:
    good = {
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    }
    bad = {"messages": [{"role": "user", "content": "Hi"}, {"role": "bot", "content": "Hello"}]}
    data = load_records(write_jsonl([good, bad]))
    assert data.format == "chat"
    assert data.records[0].messages == (Message("user", "Hi"), Message("assistant", "Hello"))
    assert data.problems[0].describe() == (
        "data.jsonl, line 2, field 'messages[1].role': is 'bot', which is not a known role; "
        "use system, user or assistant"
    )


def test_iter_usable_records_streams_the_records_without_errors(tmp_path: Path) -> None:
    from desktop_app.data.loading import iter_usable_records

    data = tmp_path / "mixed.jsonl"
    data.write_text(
        '{"prompt": "a?", "completion": "A."}\n'
        "{broken\n"
        '{"prompt": "b?", "completion": ""}\n'
        '{"prompt": "c?", "completion": "C."}\n'
    )
    records = iter_usable_records(data)
    assert not isinstance(records, list)
    assert [record.line for record in records] == [1, 4]
