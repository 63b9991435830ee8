"""``enclave --self-test``: check every subsystem offline and print a pass/fail report.

Meant for the person who installs Enclave (and for the packaging test): run it once on
a new workstation, from the bundle or from an installed environment. It needs no
network, no screen and no model of the user's: the checks build what they need in a
temporary workspace, which is deleted afterwards. The user's own runs are not touched;
their audit log is verified, and gets only the ``app_started`` entry every start writes.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from desktop_app.core.audit import audit_dir
from desktop_app.core.errors import UserInputError
from desktop_app.self_test_checks import CHECKS, CheckContext

EXIT_ALL_PASSED, EXIT_SOME_FAILED = 0, 1


@dataclass(frozen=True)
class CheckResult:
    """How one check went.

    Args:
        name: The check, as the report names it.
        passed: Whether it passed.
        detail: What it saw (passed) or what is wrong and what to do (failed).
        seconds: How long it took.
        technical: The traceback of an unexpected failure ("" otherwise).
    """

    name: str
    passed: bool
    detail: str
    seconds: float
    technical: str = ""


def _describe_failure(error: BaseException) -> tuple[str, str]:
    """Plain words for a failed check, and the traceback when it was unexpected."""
    if isinstance(error, UserInputError):
        return error.user_message(), ""
    technical = "".join(traceback.format_exception(error))
    return (
        f"Unexpected error ({type(error).__name__}: {error}). Give the technical details "
        "(enclave --self-test --verbose) to whoever supports Enclave.",
        technical,
    )


@contextmanager
def _temporary_workspace() -> Iterator[Path]:
    """A private workspace for the checks (ENCLAVE_HOME points there meanwhile)."""
    previous = os.environ.get("ENCLAVE_HOME")
    folder = Path(tempfile.mkdtemp(prefix="enclave-self-test-"))
    os.environ["ENCLAVE_HOME"] = str(folder / "home")
    try:
        yield folder
    finally:
        if previous is None:
            os.environ.pop("ENCLAVE_HOME", None)
        else:
            os.environ["ENCLAVE_HOME"] = previous
        shutil.rmtree(folder, ignore_errors=True)


def run_self_test(
    checks: tuple[tuple[str, Callable[[CheckContext], str]], ...] = CHECKS,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Run the checks in order; a failing check does not stop the others.

    Args:
        checks: (name, check) pairs; every check by default.
        on_result: Called with each result as soon as its check ends.

    Returns:
        One result per check, in order.
    """
    user_audit_dir = audit_dir()
    results: list[CheckResult] = []
    with _temporary_workspace() as workspace:
        context = CheckContext(workspace=workspace, user_audit_dir=user_audit_dir)
        for name, check in checks:
            started = time.perf_counter()
            try:
                result = CheckResult(name, True, check(context), time.perf_counter() - started)
            except Exception as error:  # noqa: BLE001 - every failure goes in the report
                detail, technical = _describe_failure(error)
                result = CheckResult(name, False, detail, time.perf_counter() - started, technical)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


def _where() -> str:
    if getattr(sys, "frozen", False):
        return f"installed bundle at {Path(sys.executable).parent}"
    return f"Python environment at {sys.prefix}"


def format_result(result: CheckResult, verbose: bool = False) -> str:
    """One line per check (two or more for a failure's details when verbose)."""
    mark = "PASS" if result.passed else "FAIL"
    detail = result.detail.replace("\n", "\n" + " " * 33)
    line = f"  {mark}  {result.name:<24} {detail} ({result.seconds:.1f} s)"
    if verbose and result.technical:
        line += "\n" + "\n".join(f"        {row}" for row in result.technical.splitlines())
    return line


def self_test_command(
    verbose: bool = False,
    stream: TextIO | None = None,
    checks: tuple[tuple[str, Callable[[CheckContext], str]], ...] = CHECKS,
) -> int:
    """Run the checks (all by default), printing each result as it comes; returns 0
    only when all pass, else 1."""
    from desktop_app import __version__

    out = stream or sys.stdout
    print(f"Enclave {__version__} self-test ({_where()}), offline.", file=out, flush=True)
    results = run_self_test(
        checks, on_result=lambda result: print(format_result(result, verbose), file=out, flush=True)
    )
    failed = [result.name for result in results if not result.passed]
    if failed:
        print(
            f"{len(failed)} of {len(results)} checks failed: {', '.join(failed)}. "
            "Enclave may not work on this computer until they pass; the lines above say "
            "what to do.",
            file=out,
        )
        return EXIT_SOME_FAILED
    print(f"All {len(results)} checks passed. Enclave is ready to use.", file=out)
    return EXIT_ALL_PASSED
