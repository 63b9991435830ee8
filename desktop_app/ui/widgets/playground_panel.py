"""The Evaluate step's playground: a conversation with the fine-tuned model, through its
chat template, with the generation settings at hand."""

from __future__ import annotations

import html
import threading
from collections.abc import Callable

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop_app.engine.finished_run import FinishedRun
from desktop_app.engine.generation import Answer, GenerationSettings
from desktop_app.ui.job_worker import JobRunner, JobWorker
from desktop_app.ui.pages.evaluate_worker import LoadedModels, plain_message
from desktop_app.ui.widgets.error_dialog import show_error


def _spin(name: str, tip: str, low: float, high: float, value: float) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setObjectName(name)
    spin.setRange(low, high)
    spin.setSingleStep(0.05)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin


class PlaygroundPanel(QWidget):
    """Chat with the fine-tuned model; each reply is written in a background thread."""

    #: The model replied (its text).
    replied = Signal(str)

    def __init__(
        self,
        models: LoadedModels,
        models_in_use: Callable[[], bool],
        parent: QWidget | None = None,
    ) -> None:
        """``models`` are shared with the page's other answering; ``models_in_use`` says
        whether another thread is using them now (then the playground waits)."""
        super().__init__(parent)
        self.setObjectName("playgroundPanel")
        self.models = models
        self._models_in_use = models_in_use
        self.run: FinishedRun | None = None
        self.conversation: list[dict[str, str]] = []
        self._runner = JobRunner(self, "playgroundThread", self._update_controls)

        self.transcript = QTextBrowser()
        self.transcript.setObjectName("playgroundTranscript")
        self.transcript.setToolTip("The conversation so far.")
        self.transcript.setPlaceholderText(
            "Talk to your fine-tuned model. It sees the whole conversation, laid out with its "
            "chat template as in training."
        )
        self.message_input = QPlainTextEdit()
        self.message_input.setObjectName("playgroundMessage")
        self.message_input.setToolTip("Your next message.")
        self.message_input.setTabChangesFocus(True)
        self.message_input.setMaximumHeight(80)
        self.send_button = QPushButton("Sen&d")
        self.send_button.setObjectName("playgroundSend")
        self.send_button.setToolTip("Send the message; the fine-tuned model replies.")
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Sto&p")
        self.stop_button.setObjectName("playgroundStop")
        self.stop_button.setToolTip("Stop the reply after the current word.")
        self.stop_button.clicked.connect(self.cancel)
        self.clear_button = QPushButton("&New conversation")
        self.clear_button.setObjectName("playgroundClear")
        self.clear_button.setToolTip("Forget the conversation and start again.")
        self.clear_button.clicked.connect(self.clear)

        self.length_spin = QSpinBox()
        self.length_spin.setObjectName("playgroundMaxTokens")
        self.length_spin.setRange(1, 4096)
        self.length_spin.setValue(200)
        self.length_spin.setSuffix(" tokens")
        self.length_spin.setToolTip("The longest reply.")
        self.sample_check = QCheckBox("&Vary the replies")
        self.sample_check.setObjectName("playgroundSample")
        self.sample_check.setToolTip(
            "Off: always the most likely reply (the same every time). On: pick words at "
            "random by their likelihood, shaped by the settings beside."
        )
        self.temperature_spin = _spin(
            "playgroundTemperature",
            "Below 1 more predictable, above 1 more varied.",
            0.05,
            2.0,
            0.7,
        )
        self.top_p_spin = _spin(
            "playgroundTopP",
            "Choose among the most likely words holding this share.",
            0.05,
            1.0,
            0.9,
        )
        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("playgroundSeed")
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip("The same seed gives the same varied reply.")
        self.sample_check.toggled.connect(self._update_controls)
        self.status_label = QLabel()
        self.status_label.setObjectName("playgroundStatus")

        settings = QHBoxLayout()
        for text, widget in (
            ("Longest reply:", self.length_spin),
            ("", self.sample_check),
            ("Temperature:", self.temperature_spin),
            ("Top p:", self.top_p_spin),
            ("Seed:", self.seed_spin),
        ):
            if text:
                settings.addWidget(QLabel(text))
            settings.addWidget(widget)
        settings.addStretch(1)
        buttons = QHBoxLayout()
        for button in (self.send_button, self.stop_button, self.clear_button):
            buttons.addWidget(button)
        buttons.addWidget(self.status_label, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.transcript, 1)
        layout.addWidget(self.message_input)
        layout.addLayout(buttons)
        layout.addLayout(settings)
        self._update_controls()

    def set_run(self, run: FinishedRun | None) -> None:
        if self.run is None or run is None or run.run_dir != self.run.run_dir:
            self.clear()
        self.run = run
        self._update_controls()

    def settings(self) -> GenerationSettings:
        """The generation settings chosen."""
        return GenerationSettings(
            max_new_tokens=self.length_spin.value(),
            sample=self.sample_check.isChecked(),
            temperature=self.temperature_spin.value(),
            top_p=self.top_p_spin.value(),
            seed=self.seed_spin.value(),
        )

    def is_busy(self) -> bool:
        return self._runner.busy

    def send(self) -> bool:
        """Send the message box's text; False when there is nothing to send or no run."""
        text = self.message_input.toPlainText().strip()
        if self.run is None or self._runner.busy or not text:
            return False
        if self._models_in_use():
            self.status_label.setText("The models are answering elsewhere; try again shortly.")
            return False
        self.conversation.append({"role": "user", "content": text})
        self.message_input.clear()
        self._show_conversation()
        run, models, settings = self.run, self.models, self.settings()
        conversation = list(self.conversation)

        def job(reporter: JobWorker, stop: threading.Event) -> Answer:
            return models.for_run(run).answer("tuned", conversation, settings, stop)

        self.status_label.setText("The fine-tuned model is replying…")
        self._runner.start(job, plain_message, self._on_succeeded, self._on_failed)
        self._update_controls()
        return True

    def cancel(self) -> None:
        if self._runner.busy:
            self._runner.cancel()
            self._update_controls()

    def clear(self) -> None:
        if not self._runner.busy:
            self.conversation = []
            self.transcript.clear()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        return self._runner.shutdown(timeout_ms)

    @Slot(object)
    def _on_succeeded(self, answer: Answer) -> None:
        reply = answer.text.strip()
        self.conversation.append({"role": "assistant", "content": reply})
        self._show_conversation()
        notes = {"length": "Stopped at the longest reply allowed.", "cancelled": "Stopped."}
        self.status_label.setText(notes.get(answer.finish_reason, ""))
        self.replied.emit(reply)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.status_label.setText("The model could not reply.")
        show_error(self, message, details)

    def _show_conversation(self) -> None:
        parts = []
        for turn in self.conversation:
            who = "You" if turn["role"] == "user" else "Fine-tuned model"
            text = html.escape(turn["content"]).replace("\n", "<br>") or "<i>(no reply)</i>"
            parts.append(f"<p><b>{who}:</b><br>{text}</p>")
        self.transcript.setHtml("".join(parts))

    def _update_controls(self) -> None:
        running = self._runner.busy
        usable = self.run is not None
        self.send_button.setEnabled(usable and not running)
        self.message_input.setEnabled(usable)
        self.stop_button.setEnabled(running)
        self.clear_button.setEnabled(not running)
        sampling = self.sample_check.isChecked()
        for widget in (self.temperature_spin, self.top_p_spin, self.seed_spin):
            widget.setEnabled(sampling)
        if not usable:
            self.status_label.setText("Train a model first.")
