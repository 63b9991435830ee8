"""Export a finished run: its adapter, or a merged or whole model, with its lineage.

:func:`export_run` copies an adapter run's adapter (PEFT format) and tokenizer, or, with
``merge=True``, merges the adapter into a full-precision copy of the base model (never
a 4-bit one: a QLoRA adapter is merged into the unquantised weights) and saves the
result as safetensors. Full and freeze runs export their trained model folder.

Every export holds ``manifest.json`` (the run's record, ``run`` = the run folder, and
``export``: kind, artifact hashes, audit head, who and when) and ``MODEL_CARD.md``. It
is written into a temporary folder beside the destination and renamed into place at the
end, so a failed export leaves nothing half-written. The export is recorded in the
audit log (``exported``) and in the run folder's ``exports.json``. torch, transformers
and peft are imported only to merge.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from desktop_app.core.audit import AuditError, record
from desktop_app.core.errors import ModelError, UserInputError
from desktop_app.core.events import Reporter, StageChanged, WarningRaised
from desktop_app.core.hardware import format_size
from desktop_app.core.manifest import file_hashes, library_versions, utc_now, who_and_where
from desktop_app.core.model_card import MODEL_CARD_NAME, model_card_markdown
from desktop_app.core.run_folder import RunFolder, write_json_atomic
from desktop_app.engine import quiet_library_output
from desktop_app.engine.builders import torch_dtype
from desktop_app.engine.finished_run import ADAPTER_METHODS, FinishedRun, open_finished_run
from desktop_app.engine.model_files import (
    model_weight_files,
    prepare_model_folder,
    resolve_model_source,
)
from desktop_app.engine.run_record import audit_head, read_evaluation, refresh_lineage

#: adapter: the PEFT adapter; merged: adapter merged into the base model; model: a full
#: or freeze run's whole model.
ExportKind = Literal["adapter", "merged", "model"]
#: The run folder's list of its exports (each with ``path``, ``time``, ``kind``,
#: ``merged``), read by whatever deletes a run and its exports.
EXPORTS_FILE = "exports.json"
MANIFEST_NAME = "manifest.json"
#: Files of the trained folder that are not copied: PEFT's own template card, which
#: MODEL_CARD.md replaces.
_NOT_EXPORTED = {"README.md"}
#: The number formats a model can be merged in, and the bytes of one weight in each.
_ELEMENT_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
#: Room kept free beyond the estimate (file system overhead, tokenizer, manifest).
_SPARE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_run` wrote.

    Args:
        destination: The export folder (absolute).
        run_dir: The run folder it came from (absolute).
        kind: ``adapter``, ``merged`` or ``model``.
        merged: Whether the adapter was merged into the base model.
        artifacts: Every file of the export, by path relative to the folder:
            {"sha256", "bytes"} (manifest.json and MODEL_CARD.md included).
        audit_hash: The hash of the audit log's ``exported`` entry.
    """

    destination: Path
    run_dir: Path
    kind: ExportKind
    merged: bool
    artifacts: dict[str, dict[str, Any]]
    audit_hash: str

    @property
    def total_bytes(self) -> int:
        return sum(int(entry["bytes"]) for entry in self.artifacts.values())


class _Silent:
    def report(self, event: Any) -> None:
        """Ignore the event."""


def _stage(reporter: Reporter, stage: str, detail: str, fraction: float | None = None) -> None:
    reporter.report(StageChanged(stage, detail, fraction))


def _finished_run(run_dir: Path) -> FinishedRun:
    """The run, or a plain refusal when it did not finish."""
    folder = RunFolder.open(run_dir)
    try:
        status = folder.read_manifest().get("status")
    except (OSError, ValueError):
        status = None  # open_finished_run says what is wrong with the manifest
    if status is not None and status != "finished":
        raise UserInputError(
            f"The run in {folder.path} did not finish (its state is '{status}'), so it has "
            "no trained model to export.",
            "Finish the run (resume it on the Train step) or train again, then export.",
        )
    return open_finished_run(folder.path)


def _check_destination(destination: Path, run: FinishedRun) -> None:
    if destination.exists() and not destination.is_dir():
        raise UserInputError(
            f"{destination} is a file, not a folder.",
            "Choose a new or empty folder for the export.",
        )
    if destination.is_dir() and any(destination.iterdir()):
        raise UserInputError(
            f"{destination} already holds files. An export is never written over them.",
            "Choose a new or empty folder for the export.",
        )
    if destination.is_relative_to(run.output_path.resolve()):
        raise UserInputError(
            f"{destination} is inside the run's trained model folder.",
            "Choose a folder outside the run's adapter or model folder.",
        )


