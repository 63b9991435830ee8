"""The checks behind ``enclave --self-test``: one function per subsystem.

Each check takes the :class:`CheckContext` and returns one line saying what it saw, or
raises :class:`CheckFailed` saying, in plain words, what is wrong and what to do. Any
other exception is a failure too (the runner turns it into a message). Nothing here
reaches the network or the user's runs: the checks work in a temporary workspace.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.errors import UserInputError

#: Libraries the app cannot work without, by import name, with their distribution name.
LIBRARIES = (
    ("torch", "torch"),
    ("transformers", "transformers"),
    ("peft", "peft"),
    ("bitsandbytes", "bitsandbytes"),
    ("accelerate", "accelerate"),
    ("datasets", "datasets"),
    ("tokenizers", "tokenizers"),
    ("safetensors", "safetensors"),
    ("gguf", "gguf"),
    ("pyarrow", "pyarrow"),
    ("openpyxl", "openpyxl"),
    ("phonenumbers", "phonenumbers"),
    ("rouge_score", "rouge-score"),
    ("sacrebleu", "sacrebleu"),
    ("portalocker", "portalocker"),
    ("psutil", "psutil"),
    ("platformdirs", "platformdirs"),
    ("numpy", "numpy"),
    ("PySide6.QtWidgets", "PySide6-Essentials"),
    ("pyqtgraph", "pyqtgraph"),
)

#: The windowing plugin each system needs, besides "offscreen" (used without a screen).
NATIVE_QT_PLATFORM = {"linux": "xcb", "win32": "windows", "darwin": "cocoa"}

#: A host the offline check tries to reach; the network guard must refuse it unresolved.
UNREACHABLE_PROBE = ("example.org", 443)

_TRAINING_ROWS = [
    {
        "instruction": f"Which form does request {number} need?",
        "output": f"Request {number} needs form {chr(65 + number % 26)}-{number * 7}.",
    }
    for number in range(16)
]


_REPORT_IT = (
    "Report this to whoever supports Enclave, with the output of enclave --self-test --verbose."
)


class CheckFailed(UserInputError):
    """A check found a problem (message: what happened; hint: what to do)."""


@dataclass
class CheckContext:
    """What the checks share.

    Args:
        workspace: A temporary folder the checks may fill; deleted afterwards.
        user_audit_dir: The user's own audit folder (only read, never written).
        run_dir: The run folder the training check made, for the report check.
    """

    workspace: Path
    user_audit_dir: Path
    run_dir: Path | None = None


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "version unknown"


def check_libraries(context: CheckContext) -> str:
    """Every library imports, and reports its version."""
    missing: list[str] = []
    for module, _distribution in LIBRARIES:
        try:
            importlib.import_module(module)
        except Exception as error:  # noqa: BLE001 - any import failure is the finding
            missing.append(f"{module} ({type(error).__name__}: {error})")
    if missing:
        raise CheckFailed(
            f"{len(missing)} of {len(LIBRARIES)} libraries could not be loaded: "
            + "; ".join(missing),
            "The installation is incomplete. Reinstall Enclave from the same bundle or kit.",
        )
    shown = ", ".join(
        f"{distribution} {_version(distribution)}" for _, distribution in LIBRARIES[:4]
    )
    return f"{len(LIBRARIES)} libraries load ({shown}, ...)"


def check_offline(context: CheckContext) -> str:
    """The offline settings hold and the network guard refuses a connection unresolved."""
    from desktop_app.core.network_guard import NetworkRefusedError, network_guard
    from desktop_app.core.offline import OFFLINE_ENVIRONMENT

    unset = [name for name, value in OFFLINE_ENVIRONMENT.items() if os.environ.get(name) != value]
    if unset:
        raise CheckFailed(
            "The offline settings are not in force: " + ", ".join(unset) + ".",
            "Start Enclave with its own launcher (enclave), not by importing it.",
        )
    guard = network_guard()
    if guard is None:
        raise CheckFailed(
            "The network guard is not installed.",
            "Start Enclave with its own launcher (enclave), not by importing it.",
        )
    before = guard.blocked_count()
    try:
        socket.getaddrinfo(*UNREACHABLE_PROBE)
    except NetworkRefusedError:
        pass
    else:
        raise CheckFailed(
            f"A name lookup for {UNREACHABLE_PROBE[0]} was not refused.",
            "Report this to whoever supports Enclave: the network guard is not working.",
        )
    if guard.blocked_count() != before + 1:
        raise CheckFailed(
            "The network guard refused a lookup but did not record it.",
            "Report this to whoever supports Enclave.",
        )
    return (
        f"network guard on; a lookup of {UNREACHABLE_PROBE[0]} was refused before any "
        "query left the machine"
    )


def check_qt(context: CheckContext) -> str:
    """The Qt platform plugins are present and load, and a window can be drawn."""
    from PySide6.QtWidgets import QApplication, QLabel

    from desktop_app.ui.qt_platform import (
        check_qt_platform,
        plugins_dir,
        will_use_xcb,
        xcb_load_problem,
    )

    plugins = plugins_dir()
    present = sorted(
        name.split(".")[0].removeprefix("lib").removeprefix("q")
        for name in (os.listdir(plugins) if plugins.is_dir() else [])
    )
    platform_key = "linux" if sys.platform.startswith("linux") else sys.platform
    needed = {"offscreen", NATIVE_QT_PLATFORM.get(platform_key, "offscreen")}
    lacking = sorted(needed - set(present))
    if lacking:
        raise CheckFailed(
            f"Qt's platform plugins {', '.join(lacking)} are missing from {plugins}.",
            "The installation is incomplete. Reinstall Enclave from the same bundle or kit.",
        )
    check_qt_platform()  # this screen's plugin loads (or: which library is missing)
    note = ""
    if platform_key == "linux":
        # When this screen uses X11, check_qt_platform has just loaded the plugin.
        problem = None if will_use_xcb() else xcb_load_problem()
        note = (
            "; X11 support loads"
            if problem is None
            else (f"; no screen here, but X11 windows would fail: {problem}")
        )
    if QApplication.instance() is None:
        # Drawn off-screen: a screen that is set but unreachable (DISPLAY over ssh, no
        # window server) would make Qt abort the whole report. The screen's own plugin
        # was checked above by loading it.
        QApplication([sys.argv[0] or "enclave", "-platform", "offscreen"])
    label = QLabel("Enclave self-test")
    label.resize(240, 60)
    image = label.grab().toImage()
    label.deleteLater()
    if image.isNull() or image.width() < 1:
        raise CheckFailed(
            "Qt could not draw a window.",
            "Check the graphics driver, or run with QT_QPA_PLATFORM=offscreen to test "
            "without a screen.",
        )
    return f"platform '{QApplication.platformName()}' draws windows{note}"


def check_tokenizer(context: CheckContext) -> str:
    """A tokenizer is trained, saved, loaded and round-trips text."""
    from transformers import AutoTokenizer

    from desktop_app.engine.tiny_model import build_tiny_tokenizer

    folder = context.workspace / "tokenizer"
    build_tiny_tokenizer(folder)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    text = "The claim was approved after review."
    ids = tokenizer(text)["input_ids"]
    back = tokenizer.decode(ids, skip_special_tokens=True)
    if back != text:
        raise CheckFailed(
            f"The tokenizer did not give back the text it was given ({back!r}).",
            "Reinstall Enclave from the same bundle or kit.",
        )
    return f"{type(tokenizer).__name__}: {len(ids)} tokens, decoded back unchanged"


def check_demo_model(context: CheckContext) -> str:
    """The built-in demo model's GGUF file is present and readable."""
    from gguf import GGUFReader

    from desktop_app.engine.model_files import demo_model_file

    path = demo_model_file()
    reader = GGUFReader(str(path))
    field = reader.fields.get("general.architecture")
    architecture = bytes(field.parts[-1]).decode("utf-8") if field else "unknown"
    size_mb = path.stat().st_size / 1e6
    return f"{path.name}: {architecture}, {len(reader.tensors)} tensors, {size_mb:.0f} MB"


