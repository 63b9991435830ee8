"""The run's written record around training: the manifest from the first moment a run
folder exists, the rules for resuming a run safely, and the run's lineage (manifest and
MODEL_CARD.md) kept current as the run ends, is evaluated and is signed off."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from desktop_app.core.audit import AuditLog, record
from desktop_app.core.config import RunConfig
from desktop_app.core.config_io import config_to_dict
from desktop_app.core.errors import UserInputError
from desktop_app.core.hardware import HardwareInfo, hardware_to_dict
from desktop_app.core.hashing import sha256_file
from desktop_app.core.manifest import (
    evaluation_summary,
    file_hashes,
    finish_manifest,
    new_manifest,
)
from desktop_app.core.model_card import MODEL_CARD_NAME, model_card_markdown
from desktop_app.core.run_folder import EVALUATION_FILE, RunFolder
from desktop_app.engine.model_files import ModelSource, model_weight_files


def quantization_summary(method: str, config: RunConfig) -> dict[str, Any] | None:
    """What the manifest says about quantisation: None unless the method is QLoRA."""
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


def start_manifest(
    folder: RunFolder,
    config: RunConfig,
    *,
    method: str,
    device: str,
    compute_dtype: str,
    hardware: HardwareInfo,
    source: ModelSource,
    data_files: list[Path],
    data_record: dict[str, Any],
) -> dict[str, Any]:
    """Write the manifest as soon as the run folder exists, so even a run that fails
    while loading leaves a record. The model weight hashes are added once the model
    folder is ready (:func:`record_model_weights`)."""
    model: dict[str, Any] = {"path": config.model.path, "source": str(source.path)}
    if source.kind == "gguf":
        model["source_sha256"] = file_hashes([source.path])[str(source.path.resolve())]["sha256"]
    manifest = new_manifest(
        config=config_to_dict(config),
        method=method,
        seed=config.hyperparameters.seed,
        hardware=hardware_to_dict(hardware),
        model=model,
        data_files=data_files,
    )
    manifest.update(
        device=device,
        compute_dtype=compute_dtype,
        quantization=quantization_summary(method, config),
        data=data_record,
        resumed_at=[],
    )
    folder.write_manifest(manifest)
    return manifest


def record_model_weights(folder: RunFolder, model_folder: Path) -> None:
    """Add the sha256 of every weight file; on resume, refuse if they changed."""
    manifest = folder.read_manifest()
    weights = file_hashes(model_weight_files(model_folder))
    recorded = manifest["model"].get("weights")
    if recorded is not None and _digests(recorded) != _digests(weights):
        raise UserInputError(
            "The base model's weight files have changed since this run started, so "
            "resuming would not give the same model.",
            "Put the original model back, or start a new run.",
        )
    manifest["model"]["weights"] = weights
    folder.write_manifest(manifest)


def _digests(hashes: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(entry["sha256"] for entry in hashes.values())


def check_resumable(folder: RunFolder) -> tuple[dict[str, Any], Path]:
    """The run's manifest and newest checkpoint, or a plain refusal.

    Raises:
        UserInputError: the run finished already or has no checkpoint.
    """
    manifest = folder.read_manifest()
    if manifest.get("status") == "finished":
        raise UserInputError(
            f"The run in {folder.path} already finished; there is nothing to resume.",
            "Start a new run with 'enclave train CONFIG.json'.",
        )
    checkpoint = folder.latest_checkpoint()
    if checkpoint is None or not manifest:
        raise UserInputError(
            f"The run in {folder.path} has no checkpoint to resume from.",
            "Start it again with 'enclave train CONFIG.json'.",
        )
    return manifest, checkpoint


def check_inputs_unchanged(
    manifest: dict[str, Any], data_files: list[Path], source: ModelSource
) -> None:
    """Refuse to resume when the data or the GGUF source differ from the run's record."""
    recorded = manifest.get("data_files", {})
    current = file_hashes(data_files)
    for path in data_files:
        key = str(path.resolve())
        if recorded.get(key, {}).get("sha256") != current[key]["sha256"]:
            raise UserInputError(
                f"{path} has changed since this run started, so resuming would not give "
                "the same model.",
                "Put the original file back, or start a new run with the new data.",
            )
    expected_source = manifest.get("model", {}).get("source_sha256")
    if expected_source is not None and source.kind == "gguf":
        actual = file_hashes([source.path])[str(source.path.resolve())]["sha256"]
        if actual != expected_source:
            raise UserInputError(
                f"{source.path} has changed since this run started.",
                "Put the original model file back, or start a new run.",
            )


