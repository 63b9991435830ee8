"""The one dialog every failure reaches the user through.

It shows what happened in plain words, what to do about it, and (only when asked) the
technical details. For out-of-memory failures it offers to retry with a smaller batch
or shorter examples and says which the user chose.

Every error in the app goes through :func:`show_error`. Tests replace how the dialog is
run with :func:`set_dialog_runner` so that no modal loop blocks them.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

#: Values :func:`show_error` returns when the user picked a retry.
RETRY_SMALLER_BATCH = "smaller_batch"
RETRY_SHORTER_EXAMPLES = "shorter_examples"

_GENERIC_HINT = (
    "Nothing else is affected: you can change the settings and start again. "
    "If it happens again, 'Show details' has the information a maintainer needs."
)


def is_out_of_memory(message: str) -> bool:
    """Whether a plain message describes running out of memory."""
    return "out of memory" in message.lower()


def hint_for(message: str) -> str:
    """What the user can do about the failure ``message`` describes."""
    lowered = message.lower()
    if is_out_of_memory(message):
        return (
            "Each retry halves one setting. A smaller batch trains at the same quality, "
            "only slower; a shorter maximum length cuts long examples."
        )
    if "disk is full" in lowered or "no space left" in lowered:
        return "Free some disk space, or choose another output folder, then resume the run."
    if "tokenizer" in lowered:
        return "Choose a model folder that includes its tokenizer files (tokenizer.json)."
    if "line " in lowered or "record" in lowered:
        return "Correct the data file at the place named above, then start again."
    return _GENERIC_HINT


class ErrorDialog(QDialog):
    """A plain message, a hint, and a collapsible details section.

    Args:
        message: What happened, in plain language.
        details: The technical details (a traceback); hidden until asked for.
        offer_smaller: Offer the two retry buttons. They are offered anyway when the
            message says the run ran out of memory.
        parent: The window the dialog belongs to.
    """

    def __init__(
        self,
        message: str,
        details: str = "",
        *,
        offer_smaller: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("errorDialog")
        self.setWindowTitle("Something went wrong")
        self.setMinimumWidth(480)
        #: The retry the user chose (RETRY_SMALLER_BATCH or RETRY_SHORTER_EXAMPLES), or None.
        self.choice: str | None = None

        icon = QLabel()
        icon.setPixmap(
            self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical).pixmap(40)
        )
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.message_label = QLabel(message)
        self.message_label.setObjectName("errorMessage")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.message_label.font()
        font.setBold(True)
        self.message_label.setFont(font)
        self.hint_label = QLabel(hint_for(message))
        self.hint_label.setObjectName("errorHint")
        self.hint_label.setWordWrap(True)

        text = QVBoxLayout()
        text.addWidget(self.message_label)
        text.addWidget(self.hint_label)
        top = QHBoxLayout()
        top.addWidget(icon)
        top.addLayout(text, 1)

        self.details_button = QToolButton()
        self.details_button.setObjectName("detailsButton")
        self.details_button.setText("Show details")
        self.details_button.setCheckable(True)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.setArrowType(Qt.ArrowType.RightArrow)
        self.details_button.setEnabled(bool(details))
        self.details_button.toggled.connect(self._on_details_toggled)
        self.details_view = QPlainTextEdit(details)
        self.details_view.setObjectName("detailsView")
        self.details_view.setReadOnly(True)
        self.details_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details_view.setMinimumHeight(200)
        self.details_view.setVisible(False)

        buttons = QDialogButtonBox()
        self.retry_batch_button: QPushButton | None = None
        self.retry_shorter_button: QPushButton | None = None
        if offer_smaller or is_out_of_memory(message):
            self.retry_batch_button = self._retry_button(
                buttons,
                "Retry with half the batch size",
                "retrySmallerBatchButton",
                RETRY_SMALLER_BATCH,
            )
            self.retry_shorter_button = self._retry_button(
                buttons,
                "Retry with half the max length",
                "retryShorterButton",
                RETRY_SHORTER_EXAMPLES,
            )
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.setObjectName("closeButton")
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.details_view, 1)
        layout.addWidget(buttons)

    def _retry_button(
        self, buttons: QDialogButtonBox, text: str, name: str, choice: str
    ) -> QPushButton:
        button = buttons.addButton(text, QDialogButtonBox.ButtonRole.AcceptRole)
        button.setObjectName(name)
        button.clicked.connect(lambda: self._choose(choice))
        return button

    def _choose(self, choice: str) -> None:
        self.choice = choice
        self.accept()

    def _on_details_toggled(self, shown: bool) -> None:
        self.details_view.setVisible(shown)
        self.details_button.setText("Hide details" if shown else "Show details")
        self.details_button.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )
        self.adjustSize()


def _run_modal(dialog: ErrorDialog) -> None:
    dialog.exec()


DialogRunner = Callable[[ErrorDialog], None]
_runner: DialogRunner = _run_modal


def set_dialog_runner(runner: DialogRunner | None) -> DialogRunner:
    """Replace how :func:`show_error` runs its dialog (None restores ``exec()``).

    Tests install a runner that shows the dialog without a modal loop (or clicks one of
    its buttons). Returns the previous runner.
    """
    global _runner
    previous = _runner
    _runner = runner or _run_modal
    return previous


def show_error(
    parent: QWidget | None, message: str, details: str = "", *, offer_smaller: bool = False
) -> str | None:
    """Show a failure to the user; the one way errors reach them.

    Args:
        parent: The window to centre the dialog on.
        message: What happened, in plain language.
        details: The traceback, shown only when the user asks.
        offer_smaller: Offer to retry with a smaller batch or shorter examples (offered
            anyway for out-of-memory messages).

    Returns:
        RETRY_SMALLER_BATCH or RETRY_SHORTER_EXAMPLES when the user chose a retry, else
        None.
    """
    dialog = ErrorDialog(message, details, offer_smaller=offer_smaller, parent=parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    _runner(dialog)
    return dialog.choice
