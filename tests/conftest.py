"""Shared fixtures: an isolated workspace, and a tiny Llama model built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from desktop_app.core.offline import enforce_offline_environment

# Same order as the application: offline variables before any Hugging Face import.
enforce_offline_environment()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


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
