"""Fixtures for engine tests: small, memorisable training files."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_runs import fact_records, write_jsonl

from desktop_app.core.config import RunConfig


@pytest.fixture
def memorisable_data(tmp_path: Path) -> Path:
    """Sixteen alpaca records: four facts, each asked four ways (no duplicates)."""
    return write_jsonl(tmp_path / "facts.jsonl", fact_records())


@pytest.fixture
def tiny_config(tiny_model_dir: Path, memorisable_data: Path, tmp_path: Path) -> RunConfig:
    """A quick LoRA run on the tiny model: high learning rate, no dropout."""
    config = RunConfig()
    config.model.path = str(tiny_model_dir)
    config.data.train = str(memorisable_data)
    config.data.validation_fraction = 0.25
    config.method.name = "lora"
    config.method.lora_r = 8
    config.method.lora_alpha = 16
    config.method.lora_dropout = 0.0
    hyper = config.hyperparameters
    hyper.max_steps = 12
    hyper.batch_size = 4
    hyper.learning_rate = 1e-2
    hyper.warmup_ratio = 0.0
    hyper.lr_scheduler = "constant"
    hyper.max_length = 64
    hyper.eval_every_steps = 6
    hyper.save_every_steps = 4
    hyper.keep_checkpoints = 5
    config.output.dir = str(tmp_path / "runs")
    return config
