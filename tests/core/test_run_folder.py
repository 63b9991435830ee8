from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from desktop_app.core.config import RunConfig
from desktop_app.core.errors import UserInputError
from desktop_app.core.events import StepMetrics
from desktop_app.core.run_folder import RunFolder


def make_config(tmp_path: Path, name: str | None = None) -> RunConfig:
    config = RunConfig()
    config.data.train = str(tmp_path / "train.jsonl")
    config.output.dir = str(tmp_path / "runs")
    config.output.run_name = name
    return config


def test_create_names_the_folder_by_time_and_method(tmp_path: Path):
    now = datetime(2026, 11, 21, 9, 30, 0)
    first = RunFolder.create(make_config(tmp_path), "lora", now)
    second = RunFolder.create(make_config(tmp_path), "lora", now)
    assert first.path.name == "20261121-093000-lora"
    assert second.path.name == "20261121-093000-lora-2"
    assert first.config_path.is_file() and first.checkpoints_dir.is_dir()
    assert first.load_config() == make_config(tmp_path)


def test_named_run_that_exists_is_refused(tmp_path: Path):
    RunFolder.create(make_config(tmp_path, "mine"), "lora")
    with pytest.raises(UserInputError) as caught:
        RunFolder.create(make_config(tmp_path, "mine"), "lora")
    assert "already exists" in caught.value.user_message()
    assert "enclave train --resume" in caught.value.user_message()


def test_open_refuses_a_folder_that_is_not_a_run(tmp_path: Path):
    with pytest.raises(UserInputError, match="not an Enclave run folder"):
        RunFolder.open(tmp_path)


def test_a_half_written_checkpoint_is_never_the_latest(tmp_path: Path):
    folder = RunFolder.create(make_config(tmp_path), "lora")
    staging = folder.path / ".staging"
    for step in (4, 8):
        (staging / f"checkpoint-{step}").mkdir(parents=True)
        (staging / f"checkpoint-{step}" / "trainer_state.json").write_text('{"global_step": 1}')
        folder.publish_checkpoint(staging / f"checkpoint-{step}", keep=5)
    (staging / "checkpoint-12").mkdir()  # a crash while the Trainer was saving step 12
    assert folder.latest_checkpoint() == folder.checkpoints_dir / "checkpoint-8"
    assert [step for step, _ in folder.checkpoints()] == [4, 8]


def test_a_checkpoint_damaged_after_publishing_is_passed_over(tmp_path: Path):
    folder = RunFolder.create(make_config(tmp_path), "lora")
    for step in (4, 8):
        staged = folder.path / ".staging" / f"checkpoint-{step}"
        staged.mkdir(parents=True)
        (staged / "trainer_state.json").write_text('{"global_step": 1}')
        folder.publish_checkpoint(staged, keep=5)
    (folder.checkpoints_dir / "checkpoint-8" / "trainer_state.json").write_text('{"glob')
    assert folder.latest_checkpoint() == folder.checkpoints_dir / "checkpoint-4"


def test_publish_keeps_only_the_newest(tmp_path: Path):
    folder = RunFolder.create(make_config(tmp_path), "lora")
    for step in (1, 2, 3, 10):
        staged = folder.path / ".staging" / f"checkpoint-{step}"
        staged.mkdir(parents=True)
        folder.publish_checkpoint(staged, keep=2)
    assert [step for step, _ in folder.checkpoints()] == [3, 10]


def test_events_are_appended_as_json_lines_and_nan_becomes_null(tmp_path: Path):
    folder = RunFolder.create(make_config(tmp_path), "lora")
    event = StepMetrics(1, 10, 0.1, float("nan"), 1e-4, None, 100.0, 1, 0.5, 4.5)
    folder.append_event(event)
    folder.append_event(event)
    lines = folder.metrics_path.read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["event"] == "StepMetrics"
    assert json.loads(lines[0])["loss"] is None
