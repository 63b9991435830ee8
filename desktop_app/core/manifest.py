"""The run manifest: what was trained, on what, with which software, on which machine."""

from __future__ import annotations

import getpass
import importlib.metadata
import platform
import socket
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import desktop_app
from desktop_app.core.errors import UserInputError
from desktop_app.core.hashing import sha256_file

#: Libraries whose versions decide the numbers a run produces.
TRACKED_LIBRARIES = (
    "torch",
    "transformers",
    "peft",
    "bitsandbytes",
    "accelerate",
    "tokenizers",
    "safetensors",
    "gguf",
    "numpy",
)
#: The decisions a reviewer can record at sign-off.
SIGN_OFF_DECISIONS = ("approved", "needs changes", "rejected")


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that matter for reproducing a run."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in TRACKED_LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def file_hashes(paths: Iterable[Path]) -> dict[str, dict[str, Any]]:
    """sha256 and size of each file, keyed by its absolute path."""
    return {
        str(path.resolve()): {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        for path in paths
    }


def utc_now() -> str:
    """The current time as an ISO 8601 string in UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def who_and_where() -> dict[str, str]:
    """The OS user and host name, for the record."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {"user": user, "host": socket.gethostname(), "os": platform.platform()}


def evaluation_summary(evaluation: Mapping[str, Any]) -> dict[str, Any]:
    """What the manifest keeps of ``evaluation.json``: when, on which records and how,
    and both models' scores; not the answers themselves."""
    keep = ("evaluated_at", "status", "data", "settings", "base", "tuned", "notes")
    return {key: evaluation[key] for key in keep if key in evaluation}


def sign_off_record(reviewer: str, decision: str, date: str, notes: str = "") -> dict[str, Any]:
    """The manifest's ``sign_off``: who decided what, and when it was recorded.

    Args:
        reviewer: Who reviewed the model.
        decision: One of :data:`SIGN_OFF_DECISIONS`.
        date: The date of the decision (ISO 8601).
        notes: Conditions or reasons, for a later reader.

    Raises:
        UserInputError: the reviewer is empty or the decision is not one of the choices.
    """
    if not reviewer.strip():
        raise UserInputError(
            "A sign-off needs the reviewer's name.", "Enter who reviewed the model."
        )
    if decision not in SIGN_OFF_DECISIONS:
        raise UserInputError(
            f"'{decision}' is not a sign-off decision.",
            f"Choose one of: {', '.join(SIGN_OFF_DECISIONS)}.",
        )
    return {
        "reviewer": reviewer.strip(),
        "decision": decision,
        "date": date,
        "notes": notes.strip(),
        "recorded_at": utc_now(),
        "recorded_by": who_and_where()["user"],
    }


def new_manifest(
    *,
    config: dict[str, Any],
    method: str,
    seed: int,
    hardware: dict[str, Any],
    model: dict[str, Any],
    data_files: Iterable[Path],
) -> dict[str, Any]:
    """The manifest written when a run starts; :func:`finish_manifest` completes it.

    ``evaluation`` (a summary of evaluation.json) and ``sign_off`` stay None until the
    run is compared with its base model and signed off.
    """
    return {
        "enclave_version": desktop_app.__version__,
        "status": "running",
        "method": method,
        "seed": seed,
        "started_at": utc_now(),
        "finished_at": None,
        **who_and_where(),
        "model": model,
        "data_files": file_hashes(data_files),
        "libraries": library_versions(),
        "hardware": hardware,
        "config": config,
        "final_metrics": {},
        "evaluation": None,
        "sign_off": None,
    }


def finish_manifest(
    manifest: dict[str, Any], status: str, metrics: dict[str, Any], outputs: Iterable[Path] = ()
) -> dict[str, Any]:
    """Record the end of a run: its status, end time, final metrics and output hashes."""
    manifest = dict(manifest)
    manifest["status"] = status
    manifest["finished_at"] = utc_now()
    manifest["final_metrics"] = metrics
    manifest["outputs"] = file_hashes(outputs)
    return manifest
