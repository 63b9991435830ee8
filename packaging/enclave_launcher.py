"""The bundle's entry point (PyInstaller freezes this script as ``enclave``).

multiprocessing.freeze_support() comes first: on Windows and macOS a worker process
that multiprocessing starts re-runs this executable, and must become that worker
instead of opening a second Enclave.
"""

import multiprocessing

multiprocessing.freeze_support()

import sys  # noqa: E402

from desktop_app.__main__ import main  # noqa: E402

sys.exit(main())
