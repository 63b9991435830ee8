"""run_training: the engine's entry point, called identically from the CLI, a QThread
worker or a test."""

from __future__ import annotations

import errno
import math
import os
import shutil
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import PrinterCallback, ProgressCallback, Trainer, set_seed

from desktop_app.core.config import RunConfig
from desktop_app.core.config_io import config_to_dict
from desktop_app.core.errors import DataError, UserInputError
from desktop_app.core.events import (
    Reporter,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
    StageChanged,
    TeeReporter,
    WarningRaised,
)
from desktop_app.core.hardware import HardwareInfo, hardware_to_dict
from desktop_app.core.manifest import file_hashes, finish_manifest, new_manifest, utc_now
from desktop_app.core.run_folder import RunFolder, RunLogReporter
from desktop_app.data.loading import load_records
from desktop_app.data.records import TrainingRecord
from desktop_app.data.split import split_records
from desktop_app.engine import quiet_library_output
from desktop_app.engine.builders import (
    quantization_config,
    resolve_compute_dtype,
    resolve_device,
    resolve_method,
    training_arguments,
    use_gradient_checkpointing,
)
from desktop_app.engine.callbacks import ReporterCallback
from desktop_app.engine.hardware import probe_hardware
from desktop_app.engine.loading import load_for_training
from desktop_app.engine.model_files import (
    model_weight_files,
    prepare_model_folder,
    resolve_model_source,
)
from desktop_app.engine.sft_data import EncodedDataset, PaddingCollator, encode_records

Status = Literal["finished", "cancelled", "failed"]
_SHOWN_LINES = 10


@dataclass
class TrainResult:
    """How a run ended."""

    status: Status
    run_dir: Path | None
    output_path: Path | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    message: str = ""
    #: The trained model in memory, only when ``keep_model=True`` was asked for.
    model: Any = None


@dataclass
class _Inputs:
    """Everything checked before a run folder is created."""

    config: RunConfig
    hardware: HardwareInfo
    method: str
    device: str
    compute_dtype: torch.dtype
    train: list[TrainingRecord]
    validation: list[TrainingRecord]
    data_files: list[Path]


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(line) for line in lines[:_SHOWN_LINES])
    return shown + (f" and {len(lines) - _SHOWN_LINES} more" if len(lines) > _SHOWN_LINES else "")


def _load_checked(path: str, data_format: str) -> list[TrainingRecord]:
    loaded = load_records(path, data_format)
    if loaded.problems:
        listed = "\n".join(f"  {p.describe()}" for p in loaded.problems[:_SHOWN_LINES])
        more = len(loaded.problems) - _SHOWN_LINES
        raise DataError(
            path,
            f"{len(loaded.problems)} of {loaded.total_lines} records cannot be used:\n{listed}"
            + (f"\n  ... and {more} more" if more > 0 else ""),
        )
    if not loaded.records:
        raise DataError(path, "holds no training records.")
    return loaded.records


def _check_inputs(config: RunConfig) -> _Inputs:
    """Validate the config, data and hardware before anything is written."""
    config.check_ready()
    hardware = probe_hardware(Path(config.output.dir))
    method = resolve_method(config.method, hardware)
    device = resolve_device(hardware)
    compute_dtype = resolve_compute_dtype(config.method, hardware)
    quantization_config(method, config.method, compute_dtype, device)  # raises on 8-bit CPU
    records = _load_checked(config.data.train, config.data.format)
    data_files = [Path(config.data.train)]
    if config.data.validation_file:
        validation = _load_checked(config.data.validation_file, config.data.format)
        data_files.append(Path(config.data.validation_file))
        train = records
    else:
        train, validation = split_records(
            records, config.data.validation_fraction, config.hyperparameters.seed
        )
    return _Inputs(config, hardware, method, device, compute_dtype, train, validation, data_files)


def _estimated_steps(config: RunConfig, examples: int) -> int:
    hyper = config.hyperparameters
    if hyper.max_steps is not None:
        return hyper.max_steps
    batches = math.ceil(examples / hyper.batch_size)
    per_epoch = max(math.ceil(batches / hyper.gradient_accumulation_steps), 1)
    return max(math.ceil(per_epoch * hyper.epochs), 1)


def _save_outputs(prepared_model: Any, tokenizer: Any, target: Path) -> list[Path]:
    """Save the adapter (or full model) and tokenizer into ``target`` atomically."""
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    prepared_model.save_pretrained(str(staging), safe_serialization=True)
    tokenizer.save_pretrained(str(staging))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    return sorted(path for path in target.iterdir() if path.is_file())


def _plain_failure(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, torch.OutOfMemoryError) or "can't allocate memory" in text:
        return (
            "Training ran out of memory. Lower hyperparameters.batch_size or "
            "hyperparameters.max_length, or choose method qlora, and try again."
        )
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return "The disk is full. Free some space (or choose another output.dir) and resume."
    return f"Training stopped because of an unexpected error: {text or type(error).__name__}"


