"""Column mapping: guessed from obvious headers, overridden by the user, and a mapped
column that is not there refused with the headers listed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from desktop_app.core.errors import DataError, UserInputError
from desktop_app.data.checking import check_file
from desktop_app.data.loading import load_records
from desktop_app.data.mapping import (
    apply_column_map,
    detect_table_format,
    guess_column_map,
    parse_column_map,
)
from desktop_app.data.records import Message

Writer = Callable[..., Path]


def write_csv(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("headers", "fmt", "expected"),
    [
        (
            ["Question", "Context", "Answer"],
            "alpaca",
            {"instruction": "Question", "output": "Answer", "input": "Context"},
        ),
        (
            ["id", "System Prompt", "user_query", "RESPONSE"],
            "alpaca",
            {"output": "RESPONSE", "system": "System Prompt"},
        ),
        (["query", "reply"], "prompt_completion", {"prompt": "query", "completion": "reply"}),
        (["input", "output"], "prompt_completion", {"prompt": "input", "completion": "output"}),
        (["Body", "Class"], "classification", {"text": "Body", "label": "Class"}),
        (["content"], "text", {"text": "content"}),
        (
            ["prompt", "preferred", "dispreferred"],
            "preference",
            {"prompt": "prompt", "chosen": "preferred", "rejected": "dispreferred"},
        ),
    ],
)
def test_guess_column_map(headers: list[str], fmt: str, expected: dict[str, str]) -> None:
    assert guess_column_map(headers, fmt) == expected


def test_own_names_win_over_synonyms() -> None:
    # "prompt" is a synonym of instruction, but "instruction" is the field's own name.
    assert guess_column_map(["prompt", "instruction", "output"], "alpaca") == {
        "instruction": "instruction",
        "output": "output",
    }


def test_a_given_mapping_overrides_the_guess() -> None:
    headers = ["question", "answer", "better_answer"]
    given = {"output": "better_answer"}
    assert guess_column_map(headers, "alpaca", given) == {
        "instruction": "question",
        "output": "better_answer",
    }


def test_apply_column_map_takes_fields_from_their_columns() -> None:
    raw = {"q": "Q", "a": "A", "output": "old"}
    assert apply_column_map(raw, {"instruction": "q", "output": "a"}) == {
        "q": "Q",
        "a": "A",
        "output": "A",
        "instruction": "Q",
    }
    assert apply_column_map({"q": "Q"}, {"output": "a"}) == {"q": "Q"}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["prompt", "completion"], "prompt_completion"),
        (["question", "answer"], "alpaca"),
        (["text", "label"], "classification"),
        (["prompt", "chosen", "rejected"], "preference"),
        (["question", "answer", "text"], "alpaca"),
        (["Text", "source"], "text"),
    ],
)
def test_table_format_from_headers(headers: list[str], expected: str) -> None:
    samples = [dict.fromkeys(headers, "value")]
    assert detect_table_format("d.csv", headers, samples, {})[0] == expected


def test_a_format_whose_columns_are_empty_is_not_chosen() -> None:
    samples = [{"text": f"passage {n}", "label": ""} for n in range(4)]
    assert detect_table_format("d.csv", ["text", "label"], samples, {})[:2] == ("text", 1.0)


def test_headers_that_fit_no_format(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "foo,bar\n1,2\n")
    with pytest.raises(DataError) as caught:
        load_records(path)
    assert "has the columns 'foo', 'bar'" in caught.value.message
    assert "--map FIELD=COLUMN" in caught.value.hint
    assert "alpaca: instruction, output" in caught.value.hint


def test_guessed_mapping_is_used_and_reported(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "Question,Answer\nWhat is an excess?,The part you pay.\nQ2,\n")
    data = load_records(path)
    assert data.format == "alpaca"
    assert data.column_map == {"instruction": "Question", "output": "Answer"}
    assert data.records[0].messages == (
        Message("user", "What is an excess?"),
        Message("assistant", "The part you pay."),
    )
    # A problem names the column the user sees, not the field.
    assert data.problems[0].describe() == "data.csv, line 3, field 'Answer': is empty"
    assert check_file(path).column_map == data.column_map


def test_user_mapping_overrides_and_is_reported(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "question,answer,expert answer\nQ,short,The full answer.\n")
    data = load_records(path, column_map={"output": "expert answer"})
    assert data.column_map == {"instruction": "question", "output": "expert answer"}
    assert data.records[0].messages[1].content == "The full answer."


def test_user_mapping_matches_columns_loosely_when_unambiguous(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "Frage,Antwort\nQ,A\n")
    data = load_records(path, column_map={"instruction": "frage", "output": "ANTWORT"})
    assert data.column_map == {"instruction": "Frage", "output": "Antwort"}


def test_a_mapped_column_that_is_not_there(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "question,answer\nQ,A\n")
    with pytest.raises(DataError) as caught:
        load_records(path, column_map={"output": "answr"})
    assert caught.value.message == (
        f"{path}: has no column 'answr' (mapped to the field 'output'); "
        "its columns are: 'question', 'answer'."
    )


def test_a_chosen_format_needs_a_column_for_each_required_field(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "question,notes\nQ,N\n")
    with pytest.raises(DataError) as caught:
        load_records(path, "alpaca")
    assert "has no column for the field 'output'" in caught.value.message
    assert "'question', 'notes'" in caught.value.message


def test_mapping_a_field_the_format_does_not_have(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "question,answer\nQ,A\n")
    with pytest.raises(DataError, match="the alpaca format has no such field"):
        load_records(path, "alpaca", column_map={"label": "answer"})
    with pytest.raises(DataError, match="no data format has such a field"):
        load_records(path, column_map={"reply": "answer"})


def test_mapping_renames_json_keys_too(write_jsonl: Writer) -> None:
    path = write_jsonl([{"q": "Q1", "a": "A1"}, {"q": "Q2"}])
    data = load_records(path, column_map={"instruction": "q", "output": "a"})
    assert data.format == "alpaca"
    assert data.records[0].messages[1] == Message("assistant", "A1")
    assert data.problems[0].describe() == "data.jsonl, line 2, field 'a': is missing"
    with pytest.raises(DataError, match="has no column 'answer'"):
        load_records(path, column_map={"output": "answer"})


def test_conversations_held_as_json_in_a_table_cell(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "dialog\n"
        '"[{""role"": ""user"", ""content"": ""Hi""}, '
        '{""role"": ""assistant"", ""content"": ""Hello""}]"\n'
        '"[{""role"": ""user"", "\n',
    )
    data = load_records(path, "chat", column_map={"messages": "dialog"})
    assert data.records[0].messages[1] == Message("assistant", "Hello")
    assert [(p.line, p.field, p.code) for p in data.problems] == [(3, "dialog", "broken_json")]


def test_parse_column_map() -> None:
    assert parse_column_map(["output=Answer text", "instruction = Q=1"]) == {
        "output": "Answer text",
        "instruction": "Q=1",
    }
    for bad, message in [
        (["output"], "expected FIELD=COLUMN"),
        (["=answer"], "expected FIELD=COLUMN"),
        (["reply=answer"], "'reply' is not a field"),
        (["output=a", "output=b"], "mapped more than once"),
    ]:
        with pytest.raises(UserInputError, match=message):
            parse_column_map(bad)