def _check_outputs_unchanged(run: FinishedRun, manifest: dict[str, Any]) -> None:
    """Refuse when the trained files differ from those recorded when training ended."""
    recorded = {
        Path(path).name: entry.get("sha256") for path, entry in manifest.get("outputs", {}).items()
    }
    current = file_hashes(path for path in run.output_path.iterdir() if path.name in recorded)
    for path, entry in current.items():
        if entry["sha256"] != recorded[Path(path).name]:
            raise UserInputError(
                f"{path} has changed since training finished, so the export would not be "
                "the model this run trained.",
                "Copy the run folder back from a backup, or train again.",
            )


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _check_free_space(destination: Path, needed: int) -> None:
    free = shutil.disk_usage(_nearest_existing(destination)).free
    if free < needed + _SPARE_BYTES:
        raise UserInputError(
            f"There is not enough free disk space for the export in {destination.parent}: "
            f"it needs about {format_size(needed)} and {format_size(free)} is free.",
            "Free some space, or choose a folder on another disk.",
        )


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def _copy_files(source: Path, target: Path, skip: set[str] | None = None) -> None:
    for path in _files(source):
        relative = path.relative_to(source)
        if skip and relative.name in skip:
            continue
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / relative)


def _size_of(folder: Path) -> int:
    return sum(path.stat().st_size for path in _files(folder))


def _merge_dtype(manifest: dict[str, Any]) -> str:
    """float32 for runs trained on the CPU; the run's bfloat16 or float16 on a GPU."""
    name = str(manifest.get("compute_dtype", "float32"))
    return name if manifest.get("device") == "cuda" and name in _ELEMENT_BYTES else "float32"


def _base_model_folder(run: FinishedRun, manifest: dict[str, Any], reporter: Reporter) -> Path:
    """The base model's folder, checked against the hashes recorded at training."""
    folder = prepare_model_folder(resolve_model_source(run.base_model), reporter)
    _stage(reporter, "checking", "Checking the base model's files against the run's record")
    recorded = manifest.get("model", {}).get("weights") or {}
    current = file_hashes(model_weight_files(folder))
    if sorted(e.get("sha256") for e in recorded.values()) != sorted(
        e["sha256"] for e in current.values()
    ):
        raise ModelError(
            f"The base model's weight files in {folder} are not the ones this run was "
            "trained on, so merging would not give the model that was trained.",
            "Put the original base model back (where the run's manifest says), or export "
            "the adapter without merging.",
        )
    return folder