def check_training(context: CheckContext) -> str:
    """A few QLoRA steps (4-bit base, LoRA adapters) on a tiny model built here."""
    from safetensors.torch import load_file
    from transformers.utils import logging as transformers_logging

    from desktop_app.core.config import RunConfig
    from desktop_app.core.events import ListReporter, RunStarted, StepMetrics
    from desktop_app.engine.tiny_model import build_tiny_model
    from desktop_app.engine.train import run_training

    transformers_logging.disable_progress_bar()  # "Writing model shards" is noise here
    model_dir = build_tiny_model(context.workspace / "tiny-model")
    data = context.workspace / "self-test-data.jsonl"
    data.write_text("\n".join(json.dumps(row) for row in _TRAINING_ROWS) + "\n", "utf-8")
    config = RunConfig()
    config.model.path = str(model_dir)
    config.data.train = str(data)
    config.data.validation_fraction = 0.25
    config.method.name = "qlora"
    config.method.lora_dropout = 0.0
    hyper = config.hyperparameters
    hyper.max_steps, hyper.batch_size, hyper.max_length = 3, 4, 64
    hyper.learning_rate, hyper.warmup_ratio, hyper.lr_scheduler = 1e-2, 0.0, "constant"
    hyper.eval_every_steps, hyper.save_every_steps = 3, 0
    config.output.dir = str(context.workspace / "runs")
    reporter = ListReporter()
    result = run_training(config, reporter, threading.Event())
    if result.status != "finished" or result.output_path is None:
        raise CheckFailed(f"The training run did not finish: {result.message}", _REPORT_IT)
    context.run_dir = result.run_dir
    started = reporter.of_type(RunStarted)[0]
    losses = [event.loss for event in reporter.of_type(StepMetrics) if event.loss is not None]
    adapters = load_file(str(result.output_path / "adapter_model.safetensors"))
    moved = [name for name, tensor in adapters.items() if "lora_B" in name and tensor.any()]
    if started.method != "qlora" or not losses or not moved:
        raise CheckFailed(
            f"Training ran as {started.method} but the adapters did not learn "
            f"({len(moved)} of {len(adapters)} adapter tensors changed).",
            _REPORT_IT,
        )
    return (
        f"{len(losses)} QLoRA steps on {started.device} (4-bit base), loss "
        f"{losses[0]:.3f} -> {losses[-1]:.3f}, eval loss {result.metrics['eval_loss']:.3f}"
    )


