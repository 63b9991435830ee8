"""Switches that make the app report its start-up, for tests and the start-up benchmark
(benchmarks/bundle_startup.py). Kept apart from ui.app so that reading them imports
nothing heavy."""

from __future__ import annotations

#: Close the window this many milliseconds after it is shown (tests and screenshots).
EXIT_AFTER_START_ENV = "ENCLAVE_EXIT_AFTER_START_MS"
#: Print :data:`FIRST_WINDOW_LINE` to standard output once the window is on screen.
REPORT_FIRST_WINDOW_ENV = "ENCLAVE_REPORT_FIRST_WINDOW"
FIRST_WINDOW_LINE = "enclave: first window shown"
