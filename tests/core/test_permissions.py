"""Private files: folders Enclave creates are 0700 and its files 0600 on POSIX, even
under a permissive umask; the app's umask makes everything else private too."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.core.config import RunConfig
from desktop_app.core.events import WarningRaised
from desktop_app.core.paths import cache_dir, enclave_home, ensure_cache_dir, ensure_enclave_home
from desktop_app.core.permissions import (
    PRIVATE_UMASK,
    make_private_dir,
    open_private,
    restrict_process_umask,
)
from desktop_app.core.run_folder import PSEUDONYM_SALT, RunFolder, write_json_atomic

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The usual shell default: new files readable by everyone."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_make_private_dir_makes_only_the_missing_folders_private(tmp_path: Path, permissive_umask):
    tmp_path.chmod(0o755)
    target = tmp_path / "a" / "b" / "c"

    assert make_private_dir(target) == target

    assert [_mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", target)] == [0o700] * 3
    assert _mode(tmp_path) == 0o755  # it existed: left as the user had it
    make_private_dir(target)  # again: no error


def test_open_private_creates_user_only_files(tmp_path: Path, permissive_umask):
    with open_private(tmp_path / "notes.txt") as handle:
        handle.write("secret")
    with open_private(tmp_path / "notes.txt", "a") as handle:
        handle.write(" more")
    with open_private(tmp_path / "blob.bin", "wb") as handle:
        handle.write(b"\x00")
    assert (tmp_path / "notes.txt").read_text() == "secret more"
    assert _mode(tmp_path / "notes.txt") == _mode(tmp_path / "blob.bin") == 0o600


def test_run_folder_create_is_private_even_with_a_permissive_umask(
    tmp_path: Path, permissive_umask
):
    config = RunConfig()
    config.output.dir = str(tmp_path / "new-runs")
    folder = RunFolder.create(config, "lora")
    folder.append_event(WarningRaised("hello"))
    folder.write_manifest({"status": "running"})
    folder.write_secret(PSEUDONYM_SALT, "salt")
    write_json_atomic(folder.path / "evaluation.json", {"answers": []})

    assert _mode(tmp_path / "new-runs") == 0o700
    for path in (folder.path, folder.checkpoints_dir, folder.path / ".secrets"):
        assert _mode(path) == 0o700, path
    for path in (
        folder.config_path,
        folder.metrics_path,
        folder.manifest_path,
        folder.path / ".secrets" / PSEUDONYM_SALT,
        folder.path / "evaluation.json",
    ):
        assert _mode(path) == 0o600, path


def test_workspace_and_cache_are_created_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, permissive_umask
):
    monkeypatch.setenv("ENCLAVE_HOME", str(tmp_path / "workspace"))
    assert ensure_enclave_home() == enclave_home() == tmp_path / "workspace"
    folder = ensure_cache_dir("pickle")
    assert folder == cache_dir() / "pickle"
    for path in (enclave_home(), cache_dir(), folder):
        assert _mode(path) == 0o700, path


def test_restrict_process_umask_makes_later_files_private(tmp_path: Path, permissive_umask):
    previous = restrict_process_umask()
    try:
        assert previous == 0o022
        (tmp_path / "file.txt").write_text("x")
        (tmp_path / "folder").mkdir()
        assert _mode(tmp_path / "file.txt") == 0o600
        assert _mode(tmp_path / "folder") == 0o700
        assert os.umask(PRIVATE_UMASK) == PRIVATE_UMASK
    finally:
        os.umask(0o022)
