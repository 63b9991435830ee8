"""``enclave evaluate RUN_DIR``: compare a finished run's base and fine-tuned models on
held-out records, save ``evaluation.json`` and the sign-off report. Thin: parse, call
the engine, print, exit code.

Exit codes: 0 done, 2 the run or the data cannot be used, 3 cancelled (Ctrl+C).
Progress goes to stderr; with ``--json`` stdout holds exactly one JSON object.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from desktop_app.cli_arguments import positive_int

EXIT_OK, EXIT_CANCELLED = 0, 3


class _StageReporter:
    """Prints each new stage, and the engine's notes, to stderr."""

    def __init__(self) -> None:
        self.stage = ""

    def report(self, event: Any) -> None:
        from desktop_app.core.events import StageChanged, WarningRaised

        if isinstance(event, StageChanged) and event.stage != self.stage:
            self.stage = event.stage
            print(event.stage, file=sys.stderr, flush=True)
        elif isinstance(event, WarningRaised):
            print(f"Note: {event.message}", file=sys.stderr, flush=True)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def format_summary(evaluation: dict[str, Any]) -> str:
    """A plain-language table of base versus fine-tuned, from ``evaluation.json``."""
    data = evaluation["data"]
    where = {
        "validation": "validation records (kept back from training)",
        "test": "test records (kept back from training)",
        "file": f"records of {', '.join(data['files'])}",
    }[data["source"]]
    lines = [
        f"Evaluation of {evaluation['run_dir']}",
        f"on {data['records']} {where}; {data['answered']} answered by both models.",
        "",
        f"{'':<30}{'Base model':>14}{'Fine-tuned':>14}",
    ]
    base, tuned = evaluation["base"], evaluation["tuned"]

    def row(label: str, pick: Any, show: Any) -> None:
        lines.append(f"{label:<30}{show(pick(base)):>14}{show(pick(tuned)):>14}")

    row("Loss (lower is better)", lambda side: side["loss"], _number)
    row("Perplexity (lower is better)", lambda side: side["perplexity"], lambda v: _number(v, 2))
    if "generation" in tuned:
        for key, label in [
            ("exact_match", "Exact match"),
            ("token_f1", "Word overlap (token F1)"),
            ("rouge_l", "ROUGE-L"),
        ]:
            row(label, lambda side, key=key: side.get("generation", {}).get(key), _percent)
        row(
            "BLEU (0-100)",
            lambda side: side.get("generation", {}).get("bleu"),
            lambda v: _number(v, 1),
        )
    if "classification" in tuned:
        for key, label in [("accuracy", "Accuracy"), ("macro_f1", "F1, average over classes")]:
            row(label, lambda side, key=key: side.get("classification", {}).get(key), _percent)
    lines.append("")
    lines.append("Scores other than loss and perplexity: higher is better.")
    lines.extend(f"Note: {note}" for note in evaluation.get("notes", []))
    return "\n".join(lines)


def _write_report(run_dir: Path, evaluation: dict[str, Any]) -> dict[str, str] | None:
    """The sign-off report (PDF and HTML), when this build has the report writer."""
    try:
        from desktop_app.ui.report import write_report  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        print(
            "Note: this build cannot write the sign-off report yet; evaluation.json was saved.",
            file=sys.stderr,
        )
        return None
    written = {
        Path(path).suffix.lstrip(".").lower(): str(path)
        for path in write_report(run_dir, evaluation)
    }
    print(f"Sign-off report written to {' and '.join(written.values())}", file=sys.stderr)
    return written


def _cancel_on_interrupt(stop_event: threading.Event) -> None:
    def handler(signum: int, frame: Any) -> None:
        if stop_event.is_set():
            raise KeyboardInterrupt
        stop_event.set()
        print(
            "\nStopping after the current batch (press Ctrl+C again to stop at once)...",
            file=sys.stderr,
            flush=True,
        )

    signal.signal(signal.SIGINT, handler)


def command_evaluate(args: argparse.Namespace) -> int:
    """``enclave evaluate``: 0 done, 3 cancelled (2 comes from a UserInputError)."""
    from desktop_app.engine.evaluation import EVALUATION_FILE, evaluate_run
    from desktop_app.engine.generation import GenerationSettings

    stop_event = threading.Event()
    if threading.current_thread() is threading.main_thread():
        _cancel_on_interrupt(stop_event)
    result = evaluate_run(
        args.run_dir,
        data_file=args.data,
        settings=GenerationSettings(max_new_tokens=args.max_new_tokens),
        max_examples=args.max_examples,
        reporter=_StageReporter(),
        stop_event=stop_event,
    )
    if result.status == "cancelled":
        print("Evaluation cancelled; nothing was saved.", file=sys.stderr)
        return EXIT_CANCELLED
    evaluation = result.to_json()
    print(f"Saved {result.run_dir / EVALUATION_FILE}", file=sys.stderr)
    report = _write_report(result.run_dir, evaluation)
    if args.json:
        print(json.dumps({**evaluation, **({"report": report} if report else {})}, indent=2))
    else:
        print(format_summary(evaluation))
    return EXIT_OK


def add_evaluate_command(commands: Any) -> None:
    """Add ``evaluate`` to the CLI's subcommands.

    Args:
        commands: The parser's subparsers.
    """
    evaluate = commands.add_parser(
        "evaluate",
        help="compare a finished run's base and fine-tuned models on held-out records",
    )
    evaluate.add_argument("run_dir", metavar="RUN_DIR", help="the run folder 'enclave train' made")
    evaluate.add_argument(
        "--data",
        metavar="FILE",
        help="held-out examples to evaluate on (default: the run's validation records)",
    )
    evaluate.add_argument(
        "--max-examples",
        type=positive_int,
        default=200,
        metavar="N",
        help="the most prompts both models answer (default 200; loss uses every record)",
    )
    evaluate.add_argument(
        "--max-new-tokens",
        type=positive_int,
        default=200,
        metavar="N",
        help="the longest answer, in tokens (default 200)",
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--verbose", action="store_true", help="show technical details on errors")
    evaluate.set_defaults(handler=command_evaluate)
