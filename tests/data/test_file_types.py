"""Parquet, Excel and plain text files, and the encodings of delimited files: each record
is numbered as the user would find it (row, sheet row, first line of the paragraph)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from desktop_app.core.errors import DataError
from desktop_app.data.checking import check_file
from desktop_app.data.loading import load_records
from desktop_app.data.records import Message

Writer = Callable[..., Path]


def located(problems: list) -> list[tuple[int, str | None, str, str]]:
    return [(p.line, p.field, p.code, p.unit) for p in problems]


# Parquet ------------------------------------------------------------------------------


def test_parquet_rows_are_numbered_across_row_groups(write_parquet: Writer) -> None:
    path = write_parquet(
        {
            "instruction": ["Q1", "Q2", "Q3", "Q4", "Q5"],
            "output": ["A1", "A2", "", "A4", None],
        },
        row_group_size=2,
    )
    data = load_records(path)
    assert (data.format, data.format_confidence) == ("alpaca", 0.6)
    assert [(record.line, record.unit) for record in data.records] == [
        (1, "row"),
        (2, "row"),
        (4, "row"),
    ]
    assert located(data.problems) == [
        (3, "output", "empty_field", "row"),
        (5, "output", "empty_field", "row"),
    ]
    assert data.problems[0].describe() == "data.parquet, row 3, field 'output': is empty"
    assert data.problems[1].reason == "is empty (null)"


def test_parquet_numbers_are_read_as_text_and_lists_keep_their_shape(
    write_parquet: Writer,
) -> None:
    labelled = write_parquet({"text": ["good", "bad"], "label": [1, 0]}, name="labels.parquet")
    data = load_records(labelled)
    assert data.format == "classification"
    assert [record.label for record in data.records] == ["1", "0"]
    chats = write_parquet(
        {
            "messages": [
                [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
                [{"role": "user", "content": "Bye"}],
            ]
        },
        name="chat.parquet",
    )
    data = load_records(chats)
    assert data.format == "chat"
    assert data.records[0].messages == (Message("user", "Hi"), Message("assistant", "Hello"))
    assert located(data.problems) == [(2, "messages", "no_answer", "row")]


def test_a_damaged_parquet_file_is_one_plain_error(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1 this is not really parquet PAR1")
    with pytest.raises(DataError) as caught:
        load_records(path)
    assert caught.value.message.startswith(f"{path}: cannot be read as Parquet")


def test_parquet_with_a_repeated_column_name(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "data.parquet"
    table = pa.Table.from_arrays([pa.array(["a"]), pa.array(["b"])], names=["text", "text"])
    pq.write_table(table, path)
    with pytest.raises(DataError, match="names the column 'text' more than once"):
        load_records(path)


# Excel --------------------------------------------------------------------------------


def test_excel_rows_are_numbered_by_sheet_row(write_xlsx: Writer) -> None:
    path = write_xlsx(
        {
            "Training": [
                ["Question", "Answer"],
                ["What is a deductible?", "The part you pay."],
                [None, None],
                ["How do I claim?", 42],
                ["Empty answer", None],
                ["Stray note", "Fine", None, "note"],
            ]
        }
    )
    data = load_records(path)
    assert data.format == "alpaca"
    assert data.column_map == {"instruction": "Question", "output": "Answer"}
    assert [(record.line, record.unit) for record in data.records] == [
        (2, "sheet row"),
        (4, "sheet row"),
    ]
    assert data.records[1].messages[1] == Message("assistant", "42")
    assert located(data.problems) == [
        (5, "Answer", "empty_field", "sheet row"),
        (6, None, "row_shape", "sheet row"),
    ]
    assert data.problems[0].describe() == "data.xlsx, sheet row 5, field 'Answer': is empty"
    assert "column D, which has no name" in data.problems[1].reason
    assert data.total_lines == 4  # the empty sheet row 3 holds no record


def test_excel_header_may_start_below_empty_rows(write_xlsx: Writer) -> None:
    when = datetime.datetime(2024, 3, 1, 9, 30)
    path = write_xlsx({"S": [[None], ["text", "label"], ["Meeting moved", when], ["ok", True]]})
    data = load_records(path)
    assert data.format == "classification"
    assert [(record.line, record.label) for record in data.records] == [
        (3, "2024-03-01T09:30:00"),
        (4, "TRUE"),
    ]


def test_excel_sheet_by_name(write_xlsx: Writer) -> None:
    path = write_xlsx(
        {
            "Notes": [["nothing to train on"]],
            "Pairs": [["prompt", "completion"], ["P", "C"]],
        }
    )
    data = load_records(path, sheet="Pairs")
    assert data.format == "prompt_completion"
    assert data.records[0].line == 2
    with pytest.raises(DataError) as caught:
        load_records(path, sheet="Pairz")
    assert "has no sheet named 'Pairz'; its sheets are: Notes, Pairs" in caught.value.message


def test_a_sheet_for_a_file_that_is_not_a_workbook(write_jsonl: Writer) -> None:
    path = write_jsonl([{"text": "a"}])
    with pytest.raises(DataError, match="is not an Excel workbook"):
        load_records(path, sheet="Sheet1")


def test_excel_with_a_repeated_header(write_xlsx: Writer) -> None:
    path = write_xlsx({"S": [["text", "text"], ["a", "b"]]})
    with pytest.raises(DataError, match=r"names the column 'text' more than once .*sheet row 1"):
        load_records(path)


def test_a_file_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_text("instruction,output\nQ,A\n")
    with pytest.raises(DataError) as caught:
        load_records(path)
    assert caught.value.message.startswith(f"{path}: cannot be read as an Excel workbook")
    assert "CSV" in caught.value.hint


# Plain text ---------------------------------------------------------------------------


def test_text_paragraphs_are_records_numbered_by_their_first_line(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_bytes(
        b"\xef\xbb\xbfFirst paragraph,\r\nstill the first.\r\n\r\n   \r\n"
        b"Second paragraph.\r\n\r\n\r\nThird\r\n"
    )
    data = load_records(path)
    assert (data.format, data.format_confidence) == ("text", 1.0)
    assert data.problems == []
    assert [(record.line, record.text) for record in data.records] == [
        (1, "First paragraph,\nstill the first."),
        (5, "Second paragraph."),
        (8, "Third"),
    ]


def test_text_paragraph_problems(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    long_paragraph = "word " * 30
    path.write_bytes(
        "Naïve start.\n\n".encode()
        + long_paragraph.encode()
        + b"\n\nok\nbad \xff byte\n\nok again\n"
    )
    data = load_records(path, max_chars=100)
    assert located(data.problems) == [
        (3, "text", "too_long", "line"),
        (5, None, "invalid_utf8", "line"),
    ]
    assert "(on line 6)" in data.problems[1].reason
    assert [record.line for record in data.records] == [1, 8]


def test_text_files_are_only_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text("Some text.\n")
    with pytest.raises(DataError, match="is plain text"):
        load_records(path, "alpaca")
    assert load_records(path, "text").records[0].text == "Some text."


# Delimited files ----------------------------------------------------------------------


def test_csv_row_after_a_multi_line_cell_has_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text(
        "instruction,output\n"
        '"A question\nover three\nlines",An answer\n'
        "Next question,\n"
        'Last,"quoted ""answer"""\n'
    )
    report = check_file(path)
    assert [(p.line, p.field, p.code) for p in report.problems] == [(5, "output", "empty_field")]
    data = load_records(path)
    assert [record.line for record in data.records] == [2, 6]
    assert data.records[1].messages[1].content == 'quoted "answer"'


