"""Plain-language text for the Train page: log lines and progress for engine events."""

from __future__ import annotations

from desktop_app.core.events import (
    CheckpointSaved,
    EvalMetrics,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
    StageChanged,
    StepMetrics,
    WarningRaised,
)


def duration_text(seconds: float) -> str:
    """``seconds`` as ``m:ss``, or ``h:mm:ss`` from an hour up."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def log_line(event: object) -> str | None:
    """The log line for an event other than a training step, or None for none."""
    if isinstance(event, EvalMetrics):
        return f"Step {event.step}: validation loss {event.eval_loss:.4f}."
    if isinstance(event, RunStarted):
        return run_started_line(event)
    if isinstance(event, StageChanged):
        return event.detail or event.stage
    if isinstance(event, CheckpointSaved):
        return f"Checkpoint saved at step {event.step}: {event.path}"
    if isinstance(event, WarningRaised):
        return f"Warning: {event.message}"
    if isinstance(event, RunFinished):
        return f"Finished. Saved to {event.output_path}"
    if isinstance(event, RunCancelled):
        where = event.checkpoint or "no checkpoint (cancelled before training began)"
        return f"Cancelled at step {event.step}; checkpoint: {where}"
    if isinstance(event, RunFailed):
        return f"Failed: {event.message}"
    return None


def run_started_line(event: RunStarted) -> str:
    """What the run is about to train: folder, method, device, examples, parameters."""
    return (
        f"Run folder {event.run_dir}: {event.method} on {event.device}, "
        f"{event.train_records} training and {event.validation_records} validation "
        f"examples, {event.trainable_parameters:,} of {event.total_parameters:,} "
        f"parameters trained, about {event.total_steps} steps."
    )


def step_line(event: StepMetrics) -> str:
    """A training step's loss and learning rate, for the log."""
    total = max(event.total_steps, 1)
    return (
        f"Step {event.step} of {total}: loss {event.loss:.4f}, "
        f"learning rate {event.learning_rate:.3g}."
    )


def progress_format(event: StepMetrics) -> str:
    """The progress bar's text for a step (``%p`` is Qt's percentage placeholder)."""
    total = max(event.total_steps, 1)
    eta = f"  ·  about {duration_text(event.eta_seconds)} left" if event.eta_seconds else ""
    return f"%p%  ·  step {event.step} of {total}{eta}"
