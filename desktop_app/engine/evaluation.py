"""Evaluate a finished run: its base and fine-tuned models on the same held-out records.

:func:`evaluate_run` measures the loss and perplexity of both models on the answers
of the held-out records, answers their prompts with both (batched, greedy by default)
and scores the answers against the references: generation scores for question and
answer data, accuracy and per-class scores for text + label data. The result is
written to ``<run_dir>/evaluation.json``. Plain functions and data, no Qt.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from desktop_app.core.audit import record
from desktop_app.core.config import RunConfig
from desktop_app.core.errors import UserInputError
from desktop_app.core.events import Reporter, StageChanged, WarningRaised
from desktop_app.core.hashing import sha256_file
from desktop_app.core.manifest import utc_now
from desktop_app.core.run_folder import EVALUATION_FILE, RunFolder, write_json_atomic
from desktop_app.engine.answer_comparison import (
    SIDES,
    ComparedExample,
    RecordKind,
    compare_answers,
    record_kind,
)
from desktop_app.engine.eval_metrics import (
    ClassificationMetrics,
    GenerationMetrics,
    classification_metrics,
    generation_metrics,
)
from desktop_app.engine.finished_run import open_finished_run
from desktop_app.engine.generation import (
    Comparison,
    GenerationSettings,
    Side,
    free_model_memory,
    load_comparison,
)
from desktop_app.engine.held_out import HeldOutData, LossResult, answer_loss, held_out_records
from desktop_app.engine.run_record import refresh_lineage
from desktop_app.engine.sft_data import encode_records, encoding_warnings

#: The file :func:`evaluate_run` writes into the run folder.


@dataclass(frozen=True)
class SideResult:
    """One model's scores. A score that does not apply (or was not reached before a
    cancel) is None."""

    loss: float | None = None
    perplexity: float | None = None
    generation: GenerationMetrics | None = None
    classification: ClassificationMetrics | None = None

    def to_json(self) -> dict[str, Any]:
        """``loss`` and ``perplexity``, plus ``generation`` and ``classification``
        where they apply."""
        result: dict[str, Any] = {
            "loss": _finite(self.loss),
            "perplexity": _finite(self.perplexity),
        }
        if self.generation is not None:
            result["generation"] = self.generation.to_json()
        if self.classification is not None:
            result["classification"] = self.classification.to_json()
        return result


@dataclass(frozen=True)
class EvaluatedData:
    """Which records were evaluated.

    Args:
        source: ``validation``, ``test`` or ``file`` (see :class:`HeldOutData`).
        files: The files the records came from.
        records: Held-out records in all.
        loss_records: Records whose answers the loss was measured on.
        loss_tokens: Answer tokens the loss was measured on (the same for both models).
        answered: Records both models answered (at most ``max_examples``).
        max_examples: The most records answered.
        left_out: Records of a chosen file left out for errors.
    """

    source: str
    files: tuple[str, ...]
    records: int
    loss_records: int
    loss_tokens: int
    answered: int
    max_examples: int
    left_out: int = 0

    def to_json(self) -> dict[str, Any]:
        """The description as a JSON-ready dictionary."""
        return {**asdict(self), "files": list(self.files)}


@dataclass(frozen=True)
class EvaluationResult:
    """Everything :func:`evaluate_run` found.

    Args:
        run_dir: The run folder.
        status: ``finished``, or ``cancelled`` (figures not reached are None).
        base: The base model's scores.
        tuned: The fine-tuned model's scores.
        examples: The prompts both models answered, in order (in JSON: ``prompt``,
            ``reference``, and the answers as ``base`` and ``tuned``).
        data: Which records were used.
        settings: How answers were generated.
        notes: Plain-language remarks for the reader (what was not scored, and why).
        evaluated_at: When (ISO 8601, UTC).
        method: The run's method.
        base_model: The base model as configured.
    """

    run_dir: Path
    status: Literal["finished", "cancelled"]
    base: SideResult
    tuned: SideResult
    examples: tuple[ComparedExample, ...]
    data: EvaluatedData
    settings: GenerationSettings
    notes: tuple[str, ...] = ()
    evaluated_at: str = field(default_factory=utc_now)
    method: str = ""
    base_model: str = ""

    def to_json(self) -> dict[str, Any]:
        """The result as one JSON-ready dictionary (what ``evaluation.json`` holds)."""
        return {
            "run_dir": str(self.run_dir),
            "status": self.status,
            "evaluated_at": self.evaluated_at,
            "method": self.method,
            "base_model": self.base_model,
            "base": self.base.to_json(),
            "tuned": self.tuned.to_json(),
            "data": self.data.to_json(),
            "settings": asdict(self.settings),
            "examples": [example.to_json() for example in self.examples],
            "notes": list(self.notes),
        }


def _finite(value: float | None) -> float | None:
    # JSON has no NaN or infinity; a diverged model's loss is written as null.
    return value if value is not None and math.isfinite(value) else None


class _Silent:
    def report(self, event: Any) -> None:
        """Ignore the event."""


def _task_metrics(
    examples: Sequence[ComparedExample], side: Side
) -> tuple[GenerationMetrics | None, ClassificationMetrics | None]:
    def answers(kind: RecordKind) -> tuple[list[str], list[str]]:
        chosen = [example for example in examples if example.kind == kind]
        texts = [getattr(example, side).text for example in chosen]
        return texts, [example.reference for example in chosen]

    generated, references = answers("generation")
    labels, truths = answers("classification")
    return (
        generation_metrics(generated, references) if generated else None,
        classification_metrics(labels, truths) if labels else None,
    )


def _notes(held: HeldOutData, answerable: int, max_examples: int) -> list[str]:
    notes = []
    loss_only = sum(record_kind(record) == "loss_only" for record in held.records)
    if loss_only:
        notes.append(
            f"{loss_only} records are plain text or preference pairs; they have no single "
            "reference answer, so they are scored by loss and perplexity only."
        )
    if answerable > max_examples:
        notes.append(
            f"Answers were generated for the first {max_examples} of {answerable} "
            "records; loss and perplexity use all of them."
        )
    if held.left_out:
        notes.append(f"{held.left_out} records of the file have errors and were left out.")
    if held.seen_in_training:
        notes.append(
            f"{held.seen_in_training} of the {len(held.records)} records were in the training "
            "data, so the scores on them overstate how well the model answers new questions."
        )
    elif held.seen_in_training is None:
        notes.append(
            "The training data could not be read again, so whether the model trained on "
            "some of these records was not checked."
        )
    return notes


def evaluate_run(
    run_dir: str | Path,
    *,
    data_file: str | Path | None = None,
    settings: GenerationSettings | None = None,
    max_examples: int = 200,
    reporter: Reporter | None = None,
    stop_event: threading.Event | None = None,
    on_example: Callable[[ComparedExample], None] | None = None,
    batch_size: int = 8,
) -> EvaluationResult:
    """Compare a finished run's base and fine-tuned models on held-out records.

    A finished evaluation is written to ``<run_dir>/evaluation.json`` (atomically); a
    cancelled one is returned but not written.

    Args:
        run_dir: The run folder (or its adapter/model folder).
        data_file: A file of held-out examples; by default the run's validation
            records, found again as training split them.
        settings: How answers are generated; greedy, at most 200 new tokens by default.
        max_examples: The most records both models answer (loss uses all).
        reporter: Receives :class:`StageChanged` progress and warnings.
        stop_event: Set it (from any thread) to stop soon; the result is ``cancelled``.
        on_example: Called with each example as soon as both models answered it.
        batch_size: Records per batch, for the loss and for generation.

    Raises:
        UserInputError: the run, its base model or the data cannot be used.
    """
    if max_examples < 1:
        raise UserInputError(
            f"The number of examples to answer must be at least 1 (it is {max_examples}).",
            "Choose 1 or more.",
        )
    settings = settings or GenerationSettings()
    reporter = reporter or _Silent()
    stop_event = stop_event or threading.Event()
    reporter.report(StageChanged("Reading the held-out records"))
    run = open_finished_run(run_dir)
    folder = RunFolder(run.run_dir)
    config = folder.load_config()
    held = held_out_records(folder, config, data_file)
    reporter.report(StageChanged("Loading the base and fine-tuned models"))
    comparison = load_comparison(run)
    try:
        return _evaluate(
            comparison,
            config,
            held,
            settings,
            max_examples,
            reporter,
            stop_event,
            on_example,
            batch_size,
        )
    finally:
        del comparison
        free_model_memory()


def _evaluate(
    comparison: Comparison,
    config: RunConfig,
    held: HeldOutData,
    settings: GenerationSettings,
    max_examples: int,
    reporter: Reporter,
    stop_event: threading.Event,
    on_example: Callable[[ComparedExample], None] | None,
    batch_size: int,
) -> EvaluationResult:
    run = comparison.run
    tokenizer = comparison.tokenizer
    max_length = config.hyperparameters.max_length
    encoded, encoding = encode_records(
        held.records, tokenizer, max_length, config.data.train_on_prompt
    )
    losses: dict[str, LossResult | None] = {}
    for side in SIDES:
        stage = f"Measuring the {'base' if side == 'base' else 'fine-tuned'} model's loss"

        def progress(done: int, total: int, stage: str = stage) -> None:
            reporter.report(StageChanged(stage, f"{done} of {total} records", done / total))

        with comparison.model(side) as model:
            losses[side] = answer_loss(
                model,
                encoded,
                tokenizer.pad_token_id,
                batch_size=batch_size,
                stop_event=stop_event,
                on_batch=progress,
            )
    answerable = [record for record in held.records if record_kind(record) != "loss_only"]
    chosen = answerable[:max_examples]
    examples: list[ComparedExample] = []
    if not stop_event.is_set():
        for example in compare_answers(
            comparison, chosen, settings, batch_size=batch_size, stop_event=stop_event
        ):
            examples.append(example)
            if on_example is not None:
                on_example(example)
            reporter.report(
                StageChanged(
                    "Answering the held-out prompts",
                    f"{len(examples)} of {len(chosen)} answered",
                    len(examples) / len(chosen),
                )
            )
    # A stop asked for after the last answer still leaves a complete evaluation.
    cancelled = len(examples) < len(chosen) or any(loss is None for loss in losses.values())
    notes = encoding_warnings(encoding, max_length, "validation") + _notes(
        held, len(answerable), max_examples
    )
    for note in notes:
        reporter.report(WarningRaised(note))
    sides = {}
    for side in SIDES:
        loss = losses[side]
        generation, classification = _task_metrics(examples, side)
        sides[side] = SideResult(
            loss=loss.loss if loss else None,
            perplexity=loss.perplexity if loss else None,
            generation=generation,
            classification=classification,
        )
    result = EvaluationResult(
        run_dir=run.run_dir,
        status="cancelled" if cancelled else "finished",
        base=sides["base"],
        tuned=sides["tuned"],
        examples=tuple(examples),
        data=EvaluatedData(
            source=held.source,
            files=held.files,
            records=len(held.records),
            loss_records=len(encoded),
            loss_tokens=max((loss.tokens for loss in losses.values() if loss), default=0),
            answered=len(examples),
            max_examples=max_examples,
            left_out=held.left_out,
        ),
        settings=settings,
        notes=tuple(notes),
        method=run.method,
        base_model=run.base_model,
    )
    if not cancelled:
        write_json_atomic(run.run_dir / EVALUATION_FILE, result.to_json())
        refresh_lineage(run.run_dir)  # the manifest and MODEL_CARD.md show the scores
        _audit_evaluation(result)
    reporter.report(StageChanged("Evaluation cancelled" if cancelled else "Evaluation done"))
    return result


def _audit_evaluation(result: EvaluationResult) -> None:
    """Record a finished evaluation (its headline figures and evaluation.json's hash)."""
    path = result.run_dir / EVALUATION_FILE
    record(
        "evaluation_finished",
        {
            "evaluation_file": str(path),
            "sha256": sha256_file(path),
            "data_source": result.data.source,
            "data_files": list(result.data.files),
            "records": result.data.records,
            "answered": result.data.answered,
            "base": {"loss": result.base.loss, "perplexity": result.base.perplexity},
            "tuned": {"loss": result.tuned.loss, "perplexity": result.tuned.perplexity},
        },
        run=result.run_dir,
    )
