"""Deleting a run: its folder (checkpoints, trained adapter or model, evaluation answers,
metrics, secrets) and every export made from it, recorded in the audit log.

A run keeps no copy of its training data files, but what it learned from them is in its
checkpoints and trained weights, and its evaluation files hold questions and answers
taken from the data: all of that goes with the folder. Converted base models in the
cache are shared by every run of that model and are not the run's, so they stay.

Deleting is conservative. Only a folder that is clearly an Enclave run folder is
removed, never one that is still training (unless forced), and an export folder is
removed only when its ``manifest.json`` names this run; anything else listed for the
run is kept and reported, so a wrong path can never delete the user's files. The
``run_deleted`` audit entry is written before anything is removed (with what will go,
the sizes and the run's recorded hashes, so the record outlives the files); if the
removal then stops part way, a second entry says what is left.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from desktop_app.core.audit import AuditLog, config_hash, record
from desktop_app.core.errors import UserInputError
from desktop_app.core.run_folder import RunFolder

#: The run folder's list of its exports (written by the export feature).
EXPORTS_FILE = "exports.json"
EXPORT_MANIFEST = "manifest.json"

_PARTS = {
    "checkpoints": "checkpoints (training state, to resume from)",
    ".staging": "a checkpoint being written",
    "adapter": "the trained adapter",
    "model": "the trained model",
    ".secrets": "the run's secret key for pseudonyms",
    "evaluation.json": "evaluation answers (questions and answers from your data)",
    "memorisation.json": "memorisation check (text from your data)",
    "review.json": "blind review answers",
    "metrics.jsonl": "the training log",
    "manifest.json": "the run's record",
    "config.json": "the run configuration",
    "exports.json": "the list of exports",
}


@dataclass(frozen=True)
class RemovedItem:
    """One thing deleted (or to be deleted).

    Args:
        path: The file or folder.
        what: What it is, in plain words.
        bytes: Its size on disk.
    """

    path: Path
    what: str
    bytes: int


@dataclass(frozen=True)
class KeptExport:
    """An export listed for the run that is not deleted, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class DeletionPlan:
    """What deleting a run would remove, checked but not yet done.

    Args:
        run_dir: The run folder (absolute).
        status: The run's recorded state (finished, cancelled, failed, running, ...).
        items: The run folder's parts, then each export folder.
        kept_exports: Exports listed for the run that will be left alone.
        notes: Things the user should know (a run recorded as running, and why it
            may be deleted anyway).
    """

    run_dir: Path
    status: str
    items: tuple[RemovedItem, ...]
    kept_exports: tuple[KeptExport, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def total_bytes(self) -> int:
        return sum(item.bytes for item in self.items)

    @property
    def exports(self) -> tuple[RemovedItem, ...]:
        return tuple(item for item in self.items if item.what.startswith("export"))


@dataclass(frozen=True)
class DeletionReport:
    """What :func:`delete_run` removed.

    Args:
        plan: What was to be removed.
        audit_hash: The hash of the ``run_deleted`` audit entry.
    """

    plan: DeletionPlan
    audit_hash: str

    @property
    def removed(self) -> tuple[RemovedItem, ...]:
        return self.plan.items

    @property
    def total_bytes(self) -> int:
        return self.plan.total_bytes

    def summary(self) -> str:
        """A short plain-language account of the deletion."""
        exports = len(self.plan.exports)
        text = (
            f"Deleted the run {self.plan.run_dir} ({_size(self.total_bytes)})"
            + (f" and {exports} export(s)" if exports else "")
            + ". The audit log keeps a record of it."
        )
        for kept in self.plan.kept_exports:
            text += f"\nKept {kept.path}: {kept.reason}"
        return text


class RunDeletionError(UserInputError):
    """The run cannot be deleted (not a run folder, still training, or a file in use)."""


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} bytes"


def _bytes_of(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(folder) / name).lstat().st_size
            except OSError:
                continue
    return total


