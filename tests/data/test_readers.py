"""The file readers: JSON documents, CSV and TSV, and how they number records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app.core.errors import DataError
from desktop_app.data.loading import load_records
from desktop_app.data.readers import iter_raw_records, supported_extensions
from desktop_app.data.records import Message, RawRecord, RecordProblem

QA = {"instruction": "What is a deductible?", "output": "The part of a claim you pay."}


def test_supported_extensions() -> None:
    assert supported_extensions() == (
        ".jsonl",
        ".json",
        ".csv",
        ".tsv",
        ".parquet",
        ".xlsx",
        ".txt",
    )


def test_pretty_json_array_numbers_records_by_line(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    records = [QA, {"instruction": "Q2", "output": ""}, {"instruction": "Q3", "output": "A3"}]
    path.write_text(json.dumps(records, indent=2))
    data = load_records(path)
    assert [record.line for record in data.records] == [2, 10]
    assert data.problems[0].describe() == "data.json, line 6, field 'output': is empty"
    assert path.read_text().splitlines()[5].strip() == "{"


def test_single_line_json_numbers_records_by_position(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps([QA, {"instruction": "Q2", "output": 3}, QA]))
    data = load_records(path)
    assert [(record.line, record.unit) for record in data.records] == [(1, "record")]
    assert [problem.describe() for problem in data.problems] == [
        "data.json, record 2, field 'output': must be text, got a number",
        "data.json, record 3: is an exact duplicate of record 1",
    ]
    assert data.records[0].location == "data.json, record 1"


def test_json_object_holding_one_list(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    document = {"version": 2, "tags": ["a", "b"], "data": [{"text": "one"}, {"text": "two"}]}
    path.write_text("\ufeff" + json.dumps(document, indent=1), encoding="utf-8")
    data = load_records(path)
    assert data.format == "text"
    assert [record.text for record in data.records] == ["one", "two"]
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert [lines[record.line - 1].strip() for record in data.records] == ["{", "{"]


def test_json_raw_items_include_non_objects(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text('[\n  {"text": "a"},\n  "stray",\n  {"text": "b"}\n]')
    assert list(iter_raw_records(path)) == [
        RawRecord(2, {"text": "a"}),
        RawRecord(3, "stray"),
        RawRecord(4, {"text": "b"}),
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            '[{"text": "a"},\n {"text": }]',
            "is not valid JSON: Expecting value at line 2, column 11",
        ),
        (
            '{"train": [{"text": "a"}], "test": [{"text": "b"}]}',
            "lists of objects found: 'train', 'test'",
        ),
        ('{"text": "just one record"}', "lists of objects found: none"),
        ('"hello"', "holds a single str, not records"),
    ],
)
def test_json_documents_that_hold_no_record_list(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "data.json"
    path.write_text(content)
    with pytest.raises(DataError) as caught:
        load_records(path)
    assert caught.value.message.startswith(f"{path}: ")
    assert expected in caught.value.message


def test_json_record_with_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_bytes(b'[\n{"text": "ok"},\n{"text": "caf\xe9"}\n]')
    data = load_records(path)
    assert [(problem.line, problem.field) for problem in data.problems] == [(3, None)]
    assert "not valid UTF-8" in data.problems[0].reason


def test_csv_with_alpaca_headers(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text(
        "\ufeffinstruction,input,output\n"
        'What is an excess?,,"Another word for deductible, the part you pay."\n'
        '"Summarize:","Line one\nline two",Short.\n'
        "Q3,,\n"
        "Q4,too,many,values\n",
        encoding="utf-8",
    )
    data = load_records(path)
    # Of the three rows read whole, two have an instruction and an output filled in.
    assert (data.format, data.format_confidence) == ("alpaca", 2 / 3)
    assert [record.line for record in data.records] == [2, 3]
    assert data.records[0].messages[1] == Message(
        "assistant", "Another word for deductible, the part you pay."
    )
    assert data.records[1].messages[0] == Message("user", "Summarize:\n\nLine one\nline two")
    assert [(problem.line, problem.field) for problem in data.problems] == [
        (5, "output"),
        (6, None),
    ]
    assert data.problems[1].reason.startswith("has 4 values but the header names 3 columns")


def test_tsv_is_split_on_tabs_despite_commas_in_the_text(tmp_path: Path) -> None:
    path = tmp_path / "data.tsv"
    rows = ["prompt\tcompletion"] + [
        f"Hello, item {n}, please\tYes, item {n}, done" for n in range(5)
    ]
    path.write_text("\n".join(rows) + "\n")
    data = load_records(path)
    assert data.format == "prompt_completion"
    assert data.problems == []
    assert data.records[0].messages == (
        Message("user", "Hello, item 0, please"),
        Message("assistant", "Yes, item 0, done"),
    )


@pytest.mark.parametrize("delimiter", ["\t", ";"])
def test_csv_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "data.csv"
    path.write_text(f"prompt{delimiter}completion\nA question{delimiter}An answer\n")
    data = load_records(path)
    assert data.records[0].messages == (
        Message("user", "A question"),
        Message("assistant", "An answer"),
    )


def test_single_column_csv(tmp_path: Path) -> None:
    path = tmp_path / "corpus.csv"
    path.write_text("text\nFirst passage.\nSecond passage.\n")
    data = load_records(path)
    assert data.format == "text"
    assert [record.text for record in data.records] == ["First passage.", "Second passage."]


def test_csv_row_with_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    # UTF-8 (the é on line 2), with one byte that is not UTF-8 on line 3.
    path.write_bytes("prompt,completion\nP1,café\n".encode() + b"P2,caf\xe9\nP3,C3\n")
    data = load_records(path)
    assert [record.line for record in data.records] == [2, 4]
    assert data.records[0].messages[1].content == "café"
    assert data.problems == [
        RecordProblem(str(path), 3, None, data.problems[0].reason, code="invalid_utf8")
    ]
    assert "not valid UTF-8" in data.problems[0].reason


def test_csv_in_windows_1252_is_read_as_such(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes("prompt,completion\nCafé?,Crème brûlée – 5 €\n".encode("cp1252"))
    data = load_records(path)
    assert data.problems == []
    assert data.records[0].messages[1].content == "Crème brûlée – 5 €"


def test_csv_cell_longer_than_the_csv_module_default_limit(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text(f"text\nshort\n{'x' * 200_000}\n")
    data = load_records(path)
    assert [(problem.line, problem.field) for problem in data.problems] == [(3, "text")]
    assert "200,000 characters long" in data.problems[0].reason


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("prompt,prompt\nP,C\n", "names the column 'prompt' more than once"),
        (",\nP,C\n", "has no header row"),
    ],
)
def test_csv_header_problems(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "data.csv"
    path.write_text(content)
    with pytest.raises(DataError) as caught:
        load_records(path)
    assert caught.value.line == 1
    assert expected in caught.value.message


def test_csv_quote_left_open_stops_with_the_row_it_starts_in(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text('prompt,completion\nP1,C1\nP2,"C2 never closed\nP3,C3\n')
    with pytest.raises(DataError) as caught:
        load_records(path)
    assert caught.value.line == 3
    assert caught.value.message.startswith(f"{path}, line 3: cannot be read as CSV")
