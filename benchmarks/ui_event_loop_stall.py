"""How long the GUI event loop stalls while a run trains in the TrainingWorker thread.

A 10 ms QTimer ticks in the GUI thread while the worker trains and the Train page's
live plots update; the gaps between ticks show how long the window would freeze. Prints
the longest gap and the 99th percentile (target: under 50 ms).

    python benchmarks/ui_event_loop_stall.py [--steps 40] [--demo] [--no-page]

By default it trains the tiny test model (built in a temporary folder); ``--demo``
trains the built-in demo model on the sample data instead. ``--no-page`` measures the
worker alone, without the Train page drawing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "resources" / "sample_data" / "insurance_qa.jsonl"
TICK_MS = 10


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


def measure(demo: bool, steps: int, with_page: bool) -> dict[str, float | int | str]:
    """Train once with a heartbeat running; return the gap figures in milliseconds."""
    import numpy as np
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.ui.pages.train_page import TrainPage
    from desktop_app.ui.worker import start_training

    app = QApplication.instance() or QApplication(sys.argv)
    folder = Path(tempfile.mkdtemp(prefix="enclave-stall-"))
    config = _config(demo, steps, folder)

    clock = QElapsedTimer()
    ticks: list[int] = []
    heartbeat = QTimer()
    heartbeat.setInterval(TICK_MS)
    heartbeat.timeout.connect(lambda: ticks.append(clock.elapsed()))
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
    clock.start()
    heartbeat.start()
    started = time.perf_counter()
    if page is not None:
        page.start(config)
    else:

        def connect(worker) -> None:  # noqa: ANN001
            worker.run_ended.connect(lambda result: outcome.append(result.status))
            worker.failed.connect(lambda message, details: outcome.append(message))
            worker.finished.connect(loop.quit)

        session = start_training(None, config, connect=connect)
    loop.exec()
    seconds = time.perf_counter() - started
    heartbeat.stop()
    if page is None:
        session.wait(60_000)
    else:
        page.stop_and_wait(60_000)
    app.processEvents()
    gaps = np.diff(np.asarray(ticks, dtype=np.float64))
    return {
        "model": "demo" if demo else "tiny",
        "page": "with Train page" if with_page else "worker only",
        "outcome": outcome[0] if outcome else "none",
        "steps": steps,
        "run_seconds": round(seconds, 2),
        "ticks": len(ticks),
        "longest_gap_ms": float(gaps.max()) if gaps.size else float("nan"),
        "p99_gap_ms": float(np.percentile(gaps, 99)) if gaps.size else float("nan"),
        "median_gap_ms": float(np.median(gaps)) if gaps.size else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--demo", action="store_true", help="train the built-in demo model")
    parser.add_argument("--no-page", action="store_true", help="worker only, no plots")
    args = parser.parse_args()

    from desktop_app.core.offline import enforce_offline_environment

    enforce_offline_environment()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import PySide6

    figures = measure(args.demo, args.steps, not args.no_page)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, PySide6 {PySide6.__version__}, "
        f"Qt platform {os.environ['QT_QPA_PLATFORM']}"
    )
    print(
        f"{figures['model']} model, {figures['steps']} steps, {figures['page']}: "
        f"{figures['outcome']} in {figures['run_seconds']} s; {figures['ticks']} heartbeats "
        f"of {TICK_MS} ms; longest gap {figures['longest_gap_ms']:.1f} ms, "
        f"99th percentile {figures['p99_gap_ms']:.1f} ms, median {figures['median_gap_ms']:.1f} ms "
        f"(target: under 50 ms)"
    )


if __name__ == "__main__":
    main()
