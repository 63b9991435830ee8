"""Where Enclave keeps its files on this machine."""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from pathlib import Path

import platformdirs

from desktop_app.core.permissions import make_private_dir

APP_NAME = "Enclave"
#: The sample data the demo trains on, in the resources folder.
SAMPLE_DATA_NAME = "policy_handbook_qa.jsonl"


def resources_dir() -> Path:
    """The ``resources`` folder: inside the bundle (``sys._MEIPASS``) when frozen by
    PyInstaller, beside the package in a source checkout, else where the wheel put it
    (``<environment>/share/enclave/resources``, see pyproject's data-files; also for a
    ``pip install --user``)."""
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        return Path(bundle) / "resources"
    checkout = Path(__file__).resolve().parent.parent.parent / "resources"
    installed = [
        Path(base) / "share" / "enclave" / "resources"
        for base in (sysconfig.get_path("data"), site.getuserbase(), sys.prefix)
    ]
    for candidate in (checkout, *installed):
        if (candidate / "sample_data" / SAMPLE_DATA_NAME).is_file():
            return candidate
    return installed[0]


def sample_data_file() -> Path:
    """The sample training data (an insurer's policy handbook as questions and answers)."""
    return resources_dir() / "sample_data" / SAMPLE_DATA_NAME


def enclave_home() -> Path:
    """The workspace folder: ENCLAVE_HOME if set, else the platform's user data folder.

    Only names the folder; :func:`ensure_enclave_home` creates it.
    """
    override = os.environ.get("ENCLAVE_HOME")
    if override:
        return Path(override).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def ensure_enclave_home() -> Path:
    """The workspace folder, created readable by the user only (0700) if it is missing."""
    return make_private_dir(enclave_home())


def cache_dir() -> Path:
    """Folder for derived files that can be rebuilt (converted GGUF and pickle models).

    Only names the folder; :func:`ensure_cache_dir` creates it.
    """
    return enclave_home() / "cache"


def ensure_cache_dir(*parts: str) -> Path:
    """A folder in the cache (``cache_dir()/parts...``), created readable by the user
    only, with the workspace and the cache themselves, where they are missing."""
    ensure_enclave_home()
    return make_private_dir(cache_dir().joinpath(*parts))
