"""How long the GUI event loop stalls while a run trains in the TrainingWorker thread.

A 10 ms QTimer ticks in the GUI thread while the worker trains and the Train page's
live plots update; the gaps between ticks show how long the window would freeze. Prints
the longest gap, the 99th percentile and the number of gaps over 50 ms (the target is
none), for the whole run and for each phase of it.

    python benchmarks/ui_event_loop_stall.py [--steps 40] [--demo] [--no-page]
        [--switch-interval SECONDS] [--timeline FILE]

By default it trains the tiny test model (built in a temporary folder); ``--demo``
trains the built-in demo model on the sample data instead. ``--no-page`` measures the
worker alone, without the Train page drawing. ``--switch-interval`` overrides Python's
thread switch interval for the run (to see its effect). ``--timeline`` writes every
heartbeat and phase change as JSON, for a closer look.

Phases are timed by wrapping the engine's own functions in the training thread (the
wrappers only record the time): loading the model, tokenising, building the Trainer,
training steps, validation (``Trainer.evaluate``), saving (checkpoints and the final
model); ``other`` is the rest (checking the data, the run folder, the run's end). A gap
counts in the phase that was running at its middle.
"""

from __future__ import annotations

import argparse
import faulthandler
import functools
import json
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "resources" / "sample_data" / "insurance_qa.jsonl"
TICK_MS = 10
STALL_MS = 50.0
PHASES = (
    "loading the model",
    "tokenising",
    "building the Trainer",
    "training steps",
    "validation",
    "saving",
    "other",
)


