"""Precision and recall of the scan on a labelled set of business texts.

tests/data/pii_labelled.jsonl holds insurance, bank, HR, hospital, IT and customer
service sentences with planted personal data of every type in many formats, and
look-alikes that must not be flagged: order numbers failing Luhn, references failing
mod-97, version strings, dates, amounts, policy and claim numbers, extensions. Rows
marked ``"split": "holdout"`` were written after the rules were settled.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from desktop_app.data.pii import PII_TYPES, PiiFinding
from desktop_app.data.pii.evaluation import expected_spans, load_labelled, score

LABELLED = Path(__file__).with_name("pii_labelled.jsonl")
THRESHOLD = 0.95


@pytest.fixture(scope="module")
def rows() -> list[dict[str, object]]:
    return load_labelled(LABELLED)


def test_the_labelled_set_is_large_and_covers_every_type(rows: list[dict[str, object]]) -> None:
    assert len(rows) >= 200
    labels = Counter(span[0] for row in rows for span in expected_spans(row))
    assert set(labels) == set(PII_TYPES)
    assert min(labels.values()) >= 10, labels
    assert sum(1 for row in rows if not row["pii"]) >= 100  # look-alike negatives
    assert {row["domain"] for row in rows} >= {"insurance", "bank", "hr", "hospital", "it"}


@pytest.mark.parametrize("pii_type", [*PII_TYPES, None], ids=[*PII_TYPES, "overall"])
def test_precision_and_recall(rows: list[dict[str, object]], pii_type: str | None) -> None:
    result = score(rows)
    assert result.precision(pii_type) >= THRESHOLD, result.mistakes
    assert result.recall(pii_type) >= THRESHOLD, result.mistakes


def test_the_score_catches_a_bad_scanner(rows: list[dict[str, object]]) -> None:
    """The thresholds above can fail: a scanner that flags every digit run, or finds
    nothing, scores far below them."""

    def flag_every_number(text: str) -> list[PiiFinding]:
        import re

        return [
            PiiFinding("PHONE", match.start(), match.end(), match.group())
            for match in re.finditer(r"\d[\d ]{6,}\d", text)
        ]

    assert score(rows, flag_every_number).precision("PHONE") < 0.5
    assert score(rows, lambda text: []).recall() == 0.0


def test_a_finding_in_the_wrong_place_counts_as_a_miss_and_a_false_alarm() -> None:
    row: dict[str, object] = {
        "text": "Call 020 7946 0958 now",
        "pii": [{"type": "PHONE", "value": "020 7946 0958"}],
    }
    result = score([row], lambda text: [PiiFinding("PHONE", 5, 17, "020 7946 095")])
    assert (result.true_positives.total(), result.false_positives["PHONE"]) == (0, 1)
    assert result.false_negatives["PHONE"] == 1


def test_a_label_missing_from_its_text_is_an_error() -> None:
    with pytest.raises(ValueError, match="not in the text"):
        expected_spans({"text": "nothing here", "pii": [{"type": "EMAIL", "value": "a@b.com"}]})
