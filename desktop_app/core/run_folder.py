"""A run's folder on disk: its layout, its event log and atomic writes.

Layout::

    <output.dir>/<run name>/
        config.json        the run configuration as given (paths resolved)
        metrics.jsonl      one JSON event per line, appended as the run goes
        manifest.json      hashes, versions, hardware, times, final metrics
        checkpoints/       checkpoint-<step>/ folders, each complete or absent
        adapter/           the trained LoRA adapter (PEFT format, safetensors)
        model/             the trained weights, for full and freeze runs
        .secrets/          the run's secrets (the pseudonym key)

On POSIX the run folder and every folder in it are readable by the user only (0700),
and the files this module writes are 0600; files written by libraries (checkpoints,
saved adapters) get the same once the app has set its umask
(:func:`desktop_app.core.permissions.restrict_process_umask`).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from desktop_app.core.config import RunConfig
from desktop_app.core.config_io import load_config, save_config
from desktop_app.core.errors import UserInputError
from desktop_app.core.events import Event, event_to_dict
from desktop_app.core.permissions import (
    PRIVATE_FOLDER_MODE,
    make_private,
    make_private_dir,
    open_private,
)

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")

#: The evaluation of a finished run against its base model (engine.evaluation writes it).
EVALUATION_FILE = "evaluation.json"
#: Name of the run's secret key for consistent pseudonyms (never in the manifest).
PSEUDONYM_SALT = "pseudonym-salt"


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON to a temporary file and rename it over ``path``, so readers never see
    half a file. A new file is readable by the user only (0600)."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open_private(temporary, "w") as handle:
        json.dump(payload, handle, indent=2, default=_json_default)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finite_or_none(value: Any) -> Any:
    # JSON has no NaN; a NaN loss is written as null and the event says why.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    return value


def _sync_directory(path: Path) -> None:
    if os.name != "posix":
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` to disk before it is published."""
    for folder, _, files in os.walk(root):
        for name in files:
            with open(Path(folder) / name, "rb") as handle:
                os.fsync(handle.fileno())
        _sync_directory(Path(folder))


class RunFolder:
    """One run's folder. Create it with :meth:`create` or open it with :meth:`open`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, config: RunConfig, method: str, now: datetime | None = None) -> RunFolder:
        """Make a new, empty run folder under ``config.output.dir`` and save the config.

        The run folder and its checkpoints folder are created readable by the user only
        (0700), and config.json is 0600, whatever the process umask; ``output.dir`` gets
        0700 too when this creates it.

        Raises:
            UserInputError: a run of that name already exists.
        """
        stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
        name = config.output.run_name or f"{stamp}-{method}"
        root = Path(config.output.dir)
        path = root / name
        if path.exists():
            if config.output.run_name:
                raise UserInputError(
                    f"A run named '{name}' already exists in {root}.",
                    "Choose another output.run_name, or continue it with "
                    f"'enclave train --resume {path}'.",
                )
            suffix = 2
            while (root / f"{name}-{suffix}").exists():
                suffix += 1
            path = root / f"{name}-{suffix}"
        make_private_dir(root)
        path.mkdir(mode=PRIVATE_FOLDER_MODE)
        make_private(path)
        folder = cls(path)
        folder.checkpoints_dir.mkdir(mode=PRIVATE_FOLDER_MODE)
        make_private(folder.checkpoints_dir)
        save_config(config, folder.config_path)
        make_private(folder.config_path)
        return folder

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        """Open an existing run folder (for resuming).

        Raises:
            UserInputError: the folder is not a run folder.
        """
        folder = cls(Path(path))
        if not folder.config_path.is_file():
            raise UserInputError(
                f"{path} is not an Enclave run folder (it has no config.json).",
                "Give the folder that 'enclave train' created for the run.",
            )
        return folder

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def adapter_dir(self) -> Path:
        return self.path / "adapter"

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    def load_config(self) -> RunConfig:
        """The configuration this run was started with."""
        return load_config(self.config_path)

    def checkpoints(self) -> list[tuple[int, Path]]:
        """Complete checkpoints, oldest first, as (step, folder)."""
        found = []
        if self.checkpoints_dir.is_dir():
            for child in self.checkpoints_dir.iterdir():
                match = _CHECKPOINT.match(child.name)
                if match and child.is_dir():
                    found.append((int(match.group(1)), child))
        return sorted(found)

    def latest_checkpoint(self) -> Path | None:
        """The newest checkpoint whose training state can be read, or None.

        A checkpoint damaged after it was published (a power cut before the disk wrote
        it out) is passed over in favour of the one before it.
        """
        for _, path in reversed(self.checkpoints()):
            try:
                json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            return path
        return None

    def publish_checkpoint(self, staged: Path, keep: int) -> Path:
        """Move a fully written checkpoint folder into checkpoints/ with one rename,
        then delete all but the newest ``keep`` checkpoints.

        A crash before the rename leaves only a staging folder, never a broken
        checkpoint where resume would look.
        """
        _sync_tree(staged)
        target = self.checkpoints_dir / staged.name
        if target.exists():
            trash = target.with_name(f".old-{target.name}")
            shutil.rmtree(trash, ignore_errors=True)
            os.replace(target, trash)
            os.replace(staged, target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staged, target)
        _sync_directory(self.checkpoints_dir)
        for _, old in self.checkpoints()[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
        return target

    def write_secret(self, name: str, value: str) -> None:
        """Keep a secret of the run's (readable by the user only) in ``.secrets/``."""
        folder = self.path / ".secrets"
        folder.mkdir(mode=PRIVATE_FOLDER_MODE, exist_ok=True)
        make_private(folder)
        with open_private(folder / name, "w") as handle:
            handle.write(value)

    def read_secret(self, name: str) -> str | None:
        """A secret written by :meth:`write_secret`, or None."""
        try:
            return (self.path / ".secrets" / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def append_event(self, event: Event) -> None:
        """Append one event to metrics.jsonl and flush it to disk."""
        line = json.dumps(_finite_or_none(event_to_dict(event)), default=_json_default)
        with open_private(self.metrics_path, "a") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read_events(self) -> list[dict[str, Any]]:
        """Every event written so far, in order."""
        if not self.metrics_path.exists():
            return []
        with open(self.metrics_path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Replace manifest.json atomically (NaN values become null)."""
        write_json_atomic(self.manifest_path, _finite_or_none(manifest))

    def read_manifest(self) -> dict[str, Any]:
        """The manifest, or an empty dict if none was written yet."""
        if not self.manifest_path.exists():
            return {}
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def read_manifest_or_explain(self) -> dict[str, Any]:
        """:meth:`read_manifest`, with a file that cannot be read or parsed turned into a
        :class:`UserInputError` naming the folder (an empty dict when none was written).

        Raises:
            UserInputError: manifest.json cannot be read or is not valid JSON.
        """
        try:
            return self.read_manifest()
        except (OSError, ValueError) as error:
            raise UserInputError(
                f"The record of the run in {self.path} cannot be read ({error}).",
                "The file manifest.json may be damaged; train the model again.",
            ) from None


class RunLogReporter:
    """A reporter that writes every event into the run's metrics.jsonl."""

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder

    def report(self, event: Event) -> None:
        self.folder.append_event(event)
