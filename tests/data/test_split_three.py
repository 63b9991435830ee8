"""split_records_three: train/validation/test, stratified by label, deterministic."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from desktop_app.data.records import TrainingRecord
from desktop_app.data.split import (
    SplitResult,
    held_out_counts,
    split_records,
    split_records_three,
    validation_count,
)


def make_records(count: int) -> list[TrainingRecord]:
    return [
        TrainingRecord("data.jsonl", line, text=f"example {line}") for line in range(1, count + 1)
    ]


def labelled_record(line: int, label: str) -> TrainingRecord:
    try:
        return TrainingRecord("data.csv", line, text=f"message {line}", label=label)  # type: ignore[call-arg]
    except TypeError:
        # TrainingRecord has no label field yet: attach one, as the split reads it with getattr.
        record = TrainingRecord("data.csv", line, text=f"message {line}")
        object.__setattr__(record, "label", label)
        return record


def labelled_records(sizes: dict[str, int], seed: int = 0) -> list[TrainingRecord]:
    """Classes of the given sizes, interleaved in a shuffled order."""
    labels = [label for label, size in sizes.items() for _ in range(size)]
    random.Random(seed).shuffle(labels)
    return [labelled_record(line, label) for line, label in enumerate(labels, start=2)]


def label_counts(records: list[TrainingRecord]) -> Counter[str]:
    return Counter(getattr(record, "label", None) for record in records)


def lines(records: list[TrainingRecord]) -> list[int]:
    return [record.line for record in records]


def old_split_records(
    records: list[TrainingRecord], validation_fraction: float, seed: int
) -> tuple[list[TrainingRecord], list[TrainingRecord]]:
    """split_records as it was before test parts and labels (commit f94acf9)."""
    count = validation_count(len(records), validation_fraction)
    positions = list(range(len(records)))
    random.Random(seed).shuffle(positions)
    held_back = set(positions[:count])
    train = [record for index, record in enumerate(records) if index not in held_back]
    validation = [record for index, record in enumerate(records) if index in held_back]
    return train, validation


def assert_partition(result: SplitResult, records: list[TrainingRecord]) -> None:
    """Disjoint, covering, and each part in the original order."""
    together = result.train + result.validation + result.test
    assert sorted(lines(together)) == lines(records)
    assert len(set(lines(together))) == len(records)
    for part in result:
        assert lines(part) == sorted(lines(part))


@pytest.mark.parametrize("total", [0, 1, 2, 3, 7, 50, 333])
@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.49])
@pytest.mark.parametrize("seed", [0, 1, 42])
def test_old_two_way_split_is_unchanged(total: int, fraction: float, seed: int) -> None:
    records = make_records(total)
    assert split_records(records, fraction, seed) == old_split_records(records, fraction, seed)
    train, validation, test = split_records_three(records, fraction, 0.0, seed)
    assert (train, validation) == old_split_records(records, fraction, seed)
    assert test == []


def test_same_seed_and_order_give_the_same_split() -> None:
    records = labelled_records({"billing": 40, "claims": 25, "privacy": 9})
    first = split_records_three(records, 0.15, 0.1, seed=11)
    assert first == split_records_three(list(records), 0.15, 0.1, seed=11)
    assert isinstance(first, SplitResult)


@pytest.mark.parametrize("labelled", [False, True])
def test_parts_are_disjoint_cover_everything_and_keep_order(labelled: bool) -> None:
    records = labelled_records({"a": 60, "b": 30, "c": 10}) if labelled else make_records(100)
    result = split_records_three(records, 0.2, 0.1, seed=5)
    assert_partition(result, records)
    assert (len(result.train), len(result.validation), len(result.test)) == (70, 20, 10)


def test_different_seeds_give_different_parts() -> None:
    records = labelled_records({"a": 60, "b": 30, "c": 10})
    first = split_records_three(records, 0.2, 0.1, seed=1)
    second = split_records_three(records, 0.2, 0.1, seed=2)
    assert first.validation != second.validation
    assert first.test != second.test
    plain = make_records(100)
    assert (
        split_records_three(plain, 0.2, 0.1, 1).test != split_records_three(plain, 0.2, 0.1, 2).test
    )


@pytest.mark.parametrize("seed", range(10))
def test_stratified_parts_keep_each_class_share_within_one(seed: int) -> None:
    sizes = {"billing": 53, "claims_delay": 31, "staff_conduct": 17, "data_privacy": 8, "other": 3}
    records = labelled_records(sizes, seed=seed)
    result = split_records_three(records, 0.2, 0.15, seed=seed)
    assert_partition(result, records)
    validation, test = label_counts(result.validation), label_counts(result.test)
    for label, size in sizes.items():
        assert abs(validation[label] - size * 0.2) <= 1, (label, validation[label])
        assert abs(test[label] - size * 0.15) <= 1, (label, test[label])
        assert validation[label] >= 1
        assert test[label] >= 1


def test_every_class_with_two_records_is_in_validation_and_train() -> None:
    records = labelled_records({"big": 200, "pair": 2, "trio": 3, "single": 1})
    result = split_records_three(records, 0.05, 0.05, seed=3)
    validation, train = label_counts(result.validation), label_counts(result.train)
    assert validation["pair"] == validation["trio"] == 1
    assert validation["big"] == 10
    assert "single" not in validation
    assert {"big", "pair", "trio", "single"} <= set(train)
    assert label_counts(result.test)["trio"] == 1
    assert label_counts(result.test)["pair"] == 0  # validation comes first for a pair


def test_stratification_is_automatic_only_when_every_record_has_a_label() -> None:
    records = labelled_records({"a": 95, "b": 5}, seed=4)
    for seed in range(20):
        _, validation = split_records(records, 0.2, seed)
        assert label_counts(validation) == {"a": 19, "b": 1}
    partly = [*records, TrainingRecord("data.csv", 999, text="no label")]
    spread = {label_counts(split_records(partly, 0.2, seed)[1])["b"] for seed in range(20)}
    assert len(spread) > 1  # one random draw over everything, not per class


def test_stratify_can_be_switched_off() -> None:
    records = labelled_records({"a": 95, "b": 5}, seed=4)
    plain = split_records_three(records, 0.2, 0.0, seed=8, stratify_by_label=False)
    unlabelled = [TrainingRecord(r.source, r.line, text=r.text) for r in records]
    expected = old_split_records(unlabelled, 0.2, seed=8)
    assert (lines(plain.train), lines(plain.validation)) == tuple(map(lines, expected))


def test_stratify_true_needs_labels() -> None:
    records = [*labelled_records({"a": 4}), TrainingRecord("data.csv", 40, text="none")]
    with pytest.raises(ValueError, match="data.csv, line 40"):
        split_records_three(records, 0.2, 0.0, seed=0, stratify_by_label=True)


@pytest.mark.parametrize(
    ("total", "validation_fraction", "test_fraction"),
    [(1, 0.5, 0.4), (2, 0.5, 0.4), (3, 0.6, 0.3), (20, 0.5, 0.49)],
)
def test_train_is_never_empty(total: int, validation_fraction: float, test_fraction: float) -> None:
    result = split_records_three(make_records(total), validation_fraction, test_fraction, seed=0)
    assert result.train
    labelled = labelled_records({"a": total, "b": 1, "c": 2})
    result = split_records_three(labelled, validation_fraction, test_fraction, seed=0)
    assert set(label_counts(result.train)) == {"a", "b", "c"}


def test_test_fraction_only() -> None:
    result = split_records_three(make_records(40), 0.0, 0.25, seed=9)
    assert (len(result.train), len(result.validation), len(result.test)) == (30, 0, 10)


@pytest.mark.parametrize(
    ("total", "validation_fraction", "test_fraction", "expected"),
    [
        (100, 0.1, 0.2, (10, 20)),
        (10, 0.25, 0.0, (2, 0)),
        (3, 0.1, 0.1, (1, 1)),
        (2, 0.1, 0.1, (1, 0)),
        (2, 0.0, 0.1, (0, 1)),
        (1, 0.3, 0.3, (0, 0)),
        (0, 0.3, 0.3, (0, 0)),
        (4, 0.6, 0.3, (2, 1)),
    ],
)
def test_held_out_counts(
    total: int, validation_fraction: float, test_fraction: float, expected: tuple[int, int]
) -> None:
    assert held_out_counts(total, validation_fraction, test_fraction) == expected


@pytest.mark.parametrize(
    ("validation_fraction", "test_fraction", "field"),
    [(-0.1, 0.0, "validation_fraction"), (0.2, 1.0, "test_fraction"), (0.5, 0.5, "together")],
)
def test_fractions_out_of_range(
    validation_fraction: float, test_fraction: float, field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        split_records_three(make_records(10), validation_fraction, test_fraction, seed=0)


def test_many_small_classes_do_not_swell_the_held_out_parts() -> None:
    records = labelled_records({f"class{i}": 2 for i in range(50)})
    result = split_records_three(records, 0.1, 0.1, seed=1)
    assert_partition(result, records)
    assert (len(result.train), len(result.validation), len(result.test)) == (80, 10, 10)
    assert set(label_counts(result.train)) == {f"class{i}" for i in range(50)}
