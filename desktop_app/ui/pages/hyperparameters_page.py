"""The Hyperparameters step: a preset, every setting in an advanced panel, a live estimate."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.config import HyperParams, MethodSpec, RunConfig
from desktop_app.core.estimates import verdict
from desktop_app.core.hardware import format_gib
from desktop_app.engine.inspect_model import ModelFacts, estimate_for_model
from desktop_app.ui.pages.base import WizardPage
from desktop_app.ui.presets import PRESETS, matching_preset
from desktop_app.ui.widgets.config_form import ConfigForm

#: Rough training throughput, in model FLOPs per second (forward and backward pass take
#: about 6 FLOPs per parameter per token). Deliberately modest figures.
ASSUMED_FLOPS = {"cuda": 20e12, "cpu": 0.2e12}
#: Tokens in a typical example when the data is not known yet.
ASSUMED_TOKENS_PER_EXAMPLE = 256
#: Files up to this size are counted line by line for the step estimate.
MAX_COUNTED_BYTES = 20 * 1024 * 1024
PRESET_OBJECT_NAMES = {
    "quick": "presetQuick",
    "balanced": "presetBalanced",
    "thorough": "presetThorough",
}


def count_records(path: str) -> int | None:
    """Non-empty lines of a JSON Lines, CSV or text file (small files only), else None."""
    file = Path(path)
    if not path or not file.is_file() or file.stat().st_size > MAX_COUNTED_BYTES:
        return None
    if file.suffix.lower() not in (".jsonl", ".csv", ".tsv", ".txt"):
        return None
    with open(file, "rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    return lines - 1 if file.suffix.lower() in (".csv", ".tsv") else lines


def format_duration(seconds: float) -> str:
    """``95`` -> ``about 2 minutes``; hours above 90 minutes."""
    minutes = seconds / 60
    if minutes < 1.5:
        return "under 2 minutes"
    if minutes < 90:
        return f"about {round(minutes)} minutes"
    return f"about {minutes / 60:.1f} hours"


def describe_estimate(facts: ModelFacts | None, config: RunConfig, records: int | None) -> str:
    """The estimate of memory and time as a few plain sentences."""
    if facts is None:
        return "Choose a model on the Model step to see how much memory and time this needs."
    hyper, method = config.hyperparameters, config.method
    device = facts.device or "cpu"
    name = method.name
    if name == "auto":
        name = "qlora" if device == "cuda" else "lora"
    length = min(hyper.max_length, facts.context_length or hyper.max_length)
    estimate = estimate_for_model(
        facts, name, method, batch_size=hyper.batch_size, max_length=hyper.max_length
    )
    lines = [f"Memory ({name}): about {format_gib(estimate.total_bytes)}."]
    if facts.memory_available_bytes is not None:
        lines[0] += " " + verdict(estimate, facts.memory_available_bytes)[1]

    examples_per_step = hyper.batch_size * hyper.gradient_accumulation_steps
    if hyper.max_steps is not None:
        steps: int | None = hyper.max_steps
    elif records is not None:
        train_records = records * (1 - config.data.validation_fraction - config.data.test_fraction)
        steps = max(1, round(hyper.epochs * train_records / examples_per_step))
    else:
        steps = None
    if steps is None:
        lines.append("Time: not known until the data is chosen.")
    else:
        tokens = steps * examples_per_step * min(length, ASSUMED_TOKENS_PER_EXAMPLE)
        seconds = tokens * 6 * facts.parameter_count / ASSUMED_FLOPS[device]
        where = "the GPU" if device == "cuda" else "the CPU"
        lines.append(
            f"Time: {steps:,} steps, {format_duration(seconds)} on {where}. This is a rough "
            f"guess (it assumes about {ASSUMED_TOKENS_PER_EXAMPLE} tokens per example); the "
            "Train step shows the real speed."
        )
    return "\n".join(lines)


class HyperparametersPage(WizardPage):
    """Presets plus every hyperparameter and method setting, with a live estimate."""

    title = "Hyperparameters"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.facts: ModelFacts | None = None
        self._config = RunConfig()
        self._records: int | None = None
        self._records_path: str | None = None

        self.preset_group = QButtonGroup(self)
        self.preset_group.setExclusive(True)
        self.preset_buttons: dict[str, QPushButton] = {}
        preset_row = QHBoxLayout()
        descriptions = QVBoxLayout()
        for preset, mnemonic in zip(
            PRESETS, ("&Quick check", "B&alanced", "T&horough"), strict=True
        ):
            button = QPushButton(mnemonic)
            button.setObjectName(PRESET_OBJECT_NAMES[preset.key])
            button.setCheckable(True)
            button.setToolTip(preset.description)
            button.clicked.connect(lambda _=False, key=preset.key: self.apply_preset(key))
            self.preset_group.addButton(button)
            self.preset_buttons[preset.key] = button
            preset_row.addWidget(button)
            description = QLabel(f"<b>{preset.name}</b>: {preset.description}")
            description.setWordWrap(True)
            descriptions.addWidget(description)
        preset_row.addStretch(1)
        presets_box = QGroupBox("Start from a preset")
        presets_layout = QVBoxLayout(presets_box)
        presets_layout.addLayout(preset_row)
        presets_layout.addLayout(descriptions)

        self.hyper_form = ConfigForm(HyperParams)
        self.method_form = ConfigForm(MethodSpec)
        self.hyper_form.edited.connect(self._on_form_edited)
        self.method_form.edited.connect(self._on_form_edited)
        hyper_box = QGroupBox("Training length and speed")
        QVBoxLayout(hyper_box).addWidget(self.hyper_form)
        method_box = QGroupBox("Method settings (the method is chosen on the Method step)")
        QVBoxLayout(method_box).addWidget(self.method_form)
        advanced = QWidget()
        advanced_layout = QHBoxLayout(advanced)
        advanced_layout.addWidget(hyper_box, 1, Qt.AlignmentFlag.AlignTop)
        advanced_layout.addWidget(method_box, 1, Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea()
        scroll.setObjectName("advancedSettings")
        scroll.setWidgetResizable(True)
        scroll.setWidget(advanced)

        self.estimate_label = QLabel()
        self.estimate_label.setObjectName("liveEstimate")
        self.estimate_label.setWordWrap(True)
        estimate_box = QGroupBox("Estimate")
        QVBoxLayout(estimate_box).addWidget(self.estimate_label)

        layout = QVBoxLayout(self)
        layout.addWidget(presets_box)
        layout.addWidget(QLabel("Advanced: every setting (hover over one for what it means)."))
        layout.addWidget(scroll, 1)
        layout.addWidget(estimate_box)
        self._refresh()

    # -- the WizardPage contract ---------------------------------------------------------

    def load(self, config: RunConfig) -> None:
        self._config = config
        self.hyper_form.set_section(config.hyperparameters)
        self.method_form.set_section(config.method)
        if config.data.train != self._records_path:
            self._records_path = config.data.train
            self._records = count_records(config.data.train)
        self._refresh()

    def apply(self, config: RunConfig) -> None:
        # The forms hold the last valid values; invalid edits block Next instead.
        config.hyperparameters = dataclasses.replace(self.hyper_form.section())
        config.method = dataclasses.replace(self.method_form.section())

    def blocking_reason(self) -> str | None:
        return self.hyper_form.first_error() or self.method_form.first_error()

    # -- presets and estimate ------------------------------------------------------------

    def set_model_facts(self, facts: ModelFacts | None) -> None:
        """The Model step read (or cleared) the chosen model's facts."""
        self.facts = facts
        self._refresh()

    def apply_preset(self, key: str) -> None:
        """Put a preset's values into the form."""
        preset = next(p for p in PRESETS if p.key == key)
        self.hyper_form.set_values(preset.overrides)

    def _on_form_edited(self) -> None:
        self._refresh()
        self.changed.emit()

    def _refresh(self) -> None:
        matched = matching_preset(self.hyper_form.section())
        self.preset_group.setExclusive(False)
        for key, button in self.preset_buttons.items():
            button.setChecked(matched is not None and matched.key == key)
        self.preset_group.setExclusive(True)
        config = RunConfig(
            model=self._config.model,
            data=self._config.data,
            method=self.method_form.section(),
            hyperparameters=self.hyper_form.section(),
            output=self._config.output,
        )
        self.estimate_label.setText(describe_estimate(self.facts, config, self._records))