def finish_run_record(
    folder: RunFolder, status: str, metrics: dict[str, Any], outputs: tuple[Path, ...] = ()
) -> None:
    """Record how the run ended (status, end time, metrics, output hashes) and write
    MODEL_CARD.md beside the manifest, whichever way it ended."""
    manifest = folder.read_manifest()
    if manifest:
        manifest = finish_manifest(manifest, status, metrics, outputs)
        manifest.setdefault("evaluation", None)
        manifest.setdefault("sign_off", None)
        folder.write_manifest(manifest)
        write_text_atomic(
            folder.path / MODEL_CARD_NAME, model_card_markdown(manifest, audit_head=audit_head())
        )


# --- lineage after training ------------------------------------------------------------


def audit_head() -> str | None:
    """The hash of the audit log's last entry now, or None before its first entry."""
    head = AuditLog().head()
    value = head.get("hash") if head else None
    return str(value) if value else None


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file and rename it over ``path`` (UTF-8)."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def read_evaluation(run_dir: Path) -> dict[str, Any] | None:
    """The run's complete evaluation.json, or None when there is none, it cannot be
    read or the comparison was stopped before the end."""
    try:
        value = json.loads((run_dir / EVALUATION_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or value.get("status", "finished") != "finished":
        return None
    return value


def refresh_lineage(run_dir: str | Path) -> Path:
    """Bring the run's manifest and MODEL_CARD.md up to date with evaluation.json and
    the recorded sign-off (call it after either changes).

    Returns:
        The path of MODEL_CARD.md.

    Raises:
        UserInputError: the folder holds no run manifest.
    """
    folder = RunFolder(Path(run_dir))
    manifest = _read_manifest(folder)
    evaluation = read_evaluation(folder.path)
    if evaluation is not None:
        manifest["evaluation"] = evaluation_summary(evaluation)
    manifest.setdefault("evaluation", None)
    manifest.setdefault("sign_off", None)
    folder.write_manifest(manifest)
    card = folder.path / MODEL_CARD_NAME
    write_text_atomic(card, model_card_markdown(manifest, audit_head=audit_head()))
    return card


def record_sign_off(
    run_dir: str | Path, sign_off: dict[str, Any], report_files: Sequence[Path] = ()
) -> dict[str, Any]:
    """Keep a reviewer's decision in the run's manifest, refresh MODEL_CARD.md, and
    record it in the audit log (a ``signed_off`` entry, with the report files' sha256).

    Args:
        run_dir: The run folder.
        sign_off: :func:`desktop_app.core.manifest.sign_off_record`'s result (or a dict
            with the same keys).
        report_files: The sign-off report as written (PDF, HTML), for their hashes.

    Returns:
        The manifest as written.

    Raises:
        UserInputError: the run has no manifest, or the audit log cannot be written.
    """
    folder = RunFolder(Path(run_dir))
    manifest = _read_manifest(folder)
    manifest["sign_off"] = dict(sign_off)
    folder.write_manifest(manifest)
    refresh_lineage(folder.path)
    record(
        "signed_off",
        {
            **dict(sign_off),
            "report_files": {str(path): sha256_file(path) for path in report_files},
            "manifest_sha256": sha256_file(folder.manifest_path),
        },
        run=folder.path,
    )
    return folder.read_manifest()


def _read_manifest(folder: RunFolder) -> dict[str, Any]:
    manifest = folder.read_manifest_or_explain()
    if not manifest:
        raise UserInputError(
            f"{folder.path} holds no run record (manifest.json).",
            "Choose the folder of a run that Enclave trained.",
        )
    return manifest
