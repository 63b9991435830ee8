"""Blind review: an analyst compares the base model's and the tuned model's answers
without knowing which is which, and the tally is kept with the run.

Which model is shown as "Answer A" is decided per item by ``random.Random(seed)``: for
item ``i`` (0-based, in the order given) the ``i``-th call of ``random()`` below 0.5
puts the tuned model's answer on side A, otherwise on side B (see
:func:`tuned_positions`). The seed is saved in ``review.json``, so an auditor can
re-derive every position with those two lines of Python; loading checks that the saved
positions still match.

Items whose two answers are the same text (ignoring surrounding whitespace) are marked
as ties automatically (``automatic: true``): neither can be better, and asking the
reviewer would only add noise. They can carry a comment but cannot be rated A or B.

A rating made after the results were revealed is recorded with ``blind: false``, so a
reader of the file can tell which ratings were made without knowing the sides.
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from desktop_app.core.errors import UserInputError
from desktop_app.core.run_folder import write_json_atomic

#: The review's file inside a run folder.
REVIEW_FILE = "review.json"
FORMAT = "enclave-blind-review"
VERSION = 1
CHOICES = ("A", "B", "equal")
Choice = Literal["A", "B", "equal"]
Winner = Literal["tuned", "base", "tie"]
_ORDER_RULE = (
    "random.Random(seed); for item i (0-based) the i-th call of random() below 0.5 "
    "shows the tuned model's answer as A, otherwise as B"
)
_HINT = (
    "Restore review.json from a backup, or move it away to start the review again "
    "(the ratings in it are then not counted)."
)


class ReviewFileError(UserInputError):
    """review.json is missing, not JSON, or a field in it is wrong.

    Args:
        path: The file.
        field: The field concerned, for example ``ratings[2].choice``; empty for the
            file as a whole.
        message: What is wrong with it.
    """

    def __init__(self, path: Path, field: str, message: str) -> None:
        where = f"{path}, field '{field}'" if field else str(path)
        super().__init__(f"The blind review file {where}: {message}", _HINT)
        self.path = path
        self.field = field


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def tuned_positions(seed: int, count: int) -> list[str]:
    """Where the tuned model's answer is shown ("A" or "B") for each of ``count`` items."""
    rng = random.Random(seed)
    return ["A" if rng.random() < 0.5 else "B" for _ in range(count)]


def winner_of(choice: str, tuned_shown_as: str) -> Winner:
    """Which model a choice favours: "A"/"B" are sides as shown, "equal" is a tie."""
    if choice == "equal":
        return "tie"
    return "tuned" if choice == tuned_shown_as else "base"


@dataclass(frozen=True)
class ReviewItem:
    """One held-out prompt with both models' answers.

    Attributes:
        prompt: What both models were asked.
        base_answer: The model before fine-tuning answered this.
        tuned_answer: The fine-tuned model answered this.
        reference: The expected answer from the data, when there is one.
    """

    prompt: str
    base_answer: str
    tuned_answer: str
    reference: str | None = None

    @property
    def identical(self) -> bool:
        """Both answers are the same text (ignoring surrounding whitespace)."""
        return self.base_answer.strip() == self.tuned_answer.strip()


@dataclass(frozen=True)
class Rating:
    """The reviewer's verdict on one item.

    Attributes:
        item: 0-based index of the item.
        choice: "A", "B" or "equal", as the reviewer chose it.
        winner: "tuned", "base" or "tie": what the choice means.
        tuned_shown_as: The side ("A" or "B") the tuned model's answer was shown on.
        comment: The reviewer's optional comment.
        reviewer: Who rated it, if they gave their name.
        rated_at: When (ISO 8601, UTC); a re-rating replaces it.
        automatic: A tie recorded because both answers were the same text.
        blind: Rated before the results (and so the sides) were revealed.
    """

    item: int
    choice: str
    winner: str
    tuned_shown_as: str
    comment: str = ""
    reviewer: str = ""
    rated_at: str = ""
    automatic: bool = False
    blind: bool = True