def run_training(
    config: RunConfig,
    reporter: Reporter,
    stop_event: threading.Event | None = None,
    *,
    resume_dir: str | Path | None = None,
    keep_model: bool = False,
) -> TrainResult:
    """Fine-tune a model as ``config`` says, reporting progress to ``reporter``.

    Args:
        config: The run configuration (ignored when resuming: the run's own is used).
        reporter: Receives every event; events are also written to metrics.jsonl.
        stop_event: Set it to cancel; the run saves a checkpoint and returns "cancelled".
        resume_dir: A run folder to continue from its latest checkpoint.
        keep_model: Return the trained model in ``TrainResult.model`` (for evaluation
            right after training, and for tests).

    Raises:
        UserInputError: the config, data or model cannot be used (nothing is trained).
    """
    stop_event = stop_event or threading.Event()
    checkpoint: Path | None = None
    if resume_dir is not None:
        folder = RunFolder.open(resume_dir)
        config = folder.load_config()
        checkpoint = folder.latest_checkpoint()
        if checkpoint is None:
            raise UserInputError(
                f"The run in {resume_dir} has no checkpoint to resume from.",
                "Start it again with 'enclave train CONFIG.json'.",
            )
    inputs = _check_inputs(config)
    source = resolve_model_source(config.model.path)
    if resume_dir is not None:
        _check_resumable(folder, inputs.data_files)
    else:
        folder = RunFolder.create(config, inputs.method)
    events = TeeReporter(RunLogReporter(folder), reporter)
    try:
        result, model = _train(inputs, source, folder, events, stop_event, checkpoint)
        if keep_model:
            result.model = model
        return result
    except UserInputError as error:
        events.report(RunFailed(str(folder.path), error.user_message()))
        _finish(folder, "failed", {})
        raise
    except Exception as error:  # noqa: BLE001 - every failure must reach the user
        message = _plain_failure(error)
        events.report(RunFailed(str(folder.path), message, traceback.format_exc()))
        _finish(folder, "failed", {})
        return TrainResult("failed", folder.path, message=message)


def _check_resumable(folder: RunFolder, data_files: list[Path]) -> None:
    """Refuse to resume a finished run, or one whose data changed since it started."""
    manifest = folder.read_manifest()
    if manifest.get("status") == "finished":
        raise UserInputError(
            f"The run in {folder.path} already finished; there is nothing to resume.",
            "Start a new run with 'enclave train CONFIG.json'.",
        )
    recorded = manifest.get("data_files", {})
    for path in data_files:
        entry = recorded.get(str(path.resolve()))
        if (
            entry is not None
            and entry["sha256"] != file_hashes([path])[str(path.resolve())]["sha256"]
        ):
            raise UserInputError(
                f"{path} has changed since this run started, so resuming would not give "
                "the same model.",
                "Put the original file back, or start a new run with the new data.",
            )


def _finish(
    folder: RunFolder, status: str, metrics: dict[str, Any], outputs: tuple[Path, ...] = ()
) -> None:
    manifest = folder.read_manifest()
    if manifest:
        folder.write_manifest(finish_manifest(manifest, status, metrics, outputs))


