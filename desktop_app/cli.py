"""The ``enclave`` command line: parse, call core/data/engine, print, exit code.

Exit codes: 0 done, 1 training failed, 2 bad config or input, 3 cancelled.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from desktop_app import __version__
from desktop_app.cli_arguments import positive_int
from desktop_app.cli_audit import add_audit_commands
from desktop_app.cli_data import add_data_commands
from desktop_app.cli_evaluate import add_evaluate_command
from desktop_app.cli_export import add_export_command
from desktop_app.cli_runs import add_runs_commands
from desktop_app.core.config import DEMO_MODEL, RunConfig
from desktop_app.core.config_io import load_config, save_config
from desktop_app.core.errors import UserInputError
from desktop_app.core.events import (
    CheckpointSaved,
    EvalMetrics,
    Event,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
    StageChanged,
    StepMetrics,
    WarningRaised,
)
from desktop_app.core.paths import enclave_home, sample_data_file

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 3


def _human_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressReporter:
    """Prints the engine's events: a progress bar for steps, lines for the rest."""

    def __init__(self, stream: Any = None, verbose: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self.bar: Any = None

    def _say(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def report(self, event: Event) -> None:
        from tqdm import tqdm

        if isinstance(event, StageChanged):
            self._say(f"{event.detail or event.stage}...")
        elif isinstance(event, RunStarted):
            self._say(
                f"Run folder: {event.run_dir}\nMethod: {event.method} on {event.device}; "
                f"training {event.trainable_parameters:,} of {event.total_parameters:,} "
                f"parameters; {event.train_records} training and {event.validation_records} "
                "validation records."
            )
            self.bar = tqdm(
                total=event.total_steps,
                initial=event.resumed_from_step,
                unit="step",
                file=self.stream,
                dynamic_ncols=True,
            )
        elif isinstance(event, StepMetrics) and self.bar is not None:
            self.bar.total = event.total_steps
            self.bar.n = event.step
            speed = f"{event.tokens_per_second:.0f}" if event.tokens_per_second else "?"
            self.bar.set_postfix_str(
                f"loss {event.loss:.4f}, lr {event.learning_rate:.2e}, {speed} tok/s, "
                f"ETA {_human_seconds(event.eta_seconds)}"
            )
        elif isinstance(event, EvalMetrics):
            self._say(
                f"Step {event.step}: validation loss {event.eval_loss:.4f} "
                f"(perplexity {event.perplexity:.2f})"
            )
        elif isinstance(event, CheckpointSaved):
            self._say(f"Checkpoint saved at step {event.step}.")
        elif isinstance(event, WarningRaised):
            self._say(f"Warning: {event.message}")
        elif isinstance(event, RunFinished | RunCancelled | RunFailed):
            self._close()
            self._say(self._ending(event))

    def _ending(self, event: RunFinished | RunCancelled | RunFailed) -> str:
        if isinstance(event, RunFinished):
            figures = ", ".join(f"{key} {value:.4g}" for key, value in event.metrics.items())
            return f"Done. Saved to {event.output_path}\n{figures}"
        if isinstance(event, RunCancelled):
            if event.checkpoint:
                return (
                    f"Cancelled at step {event.step}; checkpoint kept. Continue with:\n"
                    f"  enclave train --resume {event.run_dir}"
                )
            return "Cancelled before training began; nothing to resume."
        text = f"Training failed: {event.message}"
        if self.verbose and event.details:
            text += f"\n\nDetails:\n{event.details}"
        elif event.details:
            text += "\n(Run with --verbose for technical details.)"
        return text

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _cancel_on_interrupt(stop_event: threading.Event) -> None:
    def handler(signum: int, frame: Any) -> None:
        if stop_event.is_set():
            raise KeyboardInterrupt
        stop_event.set()
        print(
            "\nStopping at the end of the current training step and saving a checkpoint "
            "(press Ctrl+C again to stop at once, without one)...",
            file=sys.stderr,
            flush=True,
        )

    signal.signal(signal.SIGINT, handler)


def _train(config: RunConfig | None, resume: str | None, verbose: bool) -> int:
    from desktop_app.engine.train import run_training

    stop_event = threading.Event()
    if threading.current_thread() is threading.main_thread():
        _cancel_on_interrupt(stop_event)
    result = run_training(
        config or RunConfig(), ProgressReporter(verbose=verbose), stop_event, resume_dir=resume
    )
    exit_codes = {"finished": EXIT_OK, "cancelled": EXIT_CANCELLED, "invalid_input": EXIT_BAD_INPUT}
    return exit_codes.get(result.status, EXIT_FAILED)


def _command_train(args: argparse.Namespace) -> int:
    if (args.config is None) == (args.resume is None):
        raise UserInputError(
            "Give either a run configuration file or --resume RUN_DIR.",
            "For example: enclave train run.json",
        )
    config = load_config(args.config) if args.config else None
    return _train(config, args.resume, args.verbose)


def _command_demo(args: argparse.Namespace) -> int:
    config = RunConfig()
    config.model.path = DEMO_MODEL
    config.data.train = str(sample_data_file())
    config.data.pii_redaction = "tags"
    config.method.name = "lora"
    config.hyperparameters.max_steps = args.max_steps
    config.hyperparameters.max_length = 256
    config.hyperparameters.eval_every_steps = max(args.max_steps // 2, 1)
    config.hyperparameters.save_every_steps = args.max_steps
    config.output.dir = str(enclave_home() / "runs")
    config_path = enclave_home() / "demo-config.json"
    save_config(config, config_path)
    print(f"Demo configuration written to {config_path}", file=sys.stderr)
    return _train(config, None, args.verbose)


def _command_hardware(args: argparse.Namespace) -> int:
    from desktop_app.core.hardware import format_hardware, hardware_to_dict
    from desktop_app.engine.hardware import probe_hardware

    info = probe_hardware(Path(args.output_dir))
    print(json.dumps(hardware_to_dict(info), indent=2) if args.json else format_hardware(info))
    return EXIT_OK


def _command_model_inspect(args: argparse.Namespace) -> int:
    from desktop_app.engine.hardware import probe_hardware
    from desktop_app.engine.inspect_model import (
        format_model_facts,
        inspect_model,
        model_facts_to_dict,
    )

    facts = inspect_model(args.path, probe_hardware(Path.cwd()))
    print(
        json.dumps(model_facts_to_dict(facts), indent=2) if args.json else format_model_facts(facts)
    )
    return EXIT_OK


def _command_config_check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    config.check_ready()
    print(f"{args.config}: the configuration is valid.")
    return EXIT_OK


def _window_size(text: str) -> tuple[int, int]:
    width, _, height = text.strip().lower().partition("x")
    try:
        size = int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a window size; write it as WIDTHxHEIGHT, like 1100x760"
        ) from None
    if not (640 <= size[0] <= 3840 and 480 <= size[1] <= 2160):
        raise argparse.ArgumentTypeError(
            f"{size[0]}x{size[1]} is not a usable window size: the width must be 640 to "
            "3840 pixels and the height 480 to 2160"
        )
    return size


def _command_screenshots(args: argparse.Namespace) -> int:
    from desktop_app.core.errors import EnclaveError
    from desktop_app.ui.screenshots import take_screenshots

    try:
        take_screenshots(
            args.dir,
            args.size,
            model=args.model,
            on_saved=lambda path: print(path, flush=True),
            on_note=lambda text: print(text, file=sys.stderr, flush=True),
        )
    except UserInputError:
        raise
    except EnclaveError as error:
        print(f"Error: {error.user_message()}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _self_test(rest: list[str]) -> int:
    if rest not in ([], ["--verbose"]):
        print("Usage: enclave --self-test [--verbose]", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        from desktop_app.self_test import self_test_command

        return self_test_command(verbose=bool(rest))
    except KeyboardInterrupt:
        print("\nSelf-test stopped before it finished.", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as error:  # noqa: BLE001 - one plain message, never a traceback
        print(f"Error: the self-test could not run ({error}).", file=sys.stderr)
        if rest:
            traceback.print_exc()
        return EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="enclave", description="Fine-tune language models on this computer, offline."
    )
    parser.add_argument("--version", action="version", version=f"Enclave {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check every part of the installation offline and print a pass/fail report "
        "(add --verbose for technical details)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser("train", help="fine-tune a model from a run configuration")
    train.add_argument("config", nargs="?", help="run configuration (JSON)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoint")
    train.add_argument("--verbose", action="store_true", help="show technical details on errors")
    train.set_defaults(handler=_command_train)

    demo = commands.add_parser("demo", help="fine-tune the built-in demo model on sample data")
    demo.add_argument(
        "--max-steps", type=positive_int, default=30, help="training steps (default 30)"
    )
    demo.add_argument("--verbose", action="store_true", help="show technical details on errors")
    demo.set_defaults(handler=_command_demo)

    hardware = commands.add_parser("hardware", help="show GPUs, CPU, memory and free disk")
    hardware.add_argument("--output-dir", default=".", help="where runs go (for free disk)")
    hardware.add_argument("--json", action="store_true", help="print JSON")
    hardware.set_defaults(handler=_command_hardware)

    model = commands.add_parser("model", help="model commands")
    model_commands = model.add_subparsers(dest="model_command", metavar="COMMAND", required=True)
    inspect = model_commands.add_parser("inspect", help="describe a model without loading it")
    inspect.add_argument("path", help=f"model folder, .gguf file or {DEMO_MODEL}")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.set_defaults(handler=_command_model_inspect)

    add_data_commands(commands)
    add_evaluate_command(commands)
    add_export_command(commands)
    add_runs_commands(commands)
    add_audit_commands(commands)

    screenshots = commands.add_parser(
        "screenshots", help="save a picture of every step of the wizard (off-screen)"
    )
    screenshots.add_argument("dir", help="folder for the PNG files (created if missing)")
    screenshots.add_argument(
        "--size",
        type=_window_size,
        default=(1100, 760),
        metavar="WIDTHxHEIGHT",
        help="window size in pixels (default 1100x760)",
    )
    screenshots.add_argument(
        "--model", help=f"model shown on the Model page (default {DEMO_MODEL})"
    )
    screenshots.set_defaults(handler=_command_screenshots)

    config = commands.add_parser("config", help="run configuration commands")
    config_commands = config.add_subparsers(dest="config_command", metavar="COMMAND", required=True)
    check = config_commands.add_parser("check", help="validate a run configuration")
    check.add_argument("config", help="run configuration (JSON)")
    check.set_defaults(handler=_command_config_check)
    return parser


def run_cli(argv: list[str]) -> int:
    """Parse ``argv`` and run the subcommand. Bad input prints one plain message and
    returns 2; no traceback reaches the user."""
    parser = build_parser()
    if not argv:
        from desktop_app.ui.app import run_app

        return run_app([])
    if argv[0] == "--self-test":
        return _self_test(argv[1:])
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:
        return int(exit_request.code or 0) and EXIT_BAD_INPUT
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.handler(args))
    except UserInputError as error:
        print(f"Error: {error.user_message()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("\nStopped without a checkpoint.", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as error:  # noqa: BLE001 - one plain message, never a traceback
        print(
            f"Error: something went wrong that Enclave did not expect ({error}).",
            file=sys.stderr,
        )
        if getattr(args, "verbose", False):
            traceback.print_exc()
        else:
            print(
                "Run the command again with --verbose for the technical details.", file=sys.stderr
            )
        return EXIT_FAILED
