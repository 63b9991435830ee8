"""run_training: the engine's entry point, called identically from the CLI, a QThread
worker or a test. torch and transformers are imported when a run starts, not with
this module."""

from __future__ import annotations

import errno
import math
import os
import secrets
import shutil
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from desktop_app.core.config import RunConfig
from desktop_app.core.config_io import config_from_dict, config_to_dict
from desktop_app.core.errors import ConfigError, DataError, UserInputError
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
from desktop_app.core.manifest import utc_now
from desktop_app.core.run_folder import PSEUDONYM_SALT, RunFolder, RunLogReporter
from desktop_app.engine import quiet_library_output
from desktop_app.engine.builders import (
    dtype_name,
    quantization_config,
    resolve_compute_dtype,
    resolve_device,
    resolve_method,
    torch_dtype,
    training_arguments,
    use_gradient_checkpointing,
)
from desktop_app.engine.checkpoint_safety import check_checkpoint_state
from desktop_app.engine.hardware import probe_hardware
from desktop_app.engine.loading import load_for_training
from desktop_app.engine.model_files import (
    ModelSource,
    audit_model_opened,
    prepare_model_folder,
    resolve_model_source,
)
from desktop_app.engine.run_audit import AuditReporter, audit_run_inputs
from desktop_app.engine.run_record import (
    check_inputs_unchanged,
    check_resumable,
    finish_run_record,
    record_model_weights,
    start_manifest,
)
from desktop_app.engine.sft_data import encode_records, encoding_warnings
from desktop_app.engine.training_data import (
    PreparedData,
    personal_data_warning,
    prepare_training_data,
)

if TYPE_CHECKING:
    import torch
    from transformers import Trainer

    from desktop_app.engine.callbacks import ReporterCallback

#: finished, cancelled (a checkpoint may exist), failed (an error during training), or
#: invalid_input (the data or model turned out unusable after the run folder was made).
Status = Literal["finished", "cancelled", "failed", "invalid_input"]
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
    data: PreparedData
    source: ModelSource


def _check_inputs(config: RunConfig, pinned: dict[str, Any] | None, pseudonym_salt: str) -> _Inputs:
    """Validate the config, data, model path and hardware before anything is written.

    Args:
        config: The run configuration.
        pinned: When resuming, the run's manifest: its method and compute dtype are kept
            even if today's hardware would choose differently.
        pseudonym_salt: The run's key for consistent pseudonyms (see data.pii_redaction).
    """
    config = config_from_dict(config_to_dict(config))  # fields may have been set after creation
    config.check_ready()
    hardware = probe_hardware(Path(config.output.dir))
    device = resolve_device(hardware)
    if pinned:
        method = pinned["method"]
        compute_dtype = torch_dtype(pinned["compute_dtype"])
    else:
        method = resolve_method(config.method, hardware)
        compute_dtype = resolve_compute_dtype(config.method, hardware)
    quantization_config(method, config.method, compute_dtype, device)  # raises on 8-bit CPU
    data = prepare_training_data(config.data, config.hyperparameters.seed, pseudonym_salt)
    source = resolve_model_source(config.model)
    return _Inputs(config, hardware, method, device, compute_dtype, data, source)


def _estimated_steps(config: RunConfig, examples: int) -> int:
    hyper = config.hyperparameters
    if hyper.max_steps is not None:
        return hyper.max_steps
    batches = math.ceil(examples / hyper.batch_size)
    per_epoch = max(math.ceil(batches / hyper.gradient_accumulation_steps), 1)
    return max(math.ceil(per_epoch * hyper.epochs), 1)


def _save_outputs(model: Any, tokenizer: Any, target: Path) -> tuple[Path, ...]:
    """Save the adapter (or full model) and tokenizer into ``target`` atomically."""
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(str(staging), safe_serialization=True)
    tokenizer.save_pretrained(str(staging))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    return tuple(sorted(path for path in target.iterdir() if path.is_file()))


