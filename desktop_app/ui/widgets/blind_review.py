"""Blind review: two answers side by side, labelled only A and B, rated one item at a time.

The widget never says which model wrote which answer until the results are shown (by the
"Show results" button, or by itself once every item is rated). It loads no model and
generates nothing: give it a :class:`~desktop_app.core.review.BlindReview` built from
answers the engine produced.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.errors import EnclaveError
from desktop_app.core.review import BlindReview
from desktop_app.ui.widgets.error_dialog import show_error

_W = TypeVar("_W", bound=QWidget)
_MODEL_NAMES = {"tuned": "your fine-tuned model", "base": "the base model"}
_IDENTICAL_NOTE = (
    "Both answers are the same text, so this question counts as a tie. You can still add a comment."
)


def _named(widget: _W, name: str, tip: str) -> _W:
    widget.setObjectName(name)
    widget.setToolTip(tip)
    return widget


def _answer_view(name: str, tip: str) -> QPlainTextEdit:
    view = _named(QPlainTextEdit(), name, tip)
    view.setReadOnly(True)
    view.setTabChangesFocus(True)
    return view


def format_tally(review: BlindReview) -> str:
    """The tally in plain words, as rich text."""
    tally = review.tally()
    rows = [
        ("Your fine-tuned model was better", tally["tuned_wins"]),
        ("The base model was better", tally["base_wins"]),
        ("Both were equal", tally["ties"]),
    ]
    cells = "".join(
        f"<tr><td style='padding-right:16px'>{html.escape(name)}</td><td><b>{count}</b></td></tr>"
        for name, count in rows
    )
    notes = [f"{tally['rated']} of {tally['total']} questions rated."]
    automatic = sum(rating.automatic for rating in review.ratings())
    if automatic:
        notes.append(f"{automatic} counted as ties because both answers were the same text.")
    late = sum(not rating.blind for rating in review.ratings())
    if late:
        notes.append(f"{late} rated after the results were shown (not blind).")
    return f"<table>{cells}</table><p>{html.escape(' '.join(notes))}</p>"


class BlindReviewWidget(QWidget):
    """Rate which of two unlabelled answers is better, question by question.

    Call :meth:`load` with a review (and the run folder to save it in after each rating).
    """

    #: A rating, comment or the reveal changed the review (already saved when
    #: :meth:`load` was given a folder).
    review_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("blindReview")
        self.review: BlindReview | None = None
        self.save_to: Path | None = None
        #: The 0-based item on screen.
        self.current_index = 0
        self._build()
        self._show_empty()

    # --- layout -------------------------------------------------------------------

    def _build(self) -> None:
        self.item_label = QLabel()
        self.item_label.setObjectName("reviewItemLabel")
        font = self.item_label.font()
        font.setBold(True)
        self.item_label.setFont(font)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("reviewProgress")
        self.reviewer_input = _named(
            QLineEdit(),
            "reviewerName",
            "Optional. Saved with each rating so the report can say who reviewed.",
        )
        self.reviewer_input.setPlaceholderText("optional")
        self.reviewer_input.setMaximumWidth(220)
        self.reviewer_input.textChanged.connect(self._on_reviewer_changed)
        reviewer_label = QLabel("Your na&me:")
        reviewer_label.setBuddy(self.reviewer_input)
        header = QHBoxLayout()
        header.addWidget(self.item_label)
        header.addSpacing(12)
        header.addWidget(self.progress_label)
        header.addStretch(1)
        header.addWidget(reviewer_label)
        header.addWidget(self.reviewer_input)

        self.prompt_view = _answer_view("reviewPrompt", "The question both models were asked.")
        self.prompt_view.setMaximumHeight(80)
        self.reference_view = _answer_view(
            "reviewReference",
            "The answer your data gives for this question, to compare against.",
        )
        self.reference_view.setMaximumHeight(60)
        self.reference_label = QLabel("Expected answer (from your data):")
        question_box = QGroupBox("Question")
        question_layout = QVBoxLayout(question_box)
        question_layout.addWidget(self.prompt_view)
        question_layout.addWidget(self.reference_label)
        question_layout.addWidget(self.reference_view)

        tip = "One model's answer. Which model wrote it stays hidden until you show the results."
        self.answer_views = {side: _answer_view(f"answer{side}", tip) for side in "AB"}
        self.answer_boxes: dict[str, QGroupBox] = {}
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("reviewAnswersSplitter")
        splitter.setChildrenCollapsible(False)
        for side, view in self.answer_views.items():
            view.setPlaceholderText(f"One model's answer appears here as Answer {side}.")
            box = QGroupBox(f"Answer {side}")
            QVBoxLayout(box).addWidget(view)
            splitter.addWidget(box)
            self.answer_boxes[side] = box
        self.identical_note = QLabel(_IDENTICAL_NOTE)
        self.identical_note.setObjectName("reviewIdenticalNote")
        self.identical_note.setStyleSheet("font-style: italic;")

        self.comment_input = _named(
            QLineEdit(),
            "reviewComment",
            "Optional: a few words on why. Saved with your rating and shown in the report.",
        )
        self.comment_input.setPlaceholderText("Optional: why? Write it before you rate.")
        self.comment_input.editingFinished.connect(self._store_comment)
        comment_label = QLabel("&Comment:")
        comment_label.setBuddy(self.comment_input)

        self.rating_buttons: dict[str, QPushButton] = {
            "A": _named(
                QPushButton("&A is better"),
                "ratingAButton",
                "Answer A answers the question better. Saved at once; the next question opens.",
            ),
            "equal": _named(
                QPushButton("Both &equal"),
                "ratingEqualButton",
                "Neither answer is better than the other. Saved at once; the next question opens.",
            ),
            "B": _named(
                QPushButton("&B is better"),
                "ratingBButton",
                "Answer B answers the question better. Saved at once; the next question opens.",
            ),
        }
        self._rating_group = QButtonGroup(self)
        self._rating_group.setExclusive(True)
        for choice, button in self.rating_buttons.items():
            button.setCheckable(True)
            self._rating_group.addButton(button)
            button.clicked.connect(lambda _=False, choice=choice: self.rate(choice))
        rating_row = QHBoxLayout()
        rating_row.addWidget(comment_label)
        rating_row.addWidget(self.comment_input, 1)
        for button in self.rating_buttons.values():
            rating_row.addWidget(button)

        self.previous_button = _named(
            QPushButton("&Previous"), "reviewPreviousButton", "Go back to the previous question."
        )
        self.previous_button.clicked.connect(lambda: self.show_item(self.current_index - 1))
        self.next_button = _named(
            QPushButton("&Next"), "reviewNextButton", "Go to the next question without rating."
        )
        self.next_button.clicked.connect(lambda: self.show_item(self.current_index + 1))
        self.results_button = _named(
            QPushButton("Show &results"),
            "showResultsButton",
            "Show the tally and which model wrote each answer. Rate every question first: "
            "ratings made afterwards are marked as not blind.",
        )
        self.results_button.clicked.connect(self.show_results)
        navigation = QHBoxLayout()
        navigation.addWidget(self.previous_button)
        navigation.addWidget(self.next_button)
        navigation.addStretch(1)
        navigation.addWidget(self.results_button)

        self.tally_label = QLabel()
        self.tally_label.setObjectName("reviewTally")
        self.tally_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.results_box = QGroupBox("Results")
        self.results_box.setObjectName("reviewResults")
        QVBoxLayout(self.results_box).addWidget(self.tally_label)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(question_box)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.identical_note)
        layout.addLayout(rating_row)
        layout.addLayout(navigation)
        layout.addWidget(self.results_box)
        order: list[QWidget] = [self.reviewer_input, self.prompt_view, self.reference_view]
        order += [*self.answer_views.values(), self.comment_input]
        order += [*self.rating_buttons.values(), self.previous_button, self.next_button]
        order.append(self.results_button)
        for first, second in zip(order, order[1:], strict=False):
            QWidget.setTabOrder(first, second)

    # --- public API ---------------------------------------------------------------

    def load(self, review: BlindReview, save_to: str | Path | None = None) -> None:
        """Show ``review`` from its first unrated question.

        Args:
            review: The items and any ratings made so far.
            save_to: The run folder; when given, review.json is written there after
                every change.
        """
        self.review = review
        self.save_to = Path(save_to) if save_to is not None else None
        self.reviewer_input.blockSignals(True)
        self.reviewer_input.setText(review.reviewer)
        self.reviewer_input.blockSignals(False)
        if not len(review):
            self._show_empty()
            return
        for widget in self._controls():
            widget.setEnabled(True)
        unrated = self._next_unrated(-1)
        self.show_item(0 if unrated is None else unrated)

    def results_visible(self) -> bool:
        """Whether the tally and the sides are on screen."""
        return self.review is not None and self.review.revealed_at is not None

    def show_item(self, index: int) -> None:
        """Show question ``index`` (0-based); out-of-range indices are ignored."""
        review = self.review
        if review is None or not 0 <= index < len(review):
            return
        self._store_comment()
        self.current_index = index
        item = review.items[index]
        answer_a, answer_b = review.shown_answers(index)
        self.prompt_view.setPlainText(item.prompt)
        self.reference_view.setPlainText(item.reference or "")
        self.reference_view.setVisible(item.reference is not None)
        self.reference_label.setVisible(item.reference is not None)
        self.answer_views["A"].setPlainText(answer_a)
        self.answer_views["B"].setPlainText(answer_b)
        rating = review.rating(index)
        self.comment_input.setText(rating.comment if rating else "")
        self._rating_group.setExclusive(False)
        for choice, button in self.rating_buttons.items():
            button.setChecked(rating is not None and rating.choice == choice)
            button.setEnabled(not item.identical or choice == "equal")
        self._rating_group.setExclusive(True)
        self.identical_note.setVisible(item.identical)
        self.item_label.setText(f"Question {index + 1} of {len(review)}")
        self.previous_button.setEnabled(index > 0)
        self.next_button.setEnabled(index < len(review) - 1)
        self._update_progress()

    def rate(self, choice: str) -> None:
        """Record ``choice`` ("A", "B" or "equal") for the question on screen, with the
        comment typed, save, and open the next unrated question."""
        review = self.review
        if review is None:
            return
        try:
            review.record(self.current_index, choice, self.comment_input.text().strip())
        except EnclaveError as error:
            show_error(self, error.user_message())
            self.show_item(self.current_index)
            return
        self._changed()
        if review.is_complete() and review.revealed_at is None:
            self.show_results()
        following = self._next_unrated(self.current_index)
        self.show_item(self.current_index if following is None else following)

    def show_results(self) -> None:
        """Reveal the tally and which model wrote each answer (the review stops being
        blind)."""
        review = self.review
        if review is None:
            return
        if review.revealed_at is None:
            review.reveal()
            self._changed()
        self._update_progress()

    # --- internals ----------------------------------------------------------------

    def _controls(self) -> list[QWidget]:
        return [
            self.reviewer_input,
            self.comment_input,
            *self.rating_buttons.values(),
            self.previous_button,
            self.next_button,
            self.results_button,
        ]

    def _show_empty(self) -> None:
        self.item_label.setText("No answers to review yet")
        self.progress_label.setText("")
        self.prompt_view.setPlaceholderText(
            "The questions appear here once both models have answered them."
        )
        for widget in self._controls():
            widget.setEnabled(False)
        self.reference_label.hide()
        self.reference_view.hide()
        self.identical_note.hide()
        self.results_box.hide()

    def _next_unrated(self, after: int) -> int | None:
        review = self.review
        if review is None:
            return None
        count = len(review)
        for step in range(1, count + 1):
            index = (after + step) % count
            if review.rating(index) is None:
                return index
        return None

    def _update_progress(self) -> None:
        review = self.review
        if review is None:
            return
        tally = review.tally()
        self.progress_label.setText(f"{tally['rated']} of {tally['total']} rated")
        revealed = self.results_visible()
        self.results_box.setVisible(revealed)
        self.results_button.setEnabled(not revealed)
        self.results_button.setText("Results shown" if revealed else "Show &results")
        if revealed:
            self.tally_label.setText(format_tally(review))
        tuned_side = review.tuned_position(self.current_index) if len(review) else "A"
        for side, box in self.answer_boxes.items():
            model = _MODEL_NAMES["tuned" if side == tuned_side else "base"]
            box.setTitle(f"Answer {side}: {model}" if revealed else f"Answer {side}")

    def _store_comment(self) -> None:
        review = self.review
        if review is None or not len(review):
            return
        rating = review.rating(self.current_index)
        comment = self.comment_input.text().strip()
        if rating is not None and rating.comment != comment:
            review.set_comment(self.current_index, comment)
            self._changed()

    def _on_reviewer_changed(self, name: str) -> None:
        if self.review is not None:
            self.review.reviewer = name.strip()

    def _changed(self) -> None:
        if self.review is not None and self.save_to is not None:
            try:
                self.review.save(self.save_to)
            except OSError as error:
                show_error(
                    self,
                    f"Your ratings could not be saved in {self.save_to} "
                    f"({error.strerror or error}). They are kept while Enclave stays open: "
                    "free some disk space or check the folder, then rate again to save them.",
                    repr(error),
                )
        self.review_changed.emit()
