"""Mixes of several files: each file read on its own terms, duplicates found across files."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from desktop_app.core.errors import DataError, UserInputError
from desktop_app.data.sources import DataFile, load_mix

Writer = Callable[..., Path]
ANSWER = (
    "Water damage from a burst pipe is covered when it happens suddenly. Damage that builds "
    "up slowly, such as a leak under the sink over many months, is not covered, because "
    "regular maintenance of the home would have prevented it."
)


@pytest.mark.parametrize("weight", [0, -1.5, math.nan, math.inf, True, "2"])
def test_a_weight_must_be_a_number_above_zero(weight: object) -> None:
    with pytest.raises(DataError) as caught:
        DataFile("mix/a.jsonl", weight=weight)  # type: ignore[arg-type]
    assert caught.value.message.startswith("mix/a.jsonl: has the weight")


def test_a_data_file_checks_its_format_and_keeps_a_copy_of_its_mapping() -> None:
    with pytest.raises(DataError, match="'alpacca', which is not a data format"):
        DataFile("a.jsonl", format="alpacca")
    mapping = {"output": "answer"}
    data_file = DataFile(Path("a.csv"), 2, column_map=mapping)  # type: ignore[arg-type]
    mapping["output"] = "changed"
    assert (data_file.path, data_file.weight, data_file.column_map) == (
        "a.csv",
        2,
        {"output": "answer"},
    )


def test_duplicates_across_files_name_the_earlier_file(tmp_path: Path, write_jsonl: Writer) -> None:
    first = write_jsonl(
        [{"instruction": "Q1", "output": "A1"}, {"instruction": "Pipes?", "output": ANSWER}],
        name="first.jsonl",
    )
    second = tmp_path / "second.csv"
    second.write_text(
        f'question,answer\nQ2,A2\nQ1,A1\nPipes?,"{ANSWER.replace("a leak", "a drip")}"\n'
    )
    loaded = load_mix([DataFile(str(first)), DataFile(str(second), weight=3)])
    assert [data.format for data in loaded] == ["alpaca", "alpaca"]
    assert loaded[0].problems == []
    assert [(p.line, p.code, p.severity) for p in loaded[1].problems] == [
        (3, "exact_duplicate", "error"),
        (4, "near_duplicate", "warning"),
    ]
    assert loaded[1].problems[0].reason == "is an exact duplicate of first.jsonl, line 1"
    assert loaded[1].problems[1].reason.startswith("is nearly the same as first.jsonl, line 2")
    assert [record.line for record in loaded[1].records] == [2, 4]
    assert loaded[1].column_map == {"instruction": "question", "output": "answer"}


def test_each_file_has_its_own_format(tmp_path: Path, write_jsonl: Writer) -> None:
    chat = write_jsonl(
        [{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}],
        name="chat.jsonl",
    )
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("A paragraph.\n\nAnother.\n")
    loaded = load_mix([DataFile(str(chat)), DataFile(str(corpus), 0.5)])
    assert [(data.format, len(data.records)) for data in loaded] == [("chat", 1), ("text", 2)]


def test_a_file_listed_twice(write_jsonl: Writer) -> None:
    path = write_jsonl([{"text": "a"}])
    with pytest.raises(DataError, match="is listed more than once"):
        load_mix([DataFile(str(path)), DataFile(str(path.parent / "." / path.name))])


def test_an_empty_mix() -> None:
    with pytest.raises(UserInputError, match="No data files"):
        load_mix([])
