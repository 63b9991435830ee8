"""Both models of a run answer the same held-out prompts, batch by batch.

:func:`compare_answers` yields each prompt with the base and the fine-tuned answer as
soon as a batch is done, so a page can show them while the rest are generated.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from desktop_app.data.records import TrainingRecord
from desktop_app.engine.generation import (
    Answer,
    Comparison,
    GenerationSettings,
    Side,
    generate_batch,
)

#: ``generation``: scored against the reference answer; ``classification``: the answer
#: is a label; ``loss_only``: plain text and preference pairs, which have no single
#: reference answer to compare a generated answer with.
RecordKind = Literal["generation", "classification", "loss_only"]
#: The two models, in the order they answer.
SIDES: tuple[Side, ...] = ("base", "tuned")


def record_kind(record: TrainingRecord) -> RecordKind:
    """How a held-out record is scored (see :data:`RecordKind`)."""
    if record.label is not None:
        return "classification"
    if record.text is not None or record.rejected is not None or not record.messages:
        return "loss_only"
    return "generation"


@dataclass(frozen=True)
class ComparedExample:
    """One held-out prompt answered by both models.

    Args:
        location: Where the record is, e.g. ``"facts.jsonl, line 7"``.
        kind: ``generation`` or ``classification``.
        prompt: The last thing the user said (the whole conversation is what the
            models saw).
        reference: The answer in the data (the label, for classification).
        base: The base model's answer.
        tuned: The fine-tuned model's answer.
    """

    location: str
    kind: RecordKind
    prompt: str
    reference: str
    base: Answer
    tuned: Answer

    def to_json(self) -> dict[str, Any]:
        """The example as a JSON-ready dictionary."""
        return {
            "location": self.location,
            "kind": self.kind,
            "prompt": self.prompt,
            "reference": self.reference,
            "base": self.base.text,
            "tuned": self.tuned.text,
            "base_finish": self.base.finish_reason,
            "tuned_finish": self.tuned.finish_reason,
        }


def _prompt_of(record: TrainingRecord) -> tuple[list[dict[str, str]], str, str]:
    """The conversation up to the final answer, the last user turn, and the reference."""
    messages = [{"role": m.role, "content": m.content} for m in record.messages]
    asked = next((m["content"] for m in reversed(messages[:-1]) if m["role"] == "user"), "")
    reference = record.label if record.label is not None else messages[-1]["content"]
    return messages[:-1], asked, reference


def compare_answers(
    comparison: Comparison,
    records: Sequence[TrainingRecord],
    settings: GenerationSettings,
    *,
    batch_size: int = 8,
    stop_event: threading.Event | None = None,
) -> Iterator[ComparedExample]:
    """Both models' answers to each record's prompt, yielded as each batch is done.

    Stops (without yielding a half-answered batch) once ``stop_event`` is set.

    Args:
        comparison: The run's loaded models (:func:`load_comparison`).
        records: Records that end on an answer (see :func:`record_kind`).
        settings: How to generate.
        batch_size: Prompts answered together.
        stop_event: Set it to stop after the current token.
    """
    stop_event = stop_event or threading.Event()
    style = comparison.run.prompt_style
    for start in range(0, len(records), batch_size):
        batch = records[start : start + batch_size]
        prompts = [_prompt_of(record) for record in batch]
        answers: dict[str, list[Answer]] = {}
        for side in SIDES:
            with comparison.model(side) as model:
                answers[side] = generate_batch(
                    model,
                    comparison.tokenizer,
                    [conversation for conversation, _, _ in prompts],
                    settings,
                    stop_event,
                    style=style,
                )
        if stop_event.is_set():
            return
        for index, record in enumerate(batch):
            _, asked, reference = prompts[index]
            yield ComparedExample(
                record.location,
                record_kind(record),
                asked,
                reference,
                answers["base"][index],
                answers["tuned"][index],
            )
