"""Projects: a RunConfig plus the wizard's place in it, saved as one JSON file.

A project file looks like ``{"enclave_project": 1, "config": {...}, "ui": {"step": "data"}}``.
The autosave file (``enclave_home()/autosave.enclave.json``) has the same form plus the
path of the project it belongs to, so the app reopens where the user left off.

Only :func:`app_settings` and the recent-list helpers touch Qt (QSettings); the file
logic is plain Python and could move to core unchanged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from desktop_app.core.config import DEMO_MODEL, RunConfig
from desktop_app.core.config_io import config_from_dict, config_to_dict
from desktop_app.core.errors import ConfigError, UserInputError
from desktop_app.core.paths import APP_NAME, enclave_home, sample_data_file
from desktop_app.core.run_folder import write_json_atomic

PROJECT_FORMAT = 1
PROJECT_SUFFIX = ".enclave.json"
AUTOSAVE_NAME = "autosave.enclave.json"
RECENT_PROJECTS_KEY = "recentProjects"
MAX_RECENT = 8


class ProjectError(UserInputError):
    """A project file cannot be read."""


def app_settings() -> QSettings:
    """The app's settings (organisation and application "Enclave").

    When ENCLAVE_HOME is set the settings live in an INI file inside it, so an
    overridden workspace (a portable install, a test) carries its own settings.
    """
    if os.environ.get("ENCLAVE_HOME"):
        return QSettings(str(enclave_home() / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings(APP_NAME, APP_NAME)


def new_config() -> RunConfig:
    """A fresh configuration with no model chosen yet."""
    config = RunConfig()
    config.model.path = ""
    config.output.dir = str(enclave_home() / "runs")
    return config


def demo_config() -> RunConfig:
    """The demo: the built-in SmolLM2 model on the sample policy handbook, ready to run."""
    config = RunConfig()
    config.model.path = DEMO_MODEL
    config.data.train = str(sample_data_file())
    config.output.dir = str(enclave_home() / "runs")
    return config


def _config_from_project(raw: Any, source: str) -> RunConfig:
    """Like config_from_dict, but a project may not have chosen its model yet."""
    model = raw.get("model") if isinstance(raw, dict) else None
    if isinstance(model, dict) and model.get("path") == "":
        raw = {**raw, "model": {k: v for k, v in model.items() if k != "path"}}
        config = config_from_dict(raw, source)
        config.model.path = ""
        return config
    return config_from_dict(raw, source)


@dataclass
class Project:
    """The project being edited.

    Args:
        config: The whole run configuration.
        path: The project file, or None for a project never saved.
        step: The wizard step the user was on (``model``, ``data`` and so on).
        dirty: Whether there are changes not saved to ``path``.
    """

    config: RunConfig = field(default_factory=new_config)
    path: Path | None = None
    step: str = "model"
    dirty: bool = False

    @property
    def display_name(self) -> str:
        """The file name, or "Untitled"."""
        if self.path is None:
            return "Untitled"
        return self.path.name.removesuffix(PROJECT_SUFFIX).removesuffix(".json")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the project file."""
        return {
            "enclave_project": PROJECT_FORMAT,
            "config": config_to_dict(self.config),
            "ui": {"step": self.step},
        }

    def save(self, path: str | Path | None = None) -> Path:
        """Write the project file (atomically) and mark the project clean.

        Args:
            path: Where to save; None saves to the project's own path.

        Raises:
            ValueError: The project has no path and none was given.
            OSError: The file cannot be written.
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("The project has no file yet; give a path (Save As).")
        _write_json(target, self.to_dict())
        self.path = target
        self.dirty = False
        return target

    @classmethod
    def from_dict(cls, raw: Any, source: str) -> Project:
        """Build a project from a parsed project file.

        Raises:
            ProjectError: The file is not a project or a setting in it is wrong.
        """
        if not isinstance(raw, dict) or raw.get("enclave_project") != PROJECT_FORMAT:
            raise ProjectError(
                f"{source} is not an Enclave project file.",
                "Open a file saved by Enclave (File > Save).",
            )
        try:
            config = _config_from_project(raw.get("config", {}), source)
        except ConfigError as error:
            raise ProjectError(
                error.message, "Fix the setting in the file or start a new project."
            ) from None
        ui = raw.get("ui") if isinstance(raw.get("ui"), dict) else {}
        step = ui.get("step") if isinstance(ui.get("step"), str) else "model"
        return cls(config=config, step=step)

    @classmethod
    def load(cls, path: str | Path) -> Project:
        """Read a project file.

        Raises:
            ProjectError: The file is missing, not JSON or not a valid project.
        """
        project = cls.from_dict(_read_json(Path(path)), str(path))
        project.path = Path(path)
        return project

    def write_autosave(self) -> Path:
        """Write the autosave file (which remembers the project's own path and dirty flag)."""
        raw = self.to_dict()
        raw["ui"]["project_path"] = str(self.path) if self.path else None
        raw["ui"]["dirty"] = self.dirty
        target = autosave_path()
        _write_json(target, raw)
        return target


def autosave_path() -> Path:
    """Where the autosave file lives."""
    return enclave_home() / AUTOSAVE_NAME


def read_autosave() -> Project | None:
    """The autosaved project, or None when there is none (or it cannot be read)."""
    target = autosave_path()
    if not target.is_file():
        return None
    try:
        raw = _read_json(target)
        project = Project.from_dict(raw, str(target))
    except ProjectError:
        return None
    ui = raw.get("ui", {})
    if isinstance(ui.get("project_path"), str):
        project.path = Path(ui["project_path"])
    project.dirty = bool(ui.get("dirty", False))
    return project


def recent_projects(settings: QSettings) -> list[str]:
    """Recently opened or saved project files, newest first, that still exist."""
    return [p for p in _string_list(settings.value(RECENT_PROJECTS_KEY)) if Path(p).is_file()]


def add_recent(settings: QSettings, key: str, path: str | Path) -> list[str]:
    """Put ``path`` first in the recent list stored under ``key``; returns the new list."""
    entry = str(path)
    items = [entry] + [p for p in _string_list(settings.value(key)) if p != entry]
    items = items[:MAX_RECENT]
    settings.setValue(key, items)
    return items


def _string_list(value: Any) -> list[str]:
    # QSettings returns a str for a one-item list in INI files, and None when unset.
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(item) for item in value]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ProjectError(f"{path} does not exist.", "Choose another project file.") from None
    except OSError as error:
        raise ProjectError(f"{path} cannot be read ({error.strerror}).") from None
    except json.JSONDecodeError as error:
        raise ProjectError(
            f"{path} is not valid JSON ({error.msg} at line {error.lineno}).",
            "Open a file saved by Enclave.",
        ) from None


def _write_json(path: Path, raw: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, raw)
