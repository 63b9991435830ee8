"""Plain-data events the engine reports, and the reporter protocol that receives them.

Events are frozen dataclasses holding only numbers, strings, and dicts/tuples of them,
so they can cross threads (Qt signals), be printed (CLI) or be written as JSON lines
(metrics.jsonl) without touching torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class StageChanged:
    """The run moved to a new preparation stage (loading model, converting, tokenising)."""

    stage: str
    detail: str = ""
    fraction: float | None = None


@dataclass(frozen=True)
class RunStarted:
    """Training is about to begin. ``total_steps`` is the planned number of optimiser
    steps, estimated from the data; :class:`StepMetrics` carries the Trainer's exact
    figure."""

    run_dir: str
    config: dict[str, Any]
    hardware: dict[str, Any]
    method: str
    device: str
    trainable_parameters: int
    total_parameters: int
    train_records: int
    validation_records: int
    total_steps: int
    resumed_from_step: int = 0


@dataclass(frozen=True)
class StepMetrics:
    """Figures for one reported optimiser step. ``memory_bytes``: on a GPU the peak
    allocated since the previous report, on the CPU the process's resident memory."""

    step: int
    total_steps: int
    epoch: float
    loss: float
    learning_rate: float
    grad_norm: float | None
    tokens_per_second: float | None
    memory_bytes: int | None
    elapsed_seconds: float
    eta_seconds: float | None


@dataclass(frozen=True)
class EvalMetrics:
    """Validation loss measured at a step."""

    step: int
    epoch: float
    eval_loss: float
    perplexity: float


@dataclass(frozen=True)
class CheckpointSaved:
    """A complete checkpoint is on disk."""

    step: int
    path: str


@dataclass(frozen=True)
class WarningRaised:
    """Something the user should know that does not stop the run."""

    message: str


@dataclass(frozen=True)
class RunFinished:
    """Training completed; the adapter (or model) is saved."""

    run_dir: str
    output_path: str
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RunCancelled:
    """The user stopped the run; a checkpoint to resume from was saved."""

    run_dir: str
    step: int
    checkpoint: str | None


@dataclass(frozen=True)
class RunFailed:
    """The run stopped on an error. ``message`` is plain language; ``details`` the traceback."""

    run_dir: str | None
    message: str
    details: str = ""


Event = (
    StageChanged
    | RunStarted
    | StepMetrics
    | EvalMetrics
    | CheckpointSaved
    | WarningRaised
    | RunFinished
    | RunCancelled
    | RunFailed
)


@runtime_checkable
class Reporter(Protocol):
    """Receives the engine's events. Implementations must not raise."""

    def report(self, event: Event) -> None:
        """Handle one event."""


def event_to_dict(event: Event) -> dict[str, Any]:
    """The JSON form of an event: its fields plus ``event`` (the class name)."""
    return {"event": type(event).__name__, **dataclasses.asdict(event)}


class ListReporter:
    """Keeps every event in a list (for tests and for replaying a run)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def report(self, event: Event) -> None:
        self.events.append(event)

    def of_type(self, kind: type) -> list[Any]:
        """The events of one class, in order."""
        return [event for event in self.events if isinstance(event, kind)]


class TeeReporter:
    """Passes each event to several reporters in turn."""

    def __init__(self, *reporters: Reporter) -> None:
        self.reporters = reporters

    def report(self, event: Event) -> None:
        for reporter in self.reporters:
            reporter.report(event)
