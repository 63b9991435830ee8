"""The one error dialog: message, hint, collapsible details, out-of-memory retries."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog, QPlainTextEdit, QPushButton, QToolButton

from desktop_app.ui.widgets import error_dialog
from desktop_app.ui.widgets.error_dialog import (
    RETRY_SHORTER_EXAMPLES,
    RETRY_SMALLER_BATCH,
    ErrorDialog,
    show_error,
)

OOM = "Training ran out of memory. Lower the batch size and try again."
TRACEBACK = 'Traceback (most recent call last):\n  File "x.py", line 1\nRuntimeError: boom'


def test_details_are_hidden_until_asked_for(qtbot):
    dialog = ErrorDialog("The data file cannot be read.", TRACEBACK)
    qtbot.addWidget(dialog)
    dialog.show()
    button = dialog.findChild(QToolButton, "detailsButton")
    details = dialog.findChild(QPlainTextEdit, "detailsView")

    assert button.isCheckable() and button.isEnabled()
    assert not details.isVisible()

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert details.isVisible() and details.isReadOnly()
    assert details.toPlainText() == TRACEBACK
    assert button.text() == "Hide details"

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert not details.isVisible()


def test_no_details_means_no_details_button_to_press(qtbot):
    dialog = ErrorDialog("The model folder has no tokenizer.")
    qtbot.addWidget(dialog)
    assert not dialog.findChild(QToolButton, "detailsButton").isEnabled()
    assert "tokenizer" in dialog.hint_label.text()


def test_ordinary_errors_offer_no_retry(qtbot):
    dialog = ErrorDialog("The disk is full.", TRACEBACK)
    qtbot.addWidget(dialog)
    assert dialog.findChild(QPushButton, "retrySmallerBatchButton") is None
    assert dialog.findChild(QPushButton, "retryShorterButton") is None
    assert "disk space" in dialog.hint_label.text()


def test_out_of_memory_offers_both_retries(qtbot):
    for name, expected in [
        ("retrySmallerBatchButton", RETRY_SMALLER_BATCH),
        ("retryShorterButton", RETRY_SHORTER_EXAMPLES),
    ]:
        dialog = ErrorDialog(OOM, TRACEBACK)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.mouseClick(dialog.findChild(QPushButton, name), Qt.MouseButton.LeftButton)
        assert dialog.choice == expected
        assert dialog.result() == QDialog.DialogCode.Accepted


def test_closing_an_out_of_memory_dialog_chooses_nothing(qtbot):
    dialog = ErrorDialog(OOM)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.mouseClick(dialog.findChild(QPushButton, "closeButton"), Qt.MouseButton.LeftButton)
    assert dialog.choice is None
    assert dialog.result() == QDialog.DialogCode.Rejected


def test_show_error_does_not_block_and_the_dialog_can_be_found(qtbot, dialogs_do_not_block):
    assert show_error(None, "Something broke.", TRACEBACK) is None
    [dialog] = [
        w for w in QApplication.topLevelWidgets() if isinstance(w, ErrorDialog) and w.isVisible()
    ]
    assert dialog is dialogs_do_not_block[0]
    assert dialog.isVisible() and dialog.message_label.text() == "Something broke."
    dialog.close()


def test_show_error_returns_the_retry_the_user_chose(qtbot):
    def click_shorter(dialog: ErrorDialog) -> None:
        dialog.findChild(QPushButton, "retryShorterButton").click()

    previous = error_dialog.set_dialog_runner(click_shorter)
    try:
        assert show_error(None, OOM, TRACEBACK) == RETRY_SHORTER_EXAMPLES
        # offer_smaller forces the offer for a message that does not say "out of memory".
        assert show_error(None, "CUDA error.", offer_smaller=True) == RETRY_SHORTER_EXAMPLES
    finally:
        error_dialog.set_dialog_runner(previous)