def test_rows_of_empty_cells_are_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("prompt,completion\n,\nP,C\n,,\n\nP2,\n")
    data = load_records(path)
    assert [record.line for record in data.records] == [3]
    assert [(p.line, p.code) for p in data.problems] == [(6, "empty_field")]
    assert data.total_lines == 2


def test_utf16_tab_separated_text_from_excel(tmp_path: Path) -> None:
    path = tmp_path / "export.tsv"
    path.write_bytes("prompt\tcompletion\r\nWie geht’s?\tGut, danke.\r\n".encode("utf-16"))
    data = load_records(path)
    assert data.problems == []
    assert data.records[0].messages == (
        Message("user", "Wie geht’s?"),
        Message("assistant", "Gut, danke."),
    )


def test_utf16_json_lines_are_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(json.dumps({"text": "a"}).encode("utf-16"))
    with pytest.raises(DataError, match="UTF-16"):
        check_file(path)


# JSON ---------------------------------------------------------------------------------


def test_json_lines_that_python_cannot_hold(write_jsonl: Writer) -> None:
    path = write_jsonl(
        [{"text": "fine"}, "[" * 100_000 + "]" * 100_000, '{"text": ' + "1" * 5000 + "}"]
    )
    data = load_records(path)
    assert [(p.line, p.code) for p in data.problems] == [(2, "broken_json"), (3, "broken_json")]
    assert "nested too deeply" in data.problems[0].reason


def test_a_json_document_nested_too_deeply(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataError, match="nested too deeply"):
        load_records(path)
