"""Where Enclave keeps its files on this machine."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "Enclave"


def enclave_home() -> Path:
    """The workspace folder: ENCLAVE_HOME if set, else the platform's user data folder."""
    override = os.environ.get("ENCLAVE_HOME")
    if override:
        return Path(override).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Folder for derived files that can be rebuilt (converted GGUF models)."""
    return enclave_home() / "cache"