def _open_run(run_dir: str | Path) -> RunFolder:
    given = Path(run_dir).expanduser()
    if given.is_symlink():
        raise RunDeletionError(
            f"{given} is a link, not a run folder; Enclave does not delete through links.",
            "Give the run folder itself.",
        )
    folder = RunFolder.open(given.resolve())
    if not folder.manifest_path.is_file() and not folder.metrics_path.is_file():
        raise RunDeletionError(
            f"{folder.path} has a config.json but no run record (manifest.json or "
            "metrics.jsonl), so it does not look like a run Enclave made.",
            "Check the folder; Enclave only deletes its own run folders.",
        )
    return folder


def _latest_entry_for(run_dir: Path) -> dict[str, Any] | None:
    latest = None
    for entry in AuditLog().entries():
        run = entry.get("run")
        if run and Path(str(run)).resolve() == run_dir:
            latest = entry
    return latest


def _still_training(run_dir: Path) -> tuple[bool, str]:
    """(may be training, explanation) for a run whose record says ``running``."""
    entry = _latest_entry_for(run_dir)
    if entry is None or entry.get("host") != socket.gethostname():
        return True, "Its record says it is still training, and Enclave cannot tell otherwise."
    pid = entry.get("pid")
    try:
        process = psutil.Process(int(pid))  # type: ignore[arg-type]
        started = datetime.fromisoformat(str(entry["time"])).timestamp()
        alive = process.create_time() <= started + 1
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError, TypeError, KeyError):
        alive = False
    if alive:
        return True, f"It is still training (process {pid} is running)."
    return False, (
        f"Its record says it is still training, but the process that trained it ({pid}) "
        "has ended: the run was interrupted."
    )


def _export_run_matches(manifest: dict[str, Any], run_dir: Path) -> bool:
    candidates = [manifest.get("run"), manifest.get("source_run"), manifest.get("run_dir")]
    source = manifest.get("source")
    if isinstance(source, dict):
        candidates.append(source.get("run"))
    for value in candidates:
        if isinstance(value, str) and value and Path(value).expanduser().resolve() == run_dir:
            return True
    return False


