"""The Evaluate step's evidence tabs: held-out comparison, blind review, memorisation
probe and sign-off, all for the run the page shows."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QTabWidget, QWidget

from desktop_app.core.errors import UserInputError
from desktop_app.core.review import BlindReview, ReviewItem, find_review
from desktop_app.engine.evaluation import EvaluationResult
from desktop_app.engine.finished_run import FinishedRun
from desktop_app.ui.pages.evaluate_worker import LoadedModels
from desktop_app.ui.report import EVALUATION_FILE, PROBE_FILE
from desktop_app.ui.widgets.blind_review import BlindReviewWidget
from desktop_app.ui.widgets.error_dialog import show_error
from desktop_app.ui.widgets.evidence_panels import ProbePanel, SignOffPanel
from desktop_app.ui.widgets.heldout_panel import HeldOutPanel
from desktop_app.ui.widgets.playground_panel import PlaygroundPanel


def _read_json(path: Path) -> dict[str, Any] | None:
    """A result file of the run, or None when there is none or it cannot be read (the
    step can always be run again)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def review_items(evaluation: dict[str, Any]) -> list[ReviewItem]:
    """The blind review's questions: each held-out prompt both models answered."""
    return [
        ReviewItem(
            str(example.get("prompt", "")),
            str(example.get("base", "")),
            str(example.get("tuned", "")),
            str(example.get("reference", "")) or None,
        )
        for example in evaluation.get("examples", [])
    ]


class EvaluationTabs(QTabWidget):
    """Held-out comparison, blind review, memorisation probe and sign-off."""

    def __init__(
        self,
        models: LoadedModels,
        models_in_use: Callable[[], bool],
        parent: QWidget | None = None,
    ) -> None:
        """``models`` (shared with the page's questions) serve the playground;
        ``models_in_use`` says whether the page is using them now."""
        super().__init__(parent)
        self.setObjectName("evaluateTabs")
        self.run: FinishedRun | None = None
        self.held_out = HeldOutPanel()
        self.review = BlindReviewWidget()
        self.probe = ProbePanel()
        self.sign_off = SignOffPanel()
        self.playground = PlaygroundPanel(models, models_in_use)
        self.addTab(self.held_out, "&Held-out comparison")
        self.addTab(self.review, "Blind re&view")
        self.addTab(self.probe, "&Memorisation")
        self.addTab(self.playground, "Pla&yground")
        self.addTab(self.sign_off, "&Sign-off")
        self.held_out.evaluation_finished.connect(self._on_evaluation_finished)

    def set_run(self, run: FinishedRun | None) -> None:
        """Show ``run``'s evidence (None: no finished run), with what was saved before."""
        if self.is_busy():
            return
        self.run = run
        folder = run.run_dir if run is not None else None
        evaluation = _read_json(folder / EVALUATION_FILE) if folder else None
        self.held_out.set_run(run, evaluation)
        self.probe.set_run(run, _read_json(folder / PROBE_FILE) if folder else None)
        self.sign_off.set_run(run)
        self.playground.set_run(run)
        self._load_review(evaluation)

    def is_busy(self) -> bool:
        return self.held_out.is_busy() or self.probe.is_busy() or self.playground.is_busy()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop the running jobs and wait for their threads."""
        results = [
            panel.shutdown(timeout_ms) for panel in (self.held_out, self.probe, self.playground)
        ]
        return all(results)

    def _on_evaluation_finished(self, result: EvaluationResult) -> None:
        self._load_review(result.to_json(), fresh=True)

    def _load_review(self, evaluation: dict[str, Any] | None, fresh: bool = False) -> None:
        """A saved review of this run, or a new one over the comparison's answers."""
        if self.run is None or evaluation is None:
            self.review.load(BlindReview([]))
            return
        folder = self.run.run_dir
        items = review_items(evaluation)
        try:
            review = None if fresh else find_review(folder)
        except UserInputError as error:
            show_error(self, error.user_message())
            review = None
        if review is None or len(review.items) != len(items):
            review = BlindReview(items)
        self.review.load(review, save_to=folder)
