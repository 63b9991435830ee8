"""The Method page: choices, costs from the real model facts, the badge and blocking."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QRadioButton, QSpinBox, QWidget

from desktop_app.core.config import METHOD_NAMES, RunConfig
from desktop_app.core.estimates import METHODS
from desktop_app.core.hardware import GIB, GpuInfo, HardwareInfo, probe_host
from desktop_app.engine.inspect_model import ModelFacts, inspect_model
from desktop_app.ui.pages.method_page import (
    MethodPage,
    describe_step_time,
    method_cost,
    resolve_auto,
)

TAB_ORDER = [
    "method_auto",
    "method_qlora",
    "quantizationBits",
    "method_lora",
    "method_full",
    "method_freeze",
    "freezeTrainableLayers",
]


def cpu_facts(model: Path, ram_available_bytes: int | None = None) -> ModelFacts:
    host = probe_host(".")
    if ram_available_bytes is not None:
        host["ram_available_bytes"] = ram_available_bytes
    return inspect_model(str(model), HardwareInfo(gpus=(), torch_cuda_build=False, **host))


def gpu_facts(model: Path) -> ModelFacts:
    gpu = GpuInfo(0, "NVIDIA RTX 4090", 24 * GIB, 20 * GIB, "8.9", True)
    hardware = HardwareInfo(gpus=(gpu,), torch_cuda_build=True, **probe_host("."))
    return inspect_model(str(model), hardware)


@pytest.fixture
def page(qtbot) -> MethodPage:
    page = MethodPage()
    qtbot.addWidget(page)
    page.resize(900, 650)
    page.load(RunConfig())
    return page


def radio(page: MethodPage, choice: str) -> QRadioButton:
    return page.findChild(QRadioButton, f"method_{choice}")


def cost_label(page: MethodPage, choice: str) -> QLabel:
    return page.findChild(QLabel, f"methodCost_{choice}")


def test_load_and_apply_round_trip_every_method_name(page):
    for name in METHOD_NAMES:
        config = RunConfig()
        config.method.name = name
        config.method.quantization_bits = 8
        config.method.freeze_trainable_layers = 3
        page.load(config)
        assert [c for c in METHOD_NAMES if radio(page, c).isChecked()] == [name]
        target = RunConfig()
        target.method.lora_r = 64  # edited on another page: must survive
        page.apply(target)
        assert target.method.name == name
        assert target.method.quantization_bits == 8
        assert target.method.freeze_trainable_layers == 3
        assert target.method.lora_r == 64


def test_choosing_a_card_emits_changed_and_apply_writes_it(page, qtbot):
    with qtbot.waitSignal(page.changed, timeout=1000):
        qtbot.mouseClick(radio(page, "full"), Qt.MouseButton.LeftButton)
    config = RunConfig()
    page.apply(config)
    assert config.method.name == "full"
    assert not radio(page, "auto").isChecked()

    # A click anywhere on a card chooses it.
    card = page.findChild(QWidget, "methodCard_freeze")
    with qtbot.waitSignal(page.changed, timeout=1000):
        qtbot.mouseClick(card, Qt.MouseButton.LeftButton, pos=card.rect().center())
    page.apply(config)
    assert config.method.name == "freeze"
    assert [c for c in METHOD_NAMES if radio(page, c).isChecked()] == ["freeze"]

    # Clicking the chosen radio again keeps it chosen.
    qtbot.mouseClick(radio(page, "freeze"), Qt.MouseButton.LeftButton)
    assert radio(page, "freeze").isChecked()
    page.apply(config)
    assert config.method.name == "freeze"


def test_loading_does_not_emit_changed(page, qtbot):
    config = RunConfig()
    config.method.name = "lora"
    with qtbot.assertNotEmitted(page.changed):
        page.load(config)


def test_method_settings_are_written(page, qtbot):
    config = RunConfig()
    bits = page.findChild(QComboBox, "quantizationBits")
    with qtbot.waitSignal(page.changed, timeout=1000):
        bits.setCurrentIndex(bits.findData(8))
    page.findChild(QSpinBox, "freezeTrainableLayers").setValue(4)
    page.apply(config)
    assert config.method.quantization_bits == 8
    assert config.method.freeze_trainable_layers == 4


def test_without_facts_the_methods_are_explained_and_costs_wait(page):
    note = page.findChild(QLabel, "methodFactsNote").text()
    assert "Choose a model on the Model step" in note
    for method in METHODS:
        assert page.findChild(QLabel, f"methodExplanation_{method}").text()
        assert cost_label(page, method).isHidden()
        assert not page.findChild(QLabel, f"recommendedBadge_{method}").isVisibleTo(page)


def test_recommended_badge_and_auto_follow_the_facts(page, tiny_model_dir):
    facts = cpu_facts(tiny_model_dir)
    assert facts.recommended_method == "lora"
    page.set_model_facts(facts)
    shown = [
        m for m in METHODS if page.findChild(QLabel, f"recommendedBadge_{m}").isVisibleTo(page)
    ]
    assert shown == ["lora"]
    assert "that means <b>LoRA</b>" in cost_label(page, "auto").text()

    facts = gpu_facts(tiny_model_dir)
    assert facts.recommended_method == "qlora"
    page.set_model_facts(facts)
    shown = [
        m for m in METHODS if page.findChild(QLabel, f"recommendedBadge_{m}").isVisibleTo(page)
    ]
    assert shown == ["qlora"]
    assert "that means <b>QLoRA</b>" in cost_label(page, "auto").text()
    assert "free GPU memory" in cost_label(page, "full").text()


def test_costs_appear_with_facts_and_clear_without(page, tiny_model_dir):
    page.set_model_facts(cpu_facts(tiny_model_dir))
    for method in METHODS:
        label = cost_label(page, method)
        assert not label.isHidden()
        assert "Should fit" in label.text()
    assert "Training runs on the CPU" in page.findChild(QLabel, "methodFactsNote").text()

    page.set_model_facts(None)
    for method in (*METHODS, "auto"):
        assert cost_label(page, method).isHidden()
    for method in (*METHODS, "auto"):
        assert cost_label(page, method).text() == ""
        assert not page.findChild(QLabel, f"recommendedBadge_{method}").isVisibleTo(page)
    assert "Choose a model" in page.findChild(QLabel, "methodFactsNote").text()


def test_eight_bit_qlora_without_a_gpu_blocks(page, tiny_model_dir):
    config = RunConfig()
    config.method.name = "qlora"
    config.method.quantization_bits = 8
    page.load(config)
    assert page.blocking_reason() is None  # nothing is known about this computer yet

    page.set_model_facts(cpu_facts(tiny_model_dir))
    reason = page.blocking_reason()
    assert reason is not None and "NVIDIA GPU" in reason
    assert "NVIDIA GPU" in cost_label(page, "qlora").text()

    bits = page.findChild(QComboBox, "quantizationBits")
    bits.setCurrentIndex(bits.findData(4))
    assert page.blocking_reason() is None

    bits.setCurrentIndex(bits.findData(8))
    radio(page, "auto").click()
    assert page.blocking_reason() is None  # auto trains LoRA here

    radio(page, "qlora").click()
    page.set_model_facts(gpu_facts(tiny_model_dir))
    assert page.blocking_reason() is None


def test_a_method_that_cannot_fit_at_all_blocks_but_auto_never_does(page, tiny_model_dir):
    facts = cpu_facts(tiny_model_dir, ram_available_bytes=GIB // 10)
    page.set_model_facts(facts)
    for method in METHODS:
        radio(page, method).click()
        reason = page.blocking_reason()
        assert reason is not None and "even with the smallest batch" in reason
    radio(page, "auto").click()
    assert page.blocking_reason() is None
    assert "No method is expected to fit" in page.findChild(QLabel, "methodFactsNote").text()


def test_a_method_over_memory_only_with_these_settings_warns_without_blocking(page, tiny_model_dir):
    config = RunConfig()
    config.method.name = "full"
    config.hyperparameters.batch_size = 64
    config.hyperparameters.max_length = 512
    page.load(config)
    facts = cpu_facts(tiny_model_dir)
    needed = method_cost(facts, "full", config.method, config).estimate.total_bytes
    small = RunConfig()
    small.hyperparameters.batch_size = 1
    small.hyperparameters.max_length = 8
    least = method_cost(facts, "full", config.method, small).estimate.total_bytes
    assert least < needed
    page.set_model_facts(dataclasses.replace(facts, memory_available_bytes=(least + needed) // 2))
    text = cost_label(page, "full").text()
    assert "Probably does not fit" in text
    assert "#c62828" in text  # shown as a warning
    assert page.blocking_reason() is None


def is_part_of_an_editor(widget: QWidget) -> bool:
    """The line edit inside a spin box, the list a combo box pops up, and the like."""
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QComboBox | QSpinBox):
            return True
        parent = parent.parentWidget()
    return False


def test_every_interactive_widget_has_an_object_name(page):
    for widget in page.findChildren(QWidget):
        if widget.focusPolicy() != Qt.FocusPolicy.NoFocus and not is_part_of_an_editor(widget):
            assert widget.objectName(), f"{type(widget).__name__} has no objectName"
    for choice in METHOD_NAMES:
        assert "&" in radio(page, choice).text()
        assert radio(page, choice).toolTip()


def test_tab_reaches_every_choice_in_order(page, qtbot):
    page.show()
    page.activateWindow()
    qtbot.waitUntil(page.isActiveWindow, timeout=2000)
    radio(page, "auto").setFocus()
    seen = []
    for _ in TAB_ORDER:
        focused = QApplication.focusWidget()
        seen.append(focused.objectName())
        qtbot.keyClick(focused, Qt.Key.Key_Tab)
    assert seen == TAB_ORDER

    # Space on a focused card's radio chooses it.
    radio(page, "lora").setFocus()
    with qtbot.waitSignal(page.changed, timeout=1000):
        qtbot.keyClick(radio(page, "lora"), Qt.Key.Key_Space)
    config = RunConfig()
    page.apply(config)
    assert config.method.name == "lora"


def test_time_notes_compare_with_lora():
    assert "1.5 times" in describe_step_time("full", "cpu")
    assert "slower" in describe_step_time("qlora", "cpu")
    assert "quicker" in describe_step_time("freeze", "cuda")
    assert "baseline" in describe_step_time("lora", None)
    assert resolve_auto("cuda") == "qlora"
    assert resolve_auto("cpu") == resolve_auto(None) == "lora"
