"""Precision and recall of the scan against a labelled set of texts.

A labelled set is JSON Lines, one text per line::

    {"text": "Call 020 7946 0958", "pii": [{"type": "PHONE", "value": "020 7946 0958"}]}

Every occurrence of each listed value in the text is expected as a finding of that
type, with exactly its start and end; anything else found is a false positive. A text
with an empty ``pii`` list is a look-alike that must yield nothing. Other keys (such
as ``domain`` or ``split``) are carried along for grouping.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from desktop_app.data.pii.findings import PII_TYPES, PiiFinding
from desktop_app.data.pii.scanner import scan_text

Span = tuple[str, int, int]


@dataclass
class QualityScore:
    """Counts per type, and the misses, for a labelled set.

    Args:
        true_positives: Findings that match a label exactly, per type.
        false_positives: Findings that match no label, per type.
        false_negatives: Labels that no finding matches, per type.
        mistakes: One line per false positive or negative, to print.
    """

    true_positives: Counter[str] = field(default_factory=Counter)
    false_positives: Counter[str] = field(default_factory=Counter)
    false_negatives: Counter[str] = field(default_factory=Counter)
    mistakes: list[str] = field(default_factory=list)

    def precision(self, pii_type: str | None = None) -> float:
        """Share of findings that are right (1.0 when nothing was found), for one type
        or, when None, for all."""
        found = self._count(self.true_positives, pii_type) + self._count(
            self.false_positives, pii_type
        )
        return self._count(self.true_positives, pii_type) / found if found else 1.0

    def recall(self, pii_type: str | None = None) -> float:
        """Share of labels found (1.0 when there are none), for one type or all."""
        labelled = self._count(self.true_positives, pii_type) + self._count(
            self.false_negatives, pii_type
        )
        return self._count(self.true_positives, pii_type) / labelled if labelled else 1.0

    def labelled(self, pii_type: str | None = None) -> int:
        """Labels of one type, or of all types."""
        return self._count(self.true_positives, pii_type) + self._count(
            self.false_negatives, pii_type
        )

    @staticmethod
    def _count(counts: Counter[str], pii_type: str | None) -> int:
        return counts.total() if pii_type is None else counts[pii_type]


def load_labelled(path: str | Path) -> list[dict[str, object]]:
    """The rows of a labelled set (see the module docstring)."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def expected_spans(row: dict[str, object]) -> set[Span]:
    """Every (type, start, end) a row's labels call for.

    Raises:
        ValueError: a labelled value does not occur in the text.
    """
    text = str(row["text"])
    spans: set[Span] = set()
    labels = row.get("pii") or []
    assert isinstance(labels, list)
    for label in labels:
        value = str(label["value"])
        start = text.find(value)
        if start < 0:
            raise ValueError(f"labelled value {value!r} is not in the text {text!r}")
        while start >= 0:
            spans.add((str(label["type"]), start, start + len(value)))
            start = text.find(value, start + 1)
    return spans


def score(
    rows: Iterable[dict[str, object]],
    scan: Callable[[str], list[PiiFinding]] = scan_text,
) -> QualityScore:
    """Compare ``scan`` with the labels of every row.

    Args:
        rows: Labelled rows.
        scan: The scanner to judge; :func:`scan_text` unless another is given.
    """
    result = QualityScore()
    for row in rows:
        text = str(row["text"])
        expected = expected_spans(row)
        found = {(finding.type, finding.start, finding.end) for finding in scan(text)}
        for pii_type, _, _ in expected & found:
            result.true_positives[pii_type] += 1
        for kind, spans, counts in (
            ("false positive", found - expected, result.false_positives),
            ("missed", expected - found, result.false_negatives),
        ):
            for pii_type, start, end in sorted(spans):
                counts[pii_type] += 1
                result.mistakes.append(f"{kind} {pii_type} {text[start:end]!r} in {text!r}")
    return result


def format_score(result: QualityScore) -> str:
    """A table of precision and recall per type, then overall."""
    lines = [f"{'type':<12} {'labels':>6} {'precision':>9} {'recall':>7}"]
    for pii_type in (*PII_TYPES, None):
        name = pii_type or "overall"
        lines.append(
            f"{name:<12} {result.labelled(pii_type):>6} "
            f"{result.precision(pii_type):>9.3f} {result.recall(pii_type):>7.3f}"
        )
    return "\n".join(lines)