def _plain_failure(error: BaseException, folder: RunFolder) -> str:
    import torch

    text = str(error)
    if isinstance(error, torch.OutOfMemoryError | MemoryError) or "can't allocate memory" in text:
        return (
            "Training ran out of memory. Lower hyperparameters.batch_size or "
            "hyperparameters.max_length, or choose method qlora, and try again."
        )
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return "The disk is full. Free some space (or choose another output.dir) and resume."
    message = f"Training stopped because of an unexpected error ({text or type(error).__name__})."
    if folder.latest_checkpoint() is not None:
        message += f" The last checkpoint is kept: 'enclave train --resume {folder.path}'."
    return message


def _create_folder(config: RunConfig, method: str) -> RunFolder:
    try:
        return RunFolder.create(config, method)
    except OSError as error:
        raise ConfigError(
            "output.dir",
            f"a run folder cannot be created in {config.output.dir} ({error.strerror}). "
            "Choose a folder you can write to.",
        ) from None


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
        UserInputError: the config, data or model cannot be used; nothing was written.
    """
    stop_event = stop_event or threading.Event()
    checkpoint: Path | None = None
    manifest: dict[str, Any] | None = None
    salt = secrets.token_hex(32)
    if resume_dir is not None:
        folder = RunFolder.open(resume_dir)
        config = folder.load_config()
        manifest, checkpoint = check_resumable(folder)
        check_checkpoint_state(checkpoint)
        salt = folder.read_secret(PSEUDONYM_SALT) or salt
    inputs = _check_inputs(config, manifest, salt)
    if manifest is not None:
        check_inputs_unchanged(manifest, inputs.data.files, inputs.source)
    else:
        folder = _create_folder(inputs.config, inputs.method)
        folder.write_secret(PSEUDONYM_SALT, salt)
        start_manifest(
            folder,
            inputs.config,
            method=inputs.method,
            device=inputs.device,
            compute_dtype=dtype_name(inputs.compute_dtype),
            hardware=inputs.hardware,
            source=inputs.source,
            data_files=inputs.data.files,
            data_record=inputs.data.record,
        )
    audit = AuditReporter(folder)
    events = TeeReporter(RunLogReporter(folder), audit, reporter)
    for note in inputs.data.notes:
        events.report(WarningRaised(note))
    personal = personal_data_warning(inputs.data.record)
    if personal:
        events.report(WarningRaised(personal))
    if manifest is not None and manifest.get("device") != inputs.device:
        events.report(
            WarningRaised(
                f"This run started on the {manifest.get('device')} and continues on the "
                f"{inputs.device}; its losses may differ slightly from an uninterrupted run."
            )
        )
    try:
        audit_run_inputs(folder, inputs.data.record, resumed=manifest is not None)
        result, model = _train(inputs, folder, events, stop_event, checkpoint)
    except UserInputError as error:
        events.report(RunFailed(str(folder.path), error.user_message()))
        finish_run_record(folder, "failed", {})
        return TrainResult("invalid_input", folder.path, message=error.user_message())
    except KeyboardInterrupt:
        finish_run_record(folder, "interrupted", {})
        raise
    except Exception as error:  # noqa: BLE001 - every failure must reach the user
        message = _plain_failure(error, folder)
        events.report(RunFailed(str(folder.path), message, traceback.format_exc()))
        finish_run_record(folder, "failed", {})
        return TrainResult("failed", folder.path, message=message)
    if audit.failure is not None:
        events.report(
            WarningRaised(f"{audit.failure.user_message()} The run's own record is kept.")
        )
    if keep_model:
        result.model = model
    return result


def _cancelled_early(folder: RunFolder, events: TeeReporter) -> TrainResult:
    events.report(RunCancelled(str(folder.path), 0, None))
    finish_run_record(folder, "cancelled", {})
    return TrainResult("cancelled", folder.path, message="Cancelled before training began.")


def _train(
    inputs: _Inputs,
    folder: RunFolder,
    events: TeeReporter,
    stop_event: threading.Event,
    checkpoint: Path | None,
) -> tuple[TrainResult, Any]:
    from transformers import PrinterCallback, ProgressCallback, Trainer, set_seed

    from desktop_app.engine.callbacks import ReporterCallback
    from desktop_app.engine.sft_batches import EncodedDataset, PaddingCollator

    config, hyper = inputs.config, inputs.config.hyperparameters
    quiet_library_output()
    model_folder = prepare_model_folder(inputs.source, events)
    record_model_weights(folder, model_folder)
    audit_model_opened(folder, inputs.source, model_folder)
    if stop_event.is_set():
        return _cancelled_early(folder, events), None
    events.report(StageChanged("loading_model", f"Loading {inputs.source.display_name}"))
    checkpointing = use_gradient_checkpointing(inputs.method, config.method, inputs.device)
    set_seed(hyper.seed)  # before the adapters are created: their initial values are random
    prepared = load_for_training(
        model_folder,
        inputs.method,
        config.method,
        inputs.device,
        inputs.compute_dtype,
        checkpointing,
        trust_remote_code=inputs.source.trust_remote_code,
    )
    for note in prepared.notes:
        events.report(WarningRaised(note))
    events.report(StageChanged("tokenizing", "Preparing the examples"))
    encoding = (prepared.tokenizer, hyper.max_length, config.data.train_on_prompt)
    train_examples, report = encode_records(inputs.data.train, *encoding)
    validation_examples, validation_report = encode_records(inputs.data.validation, *encoding)
    for warning in encoding_warnings(report, hyper.max_length) + encoding_warnings(
        validation_report, hyper.max_length, "validation"
    ):
        events.report(WarningRaised(warning))
    if not train_examples:
        raise DataError(
            config.data.train,
            "no record has any answer left to learn from after cutting to max_length. "
            "Raise hyperparameters.max_length.",
        )
    if stop_event.is_set():
        return _cancelled_early(folder, events), prepared.model

    staging = folder.path / ".staging"
    has_validation = bool(validation_examples)
    callback = ReporterCallback(
        events, stop_event, folder, hyper.keep_checkpoints, inputs.device, hyper.log_every_steps
    )
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

    resumed_step = int(checkpoint.name.split("-")[1]) if checkpoint is not None else 0
    if checkpoint is not None:
        manifest = folder.read_manifest()
        manifest.setdefault("resumed_at", []).append(utc_now())
        folder.write_manifest(manifest)
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
    return _conclude(inputs, folder, events, trainer, callback, prepared, has_validation)


def _conclude(
    inputs: _Inputs,
    folder: RunFolder,
    events: TeeReporter,
    trainer: Trainer,
    callback: ReporterCallback,
    prepared: Any,
    has_validation: bool,
) -> tuple[TrainResult, Any]:
    """After trainer.train() returns: failed, cancelled, or evaluate and save."""
    if callback.non_finite is not None:
        what, step, value = callback.non_finite
        message = (
            f"The {what} became {value} at step {step}, so the run was stopped. "
            "Lower hyperparameters.learning_rate (for example to a tenth) and start again."
        )
        events.report(RunFailed(str(folder.path), message))
        finish_run_record(folder, "failed", {"failed_at_step": step})
        return TrainResult("failed", folder.path, message=message), prepared.model
    step = trainer.state.global_step
    if callback.cancelled:
        latest = folder.latest_checkpoint()
        events.report(RunCancelled(str(folder.path), step, str(latest) if latest else None))
        finish_run_record(folder, "cancelled", {"step": step})
        message = f"Cancelled at step {step}. Continue with 'enclave train --resume {folder.path}'."
        return TrainResult("cancelled", folder.path, latest, message=message), prepared.model

    if has_validation and callback.last_eval_step != step:
        events.report(StageChanged("evaluating", "Measuring validation loss"))
        trainer.evaluate()
    metrics: dict[str, float] = {"steps": float(step)}
    if callback.last_loss is not None:
        metrics["train_loss"] = callback.last_loss
    if callback.last_eval_loss is not None:
        metrics["eval_loss"] = callback.last_eval_loss
        metrics["eval_perplexity"] = math.exp(min(callback.last_eval_loss, 50.0))
    events.report(StageChanged("saving", "Saving the trained model"))
    target = folder.adapter_dir if inputs.method in ("lora", "qlora") else folder.model_dir
    outputs = _save_outputs(prepared.model, prepared.tokenizer, target)
    finish_run_record(folder, "finished", metrics, outputs)
    events.report(RunFinished(str(folder.path), str(target), metrics))
    return TrainResult("finished", folder.path, target, metrics), prepared.model
