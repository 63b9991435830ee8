"""The blind-review widget: ratings from its buttons, blindness until the results, files."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from desktop_app.core.review import REVIEW_FILE, BlindReview, ReviewItem
from desktop_app.ui.widgets.blind_review import BlindReviewWidget


def make_review(count: int = 6, seed: int = 5, identical: int | None = None) -> BlindReview:
    items = [
        ReviewItem(f"Question {index}?", f"base says {index}", f"tuned says {index}")
        for index in range(count)
    ]
    if identical is not None:
        items[identical] = ReviewItem("Same?", "Yes.", "Yes.")
    return BlindReview(items, seed=seed)


@pytest.fixture
def widget(qtbot) -> BlindReviewWidget:
    widget = BlindReviewWidget()
    qtbot.addWidget(widget)
    widget.resize(900, 650)
    return widget


def click(qtbot, button: QAbstractButton) -> None:
    assert button.isEnabled(), button.objectName()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def shown_texts(widget: QWidget) -> str:
    """Every label, title, button text and tooltip that is not hidden."""
    texts = []
    for child in widget.findChildren(QWidget):
        if child.isHidden() or not child.isVisibleTo(widget):
            continue
        texts.append(child.toolTip())
        if isinstance(child, QLabel | QAbstractButton):
            texts.append(child.text())
        if isinstance(child, QGroupBox):
            texts.append(child.title())
    return "\n".join(texts).lower()


def test_clicking_a_credits_the_model_shown_as_a(qtbot, widget):
    review = make_review(count=20)
    widget.load(review)
    tuned_first = next(i for i in range(20) if review.tuned_position(i) == "A")
    base_first = next(i for i in range(20) if review.tuned_position(i) == "B")
    for index, expected in ((tuned_first, "tuned"), (base_first, "base")):
        widget.show_item(index)
        assert widget.answer_views["A"].toPlainText().startswith(expected)
        with qtbot.waitSignal(widget.review_changed, timeout=1000):
            click(qtbot, widget.rating_buttons["A"])
        rating = review.rating(index)
        assert rating is not None and rating.choice == "A" and rating.winner == expected
    assert review.tally()["tuned_wins"] == 1 and review.tally()["base_wins"] == 1


def test_b_and_equal_buttons_and_re_rating(qtbot, widget):
    review = make_review(count=4)
    widget.load(review)
    click(qtbot, widget.rating_buttons["equal"])
    assert review.rating(0) is not None and review.rating(0).winner == "tie"
    assert widget.current_index == 1
    widget.show_item(0)
    assert widget.rating_buttons["equal"].isChecked()
    click(qtbot, widget.rating_buttons["B"])
    expected = "tuned" if review.tuned_position(0) == "B" else "base"
    assert review.rating(0).winner == expected
    assert review.tally()["ties"] == 0 and review.tally()["rated"] == 1
    assert widget.progress_label.text() == "1 of 4 rated"


def test_the_tally_and_the_sides_stay_hidden_until_asked(qtbot, widget):
    review = make_review(count=5)
    widget.load(review)
    widget.show()
    click(qtbot, widget.rating_buttons["A"])
    click(qtbot, widget.rating_buttons["B"])
    assert widget.results_box.isHidden()
    texts = shown_texts(widget)
    assert "fine-tuned" not in texts and "base model" not in texts and "tuned" not in texts
    assert not widget.results_visible() and review.revealed_at is None

    with qtbot.waitSignal(widget.review_changed, timeout=1000):
        click(qtbot, widget.results_button)
    assert not widget.results_box.isHidden()
    assert "your fine-tuned model was better" in widget.tally_label.text().lower()
    tuned_side = review.tuned_position(widget.current_index)
    base_side = "B" if tuned_side == "A" else "A"
    assert widget.answer_boxes[tuned_side].title().endswith("your fine-tuned model")
    assert widget.answer_boxes[base_side].title().endswith("the base model")
    assert review.revealed_at is not None and not widget.results_button.isEnabled()


def test_the_results_appear_by_themselves_once_everything_is_rated(qtbot, widget):
    review = make_review(count=3)
    widget.load(review)
    for _ in range(2):
        click(qtbot, widget.rating_buttons["A"])
    assert widget.results_box.isHidden()
    click(qtbot, widget.rating_buttons["equal"])
    assert not widget.results_box.isHidden()
    tally = review.tally()
    assert f"{tally['tuned_wins']}</b>" in widget.tally_label.text()
    assert "3 of 3 questions rated" in widget.tally_label.text()
    assert all(rating.blind for rating in review.ratings())


def test_next_and_previous_walk_the_questions(qtbot, widget):
    review = make_review(count=3)
    widget.load(review)
    assert widget.item_label.text() == "Question 1 of 3"
    assert not widget.previous_button.isEnabled()
    click(qtbot, widget.next_button)
    click(qtbot, widget.next_button)
    assert widget.current_index == 2
    assert widget.prompt_view.toPlainText() == "Question 2?"
    assert not widget.next_button.isEnabled()
    click(qtbot, widget.previous_button)
    assert widget.item_label.text() == "Question 2 of 3"
    assert review.tally()["rated"] == 0


def test_a_review_half_done_opens_at_the_first_unrated_question(widget):
    review = make_review(count=4)
    review.record(0, "A")
    review.record(1, "B")
    widget.load(review)
    assert widget.current_index == 2
    assert widget.progress_label.text() == "2 of 4 rated"


def test_comments_are_saved_with_the_rating_and_can_be_changed(qtbot, widget):
    review = make_review(count=3)
    widget.load(review)
    widget.comment_input.setText("A is more specific")
    click(qtbot, widget.rating_buttons["A"])
    assert review.rating(0).comment == "A is more specific"
    assert widget.comment_input.text() == ""
    widget.show_item(0)
    assert widget.comment_input.text() == "A is more specific"
    widget.comment_input.setText("on reflection, clearer")
    with qtbot.waitSignal(widget.review_changed, timeout=1000):
        click(qtbot, widget.next_button)
    assert review.rating(0).comment == "on reflection, clearer"
    assert review.rating(0).choice == "A"


def test_identical_answers_can_only_be_equal(qtbot, widget):
    review = make_review(count=3, identical=1)
    widget.load(review)
    widget.show_item(1)
    assert not widget.identical_note.isHidden()
    assert not widget.rating_buttons["A"].isEnabled()
    assert not widget.rating_buttons["B"].isEnabled()
    assert widget.rating_buttons["equal"].isChecked()
    widget.show_item(0)
    assert widget.identical_note.isHidden()
    assert widget.rating_buttons["A"].isEnabled()


def test_each_rating_is_saved_in_the_run_folder(qtbot, widget, tmp_path: Path):
    review = make_review(count=4)
    widget.load(review, save_to=tmp_path)
    widget.reviewer_input.setText("Dana")
    click(qtbot, widget.rating_buttons["A"])
    click(qtbot, widget.rating_buttons["equal"])
    loaded = BlindReview.load(tmp_path)
    assert loaded.tally() == review.tally()
    assert [rating.reviewer for rating in loaded.ratings()] == ["Dana", "Dana"]
    assert loaded.revealed_at is None


def test_a_failed_save_is_shown_in_plain_words(qtbot, widget, tmp_path: Path, dialogs_do_not_block):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("", encoding="utf-8")
    review = make_review(count=2)
    widget.load(review, save_to=blocked)
    click(qtbot, widget.rating_buttons["A"])
    assert len(dialogs_do_not_block) == 1
    message = dialogs_do_not_block[0].message_label.text()
    assert "could not be saved" in message and "Traceback" not in message
    assert review.tally()["rated"] == 1
    assert not (blocked / REVIEW_FILE).exists()


def test_before_loading_every_control_is_off(widget):
    assert widget.item_label.text() == "No answers to review yet"
    assert not any(button.isEnabled() for button in widget.rating_buttons.values())
    assert not widget.results_button.isEnabled()
    assert widget.results_box.isHidden()
    widget.load(BlindReview([], seed=1))
    assert not widget.next_button.isEnabled()


def test_every_interactive_widget_is_named_explained_and_has_a_mnemonic(widget):
    widget.load(make_review())
    interactive = widget.findChildren(QAbstractButton) + widget.findChildren(QLineEdit)
    interactive += widget.findChildren(QPlainTextEdit)
    assert len(interactive) >= 11
    for child in interactive:
        assert child.objectName(), child
        assert child.toolTip(), child.objectName()
    for button in widget.findChildren(QAbstractButton):
        assert "&" in button.text(), button.objectName()
    names = {child.objectName() for child in interactive}
    assert {"ratingAButton", "ratingEqualButton", "ratingBButton", "reviewNextButton"} <= names
    assert {"reviewPreviousButton", "showResultsButton", "reviewComment", "answerA"} <= names


def test_tab_goes_from_the_comment_through_the_rating_buttons(widget):
    widget.load(make_review())
    expected = [
        widget.comment_input,
        widget.rating_buttons["A"],
        widget.rating_buttons["equal"],
        widget.rating_buttons["B"],
        widget.previous_button,
    ]
    for first, second in zip(expected, expected[1:], strict=False):
        assert first.nextInFocusChain() is second or _next_focus(first) is second


def _next_focus(widget: QWidget) -> QWidget:
    candidate = widget.nextInFocusChain()
    while candidate.focusPolicy() == Qt.FocusPolicy.NoFocus:
        candidate = candidate.nextInFocusChain()
    return candidate
