"""Property tests: whatever bytes a data file holds, and whatever JSON its records are,
reading it raises nothing but the project's DataError, naming the file; and every
problem reported has a place in the file."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.core.errors import DataError
from desktop_app.data.checking import check_file
from desktop_app.data.formats import FORMAT_FIELDS, to_record
from desktop_app.data.loading import load_records
from desktop_app.data.records import RecordProblemError

SUFFIXES = [".jsonl", ".json", ".csv", ".tsv", ".txt", ".parquet", ".xlsx"]
KEYS = sorted(
    {name for fields in FORMAT_FIELDS.values() for name in fields.all}
    | {"role", "content", "from", "value"}
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["user", "assistant", "system", "human", "gpt", ""])
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
# Text with the characters that give delimited and JSON files their structure.
structured_text = (
    st.lists(st.sampled_from(list(',;\t|"\n\r {}[]:\\é\ufeff\x00') + KEYS), max_size=40)
    .map("".join)
    .map(lambda text: text.encode("utf-8"))
)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def read_everything(path: Path) -> None:
    """Load and check the file; only a DataError naming it may come out."""
    for read in (load_records, check_file):
        try:
            result = read(path)
        except DataError as error:
            assert str(path) in error.user_message()
            continue
        assert result.format in FORMAT_FIELDS
        for problem in result.problems:
            assert problem.path == str(path)
            assert problem.line >= 1
            assert problem.severity in ("error", "warning")
            assert problem.reason


@settings(max_examples=150, deadline=None)
@given(content=st.binary(max_size=300) | structured_text, suffix=st.sampled_from(SUFFIXES))
def test_any_bytes_give_records_or_a_data_error(folder: Path, content: bytes, suffix: str) -> None:
    path = folder / f"data{suffix}"
    path.write_bytes(content)
    read_everything(path)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(json_values, min_size=1, max_size=6))
def test_any_json_records_give_records_or_a_data_error(folder: Path, values: list[object]) -> None:
    lines = folder / "data.jsonl"
    lines.write_text("\n".join(json.dumps(value) for value in values) + "\n", encoding="utf-8")
    read_everything(lines)
    document = folder / "data.json"
    document.write_text(json.dumps(values), encoding="utf-8")
    read_everything(document)
    wrapped = folder / "wrapped.json"
    wrapped.write_text(json.dumps({"data": values}, indent=1), encoding="utf-8")
    read_everything(wrapped)


@settings(max_examples=300, deadline=None)
@given(value=json_values, fmt=st.sampled_from(list(FORMAT_FIELDS)))
def test_any_json_value_is_a_record_or_a_located_problem(value: object, fmt: str) -> None:
    try:
        record = to_record(value, fmt, "data.jsonl", 3, max_chars=50)
    except RecordProblemError as error:
        assert isinstance(error, DataError)
        assert (error.problem.path, error.problem.line) == ("data.jsonl", 3)
        assert error.message.startswith("data.jsonl, line 3")
        assert error.problem.code != "invalid_record"
    else:
        assert record.char_count <= 50
        assert record.text is not None or record.messages[-1].role == "assistant"


cells = (
    st.none()
    | st.integers(-5, 5)
    | st.text(alphabet=st.characters(categories=["L", "Zs", "P"]), max_size=12)
)
tables = st.lists(
    st.sampled_from(KEYS[:8]) | st.text(alphabet="abc ", max_size=4), min_size=1, max_size=4
).flatmap(
    lambda headers: st.tuples(
        st.just(headers),
        st.lists(st.lists(cells, min_size=len(headers), max_size=len(headers)), max_size=6),
    )
)


@settings(max_examples=40, deadline=None)
@given(table=tables)
def test_any_table_gives_records_or_a_data_error(
    folder: Path, table: tuple[list[str], list[list[object]]]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from openpyxl import Workbook

    headers, rows = table
    workbook = Workbook()
    sheet = workbook.active
    for row in [headers, *rows]:
        sheet.append(row)
    workbook.save(folder / "table.xlsx")
    read_everything(folder / "table.xlsx")
    columns = [
        pa.array([str(row[i]) if row[i] is not None else None for row in rows], pa.string())
        for i in range(len(headers))
    ]
    pq.write_table(pa.Table.from_arrays(columns, names=headers), folder / "table.parquet")
    read_everything(folder / "table.parquet")