def _merged_size(base_folder: Path, dtype: str) -> int:
    """The merged model's size on disk, from the base weights and their number format."""
    try:
        config = json.loads((base_folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    stored = str(config.get("torch_dtype") or config.get("dtype") or dtype)
    weights = sum(path.stat().st_size for path in model_weight_files(base_folder))
    return weights * _ELEMENT_BYTES[dtype] // _ELEMENT_BYTES.get(stored, _ELEMENT_BYTES[dtype])


def _write_merged(
    run: FinishedRun, manifest: dict[str, Any], staging: Path, reporter: Reporter
) -> str:
    """Merge the adapter into a full-precision base model and save it into ``staging``."""
    dtype = _merge_dtype(manifest)
    base_folder = _base_model_folder(run, manifest, reporter)
    _check_free_space(staging, _merged_size(base_folder, dtype) + _size_of(run.output_path))
    _stage(reporter, "loading_model", f"Loading the base model in {dtype}")
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    quiet_library_output()
    base = AutoModelForCausalLM.from_pretrained(
        str(base_folder),
        dtype=torch_dtype(dtype),
        device_map={"": "cpu"},
        trust_remote_code=False,
        use_safetensors=True,
        low_cpu_mem_usage=True,
    )
    _stage(reporter, "merging", "Merging the adapter into the base model")
    merged = PeftModel.from_pretrained(base, str(run.output_path)).merge_and_unload()
    merged.config.use_cache = True  # training saves it switched off
    _stage(reporter, "saving", "Saving the merged model")
    merged.save_pretrained(str(staging), safe_serialization=True)
    adapter_files = {"adapter_model.safetensors", "adapter_config.json"}
    _copy_files(run.output_path, staging, _NOT_EXPORTED | adapter_files)  # the tokenizer
    del merged, base
    gc.collect()
    return dtype


def _relative_hashes(folder: Path) -> dict[str, dict[str, Any]]:
    hashes = file_hashes(_files(folder))
    return {
        path.relative_to(folder).as_posix(): hashes[str(path.resolve())] for path in _files(folder)
    }


def _record_in_run(run_dir: Path, entry: dict[str, Any], reporter: Reporter) -> None:
    path = run_dir / EXPORTS_FILE
    try:
        existing = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        existing = []
    except (OSError, ValueError):
        existing = []
        reporter.report(WarningRaised(f"{path} could not be read; it was started again."))
    exports = existing if isinstance(existing, list) else []
    try:
        write_json_atomic(path, [*exports, entry])
    except OSError as error:
        reporter.report(
            WarningRaised(
                f"The export is complete, but the run folder's list of exports ({path}) "
                f"could not be updated ({error.strerror}). The audit log records it."
            )
        )


def _publish(staging: Path, destination: Path) -> None:
    """Flush every file to disk, then move the finished export into place."""
    for path in _files(staging):
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    if destination.is_dir():
        destination.rmdir()  # checked empty; a rename over a folder fails on Windows
    os.replace(staging, destination)


def export_run(
    run_dir: str | Path,
    destination: str | Path,
    *,
    merge: bool = False,
    reporter: Reporter | None = None,
) -> ExportResult:
    """Export a finished run's trained model, with its manifest and model card.

    Args:
        run_dir: The run folder (or its adapter/model folder).
        destination: A new or empty folder to write the export into.
        merge: For LoRA and QLoRA runs, merge the adapter into a full-precision copy of
            the base model and export the whole model (ignored, with a note, for full and
            freeze runs, which export their whole model anyway).
        reporter: Receives StageChanged and WarningRaised events.

    Returns:
        What was written and its hashes.

    Raises:
        UserInputError: the run did not finish or its files changed, the destination is
            not empty, the disk is too full, the base model is missing or changed, or the
            audit log cannot be written (the export is then removed).
    """
    reporter = reporter or _Silent()
    run = _finished_run(Path(run_dir).resolve())
    destination = Path(destination).expanduser().resolve()
    _check_destination(destination, run)
    _stage(reporter, "checking", "Checking the run's files")
    with contextlib.suppress(OSError):  # a read-only run folder exports the record it has
        refresh_lineage(run.run_dir)
    folder = RunFolder(run.run_dir)
    manifest = folder.read_manifest()
    _check_outputs_unchanged(run, manifest)
    adapter = run.method in ADAPTER_METHODS
    if merge and not adapter:
        reporter.report(
            WarningRaised("This run trained the whole model, so there is no adapter to merge.")
        )
    merged = merge and adapter
    kind: ExportKind = "merged" if merged else "adapter" if adapter else "model"
    if not merged:
        _check_free_space(destination, _size_of(run.output_path))

    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.parent / f".{destination.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        export: dict[str, Any] = {"kind": kind, "merged": merged}
        if merged:
            export["dtype"] = _write_merged(run, manifest, staging, reporter)
        else:
            _stage(reporter, "copying", f"Copying the trained {kind}")
            _copy_files(run.output_path, staging, _NOT_EXPORTED)
        _stage(reporter, "hashing", "Recording the files' fingerprints")
        who = who_and_where()
        export.update(
            time=utc_now(),
            user=who["user"],
            host=who["host"],
            destination=str(destination),
            audit_head=audit_head(),
            libraries=library_versions(),
            artifacts=_relative_hashes(staging),
        )
        export_manifest = {**manifest, "run": str(run.run_dir), "export": export}
        write_json_atomic(staging / MANIFEST_NAME, export_manifest)
        evaluation = None if export_manifest.get("evaluation") else read_evaluation(run.run_dir)
        card = model_card_markdown(export_manifest, evaluation)
        (staging / MODEL_CARD_NAME).write_text(card, encoding="utf-8")
        artifacts = _relative_hashes(staging)
        _publish(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    details = {
        "destination": str(destination),
        "kind": kind,
        "merged": merged,
        "artifacts": {name: entry["sha256"] for name, entry in artifacts.items()},
    }
    try:
        entry = record("exported", details, run=run.run_dir)
    except AuditError:
        shutil.rmtree(destination, ignore_errors=True)  # no export may go unrecorded
        raise
    _record_in_run(
        run.run_dir,
        {
            "path": str(destination),
            "time": export["time"],
            "kind": kind,
            "merged": merged,
            "user": export["user"],
            "audit_hash": entry["hash"],
        },
        reporter,
    )
    _stage(reporter, "done", f"Exported to {destination}", 1.0)
    return ExportResult(destination, run.run_dir, kind, merged, artifacts, str(entry["hash"]))
