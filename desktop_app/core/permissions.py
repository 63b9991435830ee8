"""Files that only the user can read: private folders and a private umask.

On POSIX systems Enclave makes every folder it creates readable by the user only
(mode 0700) and, once :func:`restrict_process_umask` has run at start-up, every file
it or a library writes gets mode 0600. Training data copies, checkpoints and
evaluation answers can hold personal data, so other accounts on a shared machine must
not read them.

On Windows file modes do not apply: a file's access list comes from the folder it is
created in. Enclave's workspace lies in the user's profile (``%LOCALAPPDATA%``), which
is readable by that user, administrators and SYSTEM only, so its files inherit that.
A run folder placed elsewhere (``output.dir``) inherits that folder's access list; the
functions here change nothing there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

#: Folders Enclave creates: read, write and enter for the user only.
PRIVATE_FOLDER_MODE = 0o700
#: Files Enclave creates: read and write for the user only.
PRIVATE_FILE_MODE = 0o600
#: The process umask that gives those modes to everything created afterwards.
PRIVATE_UMASK = 0o077


def applies() -> bool:
    """Whether file modes mean anything here (POSIX); on Windows they are not used."""
    return os.name == "posix"


def restrict_process_umask() -> int | None:
    """Make every file and folder this process creates from now on private to the user.

    Sets the umask to 0077, so libraries that write into a run folder (checkpoints,
    tokenizer files, saved adapters) create files 0600 and folders 0700 without being
    told. Call it once at start-up, before any file is written.

    Returns:
        The previous umask, or None on Windows, where it does nothing (see the module
        docstring for how files stay private there).
    """
    if not applies():
        return None
    return os.umask(PRIVATE_UMASK)


def make_private_dir(path: str | Path) -> Path:
    """Create a folder (and any missing parents) readable by the user only.

    Only the folders created here get mode 0700: a parent that already exists, such as
    the folder the user chose for runs, keeps its mode. Creating a folder that exists
    already is not an error.

    Args:
        path: The folder to create.

    Returns:
        The folder.
    """
    folder = Path(path)
    missing: list[Path] = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for item in reversed(missing):
        try:
            item.mkdir(mode=PRIVATE_FOLDER_MODE)
        except FileExistsError:
            continue  # another process made it at the same moment; leave it as it is
        make_private(item)
    return folder


def make_private(path: str | Path) -> None:
    """Give an existing file (0600) or folder (0700) the user-only mode; no-op on Windows."""
    if not applies():
        return
    target = Path(path)
    os.chmod(target, PRIVATE_FOLDER_MODE if target.is_dir() else PRIVATE_FILE_MODE)


def open_private(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> IO[Any]:
    """Open a file for writing that is created readable by the user only (0600).

    Args:
        path: The file.
        mode: ``w``, ``a``, ``wb`` or ``ab``.
        encoding: For text modes; ignored (None) for binary ones.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC)
    descriptor = os.open(path, flags, PRIVATE_FILE_MODE)
    if "b" in mode:
        return os.fdopen(descriptor, mode)
    return os.fdopen(descriptor, mode, encoding=encoding)
