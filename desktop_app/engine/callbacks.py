"""The one place that touches the Trainer while it runs: a TrainerCallback that turns
its state into our plain events, checks for cancellation every step, stops on a
non-finite loss and publishes checkpoints atomically."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import torch
from transformers import TrainerCallback

from desktop_app.core.events import CheckpointSaved, EvalMetrics, Reporter, StepMetrics
from desktop_app.core.run_folder import RunFolder


def memory_in_use(device: str) -> int:
    """GPU: the peak allocated since the previous call. CPU: the process's resident
    memory now."""
    if device == "cuda":
        peak = int(torch.cuda.max_memory_allocated())
        torch.cuda.reset_peak_memory_stats()
        return peak
    return int(psutil.Process().memory_info().rss)


class ReporterCallback(TrainerCallback):
    """Bridges the Trainer and a :class:`~desktop_app.core.events.Reporter`.

    Args:
        reporter: Receives the events.
        stop_event: Set by the user to cancel; checked at the end of every step.
        run_folder: Where checkpoints are published.
        keep_checkpoints: How many checkpoints to keep.
        device: ``cuda`` or ``cpu`` (for memory figures).
        report_every: Report step metrics every this many steps (every step is checked).
    """

    def __init__(
        self,
        reporter: Reporter,
        stop_event: threading.Event,
        run_folder: RunFolder,
        keep_checkpoints: int,
        device: str,
        report_every: int = 1,
    ) -> None:
        self.reporter = reporter
        self.stop_event = stop_event
        self.run_folder = run_folder
        self.keep_checkpoints = keep_checkpoints
        self.device = device
        self.report_every = report_every
        self.cancelled = False
        #: (what, step, value) when a loss stopped being a finite number.
        self.non_finite: tuple[str, int, float] | None = None
        self.last_loss: float | None = None
        self.last_eval_loss: float | None = None
        self.last_eval_step: int | None = None
        self._started_at = 0.0
        self._first_step = 0
        self._last_report_time = 0.0
        self._last_report_tokens = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._started_at = self._last_report_time = time.monotonic()
        self._first_step = state.global_step
        self._last_report_tokens = state.num_input_tokens_seen or 0

    def _stop_if_asked(self, control: Any) -> Any:
        if self.stop_event.is_set() and not self.cancelled and self.non_finite is None:
            self.cancelled = True
            control.should_save = True
            control.should_training_stop = True
        return control

    def _stop_on_non_finite(self, what: str, step: int, value: float, control: Any) -> Any:
        self.non_finite = (what, step, value)
        control.should_training_stop = True
        control.should_save = False  # never publish a checkpoint with broken weights
        control.should_evaluate = False
        return control

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        return self._stop_if_asked(control)

    def _eta(self, step: int, total: int) -> float | None:
        done = step - self._first_step
        if done <= 0 or total <= 0:
            return None
        elapsed = time.monotonic() - self._started_at
        return elapsed / done * max(total - step, 0)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> Any:
        logs = logs or {}
        if "loss" not in logs:
            return control
        loss = float(logs["loss"])
        step = state.global_step
        if not math.isfinite(loss):
            return self._stop_on_non_finite("training loss", step, loss, control)
        self.last_loss = loss
        if step % self.report_every == 0 or step == state.max_steps:
            self._report_step(state, logs, loss)
        # A cancel asked for while this step was being reported still stops here: the
        # Trainer saves after logging in the same step.
        return self._stop_if_asked(control)

    def _report_step(self, state: Any, logs: dict[str, Any], loss: float) -> None:
        now = time.monotonic()
        tokens = state.num_input_tokens_seen or 0
        window = now - self._last_report_time
        tokens_per_second = (tokens - self._last_report_tokens) / window if window > 0 else None
        self._last_report_time, self._last_report_tokens = now, tokens
        grad_norm = logs.get("grad_norm")
        self.reporter.report(
            StepMetrics(
                step=state.global_step,
                total_steps=state.max_steps,
                epoch=float(state.epoch or 0.0),
                loss=loss,
                learning_rate=float(logs.get("learning_rate", 0.0)),
                grad_norm=float(grad_norm) if grad_norm is not None else None,
                tokens_per_second=tokens_per_second,
                memory_bytes=memory_in_use(self.device),
                elapsed_seconds=now - self._started_at,
                eta_seconds=self._eta(state.global_step, state.max_steps),
            )
        )

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any
    ) -> Any:
        metrics = metrics or {}
        if "eval_loss" not in metrics:
            return control
        loss = float(metrics["eval_loss"])
        if not math.isfinite(loss):
            return self._stop_on_non_finite("validation loss", state.global_step, loss, control)
        self.last_eval_loss = loss
        self.last_eval_step = state.global_step
        self.reporter.report(
            EvalMetrics(
                step=state.global_step,
                epoch=float(state.epoch or 0.0),
                eval_loss=loss,
                perplexity=math.exp(min(loss, 50.0)),
            )
        )
        return control

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        staged = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if not staged.is_dir():
            return
        published = self.run_folder.publish_checkpoint(staged, self.keep_checkpoints)
        self.reporter.report(CheckpointSaved(step=state.global_step, path=str(published)))
