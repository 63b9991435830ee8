"""Enclave: fine-tune language models on your own workstation, offline."""

from __future__ import annotations

__version__ = "0.1.0"