def _config(demo: bool, steps: int, folder: Path):  # noqa: ANN202 - RunConfig, imported late
    from desktop_app.core.config import RunConfig

    config = RunConfig()
    if demo:
        config.data.train = str(SAMPLE)
    else:
        from desktop_app.engine.tiny_model import build_tiny_model

        records = [
            {"instruction": f"What is item {i}?", "input": "", "output": f"Item {i} is a box."}
            for i in range(32)
        ]
        data = folder / "train.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        config.model.path = str(build_tiny_model(folder / "tiny-model"))
        config.data.train = str(data)
    config.method.name = "lora"
    config.data.validation_fraction = 0.1
    hyper = config.hyperparameters
    hyper.max_steps, hyper.batch_size, hyper.max_length = steps, 4, 128
    hyper.eval_every_steps = max(steps // 4, 1)
    hyper.save_every_steps = max(steps // 2, 1)
    config.output.dir = str(folder / "runs")
    return config


class PhaseClock:
    """Records, from the training thread, when each phase begins and ends."""

    def __init__(self) -> None:
        self.changes: list[tuple[float, str]] = [(time.perf_counter(), "other")]
        self._stack = ["other"]
        self._lock = threading.Lock()

    def wrap(self, owner: Any, name: str, phase: str) -> None:
        """Replace ``owner.name`` by a wrapper that marks ``phase`` while it runs."""
        original: Callable[..., Any] = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._enter(phase)
            try:
                return original(*args, **kwargs)
            finally:
                self._leave()

        setattr(owner, name, timed)

    def _enter(self, phase: str) -> None:
        with self._lock:
            self._stack.append(phase)
            self.changes.append((time.perf_counter(), phase))

    def _leave(self) -> None:
        with self._lock:
            self._stack.pop()
            self.changes.append((time.perf_counter(), self._stack[-1]))

    def phase_at(self, when: float) -> str:
        """The phase running at ``when`` (a perf_counter time)."""
        current = "other"
        for changed_at, phase in self.changes:
            if changed_at > when:
                break
            current = phase
        return current

    def seconds_in(self, phase: str, end: float) -> float:
        """How long ``phase`` ran in all."""
        total = 0.0
        for (start, name), (stop, _) in zip(
            self.changes, [*self.changes[1:], (end, "")], strict=True
        ):
            if name == phase:
                total += stop - start
        return total


def _instrument() -> PhaseClock:
    from transformers import Trainer

    from desktop_app.engine import train

    clock = PhaseClock()
    clock.wrap(train, "load_for_training", "loading the model")
    clock.wrap(train, "encode_records", "tokenising")
    clock.wrap(Trainer, "__init__", "building the Trainer")
    clock.wrap(Trainer, "train", "training steps")
    clock.wrap(Trainer, "evaluate", "validation")
    clock.wrap(Trainer, "_save_checkpoint", "saving")
    clock.wrap(train, "_save_outputs", "saving")
    return clock


def _figures(gaps: list[float]) -> dict[str, float | int]:
    import numpy as np

    values = np.asarray(gaps, dtype=np.float64)
    if not values.size:
        return {"gaps": 0}
    return {
        "gaps": int(values.size),
        "longest_ms": float(values.max()),
        "p99_ms": float(np.percentile(values, 99)),
        "median_ms": float(np.median(values)),
        "over_50_ms": int((values > STALL_MS).sum()),
    }


def measure(
    demo: bool,
    steps: int,
    with_page: bool,
    timeline: Path | None = None,
    dump_stalls: Path | None = None,
) -> dict[str, Any]:
    """Train once with a heartbeat running; return the gap figures in milliseconds."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.ui.pages.train_page import TrainPage
    from desktop_app.ui.worker import start_training

    app = QApplication.instance() or QApplication(sys.argv)
    folder = Path(tempfile.mkdtemp(prefix="enclave-stall-"))
    config = _config(demo, steps, folder)
    phases = _instrument()

    ticks: list[float] = []
    heartbeat = QTimer()
    heartbeat.setInterval(TICK_MS)
    heartbeat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    if dump_stalls is not None:
        # faulthandler's watchdog needs no interpreter lock: if no heartbeat re-arms it
        # within 50 ms, it writes every thread's stack (who held the lock, and where).
        stall_file = dump_stalls.open("w")
        heartbeat.timeout.connect(
            lambda: faulthandler.dump_traceback_later(STALL_MS / 1000, file=stall_file)
        )
    loop = QEventLoop()
    outcome: list[str] = []

    page = None
    if with_page:
        page = TrainPage()
        page.resize(1200, 800)
        page.show()
        page.run_finished.connect(lambda result: outcome.append(result.status))
        page.error_occurred.connect(lambda message, details: outcome.append(message))
        page.changed.connect(loop.quit)  # emitted once the run's end is handled
        settle = QEventLoop()
        QTimer.singleShot(500, settle.quit)  # the window is drawn before Start is pressed
        settle.exec()
    heartbeat.start()
    started = time.perf_counter()
    phases.changes[0] = (started, "other")
    if page is not None:
        page.start(config)
    else:

        def connect(worker) -> None:  # noqa: ANN001
            worker.run_ended.connect(lambda result: outcome.append(result.status))
            worker.failed.connect(lambda message, details: outcome.append(message))
            worker.finished.connect(loop.quit)

        session = start_training(None, config, connect=connect)
    loop.exec()
    ended = time.perf_counter()
    heartbeat.stop()
    if dump_stalls is not None:
        faulthandler.cancel_dump_traceback_later()
    if page is None:
        session.wait(60_000)
    else:
        page.stop_and_wait(60_000)
    app.processEvents()

    by_phase: dict[str, list[float]] = {phase: [] for phase in PHASES}
    all_gaps: list[float] = []
    for before, after in zip(ticks, ticks[1:], strict=False):
        gap = (after - before) * 1000
        all_gaps.append(gap)
        by_phase[phases.phase_at((before + after) / 2)].append(gap)
    if timeline is not None:
        timeline.write_text(
            json.dumps({"started": started, "ticks": ticks, "phases": phases.changes}),
            encoding="utf-8",
        )
    return {
        "model": "demo" if demo else "tiny",
        "page": "with Train page" if with_page else "worker only",
        "outcome": outcome[0] if outcome else "none",
        "steps": steps,
        "run_seconds": round(ended - started, 2),
        "training_seconds": round(phases.seconds_in("training steps", ended), 2),
        "all": _figures(all_gaps),
        "phases": {
            phase: {"seconds": round(phases.seconds_in(phase, ended), 2), **_figures(gaps)}
            for phase, gaps in by_phase.items()
        },
    }


def _print(figures: dict[str, Any]) -> None:
    whole = figures["all"]
    print(
        f"{figures['model']} model, {figures['steps']} steps, {figures['page']}, switch "
        f"interval {sys.getswitchinterval() * 1000:g} ms: {figures['outcome']} in "
        f"{figures['run_seconds']} s (training steps {figures['training_seconds']} s); "
        f"{whole['gaps']} heartbeat gaps of {TICK_MS} ms nominal (target: none over 50 ms)"
    )
    print(
        f"{'phase':<22}{'seconds':>8}{'gaps':>6}{'longest':>9}{'p99':>8}{'median':>8}{'>50ms':>7}"
    )
    rows = [*figures["phases"].items(), ("whole run", {"seconds": figures["run_seconds"], **whole})]
    for phase, row in rows:
        if not row.get("gaps"):
            print(f"{phase:<22}{row['seconds']:>8.2f}{0:>6}")
            continue
        print(
            f"{phase:<22}{row['seconds']:>8.2f}{row['gaps']:>6}{row['longest_ms']:>9.1f}"
            f"{row['p99_ms']:>8.1f}{row['median_ms']:>8.1f}{row['over_50_ms']:>7}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--demo", action="store_true", help="train the built-in demo model")
    parser.add_argument("--no-page", action="store_true", help="worker only, no plots")
    parser.add_argument(
        "--switch-interval", type=float, help="Python's thread switch interval, in seconds"
    )
    parser.add_argument("--timeline", type=Path, help="write the heartbeats here (JSON)")
    parser.add_argument(
        "--dump-stalls",
        type=Path,
        help="write every thread's stack here whenever the loop stalls over 50 ms",
    )
    args = parser.parse_args()

    from desktop_app.core.offline import enforce_offline_environment

    enforce_offline_environment()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import PySide6

    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    figures = measure(args.demo, args.steps, not args.no_page, args.timeline, args.dump_stalls)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, PySide6 {PySide6.__version__}, "
        f"Qt platform {os.environ['QT_QPA_PLATFORM']}"
    )
    _print(figures)


if __name__ == "__main__":
    main()
