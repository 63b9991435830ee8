"""The Evaluate page's worker: loads a finished run's models once and answers with
both, off the GUI thread."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from desktop_app.core.errors import EnclaveError
from desktop_app.engine.finished_run import FinishedRun
from desktop_app.engine.generation import (
    Comparison,
    GenerationSettings,
    Side,
    free_model_memory,
    load_comparison,
)

#: The two sides, in the order they answer, with the names the page shows.
SIDES: dict[Side, str] = {"base": "Base model", "tuned": "Fine-tuned model"}


class LoadedModels:
    """The loaded models of one run, kept between prompts so they load only once.

    Only the answering worker touches ``comparison``; the page starts one worker at a
    time and waits for it to end before the next, so the models are never used by two
    threads at once.
    """

    def __init__(self) -> None:
        self.comparison: Comparison | None = None

    def release(self) -> None:
        """Drop the models and give their memory back."""
        self.comparison = None
        free_model_memory()

    def for_run(self, run: FinishedRun, on_loading: Callable[[], None] | None = None) -> Comparison:
        """``run``'s models: those already loaded, or loaded now (releasing another run's
        first). Call it from the one thread using the models; ``on_loading`` is called
        just before a load."""
        if self.comparison is not None and self.comparison.run.run_dir == run.run_dir:
            return self.comparison
        if self.comparison is not None:
            self.release()
        if on_loading is not None:
            on_loading()
        self.comparison = load_comparison(run)
        return self.comparison


def plain_message(error: BaseException) -> str:
    """What an unexpected failure while answering means, in plain words."""
    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError":
        return (
            "There is not enough memory to load both models and answer. Close other "
            "programs, or ask for a shorter answer, and try again."
        )
    reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return f"The models could not answer because of an unexpected error ({reason})."


class AnswerWorker(QObject):
    """Loads the run's models (once) and answers one prompt with both, off the GUI thread.

    Only plain data leaves it: strings and frozen :class:`Answer` dataclasses.
    """

    #: What the worker is doing now, in words for the status line.
    stage_changed = Signal(str)
    #: ("base" or "tuned", Answer)
    answered = Signal(str, object)
    #: (plain message, details)
    failed = Signal(str, str)
    #: Always the last signal.
    finished = Signal()

    def __init__(
        self,
        models: LoadedModels,
        run: FinishedRun,
        prompt: str,
        settings: GenerationSettings,
        stop_event: threading.Event,
    ) -> None:
        super().__init__()
        self.models = models
        self.run_info = run
        self.prompt = prompt
        self.settings = settings
        self.stop_event = stop_event

    @Slot()
    def run(self) -> None:
        try:
            comparison = self.models.for_run(
                self.run_info,
                lambda: self.stage_changed.emit("Loading the base model and the fine-tuned model…"),
            )
            for side, name in SIDES.items():
                if self.stop_event.is_set():
                    break
                self.stage_changed.emit(f"The {name.lower()} is answering…")
                answer = comparison.answer(side, self.prompt, self.settings, self.stop_event)
                self.answered.emit(side, answer)
        except EnclaveError as error:
            self.failed.emit(error.user_message(), traceback.format_exc())
        except Exception as error:  # noqa: BLE001 - every failure must reach the user
            self.failed.emit(plain_message(error), traceback.format_exc())
        finally:
            self.finished.emit()
