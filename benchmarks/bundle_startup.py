"""Time to first window of the frozen app (and of the source install, for comparison).

Starts the app several times with ``ENCLAVE_REPORT_FIRST_WINDOW=1`` and
``ENCLAVE_EXIT_AFTER_START_MS`` set, and times each start from the moment the process
is launched to the moment it prints that its window is on screen (a zero timer after
``show()``, so the window has been laid out and painted). Each start uses a fresh,
empty workspace, as on a new workstation. Under Xvfb (``xvfb-run``, Debian's xvfb
package) the window is a real X11 window; without it, Qt's offscreen platform is used.
Also prints the bundle's size and file count.

The first start of a bundle reads every file from disk; the later ones find them in the
page cache. Both are reported: the first is what a user sees after a reboot (roughly,
the cache on this machine may still be warm from the build).

    python benchmarks/bundle_startup.py [--bundle dist/enclave] [--runs 5] [--source]
"""

from __future__ import annotations

import argparse
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from desktop_app.ui.startup_probe import (  # noqa: E402
    EXIT_AFTER_START_ENV,
    FIRST_WINDOW_LINE,
    REPORT_FIRST_WINDOW_ENV,
)

TIMEOUT_S = 120


def time_to_first_window(command: list[str], display: dict[str, str]) -> float:
    """Seconds from launching ``command`` to its first-window line."""
    with tempfile.TemporaryDirectory(prefix="enclave-startup-") as home:
        environment = {
            **os.environ,
            **display,
            "ENCLAVE_HOME": home,
            "XDG_CONFIG_HOME": home,  # the app's settings: a new user, no recent projects
            REPORT_FIRST_WINDOW_ENV: "1",
            EXIT_AFTER_START_ENV: "300",
        }
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=environment,
        )
        assert process.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()

        def read_lines() -> None:
            for line in process.stdout:  # type: ignore[union-attr]
                lines.put(line)
            lines.put(None)  # the process closed its output: it has ended

        threading.Thread(target=read_lines, daemon=True).start()
        try:
            while True:
                line = lines.get(timeout=TIMEOUT_S)  # queue.Empty: no window in time
                if line is None:
                    raise RuntimeError(f"{command[0]} ended without showing its window")
                if line.strip() == FIRST_WINDOW_LINE:
                    elapsed = time.perf_counter() - started
                    break
        finally:
            try:
                process.wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
        return elapsed


def _display() -> tuple[dict[str, str], list[str], str]:
    """Environment, command prefix and a description of the screen used."""
    if shutil.which("xvfb-run"):
        return {}, ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24"], "Xvfb (X11, xcb)"
    return {"QT_QPA_PLATFORM": "offscreen"}, [], "offscreen (no X server found)"


def _size(bundle: Path) -> tuple[float, int]:
    files = [path for path in bundle.rglob("*") if path.is_file() and not path.is_symlink()]
    return sum(path.stat().st_size for path in files) / 1e6, len(files)


def _report(name: str, times: list[float]) -> None:
    later = times[1:] or times
    print(
        f"{name}: first start {times[0]:.2f} s; later starts median "
        f"{statistics.median(later):.2f} s (min {min(later):.2f}, max {max(later):.2f}, "
        f"n={len(later)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "enclave")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--source", action="store_true", help="also time python -m desktop_app")
    args = parser.parse_args()

    display, prefix, screen = _display()
    print(
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; screen: {screen}"
    )
    executable = args.bundle / "enclave"
    if executable.is_file():
        size_mb, count = _size(args.bundle)
        print(f"Bundle {args.bundle}: {size_mb:.0f} MB in {count} files")
        times = [
            time_to_first_window([*prefix, str(executable)], display) for _ in range(args.runs)
        ]
        _report("Frozen app", times)
    else:
        print(f"No bundle at {args.bundle}: build it with packaging/build_linux.sh")
    if args.source:
        command = [*prefix, sys.executable, "-m", "desktop_app"]
        _report(
            "Source install", [time_to_first_window(command, display) for _ in range(args.runs)]
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
