"""Blind review: random but reproducible sides, correct attribution, and review.json."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from desktop_app.core.errors import UserInputError
from desktop_app.core.review import (
    REVIEW_FILE,
    BlindReview,
    ReviewFileError,
    ReviewItem,
    find_review,
    tuned_positions,
)


def make_items(count: int) -> list[ReviewItem]:
    return [
        ReviewItem(f"Question {index}?", f"base answer {index}", f"tuned answer {index}")
        for index in range(count)
    ]


def test_the_same_seed_gives_the_same_sides_and_another_seed_other_sides():
    first = BlindReview(make_items(40), seed=7)
    again = BlindReview(make_items(40), seed=7)
    other = BlindReview(make_items(40), seed=8)
    sides = [first.tuned_position(index) for index in range(40)]
    assert sides == [again.tuned_position(index) for index in range(40)]
    assert sides != [other.tuned_position(index) for index in range(40)]


def test_the_documented_rule_re_derives_the_sides_from_the_seed():
    review = BlindReview(make_items(25), seed=1234)
    rng = random.Random(1234)
    expected = ["A" if rng.random() < 0.5 else "B" for _ in range(25)]
    assert [review.tuned_position(index) for index in range(25)] == expected
    assert tuned_positions(1234, 25) == expected


def test_both_sides_occur_and_neither_dominates():
    review = BlindReview(make_items(200), seed=3)
    on_a = sum(review.tuned_position(index) == "A" for index in range(200))
    assert 60 < on_a < 140


def test_without_a_seed_a_fresh_one_is_drawn_and_kept():
    review = BlindReview(make_items(3))
    assert isinstance(review.seed, int)
    assert tuned_positions(review.seed, 3) == [review.tuned_position(i) for i in range(3)]


def test_shown_answers_follow_the_side_of_the_tuned_model():
    review = BlindReview(make_items(30), seed=11)
    for index in range(30):
        answer_a, answer_b = review.shown_answers(index)
        if review.tuned_position(index) == "A":
            assert (answer_a, answer_b) == (f"tuned answer {index}", f"base answer {index}")
        else:
            assert (answer_a, answer_b) == (f"base answer {index}", f"tuned answer {index}")


def test_choosing_a_counts_for_whichever_model_was_shown_as_a():
    review = BlindReview(make_items(30), seed=5)
    tuned_on_a = [i for i in range(30) if review.tuned_position(i) == "A"]
    base_on_a = [i for i in range(30) if review.tuned_position(i) == "B"]
    assert tuned_on_a and base_on_a

    assert review.record(tuned_on_a[0], "A").winner == "tuned"
    assert review.tally()["tuned_wins"] == 1
    assert review.record(base_on_a[0], "A").winner == "base"
    assert review.tally()["base_wins"] == 1
    assert review.record(base_on_a[1], "B").winner == "tuned"
    assert review.record(tuned_on_a[1], "B").winner == "base"
    assert review.tally() == {
        "tuned_wins": 2,
        "base_wins": 2,
        "ties": 0,
        "rated": 4,
        "total": 30,
    }


def test_the_tally_always_credits_the_model_whose_text_was_preferred():
    review = BlindReview(make_items(50), seed=99)
    chooser = random.Random(0)
    preferred_tuned = 0
    for index in range(50):
        choice = chooser.choice(["A", "B"])
        answer_a, answer_b = review.shown_answers(index)
        preferred = answer_a if choice == "A" else answer_b
        preferred_tuned += preferred.startswith("tuned")
        review.record(index, choice)
    tally = review.tally()
    assert tally["tuned_wins"] == preferred_tuned
    assert tally["base_wins"] == 50 - preferred_tuned


def test_equal_is_a_tie_and_re_rating_replaces_the_earlier_verdict():
    review = BlindReview(make_items(4), seed=2)
    review.record(0, "equal", "both fine")
    assert review.tally()["ties"] == 1
    tuned_side = review.tuned_position(0)
    rating = review.record(0, tuned_side, "tuned is clearer")
    assert rating.winner == "tuned"
    assert review.rating(0) == rating
    assert review.tally() == {"tuned_wins": 1, "base_wins": 0, "ties": 0, "rated": 1, "total": 4}


def test_a_rating_records_the_side_comment_reviewer_and_time():
    review = BlindReview(make_items(2), seed=4, reviewer="Dana")
    rating = review.record(1, "B", "B cites the policy")
    assert rating.tuned_shown_as == review.tuned_position(1)
    assert rating.comment == "B cites the policy"
    assert rating.reviewer == "Dana"
    assert rating.rated_at.endswith("+00:00")
    assert rating.blind is True
    review.set_comment(1, "changed my note")
    assert review.rating(1) is not None and review.rating(1).comment == "changed my note"
    assert review.rating(1).choice == "B"


def test_ratings_after_the_reveal_are_marked_not_blind():
    review = BlindReview(make_items(2), seed=4)
    review.record(0, "A")
    review.reveal()
    review.record(1, "A")
    assert [rating.blind for rating in review.ratings()] == [True, False]


def test_identical_answers_are_ties_without_asking():
    items = make_items(3)
    items[1] = ReviewItem("Same?", "Yes.", "  Yes.\n")
    review = BlindReview(items, seed=1)
    rating = review.rating(1)
    assert rating is not None and rating.automatic and rating.winner == "tie"
    assert review.tally()["ties"] == 1 and review.tally()["rated"] == 1
    with pytest.raises(UserInputError, match="same text"):
        review.record(1, "A")
    assert review.record(1, "equal", "word for word").comment == "word for word"


def test_bad_index_and_choice_are_refused_in_plain_words():
    review = BlindReview(make_items(2), seed=1)
    with pytest.raises(UserInputError, match="no item 3"):
        review.record(2, "A")
    with pytest.raises(UserInputError, match="not a rating"):
        review.record(0, "tuned")
    with pytest.raises(UserInputError, match="not been rated"):
        review.set_comment(0, "note")


def test_save_and_load_round_trip(tmp_path: Path):
    items = make_items(6)
    items[5] = ReviewItem("Q", "same", "same", reference="same")
    review = BlindReview(items, seed=21, reviewer="Sam")
    review.record(0, "A", "first")
    review.record(2, "equal")
    review.reveal()
    review.record(3, "B")
    path = review.save(tmp_path)
    assert path == tmp_path / REVIEW_FILE
    assert not list(tmp_path.glob(".*.tmp"))

    loaded = BlindReview.load(tmp_path)
    assert loaded.items == review.items
    assert loaded.seed == 21 and loaded.reviewer == "Sam"
    assert loaded.created_at == review.created_at
    assert loaded.revealed_at == review.revealed_at
    assert loaded.ratings() == review.ratings()
    assert loaded.tally() == review.tally()
    assert [loaded.tuned_position(i) for i in range(6)] == tuned_positions(21, 6)
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["tally"] == review.tally()
    assert "random.Random(seed)" in saved["order_rule"]
    assert find_review(tmp_path) is not None
    assert find_review(tmp_path / "nothing-here") is None


def _saved(tmp_path: Path) -> dict:
    review = BlindReview(make_items(3), seed=6)
    review.record(0, "A")
    review.record(1, "B", "note")
    review.save(tmp_path)
    return json.loads((tmp_path / REVIEW_FILE).read_text(encoding="utf-8"))


def _write(tmp_path: Path, payload: object) -> None:
    (tmp_path / REVIEW_FILE).write_text(json.dumps(payload), encoding="utf-8")


@pytest.mark.parametrize(
    ("breakage", "field", "words"),
    [
        (lambda p: p["ratings"][1].update(choice="C"), "ratings[1].choice", '"A", "B"'),
        (lambda p: p["ratings"][0].pop("comment"), "ratings[0].comment", "missing"),
        (lambda p: p.update(seed="six"), "seed", "wrong type"),
        (lambda p: p["items"][2].update(prompt=None), "items[2].prompt", "wrong type"),
        (lambda p: p["ratings"][0].update(item=9), "ratings[0].item", "no such item"),
        (lambda p: p["ratings"][0].update(blind=1), "ratings[0].blind", "wrong type"),
        (lambda p: p.update(version=5), "version", "newer Enclave"),
        (lambda p: p["tally"].update(tuned_wins=3), "tally", "changed by hand"),
        (lambda p: p.update(format="other"), "format", "not a review file"),
    ],
)
def test_a_broken_field_is_named_with_the_file(tmp_path: Path, breakage, field, words):
    payload = _saved(tmp_path)
    breakage(payload)
    _write(tmp_path, payload)
    with pytest.raises(ReviewFileError) as caught:
        BlindReview.load(tmp_path)
    message = caught.value.user_message()
    assert str(tmp_path / REVIEW_FILE) in message
    assert f"field '{field}'" in message
    assert words in message
    assert caught.value.field == field


def test_a_swapped_side_or_winner_is_caught_as_a_change_after_the_review(tmp_path: Path):
    payload = _saved(tmp_path)
    flipped = {"A": "B", "B": "A"}
    payload["items"][0]["tuned_shown_as"] = flipped[payload["items"][0]["tuned_shown_as"]]
    _write(tmp_path, payload)
    with pytest.raises(ReviewFileError, match=r"items\[0\]\.tuned_shown_as.*changed after"):
        BlindReview.load(tmp_path)

    payload = _saved(tmp_path)
    payload["ratings"][0]["winner"] = "tie"
    _write(tmp_path, payload)
    with pytest.raises(ReviewFileError, match=r"ratings\[0\]\.winner"):
        BlindReview.load(tmp_path)


def test_missing_or_unreadable_files_say_so(tmp_path: Path):
    with pytest.raises(ReviewFileError, match="does not exist"):
        BlindReview.load(tmp_path)
    (tmp_path / REVIEW_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(ReviewFileError, match="not valid JSON .line 1"):
        BlindReview.load(tmp_path)
    _write(tmp_path, [1, 2])
    with pytest.raises(ReviewFileError, match="JSON object"):
        find_review(tmp_path)


def test_the_summary_carries_the_tally_and_the_comments_for_the_report():
    items = make_items(4)
    items[3] = ReviewItem("Same?", "Yes.", "Yes.")
    review = BlindReview(items, seed=8, reviewer="Ann")
    review.record(0, review.tuned_position(0), "clearer")
    review.record(1, "equal")
    review.reveal()
    review.record(2, "equal", "both vague")
    summary = review.summary()
    assert {key: summary[key] for key in review.tally()} == review.tally()
    assert summary["ties"] == 3 and summary["tuned_wins"] == 1
    assert summary["blind_ratings"] == 3 and summary["automatic_ties"] == 1
    assert summary["reviewer"] == "Ann" and summary["seed"] == 8
    assert summary["comments"] == [
        {"item": 1, "prompt": "Question 0?", "winner": "tuned", "comment": "clearer"},
        {"item": 3, "prompt": "Question 2?", "winner": "tie", "comment": "both vague"},
    ]
