"""Duplicates: exact copies are errors; copies apart from case, spacing or punctuation,
and near copies, are warnings that name the earlier record and keep the record."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from desktop_app.data.duplicates import DuplicateFinder, normalize_text
from desktop_app.data.loading import load_records
from desktop_app.data.records import Message, TrainingRecord

Writer = Callable[..., Path]
SAMPLE = Path(__file__).parents[2] / "resources" / "sample_data" / "insurance_qa.jsonl"

# Real answers, each with a near copy that changes one word.
NEAR_PAIRS = [
    (
        "A deductible is the amount you pay yourself on each claim before the insurer pays "
        "the rest. For example, with a 500 deductible and a 2,000 repair bill, we pay 1,500. "
        "A higher deductible lowers your premium, but you pay more when you claim.",
        "A deductible is the amount you pay yourself on each claim before the insurer pays "
        "the rest. For example, with a 500 deductible and a 3,000 repair bill, we pay 1,500. "
        "A higher deductible lowers your premium, but you pay more when you claim.",
    ),
    (
        "To report a car accident, call the claims line or fill in claim form C-1 within "
        "seven days. Include the date, the place, the other driver's insurance details and "
        "photos of the damage if you have them, and keep the repair estimates.",
        "To report a car accident, call the claims line or fill in claim form C-1 within "
        "ten days. Include the date, the place, the other driver's insurance details and "
        "photos of the damage if you have them, and keep the repair estimates.",
    ),
    (
        "Water damage from a burst pipe is covered when it happens suddenly. Damage that "
        "builds up slowly, such as a leak under the sink over many months, is not covered, "
        "because regular maintenance of the home would have prevented it.",
        "Water damage from a burst pipe is covered when it happens suddenly. Damage that "
        "builds up slowly, such as a drip under the sink over many months, is not covered, "
        "because regular maintenance of the home would have prevented it.",
    ),
]

# On the same topic, in the same words often, but different answers.
DIFFERENT = [
    "Your premium is the amount you pay for the policy each year, monthly or at once.",
    "A claim is a request to the insurer to pay for a loss the policy covers.",
    "Contents insurance covers the things in your home, such as furniture and clothes.",
    "Travel insurance pays for medical costs abroad and for trips you have to cancel.",
]


def qa(instruction: str, output: str) -> dict[str, str]:
    return {"instruction": instruction, "output": output}


def test_exact_duplicates_are_errors_and_left_out(write_jsonl: Writer) -> None:
    path = write_jsonl([qa("Q", "A"), qa("Q2", "A2"), qa(" Q ", "A\n")])
    data = load_records(path)
    assert [(p.line, p.code, p.severity, p.reason) for p in data.problems] == [
        (3, "exact_duplicate", "error", "is an exact duplicate of line 1")
    ]
    assert [record.line for record in data.records] == [1, 2]


def test_same_apart_from_case_spacing_or_punctuation_is_a_warning(write_jsonl: Writer) -> None:
    path = write_jsonl(
        [
            qa("What is a deductible?", "The part of a claim you pay."),
            qa("what is a  DEDUCTIBLE", "The part of a claim you pay"),
            qa("What is a deductible?", "The part of a claim you pay."),
        ]
    )
    data = load_records(path)
    assert [(p.line, p.code, p.severity) for p in data.problems] == [
        (2, "normalized_duplicate", "warning"),
        (3, "exact_duplicate", "error"),
    ]
    assert data.problems[0].reason == (
        "is the same as line 1 apart from case, spacing or punctuation"
    )
    assert [record.line for record in data.records] == [1, 2]  # the warning keeps its record


def test_near_duplicates_name_the_earlier_line(write_jsonl: Writer) -> None:
    rows = []
    for original, copy in NEAR_PAIRS:
        rows += [qa("Explain.", original), qa("Explain.", copy)]
    rows += [qa("Explain.", text) for text in DIFFERENT]
    data = load_records(write_jsonl(rows))
    assert [(p.line, p.code, p.severity) for p in data.problems] == [
        (2, "near_duplicate", "warning"),
        (4, "near_duplicate", "warning"),
        (6, "near_duplicate", "warning"),
    ]
    assert data.problems[0].reason.startswith("is nearly the same as line 1 (about ")
    assert data.problems[1].reason.startswith("is nearly the same as line 3 ")
    assert len(data.records) == len(rows)


def test_the_sample_data_has_no_near_duplicates() -> None:
    data = load_records(SAMPLE)
    assert data.problems == []


def test_a_shared_system_prompt_does_not_make_records_alike() -> None:
    system = "You are a helpful assistant for Acme Insurance. " * 20
    finder = DuplicateFinder()
    for line, text in enumerate(DIFFERENT, start=1):
        messages = (Message("system", system), Message("user", "Q?"), Message("assistant", text))
        finder.add(TrainingRecord("d.jsonl", line, messages))
    assert finder.findings() == []


def test_each_copy_names_the_first_of_its_kind() -> None:
    finder = DuplicateFinder()
    original, copy = NEAR_PAIRS[0]
    for line, text in enumerate([original, copy, copy.replace("3,000", "4,000")], start=1):
        finder.add(TrainingRecord("d.txt", line, text=text))
    found = finder.findings()
    assert [(f.index, f.earlier, f.problem.line) for f in found] == [(1, 0, 2), (2, 0, 3)]


def test_short_records_and_text_records() -> None:
    finder = DuplicateFinder()
    for line, text in enumerate(["Yes", "No", "yes!", "", "Maybe so"], start=1):
        finder.add(TrainingRecord("d.txt", line, text=text))
    found = finder.findings()
    assert [(f.problem.line, f.problem.code, f.earlier) for f in found] == [
        (3, "normalized_duplicate", 0)
    ]


def test_text_and_messages_never_match_each_other() -> None:
    finder = DuplicateFinder()
    finder.add(TrainingRecord("d", 1, text="user Hi assistant Hello there"))
    finder.add(TrainingRecord("d", 2, (Message("user", "Hi"), Message("assistant", "Hello there"))))
    assert [f.problem.code for f in finder.findings()] == ["normalized_duplicate"]


def test_many_records_with_no_duplicates_give_no_findings() -> None:
    chance = random.Random(7)
    vocabulary = [f"w{n}" for n in range(2000)] + ["the", "a", "of", "to", "and"] * 100
    finder = DuplicateFinder()
    for line in range(1, 3001):
        words = " ".join(chance.choices(vocabulary, k=40))
        finder.add(TrainingRecord("d", line, text=words))
    assert finder.findings() == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello,  World!", "hello world"),
        ("  Déjà vu… «quoted»  ", "déjà vu quoted"),
        ("don't\tstop\n", "dont stop"),
    ],
)
def test_normalize_text(text: str, expected: str) -> None:
    assert normalize_text(text) == expected
