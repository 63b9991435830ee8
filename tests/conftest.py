"""Shared fixtures: an isolated workspace, the network guard in strict mode, and a tiny
Llama model built once per session."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.core.network_guard import BlockedAttempt, NetworkGuard, install_network_guard
from desktop_app.core.offline import enforce_offline_environment

# Same order as the application: offline variables and the network guard before any
# Hugging Face import.
enforce_offline_environment()
NETWORK_GUARD = install_network_guard()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Outside a test's own workspace (session fixtures, collection), anything audited, such
# as a blocked connection, goes to a throwaway folder, never the real workspace.
SESSION_HOME = tempfile.mkdtemp(prefix="enclave-test-session-")
os.environ["ENCLAVE_HOME"] = SESSION_HOME
atexit.register(shutil.rmtree, SESSION_HOME, ignore_errors=True)


class NetworkAttempts:
    """The attempts the guard refused since a test began (see expect_network_attempts)."""

    def __init__(self, guard: NetworkGuard) -> None:
        self.guard = guard
        self.start = guard.blocked_count()

    def count(self) -> int:
        """How many attempts were refused since the test began."""
        return self.guard.blocked_count() - self.start

    def attempts(self) -> list[BlockedAttempt]:
        """The attempts refused since the test began, oldest first."""
        count = self.count()
        return self.guard.attempts()[-count:] if count else []


@pytest.fixture(autouse=True)
def no_network_attempts(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test during which anything tried to reach the network (the guard refused
    it), naming the target and the module; tests that try on purpose use
    ``expect_network_attempts``."""
    attempts = NetworkAttempts(NETWORK_GUARD)
    yield
    if "expect_network_attempts" in request.fixturenames or not attempts.count():
        return
    lines = "\n".join(f"  {attempt.describe()}" for attempt in attempts.attempts())
    pytest.fail(
        f"{attempts.count()} network attempt(s) during the test, refused by the guard:\n"
        f"{lines}\nUse the expect_network_attempts fixture if the test makes them on purpose.",
        pytrace=False,
    )


@pytest.fixture
def expect_network_attempts() -> NetworkAttempts:
    """For tests that try the network on purpose: the attempts refused since they began."""
    return NetworkAttempts(NETWORK_GUARD)


@pytest.fixture(autouse=True)
def enclave_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own ENCLAVE_HOME so nothing touches the real workspace."""
    home = tmp_path_factory.mktemp("enclave-home")
    monkeypatch.setenv("ENCLAVE_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama-architecture model with its own BPE tokenizer and chat template,
    saved in Hugging Face layout (safetensors) and loaded like any user's model."""
    from desktop_app.engine.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))