def _train(
    inputs: _Inputs,
    source: Any,
    folder: RunFolder,
    events: TeeReporter,
    stop_event: threading.Event,
    checkpoint: Path | None,
) -> tuple[TrainResult, Any]:
    config, hyper = inputs.config, inputs.config.hyperparameters
    quiet_library_output()
    model_folder = prepare_model_folder(source, events)
    if stop_event.is_set():
        events.report(RunCancelled(str(folder.path), 0, None))
        return _cancelled_early(folder, events), None
    events.report(StageChanged("loading_model", f"Loading {source.display_name}"))
    checkpointing = use_gradient_checkpointing(inputs.method, config.method, inputs.device)
    # Seed before the adapters are created: their initial values come from the RNG.
    set_seed(hyper.seed)
    prepared = load_for_training(
        model_folder,
        inputs.method,
        config.method,
        inputs.device,
        inputs.compute_dtype,
        checkpointing,
    )
    for note in prepared.notes:
        events.report(WarningRaised(note))
    events.report(StageChanged("tokenizing", "Preparing the examples"))
    args = (prepared.tokenizer, hyper.max_length, config.data.train_on_prompt)
    train_examples, report = encode_records(inputs.train, *args)
    validation_examples, _ = encode_records(inputs.validation, *args)
    if report.truncated_lines:
        events.report(
            WarningRaised(
                f"{len(report.truncated_lines)} training records are longer than max_length "
                f"({hyper.max_length} tokens) and were cut: lines {_lines(report.truncated_lines)}."
            )
        )
    if report.no_answer_left_lines:
        events.report(
            WarningRaised(
                f"{len(report.no_answer_left_lines)} training records have no answer left after "
                f"cutting to max_length and are not trained on: lines "
                f"{_lines(report.no_answer_left_lines)}. Raise max_length to use them."
            )
        )
    if report.masking_fell_back:
        events.report(
            WarningRaised(
                "This model's chat template cannot be split into prompt and answer, so the "
                "whole conversation is trained on."
            )
        )
    if not train_examples:
        raise DataError(config.data.train, "no record has any answer left to learn from.")
    if stop_event.is_set():
        return _cancelled_early(folder, events), prepared.model

    staging = folder.path / ".staging"
    has_validation = bool(validation_examples)
    callback = ReporterCallback(events, stop_event, folder, hyper.keep_checkpoints, inputs.device)
    trainer = Trainer(
        model=prepared.model,
        args=training_arguments(
            hyper,
            staging_dir=staging,
            device=inputs.device,
            compute_dtype=inputs.compute_dtype,
            has_validation=has_validation,
            gradient_checkpointing=checkpointing,
        ),
        train_dataset=EncodedDataset(train_examples),
        eval_dataset=EncodedDataset(validation_examples) if has_validation else None,
        data_collator=PaddingCollator(prepared.tokenizer.pad_token_id),
        callbacks=[callback],
    )
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)

    manifest = folder.read_manifest()
    if not manifest:
        manifest = new_manifest(
            config=config_to_dict(config),
            method=inputs.method,
            seed=hyper.seed,
            hardware=hardware_to_dict(inputs.hardware),
            model={
                "path": config.model.path,
                "source": str(source.path),
                "weights": file_hashes(model_weight_files(model_folder)),
            },
            data_files=inputs.data_files,
        )
        manifest["device"] = inputs.device
        manifest["compute_dtype"] = str(inputs.compute_dtype).removeprefix("torch.")
        manifest["quantization"] = _quantization_summary(inputs.method, config)
        manifest["records"] = {"train": len(inputs.train), "validation": len(inputs.validation)}
    manifest.setdefault("resumed_at", [])
    if checkpoint is not None:
        manifest["resumed_at"].append(utc_now())
    folder.write_manifest(manifest)
    resumed_step = int(checkpoint.name.split("-")[1]) if checkpoint is not None else 0
    events.report(
        RunStarted(
            run_dir=str(folder.path),
            config=config_to_dict(config),
            hardware=hardware_to_dict(inputs.hardware),
            method=inputs.method,
            device=inputs.device,
            trainable_parameters=prepared.trainable_parameters,
            total_parameters=prepared.total_parameters,
            train_records=len(train_examples),
            validation_records=len(validation_examples),
            total_steps=_estimated_steps(config, len(train_examples)),
            resumed_from_step=resumed_step,
        )
    )
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    shutil.rmtree(staging, ignore_errors=True)

    if callback.non_finite_loss is not None:
        step, value = callback.non_finite_loss
        message = (
            f"The training loss became {value} at step {step}, so the run was stopped. "
            "Lower hyperparameters.learning_rate (for example to a tenth) and start again."
        )
        events.report(RunFailed(str(folder.path), message))
        _finish(folder, "failed", {"failed_at_step": step})
        return TrainResult("failed", folder.path, message=message), prepared.model
    if callback.cancelled:
        latest = folder.latest_checkpoint()
        step = trainer.state.global_step
        events.report(RunCancelled(str(folder.path), step, str(latest) if latest else None))
        _finish(folder, "cancelled", {"step": step})
        message = f"Cancelled at step {step}. Continue with 'enclave train --resume {folder.path}'."
        return TrainResult("cancelled", folder.path, latest, message=message), prepared.model

    if has_validation and callback.last_eval_step != trainer.state.global_step:
        events.report(StageChanged("evaluating", "Measuring validation loss"))
        trainer.evaluate()
    metrics: dict[str, float] = {"steps": float(trainer.state.global_step)}
    if callback.last_loss is not None:
        metrics["train_loss"] = callback.last_loss
    if callback.last_eval_loss is not None:
        metrics["eval_loss"] = callback.last_eval_loss
        metrics["eval_perplexity"] = math.exp(min(callback.last_eval_loss, 50.0))
    events.report(StageChanged("saving", "Saving the trained model"))
    target = folder.adapter_dir if inputs.method in ("lora", "qlora") else folder.model_dir
    outputs = _save_outputs(prepared.model, prepared.tokenizer, target)
    _finish(folder, "finished", metrics, tuple(outputs))
    events.report(RunFinished(str(folder.path), str(target), metrics))
    return TrainResult("finished", folder.path, target, metrics), prepared.model


def _cancelled_early(folder: RunFolder, events: TeeReporter) -> TrainResult:
    events.report(RunCancelled(str(folder.path), 0, None))
    _finish(folder, "cancelled", {})
    return TrainResult("cancelled", folder.path, message="Cancelled before training began.")


def _quantization_summary(method: str, config: RunConfig) -> dict[str, Any] | None:
    if method != "qlora":
        return None
    spec = config.method
    if spec.quantization_bits == 8:
        return {"bits": 8}
    return {
        "bits": 4,
        "quant_type": spec.quant_type,
        "double_quantization": spec.double_quantization,
    }
