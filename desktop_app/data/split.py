"""Hold back part of the records for validation and testing, the same way every time.

Records with a ``label`` (classification data) are split class by class, so every part
keeps the mix of classes of the whole file.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import NamedTuple

from desktop_app.data.records import TrainingRecord


class SplitResult(NamedTuple):
    """The three parts of a split; each keeps the records in their original order.

    Args:
        train: The records to train on; never empty when there was a record to split.
        validation: The records held back to watch the loss during training.
        test: The records held back for a final evaluation after training.
    """

    train: list[TrainingRecord]
    validation: list[TrainingRecord]
    test: list[TrainingRecord]


def validation_count(total: int, validation_fraction: float) -> int:
    """How many of ``total`` records go to validation.

    ``round(total * validation_fraction)``, but at least one when the fraction is above
    zero and there are two records or more, and never all of them.
    """
    return held_out_counts(total, validation_fraction, 0.0)[0]


def held_out_counts(
    total: int, validation_fraction: float, test_fraction: float
) -> tuple[int, int]:
    """How many of ``total`` records go to validation and to test.

    Each part gets ``round(total * fraction)`` records, and at least one when its fraction
    is above zero, as long as one record is left for training. When there are too few
    records for every part, training comes first, then validation, then test.

    Args:
        total: Records to split (in one class, when the split is stratified).
        validation_fraction: Share to hold back for validation.
        test_fraction: Share to hold back for testing.

    Returns:
        ``(validation, test)`` counts; they always leave at least one record for training.
    """
    if total < 2:
        return 0, 0
    validation = max(round(total * validation_fraction), 1) if validation_fraction > 0 else 0
    test = max(round(total * test_fraction), 1) if test_fraction > 0 else 0
    validation = min(validation, total - 1)
    test = min(test, total - 1 - validation)
    return validation, test


def _proportional(sizes: list[int], total: int, room: list[int]) -> list[int]:
    """``total`` shared out in proportion to ``sizes`` (largest remainders first),
    never more than ``room`` per class."""
    whole = sum(sizes)
    if not whole or not total:
        return [0] * len(sizes)
    quotas = [size * total / whole for size in sizes]
    counts = [min(int(quota), limit) for quota, limit in zip(quotas, room, strict=True)]
    order = sorted(
        range(len(sizes)), key=lambda i: (quotas[i] - int(quotas[i]), sizes[i]), reverse=True
    )
    while sum(counts) < total and any(c < r for c, r in zip(counts, room, strict=True)):
        for index in order:
            if sum(counts) < total and counts[index] < room[index]:
                counts[index] += 1
    return counts


def _class_counts(
    sizes: list[int], validation_fraction: float, test_fraction: float
) -> list[tuple[int, int]]:
    """(validation, test) counts per class; see :func:`split_records_three`."""
    per_class = [held_out_counts(size, validation_fraction, test_fraction) for size in sizes]
    overall = held_out_counts(sum(sizes), validation_fraction, test_fraction)
    held = [sum(part) for part in zip(*per_class, strict=True)] if per_class else [0, 0]
    if all(held[i] <= max(2 * overall[i], overall[i] + 1) for i in (0, 1)):
        return per_class
    validation = _proportional(sizes, overall[0], [max(size - 1, 0) for size in sizes])
    room = [max(size - 1 - taken, 0) for size, taken in zip(sizes, validation, strict=True)]
    test = _proportional(sizes, overall[1], room)
    return list(zip(validation, test, strict=True))


def _check_fractions(validation_fraction: float, test_fraction: float) -> None:
    if not 0 <= validation_fraction < 1:
        raise ValueError(
            f"validation_fraction must be at least 0 and less than 1 (got {validation_fraction!r})"
        )
    if not 0 <= test_fraction < 1:
        raise ValueError(
            f"test_fraction must be at least 0 and less than 1 (got {test_fraction!r})"
        )
    if validation_fraction + test_fraction >= 1:
        raise ValueError(
            "validation_fraction and test_fraction together must be less than 1, so records "
            f"are left for training (got {validation_fraction!r} + {test_fraction!r})"
        )


def _label(record: TrainingRecord) -> str | None:
    # getattr: records from before labels existed have no such field.
    return getattr(record, "label", None)


def _groups(records: Sequence[TrainingRecord], stratify_by_label: bool | None) -> list[list[int]]:
    """Positions of the records, one list per class (or one list for all)."""
    labels = [_label(record) for record in records]
    unlabelled = [record for record, label in zip(records, labels, strict=True) if label is None]
    if stratify_by_label is None:
        stratify_by_label = bool(records) and not unlabelled
    if not stratify_by_label:
        return [list(range(len(records)))]
    if unlabelled:
        raise ValueError(
            f"stratify_by_label needs a label on every record, but {len(unlabelled)} have "
            f"none (the first at {unlabelled[0].location})"
        )
    by_label: dict[str | None, list[int]] = {}  # classes in order of first appearance
    for position, label in enumerate(labels):
        by_label.setdefault(label, []).append(position)
    return list(by_label.values())


def split_records_three(
    records: Sequence[TrainingRecord],
    validation_fraction: float,
    test_fraction: float,
    seed: int,
    *,
    stratify_by_label: bool | None = None,
) -> SplitResult:
    """Split records into training, validation and test parts.

    The same records (in the same order), fractions and seed always give the same split.
    The positions of each class are shuffled with one ``random.Random(seed)``, classes
    taken in the order they first appear; the first ones of a class go to validation,
    the next ones to test, the rest to training. Counts per class follow
    :func:`held_out_counts`: a class with two records or more has one in validation,
    and every class keeps at least one record for training. When that would hold back
    more than twice the requested share (many small classes), the unstratified counts
    are shared out among the classes in proportion to their sizes instead. Without labels
    the whole file is one class, which gives exactly :func:`split_records`'s validation
    part when ``test_fraction`` is 0.

    Args:
        records: The records to split.
        validation_fraction: Share to hold back for validation, from 0 up to but not
            including 1.
        test_fraction: Share to hold back for testing, likewise; the two together must
            be less than 1.
        seed: The random seed.
        stratify_by_label: Split class by class on ``record.label``. None (the default)
            does so when every record has a label; True requires a label on every record;
            False ignores labels.

    Returns:
        The three parts; together they hold every record exactly once.

    Raises:
        ValueError: a fraction is out of range, the two add up to 1 or more, or
            ``stratify_by_label`` is True and a record has no label.
    """
    _check_fractions(validation_fraction, test_fraction)
    rng = random.Random(seed)
    held_for_validation: set[int] = set()
    held_for_test: set[int] = set()
    groups = _groups(records, stratify_by_label)
    counts = _class_counts([len(group) for group in groups], validation_fraction, test_fraction)
    for positions, (validation, test) in zip(groups, counts, strict=True):
        rng.shuffle(positions)
        held_for_validation.update(positions[:validation])
        held_for_test.update(positions[validation : validation + test])
    result = SplitResult([], [], [])
    for position, record in enumerate(records):
        if position in held_for_validation:
            result.validation.append(record)
        elif position in held_for_test:
            result.test.append(record)
        else:
            result.train.append(record)
    return result


def split_records(
    records: Sequence[TrainingRecord],
    validation_fraction: float,
    seed: int,
    *,
    stratify_by_label: bool | None = None,
) -> tuple[list[TrainingRecord], list[TrainingRecord]]:
    """Split records into a training part and a validation part.

    The same records, fraction and seed always give the same split: the validation
    records are the first ones of a ``random.Random(seed)`` shuffle of the positions
    (class by class when every record has a label; see :func:`split_records_three`).
    Each part keeps the records in their original order.

    Args:
        records: The records to split.
        validation_fraction: Share to hold back, from 0 (none) up to but not including 1.
        seed: The random seed.
        stratify_by_label: As for :func:`split_records_three`.

    Returns:
        ``(train, validation)``; together they hold every record exactly once.

    Raises:
        ValueError: the fraction is not in [0, 1).
    """
    train, validation, _ = split_records_three(
        records, validation_fraction, 0.0, seed, stratify_by_label=stratify_by_label
    )
    return train, validation