class BlindReview:
    """The items under review, the side each model is shown on, and the ratings.

    Args:
        items: The comparisons, in the order the reviewer sees them.
        seed: Seeds ``random.Random`` for the sides; None draws a fresh one. Stored.
        reviewer: The reviewer's name, recorded with each rating; may be empty.
    """

    def __init__(
        self, items: list[ReviewItem], seed: int | None = None, reviewer: str = ""
    ) -> None:
        self.items = list(items)
        self.seed = secrets.randbits(32) if seed is None else seed
        self.reviewer = reviewer
        self.created_at = _now()
        #: When the results (and so the sides) were first shown, or None.
        self.revealed_at: str | None = None
        self._positions = tuned_positions(self.seed, len(self.items))
        self._ratings: dict[int, Rating] = {}
        for index, item in enumerate(self.items):
            if item.identical:
                self._ratings[index] = self._rating(index, "equal", "", automatic=True)

    # --- what the reviewer sees ---------------------------------------------------

    def __len__(self) -> int:
        return len(self.items)

    def tuned_position(self, index: int) -> str:
        """The side ("A" or "B") the tuned model's answer is shown on for item ``index``."""
        self._check_index(index)
        return self._positions[index]

    def shown_answers(self, index: int) -> tuple[str, str]:
        """The texts shown as Answer A and Answer B for item ``index``."""
        item = self.items[self._check_index(index)]
        if self._positions[index] == "A":
            return item.tuned_answer, item.base_answer
        return item.base_answer, item.tuned_answer

    # --- ratings ------------------------------------------------------------------

    def record(self, index: int, choice: str, comment: str = "") -> Rating:
        """Record (or replace) the rating of item ``index``.

        Args:
            index: 0-based item.
            choice: "A" or "B" (the side shown as better) or "equal".
            comment: Optional free text.

        Raises:
            UserInputError: the index or choice is not valid, or the item's answers are
                identical and the choice is not "equal".
        """
        self._check_index(index)
        if choice not in CHOICES:
            raise UserInputError(f"'{choice}' is not a rating.", 'Choose "A", "B" or "equal".')
        item = self.items[index]
        if item.identical and choice != "equal":
            raise UserInputError(
                f"Both answers to item {index + 1} are the same text, so neither is better.",
                "It counts as a tie; you can still add a comment.",
            )
        rating = self._rating(index, choice, comment, automatic=item.identical)
        self._ratings[index] = rating
        return rating

    def set_comment(self, index: int, comment: str) -> None:
        """Change the comment of an item already rated (its verdict is unchanged).

        Raises:
            UserInputError: the item has not been rated.
        """
        rating = self.rating(index)
        if rating is None:
            raise UserInputError(
                f"Item {index + 1} has not been rated yet.", "Rate it, then comment."
            )
        self._ratings[index] = replace(rating, comment=comment)

    def rating(self, index: int) -> Rating | None:
        """The latest rating of item ``index``, or None."""
        return self._ratings.get(self._check_index(index))

    def ratings(self) -> list[Rating]:
        """Every rating, in item order."""
        return [self._ratings[index] for index in sorted(self._ratings)]

    def reveal(self) -> None:
        """Note that the results were shown; later ratings are recorded as not blind."""
        if self.revealed_at is None:
            self.revealed_at = _now()

    def is_complete(self) -> bool:
        """Every item has a rating."""
        return len(self._ratings) == len(self.items)

    def tally(self) -> dict[str, int]:
        """``tuned_wins``, ``base_wins``, ``ties``, ``rated`` and ``total``."""
        winners = [rating.winner for rating in self._ratings.values()]
        return {
            "tuned_wins": winners.count("tuned"),
            "base_wins": winners.count("base"),
            "ties": winners.count("tie"),
            "rated": len(winners),
            "total": len(self.items),
        }

    def summary(self) -> dict[str, Any]:
        """The tally plus what a sign-off report shows: who reviewed, how many ratings
        were blind or automatic, and each comment with its question and verdict."""
        ratings = self.ratings()
        return {
            **self.tally(),
            "reviewer": self.reviewer,
            "seed": self.seed,
            "blind_ratings": sum(rating.blind for rating in ratings),
            "automatic_ties": sum(rating.automatic for rating in ratings),
            "comments": [
                {
                    "item": rating.item + 1,
                    "prompt": self.items[rating.item].prompt,
                    "winner": rating.winner,
                    "comment": rating.comment,
                }
                for rating in ratings
                if rating.comment
            ],
        }

    def _rating(self, index: int, choice: str, comment: str, *, automatic: bool) -> Rating:
        position = self._positions[index]
        return Rating(
            item=index,
            choice=choice,
            winner=winner_of(choice, position),
            tuned_shown_as=position,
            comment=comment,
            reviewer=self.reviewer,
            rated_at=_now(),
            automatic=automatic,
            blind=self.revealed_at is None,
        )

    def _check_index(self, index: int) -> int:
        if not 0 <= index < len(self.items):
            raise UserInputError(
                f"There is no item {index + 1} in this review.",
                f"Items are numbered 1 to {len(self.items)}.",
            )
        return index

    # --- file ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Everything in review.json, including the seed and how the order follows."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "seed": self.seed,
            "order_rule": _ORDER_RULE,
            "reviewer": self.reviewer,
            "created_at": self.created_at,
            "revealed_at": self.revealed_at,
            "saved_at": _now(),
            "tally": self.tally(),
            "items": [
                {**asdict(item), "tuned_shown_as": position}
                for item, position in zip(self.items, self._positions, strict=True)
            ],
            "ratings": [asdict(rating) for rating in self.ratings()],
        }

    def save(self, run_dir: str | Path) -> Path:
        """Write ``<run_dir>/review.json`` atomically (a reader never sees half a file)."""
        path = Path(run_dir) / REVIEW_FILE
        write_json_atomic(path, self.to_dict())
        return path

    @classmethod
    def load(cls, run_dir: str | Path) -> BlindReview:
        """Read ``<run_dir>/review.json`` and check every field.

        Raises:
            ReviewFileError: the file is missing, not JSON, or a field is wrong; the
                message names the file and the field.
        """
        path = Path(run_dir) / REVIEW_FILE
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ReviewFileError(path, "", "does not exist.") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ReviewFileError(path, "", f"cannot be read ({error}).") from None
        except json.JSONDecodeError as error:
            raise ReviewFileError(
                path, "", f"is not valid JSON (line {error.lineno}, column {error.colno})."
            ) from None
        return _from_dict(payload, path)


