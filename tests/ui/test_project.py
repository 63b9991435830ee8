"""Project files, the autosave file, recent lists and presets: no widgets involved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app.core.config import DEMO_MODEL, HyperParams
from desktop_app.ui.presets import PRESETS, matching_preset, preset_by_key
from desktop_app.ui.project import (
    MAX_RECENT,
    Project,
    ProjectError,
    add_recent,
    app_settings,
    autosave_path,
    demo_config,
    new_config,
    read_autosave,
    recent_projects,
)


def test_save_and_load_round_trip(tmp_path: Path):
    project = Project(config=demo_config(), step="hyperparameters", dirty=True)
    project.config.hyperparameters.learning_rate = 1e-4
    target = project.save(tmp_path / "mine.enclave.json")
    assert not project.dirty
    raw = json.loads(target.read_text())
    assert raw["enclave_project"] == 1
    assert raw["ui"]["step"] == "hyperparameters"

    loaded = Project.load(target)
    assert loaded.path == target
    assert loaded.step == "hyperparameters"
    assert loaded.config == project.config
    assert loaded.display_name == "mine"


def test_a_project_without_a_model_yet_round_trips(tmp_path: Path):
    project = Project()
    assert project.config.model.path == ""
    loaded = Project.load(project.save(tmp_path / "empty.enclave.json"))
    assert loaded.config.model.path == ""


def test_a_file_that_is_not_a_project_is_refused(tmp_path: Path):
    other = tmp_path / "run.json"
    other.write_text(json.dumps({"model": {"path": "x"}}))
    with pytest.raises(ProjectError, match="not an Enclave project"):
        Project.load(other)
    with pytest.raises(ProjectError, match="does not exist"):
        Project.load(tmp_path / "missing.enclave.json")


def test_a_wrong_setting_names_the_field(tmp_path: Path):
    bad = tmp_path / "bad.enclave.json"
    raw = Project().to_dict()
    raw["config"]["hyperparameters"]["learning_rate"] = -1
    bad.write_text(json.dumps(raw))
    with pytest.raises(ProjectError, match="hyperparameters.learning_rate"):
        Project.load(bad)


def test_demo_config_uses_the_builtin_model_and_the_sample_data(enclave_home: Path):
    config = demo_config()
    assert config.model.path == DEMO_MODEL
    assert Path(config.data.train).is_file()
    assert Path(config.data.train).name == "policy_handbook_qa.jsonl"
    assert Path(config.output.dir) == enclave_home / "runs"
    assert new_config().model.path == ""


def test_autosave_remembers_the_project_file_and_dirty_flag(tmp_path: Path, enclave_home: Path):
    assert read_autosave() is None
    project = Project(config=demo_config(), path=tmp_path / "p.enclave.json", step="data")
    project.dirty = True
    assert project.write_autosave() == autosave_path()
    assert autosave_path().parent == enclave_home
    restored = read_autosave()
    assert restored is not None
    assert restored.path == tmp_path / "p.enclave.json"
    assert restored.dirty
    assert restored.step == "data"
    assert restored.config == project.config


def test_a_damaged_autosave_is_ignored():
    autosave_path().parent.mkdir(parents=True, exist_ok=True)
    autosave_path().write_text("{ not json")
    assert read_autosave() is None


def test_recent_lists_put_the_newest_first_without_duplicates(tmp_path: Path, enclave_home: Path):
    settings = app_settings()
    assert Path(settings.fileName()).parent == enclave_home
    files = []
    for index in range(MAX_RECENT + 2):
        file = tmp_path / f"p{index}.enclave.json"
        file.write_text("{}")
        files.append(file)
        add_recent(settings, "recentProjects", file)
    add_recent(settings, "recentProjects", files[-3])
    recent = recent_projects(settings)
    assert recent[0] == str(files[-3])
    assert len(recent) == MAX_RECENT
    assert len(set(recent)) == len(recent)
    files[-1].unlink()
    assert str(files[-1]) not in recent_projects(settings)


def test_presets_are_valid_and_recognised():
    for preset in PRESETS:
        hyper = HyperParams(**preset.overrides)
        assert matching_preset(hyper) is preset
        assert preset.description
    assert preset_by_key("quick").overrides["max_steps"] == 30
    assert matching_preset(HyperParams(epochs=2.0)) is None
