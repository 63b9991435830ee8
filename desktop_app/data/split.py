"""Hold back part of the records for validation, the same way every time."""

from __future__ import annotations

import random

from desktop_app.data.records import TrainingRecord


def validation_count(total: int, validation_fraction: float) -> int:
    """How many of ``total`` records go to validation.

    ``round(total * validation_fraction)``, but at least one when the fraction is above
    zero and there are two records or more, and never all of them.
    """
    if validation_fraction <= 0 or total < 2:
        return 0
    return min(max(round(total * validation_fraction), 1), total - 1)


def split_records(
    records: list[TrainingRecord], validation_fraction: float, seed: int
) -> tuple[list[TrainingRecord], list[TrainingRecord]]:
    """Split records into a training part and a validation part.

    The same records, fraction and seed always give the same split: the validation
    records are the first ones of a ``random.Random(seed)`` shuffle of the positions.
    Each part keeps the records in their original order.

    Args:
        records: The records to split.
        validation_fraction: Share to hold back, from 0 (none) up to but not including 1.
        seed: The random seed.

    Returns:
        ``(train, validation)``; together they hold every record exactly once.

    Raises:
        ValueError: the fraction is not in [0, 1).
    """
    if not 0 <= validation_fraction < 1:
        raise ValueError(
            f"validation_fraction must be at least 0 and less than 1 (got {validation_fraction!r})"
        )
    count = validation_count(len(records), validation_fraction)
    positions = list(range(len(records)))
    random.Random(seed).shuffle(positions)
    held_back = set(positions[:count])
    train = [record for index, record in enumerate(records) if index not in held_back]
    validation = [record for index, record in enumerate(records) if index in held_back]
    return train, validation
