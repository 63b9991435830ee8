"""The bundle's entry point (PyInstaller freezes this script as ``enclave``).

multiprocessing.freeze_support() comes first: on Windows and macOS a worker process
that multiprocessing starts re-runs this executable, and must become that worker
instead of opening a second Enclave.
"""

import multiprocessing

multiprocessing.freeze_support()

import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

# A windowed program on Windows (enclave.exe, no console) has no standard streams; the
# libraries that print progress or warnings would fail. Their output goes to a log in
# the user's temporary folder instead.
if sys.stdout is None or sys.stderr is None:
    _log = open(  # noqa: SIM115 - open for the life of the process
        os.path.join(tempfile.gettempdir(), "enclave-output.log"), "a", encoding="utf-8"
    )
    sys.stdout = sys.stdout or _log
    sys.stderr = sys.stderr or _log

from desktop_app.__main__ import main  # noqa: E402

sys.exit(main())
