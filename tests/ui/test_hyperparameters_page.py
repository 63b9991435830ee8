"""The Hyperparameters page: presets, inline validation, tooltips and the estimate."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton, QWidget

from desktop_app.core.config import HyperParams, MethodSpec, RunConfig, field_help
from desktop_app.core.hardware import HardwareInfo, probe_host
from desktop_app.engine.inspect_model import inspect_model
from desktop_app.ui.pages.hyperparameters_page import HyperparametersPage, format_duration
from desktop_app.ui.project import demo_config


def make_page(qtbot) -> HyperparametersPage:
    page = HyperparametersPage()
    qtbot.addWidget(page)
    page.load(demo_config())
    return page


def test_every_field_has_an_editor_with_its_help_as_tooltip(qtbot):
    page = make_page(qtbot)
    for section in (HyperParams, MethodSpec):
        for item in dataclasses.fields(section):
            name = f"{section.SECTION}_{item.name}"
            editor = page.findChild(QWidget, name)
            assert editor is not None, name
            assert editor.toolTip() == field_help(section, item.name)
            assert page.findChild(QLabel, f"{name}_error") is not None


def test_presets_change_the_fields(qtbot):
    page = make_page(qtbot)
    quick = page.findChild(QPushButton, "presetQuick")
    with qtbot.waitSignal(page.changed, timeout=1000):
        qtbot.mouseClick(quick, Qt.MouseButton.LeftButton)
    assert page.findChild(QLineEdit, "hyperparameters_max_steps").text() == "30"
    assert quick.isChecked()
    config = demo_config()
    page.apply(config)
    assert config.hyperparameters.max_steps == 30
    assert config.hyperparameters.eval_every_steps == 10

    qtbot.mouseClick(page.findChild(QPushButton, "presetThorough"), Qt.MouseButton.LeftButton)
    page.apply(config)
    assert config.hyperparameters.max_steps is None
    assert config.hyperparameters.epochs == 5.0
    assert config.hyperparameters.learning_rate == 1e-4
    assert not quick.isChecked()


def test_an_invalid_value_shows_an_error_under_the_field_and_blocks(qtbot):
    page = make_page(qtbot)
    rate = page.findChild(QLineEdit, "hyperparameters_learning_rate")
    error = page.findChild(QLabel, "hyperparameters_learning_rate_error")
    assert page.blocking_reason() is None
    assert error.isHidden()

    rate.selectAll()
    qtbot.keyClicks(rate, "-1")
    assert not error.isHidden()
    assert "greater than 0" in error.text()
    assert "Learning rate" in page.blocking_reason()

    config = demo_config()
    page.apply(config)
    assert config.hyperparameters.learning_rate == 2e-4  # the last valid value

    rate.selectAll()
    qtbot.keyClicks(rate, "abc")
    assert "must be a number" in error.text()

    rate.selectAll()
    qtbot.keyClicks(rate, "0.0001")
    assert error.isHidden()
    assert page.blocking_reason() is None
    page.apply(config)
    assert config.hyperparameters.learning_rate == 1e-4


def test_an_out_of_range_spin_box_value_is_shown_in_the_method_section(qtbot):
    page = make_page(qtbot)
    spin = page.method_form.editor("lora_r")
    spin.setValue(0)
    assert "method_lora_r" not in page.method_form.errors()
    assert "lora_r" in page.method_form.errors()
    assert not page.findChild(QLabel, "method_lora_r_error").isHidden()
    assert page.blocking_reason() is not None


def test_the_estimate_follows_the_settings(qtbot, tiny_model_dir):
    page = make_page(qtbot)
    assert "Choose a model" in page.estimate_label.text()
    hardware = HardwareInfo(gpus=(), torch_cuda_build=False, **probe_host("."))
    facts = inspect_model(str(tiny_model_dir), hardware)
    page.set_model_facts(facts)
    text = page.estimate_label.text()
    assert "Memory (lora)" in text
    assert "rough" in text
    assert "steps" in text  # the sample data file is counted

    page.findChild(QPushButton, "presetQuick").click()
    assert "Time: 30 steps" in page.estimate_label.text()


def test_durations_read_plainly():
    assert format_duration(30) == "under 2 minutes"
    assert format_duration(600) == "about 10 minutes"
    assert format_duration(3 * 3600) == "about 3.0 hours"
    assert RunConfig().hyperparameters.epochs == 3.0