def find_review(run_dir: str | Path) -> BlindReview | None:
    """The run's saved review, or None when it has none yet.

    Raises:
        ReviewFileError: review.json exists but is broken.
    """
    if not (Path(run_dir) / REVIEW_FILE).exists():
        return None
    return BlindReview.load(run_dir)


def _field(record: dict[str, Any], name: str, kinds: Any, path: Path, where: str) -> Any:
    dotted = f"{where}.{name}" if where else name
    if name not in record:
        raise ReviewFileError(path, dotted, "is missing.")
    value = record[name]
    allowed = kinds if isinstance(kinds, tuple) else (kinds,)
    # JSON true/false are Python bools, which are ints too: only accept them as bools.
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        raise ReviewFileError(path, dotted, f"has the wrong type (got {json.dumps(value)}).")
    return value


def _from_dict(payload: Any, path: Path) -> BlindReview:
    if not isinstance(payload, dict):
        raise ReviewFileError(path, "", "does not hold a JSON object.")
    if payload.get("format") != FORMAT:
        raise ReviewFileError(path, "format", f'must be "{FORMAT}"; this is not a review file.')
    version = _field(payload, "version", int, path, "")
    if version > VERSION:
        raise ReviewFileError(
            path, "version", f"is {version}; a newer Enclave wrote it. Open it with that one."
        )
    seed = _field(payload, "seed", int, path, "")
    review = BlindReview([], seed=seed, reviewer=_field(payload, "reviewer", str, path, ""))
    review.created_at = _field(payload, "created_at", str, path, "")
    review.revealed_at = _field(payload, "revealed_at", (str, type(None)), path, "")
    items = _field(payload, "items", list, path, "")
    positions = tuned_positions(seed, len(items))
    for index, record in enumerate(items):
        where = f"items[{index}]"
        if not isinstance(record, dict):
            raise ReviewFileError(path, where, "must be an object.")
        item = ReviewItem(
            prompt=_field(record, "prompt", str, path, where),
            base_answer=_field(record, "base_answer", str, path, where),
            tuned_answer=_field(record, "tuned_answer", str, path, where),
            reference=_field(record, "reference", (str, type(None)), path, where),
        )
        if _field(record, "tuned_shown_as", str, path, where) != positions[index]:
            raise ReviewFileError(
                path,
                f"{where}.tuned_shown_as",
                "does not match the side the seed gives; the file was changed after the "
                "review was made.",
            )
        review.items.append(item)
    review._positions = positions
    for index, record in enumerate(_field(payload, "ratings", list, path, "")):
        rating = _rating_from_dict(record, f"ratings[{index}]", review, path)
        if rating.item in review._ratings:
            raise ReviewFileError(path, f"ratings[{index}].item", "rates an item twice.")
        review._ratings[rating.item] = rating
    for index, item in enumerate(review.items):
        if item.identical and index not in review._ratings:
            raise ReviewFileError(
                path, "ratings", f"has no tie for item {index} whose answers are identical."
            )
    if "tally" in payload and payload["tally"] != review.tally():
        raise ReviewFileError(
            path, "tally", "does not match the ratings in the file; it was changed by hand."
        )
    return review


def _rating_from_dict(record: Any, where: str, review: BlindReview, path: Path) -> Rating:
    if not isinstance(record, dict):
        raise ReviewFileError(path, where, "must be an object.")
    item = _field(record, "item", int, path, where)
    if not 0 <= item < len(review.items):
        raise ReviewFileError(path, f"{where}.item", f"is {item}; there is no such item.")
    choice = _field(record, "choice", str, path, where)
    if choice not in CHOICES:
        raise ReviewFileError(path, f"{where}.choice", 'must be "A", "B" or "equal".')
    if review.items[item].identical and choice != "equal":
        raise ReviewFileError(
            path, f"{where}.choice", 'must be "equal": the item\'s answers are identical.'
        )
    position = _field(record, "tuned_shown_as", str, path, where)
    if position != review._positions[item]:
        raise ReviewFileError(
            path, f"{where}.tuned_shown_as", "does not match the side the seed gives."
        )
    winner = _field(record, "winner", str, path, where)
    if winner != winner_of(choice, position):
        raise ReviewFileError(
            path,
            f"{where}.winner",
            f'is "{winner}" but choice "{choice}" means "{winner_of(choice, position)}".',
        )
    return Rating(
        item=item,
        choice=choice,
        winner=winner,
        tuned_shown_as=position,
        comment=_field(record, "comment", str, path, where),
        reviewer=_field(record, "reviewer", str, path, where),
        rated_at=_field(record, "rated_at", str, path, where),
        automatic=_field(record, "automatic", bool, path, where),
        blind=_field(record, "blind", bool, path, where),
    )
