from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from desktop_app.core.config import DEMO_MODEL, RunConfig
from desktop_app.core.config_docs import update_document
from desktop_app.core.config_io import config_from_dict, config_to_dict, load_config, save_config
from desktop_app.core.errors import ConfigError


def test_round_trip_keeps_every_field(tmp_path: Path):
    config = RunConfig()
    config.data.train = str(tmp_path / "train.jsonl")
    config.method.name = "qlora"
    config.hyperparameters.max_steps = 7
    config.output.run_name = "first"
    config.output.dir = str(tmp_path / "runs")
    save_config(config, tmp_path / "run.json")
    assert load_config(tmp_path / "run.json") == config
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved["version"] == 1
    assert set(saved) == {"version", "model", "data", "method", "hyperparameters", "output"}


def test_fixed_names_exist():
    raw = config_to_dict(RunConfig())
    for section, name in [
        ("model", "path"),
        ("data", "train"),
        ("data", "format"),
        ("data", "validation_fraction"),
        ("method", "name"),
        ("method", "lora_r"),
        ("method", "lora_alpha"),
        ("hyperparameters", "epochs"),
        ("hyperparameters", "max_steps"),
        ("hyperparameters", "learning_rate"),
        ("hyperparameters", "batch_size"),
        ("hyperparameters", "max_length"),
        ("hyperparameters", "seed"),
        ("output", "dir"),
    ]:
        assert name in raw[section]
    assert raw["data"]["format"] == "auto"
    assert raw["model"]["path"] == DEMO_MODEL


def test_every_field_has_help_text():
    for section in RunConfig.SECTIONS.values():
        for item in dataclasses.fields(section):
            assert len(item.metadata.get("help", "")) > 15, f"{section.__name__}.{item.name}"


def test_docs_field_reference_matches_the_code():
    """docs/run-config.md holds the generated reference; regenerate it with
    `python -m desktop_app.core.config_docs` after changing a field."""
    doc = (Path(__file__).parents[2] / "docs" / "run-config.md").read_text()
    assert update_document(doc) == doc
    for section_name, section in RunConfig.SECTIONS.items():
        for item in dataclasses.fields(section):
            assert f"`{section_name}.{item.name}`" in doc, f"{section_name}.{item.name}"


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        (
            {"hyperparameters": {"learnig_rate": 0.1}},
            "hyperparameters.learnig_rate",
            "Did you mean 'learning_rate'?",
        ),
        ({"hyperparamters": {}}, "hyperparamters", "Did you mean 'hyperparameters'?"),
        ({"hyperparameters": {"learning_rate": 5}}, "hyperparameters.learning_rate", "at most 1"),
        ({"hyperparameters": {"batch_size": "4"}}, "hyperparameters.batch_size", "whole number"),
        ({"hyperparameters": {"batch_size": 0}}, "hyperparameters.batch_size", "at least 1"),
        ({"method": {"name": "qlorra"}}, "method.name", "qlora, lora, full, freeze"),
        ({"method": {"quantization_bits": 2}}, "method.quantization_bits", "4 or 8"),
        ({"data": {"validation_fraction": 0.9}}, "data.validation_fraction", "less than 0.5"),
        ({"data": {"format": "xml"}}, "data.format", "alpaca"),
        ({"output": {"run_name": "a/b"}}, "output.run_name", "plain folder name"),
        ({"version": 9}, "version", "reads version 1"),
        ({"method": {"lora_r": True}}, "method.lora_r", "whole number"),
        ({"data": {"mix": "more.jsonl"}}, "data.mix", "must be a list"),
        (
            {"data": {"mix": [{"path": "b.csv", "wieght": 2}]}},
            "data.mix[0].wieght",
            "Did you mean 'weight'?",
        ),
        ({"data": {"mix": [{"weight": 2}]}}, "data.mix[0].path", "is missing"),
        ({"data": {"mix": [{"path": "b", "weight": -1}]}}, "data.mix[0].weight", "above 0"),
        ({"data": {"mix": [{"path": "b", "format": "xml"}]}}, "data.mix[0].format", "alpaca"),
        ({"data": {"column_map": {"output": 3}}}, "data.column_map", "column names"),
        ({"data": {"column_map": ["output"]}}, "data.column_map", "must be an object"),
        ({"data": {"pii_redaction": "mask"}}, "data.pii_redaction", "tags, pseudonyms"),
        (
            {"data": {"validation_fraction": 0.45, "test_fraction": 0.45}},
            "data.test_fraction",
            "below 0.9",
        ),
    ],
)
def test_bad_values_name_the_field(raw: dict, field: str, words: str):
    with pytest.raises(ConfigError) as caught:
        config_from_dict(raw, "run.json")
    assert caught.value.field == field
    assert words in str(caught.value)
    assert str(caught.value).startswith("run.json: ")


def test_whole_numbers_accepted_for_decimal_fields():
    config = config_from_dict({"hyperparameters": {"epochs": 2, "learning_rate": 1}})
    assert config.hyperparameters.epochs == 2.0
    assert isinstance(config.hyperparameters.learning_rate, float)


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path):
    (tmp_path / "data").mkdir()
    (tmp_path / "model").mkdir()
    (tmp_path / "run.json").write_text(
        json.dumps(
            {
                "model": {"path": "model"},
                "data": {"train": "data/train.jsonl"},
                "output": {"dir": "runs"},
            }
        )
    )
    config = load_config(tmp_path / "run.json")
    assert config.model.path == str(tmp_path / "model")
    assert config.data.train == str(tmp_path / "data" / "train.jsonl")
    assert config.output.dir == str(tmp_path / "runs")


def test_hub_like_model_path_is_left_for_the_loader_to_refuse(tmp_path: Path):
    (tmp_path / "run.json").write_text(json.dumps({"model": {"path": "meta-llama/Llama-3-8B"}}))
    assert load_config(tmp_path / "run.json").model.path == "meta-llama/Llama-3-8B"


def test_broken_json_names_line_and_column(tmp_path: Path):
    (tmp_path / "run.json").write_text('{\n  "model": {"path": }\n}')
    with pytest.raises(ConfigError, match=r"not valid JSON.*line 2"):
        load_config(tmp_path / "run.json")


def test_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.json")


def test_check_ready_requires_training_data():
    with pytest.raises(ConfigError, match="data.train"):
        RunConfig().check_ready()
