"""Offline settings that must be in place before any Hugging Face library is imported."""

from __future__ import annotations

import os

#: Environment variables that keep the Hugging Face libraries off the network and
#: switch off their telemetry. They are read at import time by those libraries,
#: so :func:`enforce_offline_environment` must run first thing in the process.
OFFLINE_ENVIRONMENT: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "WANDB_DISABLED": "true",
    "WANDB_MODE": "disabled",
    "TOKENIZERS_PARALLELISM": "false",
}


def enforce_offline_environment() -> None:
    """Set every offline and no-telemetry variable, overriding what the shell had."""
    os.environ.update(OFFLINE_ENVIRONMENT)
