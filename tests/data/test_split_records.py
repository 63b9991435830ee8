"""split_records: deterministic, disjoint, covering, order-preserving."""

from __future__ import annotations

import pytest

from desktop_app.data.records import TrainingRecord
from desktop_app.data.split import split_records, validation_count


def make_records(count: int) -> list[TrainingRecord]:
    return [
        TrainingRecord("data.jsonl", line, text=f"example {line}") for line in range(1, count + 1)
    ]


def test_same_seed_gives_the_same_split() -> None:
    records = make_records(50)
    assert split_records(records, 0.2, seed=7) == split_records(records, 0.2, seed=7)


def test_parts_are_disjoint_cover_everything_and_keep_order() -> None:
    records = make_records(50)
    train, validation = split_records(records, 0.2, seed=7)
    assert len(validation) == 10
    assert sorted(train + validation, key=lambda r: r.line) == records
    assert not {r.line for r in train} & {r.line for r in validation}
    assert [r.line for r in train] == sorted(r.line for r in train)
    assert [r.line for r in validation] == sorted(r.line for r in validation)


def test_a_different_seed_gives_a_different_split() -> None:
    records = make_records(50)
    assert split_records(records, 0.2, seed=1)[1] != split_records(records, 0.2, seed=2)[1]


def test_validation_is_not_simply_the_tail() -> None:
    records = make_records(50)
    _, validation = split_records(records, 0.2, seed=3)
    assert validation != records[-10:]


@pytest.mark.parametrize(
    ("total", "fraction", "expected"),
    [
        (100, 0.1, 10),
        (10, 0.25, 2),
        (3, 0.1, 1),
        (2, 0.49, 1),
        (1, 0.3, 0),
        (5, 0.0, 0),
        (0, 0.2, 0),
    ],
)
def test_validation_count(total: int, fraction: float, expected: int) -> None:
    assert validation_count(total, fraction) == expected
    train, validation = split_records(make_records(total), fraction, seed=0)
    assert (len(train), len(validation)) == (total - expected, expected)


def test_never_holds_back_every_record() -> None:
    train, validation = split_records(make_records(2), 0.9, seed=0)
    assert (len(train), len(validation)) == (1, 1)


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5])
def test_fraction_out_of_range(fraction: float) -> None:
    with pytest.raises(ValueError, match="validation_fraction"):
        split_records(make_records(4), fraction, seed=0)