def _listed_exports(folder: RunFolder) -> list[str]:
    """Export folders recorded for the run: in its exports.json, and in the audit log
    (so an export survives a damaged or missing list)."""
    paths: list[str] = []
    try:
        listed = json.loads((folder.path / EXPORTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        listed = []
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            paths.append(entry["path"])
    for entry in AuditLog().entries():
        run, details = entry.get("run"), entry.get("details") or {}
        if (
            entry.get("event") == "exported"
            and run
            and Path(str(run)).resolve() == folder.path
            and isinstance(details.get("destination"), str)
        ):
            paths.append(details["destination"])
    return list(dict.fromkeys(paths))


def _check_export(path_text: str, run_dir: Path) -> tuple[Path, str | None]:
    """(folder, None) when it is clearly this run's export, else (path, why it is kept)."""
    given = Path(path_text).expanduser()
    if not given.is_absolute():
        return given, "the recorded path is not absolute."
    if given.is_symlink():
        return given, "it is a link; Enclave does not delete through links."
    if not given.exists():
        return given, "it no longer exists."
    path = given.resolve()
    if not path.is_dir():
        return path, "it is not a folder."
    if path == run_dir or path in run_dir.parents or run_dir in path.parents:
        return path, "it contains or is inside the run folder."
    try:
        manifest = json.loads((path / EXPORT_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return path, "it has no readable Enclave export manifest (manifest.json)."
    if not isinstance(manifest, dict) or not _export_run_matches(manifest, run_dir):
        return path, "its manifest.json does not name this run, so it may not be this run's."
    return path, None


def plan_run_deletion(run_dir: str | Path, *, force: bool = False) -> DeletionPlan:
    """Check that a run may be deleted and list what would go, deleting nothing.

    Args:
        run_dir: The run folder.
        force: Delete even if the run's record says it is still training.

    Raises:
        RunDeletionError: the folder is not an Enclave run folder, or the run may still
            be training (and ``force`` is False).
        UserInputError: the folder has no config.json.
    """
    folder = _open_run(run_dir)
    try:
        manifest = folder.read_manifest()
    except (OSError, ValueError):
        manifest = {}
    status = str(manifest.get("status") or "unknown")
    notes: list[str] = []
    if status == "running":
        training, why = _still_training(folder.path)
        if training and not force:
            raise RunDeletionError(
                f"The run in {folder.path} may still be training. {why}",
                "Cancel the training first. If it is not training any more (the app was "
                "closed or the computer restarted), delete it with --force ('enclave runs "
                "delete --force').",
            )
        notes.append(why)
    items = [
        RemovedItem(child, _PARTS.get(child.name, "other files of the run"), _bytes_of(child))
        for child in sorted(folder.path.iterdir())
    ]
    kept: list[KeptExport] = []
    for path_text in _listed_exports(folder):
        path, reason = _check_export(path_text, folder.path)
        if reason is None:
            items.append(RemovedItem(path, "export of the run", _bytes_of(path)))
        else:
            kept.append(KeptExport(path, reason))
    return DeletionPlan(folder.path, status, tuple(items), tuple(kept), tuple(notes))


def _recorded_hashes(manifest: dict[str, Any]) -> dict[str, Any]:
    model = manifest.get("model") or {}
    return {
        "status": manifest.get("status"),
        "method": manifest.get("method"),
        "started_at": manifest.get("started_at"),
        "finished_at": manifest.get("finished_at"),
        "config_sha256": config_hash(manifest["config"]) if manifest.get("config") else None,
        "model": {"path": model.get("path"), "weights": model.get("weights")},
        "data_files": manifest.get("data_files"),
        "outputs": manifest.get("outputs"),
    }


def _remove(path: Path) -> str | None:
    """Remove a file or folder; return what is left (and why) if that failed.

    A folder is first renamed aside, so it disappears from its place at once and a
    half-removed folder never looks like a run or an export."""
    try:
        if not path.is_dir():
            path.unlink()
            return None
        aside = path.with_name(f".deleting-{path.name}-{uuid.uuid4().hex[:8]}")
        os.replace(path, aside)
    except OSError as error:
        return f"{path} ({error.strerror or error})"
    try:
        shutil.rmtree(aside)
    except OSError as error:
        return f"{aside} ({error.strerror or error})"
    return None


def delete_run(run_dir: str | Path, *, force: bool = False) -> DeletionReport:
    """Delete a run folder and every export made from it, and record it in the audit log.

    Args:
        run_dir: The run folder.
        force: Delete even if the run's record says it is still training.

    Returns:
        What was removed.

    Raises:
        RunDeletionError: the run may not be deleted (see :func:`plan_run_deletion`), or
            a file could not be removed (what is left is named and audited).
        AuditError: the deletion cannot be recorded; nothing was deleted.
    """
    plan = plan_run_deletion(run_dir, force=force)
    try:
        manifest = RunFolder(plan.run_dir).read_manifest()
    except (OSError, ValueError):
        manifest = {}
    details = {
        "run_dir": str(plan.run_dir),
        "removed": [
            {"path": str(item.path), "what": item.what, "bytes": item.bytes} for item in plan.items
        ],
        "bytes": plan.total_bytes,
        "kept_exports": [{"path": str(k.path), "reason": k.reason} for k in plan.kept_exports],
        "forced": force and plan.status == "running",
        "recorded": _recorded_hashes(manifest),
    }
    entry = record("run_deleted", details, run=plan.run_dir)
    paths = [item.path for item in plan.exports] + [plan.run_dir]
    left = [problem for problem in map(_remove, paths) if problem is not None]
    if left:
        record("run_deleted", {"run_dir": str(plan.run_dir), "incomplete": True, "left": left})
        raise RunDeletionError(
            f"Part of the run could not be deleted: {'; '.join(left)}.",
            "Close any program using those files and delete the run again.",
        )
    return DeletionReport(plan, str(entry["hash"]))


def format_deletion_plan(plan: DeletionPlan) -> str:
    """The plan as text, for a confirmation question."""
    lines = [f"This deletes the run {plan.run_dir} (state: {plan.status}):"]
    for item in plan.items:
        lines.append(f"  {_size(item.bytes):>10}  {item.what}: {item.path}")
    lines.append(f"  {_size(plan.total_bytes):>10}  in all")
    for kept in plan.kept_exports:
        lines.append(f"Kept (not deleted): {kept.path}: {kept.reason}")
    lines.extend(plan.notes)
    return "\n".join(lines)