def check_report(context: CheckContext) -> str:
    """The run report is written as HTML and PDF."""
    from desktop_app.ui.report import write_report

    if context.run_dir is None:
        raise CheckFailed(
            "Not checked: it needs the run the training check makes.",
            "Fix the QLoRA training check first.",
        )
    html, pdf = write_report(context.run_dir)
    head = pdf.read_bytes()[:5]
    if head != b"%PDF-" or not html.is_file():
        raise CheckFailed(f"The report PDF {pdf} is not a PDF file.", _REPORT_IT)
    return f"report.pdf ({pdf.stat().st_size // 1024} KB) and report.html written"


def check_audit(context: CheckContext) -> str:
    """A new audit log chains and catches an edit; the user's own log verifies."""
    from desktop_app.core.audit import AuditLog, verify_log

    log = AuditLog(context.workspace / "audit-check")
    for number in range(3):
        log.append("app_started", {"self_test_entry": number})
    if not verify_log(log).intact:
        raise CheckFailed("A freshly written audit log does not verify.", _REPORT_IT)
    lines = log.path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace('"self_test_entry": 1', '"self_test_entry": 7')
    log.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tampered = verify_log(log)
    if tampered.intact or tampered.first_bad_line != 2:
        raise CheckFailed("An edited audit entry was not caught.", _REPORT_IT)
    users = verify_log(AuditLog(context.user_audit_dir))
    if not users.intact:
        raise CheckFailed(
            users.summary(),
            f"Ask your information-security officer to look at {users.path}; "
            "enclave audit verify shows the same finding.",
        )
    entries = f"{users.entries} entr{'y' if users.entries == 1 else 'ies'}"
    return f"hash chain catches an edit; your audit log verifies ({entries})"


def check_data(context: CheckContext) -> str:
    """The sample data reads and the personal-data scan finds what it should."""
    from desktop_app.core.paths import sample_data_file
    from desktop_app.data.loading import open_data
    from desktop_app.data.pii import scan_text

    opened = open_data(sample_data_file())
    records = sum(1 for _ in opened.items)
    found = {f.type for f in scan_text("Mail jane.doe@northbank.co.uk or call +44 20 7946 0958.")}
    if {"EMAIL", "PHONE"} - found:
        raise CheckFailed(f"The personal-data scan missed test values (found {found}).", _REPORT_IT)
    return f"sample data: {records} records ({opened.format}); e-mail and phone found"


def check_metrics(context: CheckContext) -> str:
    """ROUGE-L and BLEU are computed locally."""
    from desktop_app.engine.eval_metrics import bleu, rouge_l

    prediction, reference = ["the claim was approved"], ["the claim was approved"]
    rouge, score = rouge_l(prediction, reference), bleu(prediction, reference)
    if rouge < 0.99 or score < 99:
        raise CheckFailed(f"Identical texts scored ROUGE-L {rouge} and BLEU {score}.", _REPORT_IT)
    return f"ROUGE-L {rouge:.2f} and BLEU {score:.0f} on identical texts"


#: (name shown to the user, check), in the order they run.
CHECKS: tuple[tuple[str, Callable[[CheckContext], str]], ...] = (
    ("Libraries", check_libraries),
    ("Offline protection", check_offline),
    ("Qt windows", check_qt),
    ("Tokenizer", check_tokenizer),
    ("Demo model", check_demo_model),
    ("QLoRA training", check_training),
    ("PDF report", check_report),
    ("Audit log", check_audit),
    ("Data and personal data", check_data),
    ("Evaluation metrics", check_metrics),
)
