"""Training speed and memory of the real engine, per method, on this machine.

Runs ``run_training`` on the built-in demo model (SmolLM2-135M-Instruct) with the sample
data, each configuration in a fresh process so peak memory is its own, and prints one
line per configuration: seconds per optimiser step (median, first step excluded),
training tokens per second and peak resident memory.

    python benchmarks/training_speed.py [--steps 6] [--batch-size 4] [--max-length 256]
        [--only lora,qlora-fp32,qlora-bf16]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "sample_data" / "insurance_qa.jsonl"

CASES = {
    "lora": {"name": "lora", "compute_dtype": "auto"},
    "qlora-fp32": {"name": "qlora", "compute_dtype": "float32"},
    "qlora-bf16": {"name": "qlora", "compute_dtype": "bfloat16"},
    "freeze": {"name": "freeze", "compute_dtype": "auto"},
    "full": {"name": "full", "compute_dtype": "auto"},
}


def run_case(case: str, steps: int, batch_size: int, max_length: int) -> dict:
    """Train in this process and return the figures (called in a child process)."""
    from desktop_app.core.offline import enforce_offline_environment

    enforce_offline_environment()
    from desktop_app.core.config import RunConfig
    from desktop_app.core.events import ListReporter, RunStarted, StepMetrics
    from desktop_app.engine.train import run_training

    config = RunConfig()
    config.data.train = str(SAMPLE)
    config.data.validation_fraction = 0.0
    for key, value in CASES[case].items():
        setattr(config.method, key, value)
    hyper = config.hyperparameters
    hyper.max_steps, hyper.batch_size, hyper.max_length = steps, batch_size, max_length
    hyper.eval_every_steps = hyper.save_every_steps = 0
    config.output.dir = tempfile.mkdtemp(prefix="enclave-bench-")
    reporter = ListReporter()
    result = run_training(config, reporter)
    if result.status != "finished":
        raise SystemExit(f"{case}: {result.message}")
    metrics = reporter.of_type(StepMetrics)
    times = [
        b.elapsed_seconds - a.elapsed_seconds for a, b in zip(metrics, metrics[1:], strict=False)
    ]
    speeds = [m.tokens_per_second for m in metrics[1:] if m.tokens_per_second]
    started = reporter.of_type(RunStarted)[0]
    return {
        "case": case,
        "seconds_per_step": statistics.median(times),
        "tokens_per_second": statistics.median(speeds),
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "trainable_parameters": started.trainable_parameters,
        "device": started.device,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--only", default="lora,qlora-fp32,qlora-bf16")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_case(args.child, args.steps, args.batch_size, args.max_length)))
        return
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    print(
        f"Demo model, batch {args.batch_size}, max length {args.max_length}, "
        f"{args.steps} steps (median of steps 2..{args.steps})"
    )
    print(f"{'case':<12} {'device':<6} {'s/step':>8} {'tokens/s':>9} {'peak RSS':>9} trainable")
    for case in args.only.split(","):
        completed = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                case,
                "--steps",
                str(args.steps),
                "--batch-size",
                str(args.batch_size),
                "--max-length",
                str(args.max_length),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if completed.returncode != 0:
            print(f"{case:<12} failed: {completed.stderr.strip().splitlines()[-1:]}")
            continue
        row = json.loads(completed.stdout.strip().splitlines()[-1])
        print(
            f"{case:<12} {row['device']:<6} {row['seconds_per_step']:>8.2f} "
            f"{row['tokens_per_second']:>9.0f} {row['peak_rss_gib']:>7.2f} G "
            f"{row['trainable_parameters']:,}"
        )


if __name__ == "__main__":
    main()
