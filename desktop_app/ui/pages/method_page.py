"""The Method step: QLoRA, LoRA, full or freeze, with what each costs on this computer."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.config import MethodSpec, RunConfig, field_help
from desktop_app.core.estimates import METHODS, MemoryEstimate, verdict
from desktop_app.core.hardware import format_gib
from desktop_app.engine.inspect_model import ModelFacts, estimate_for_model
from desktop_app.ui.pages.base import WizardPage

#: The choices in the order shown; ``auto`` first because it is the default.
CHOICES = ("auto", *METHODS)
TITLES = {
    "auto": "Let Enclave &choose",
    "qlora": "&QLoRA",
    "lora": "&LoRA",
    "full": "F&ull training",
    "freeze": "Free&ze most layers",
}
NAMES = {"qlora": "QLoRA", "lora": "LoRA", "full": "Full training", "freeze": "Freeze"}
EXPLANATIONS = {
    "auto": "QLoRA on a computer with an NVIDIA GPU, LoRA on one without. "
    "A safe choice if you are not sure.",
    "qlora": "Trains small add-on adapters while the model itself is held in a compressed "
    "4-bit (or 8-bit) copy. Use it for large models when memory is short; the results are "
    "close to LoRA's.",
    "lora": "Trains small add-on adapters on top of the unchanged model. The usual choice "
    "for teaching a model a task, a tone or a format; the result is small to save.",
    "full": "Trains every weight of the model. It can learn the most, but needs by far the "
    "most memory and can lose more of what the model already knew.",
    "freeze": "Trains only the top few layers and the output layer; the rest stays fixed. "
    "A middle way: more trained weights than adapters, less memory than full training.",
}
SAVED_RESULTS = {
    "qlora": "Saves: a small adapter file, used together with the base model.",
    "lora": "Saves: a small adapter file, used together with the base model.",
    "full": "Saves: a complete new copy of the model, at least as large as the original.",
    "freeze": "Saves: a complete new copy of the model, at least as large as the original.",
}
#: Time per training step relative to LoRA's. CPU: measured on the demo model
#: (docs/benchmarks.md); GPU: a rough guess (QLoRA unpacks its 4-bit weights every step
#: and saves memory by recomputing values, full training updates every weight).
RELATIVE_STEP_TIME = {
    "cpu": {"qlora": 1.1, "lora": 1.0, "full": 1.5, "freeze": 0.85},
    "cuda": {"qlora": 1.4, "lora": 1.0, "full": 1.6, "freeze": 0.8},
}
WARNING_COLOUR = "#c62828"
BADGE_STYLE = "background:#2e7d32; color:white; border-radius:4px; padding:1px 6px;"
CARD_STYLE = (
    "QFrame[methodCard='true'] { border: 1px solid palette(mid); border-radius: 6px; }"
    "QFrame[methodCard='true'][selected='true'] { border: 2px solid palette(highlight); }"
)


def resolve_auto(device: str | None) -> str:
    """What ``auto`` trains with: QLoRA on an NVIDIA GPU, LoRA otherwise."""
    return "qlora" if device == "cuda" else "lora"


def describe_step_time(method: str, device: str | None) -> str:
    """How long a training step takes compared with LoRA, in plain words."""
    factor = RELATIVE_STEP_TIME["cuda" if device == "cuda" else "cpu"][method]
    percent = round(abs(factor - 1) * 100)
    if method == "lora":
        return "Time: the baseline the other methods are compared with."
    if factor < 1:
        return f"Time: a little quicker than LoRA per step (about {percent}% less)."
    if factor < 1.2:
        return f"Time: a little slower than LoRA per step (about {percent}% more)."
    return f"Time: about {factor:.1f} times as long as LoRA per step."


@dataclass(frozen=True)
class MethodCost:
    """What one method needs on this computer.

    Args:
        estimate: Memory with the current batch size and example length.
        fits: Whether that is expected to fit; None when the memory is not known.
        message: The verdict (or the estimate alone) in plain words.
        impossible: Why the method cannot run here at all, whatever the settings; else None.
    """

    estimate: MemoryEstimate
    fits: bool | None
    message: str
    impossible: str | None


def method_cost(facts: ModelFacts, method: str, spec: MethodSpec, config: RunConfig) -> MethodCost:
    """Estimate ``method``'s memory for the facts' model with ``config``'s settings.

    ``spec`` supplies the method settings (compression, adapter rank, layers trained);
    ``config`` the batch size and example length.
    """
    hyper = config.hyperparameters

    def estimate(batch_size: int, max_length: int) -> MemoryEstimate:
        return estimate_for_model(facts, method, spec, batch_size=batch_size, max_length=max_length)

    current = estimate(hyper.batch_size, hyper.max_length)
    # With one one-token example per step nearly all that is left is weights and optimiser.
    least = estimate(1, 1)
    available = facts.memory_available_bytes
    impossible = None
    if method == "qlora" and spec.quantization_bits == 8 and facts.device != "cuda":
        impossible = (
            "8-bit QLoRA needs an NVIDIA GPU, and this computer has none. "
            "Choose 4-bit compression, or another method."
        )
    elif available is not None and least.total_bytes > available:
        advice = "a smaller model" if method == "qlora" else "QLoRA or a smaller model"
        impossible = (
            f"{NAMES[method]} needs at least {format_gib(least.total_bytes)} for this model, "
            f"even with the smallest batch, but only {format_gib(available)} is free. "
            f"Choose {advice}."
        )
    if impossible is not None:
        return MethodCost(current, False, impossible, impossible)
    if available is None:
        return MethodCost(current, None, f"Needs about {format_gib(current.total_bytes)}.", None)
    fits, message = verdict(current, available)
    return MethodCost(current, fits, message, None)


def _wrapping_label(name: str, text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    return label


class MethodCard(QFrame):
    """One choice: a radio button, a badge, an explanation and its costs; a click selects it."""

    def __init__(self, choice: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"methodCard_{choice}")
        self.setProperty("methodCard", True)
        self.setProperty("selected", False)
        self.radio = QRadioButton(TITLES[choice])
        self.radio.setObjectName(f"method_{choice}")
        # Exclusivity is the page's job: a QButtonGroup would take the unchecked
        # radios out of the Tab order, and each card should be reachable with Tab.
        self.radio.setAutoExclusive(False)
        self.radio.setToolTip(EXPLANATIONS[choice])
        self.badge = QLabel("★ Recommended for this computer")
        self.badge.setObjectName(f"recommendedBadge_{choice}")
        self.badge.setStyleSheet(BADGE_STYLE)
        self.badge.setVisible(False)
        heading = QHBoxLayout()
        heading.addWidget(self.radio)
        heading.addWidget(self.badge)
        heading.addStretch(1)
        self.explanation = _wrapping_label(f"methodExplanation_{choice}", EXPLANATIONS[choice])
        self.cost = _wrapping_label(f"methodCost_{choice}")
        self.cost.setTextFormat(Qt.TextFormat.RichText)
        self.time = _wrapping_label(f"methodTime_{choice}")
        self.result = _wrapping_label(f"methodResult_{choice}", SAVED_RESULTS.get(choice, ""))
        self.result.setVisible(choice in SAVED_RESULTS)
        self.settings_row = QHBoxLayout()
        layout = QVBoxLayout(self)
        layout.addLayout(heading)
        layout.addWidget(self.explanation)
        layout.addWidget(self.cost)
        layout.addWidget(self.time)
        layout.addWidget(self.result)
        layout.addLayout(self.settings_row)
        layout.addStretch(1)

    def set_selected(self, selected: bool) -> None:
        """Check the radio without signals and show the card's highlighted frame."""
        self.radio.blockSignals(True)
        self.radio.setChecked(selected)
        self.radio.blockSignals(False)
        self.setProperty("selected", selected)
        self.style().unpolish(self)
        self.style().polish(self)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton and not self.radio.isChecked():
            self.radio.click()
            self.radio.setFocus(Qt.FocusReason.MouseFocusReason)
        super().mousePressEvent(event)


class MethodPage(WizardPage):
    """Choose how the model is trained, seeing each method's memory and time here."""

    title = "Method"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("methodPage")
        self.facts: ModelFacts | None = None
        self._config = RunConfig()
        self._selected = "auto"
        self.cards = {choice: MethodCard(choice) for choice in CHOICES}
        for choice, card in self.cards.items():
            card.radio.toggled.connect(
                lambda checked, choice=choice: self._on_radio_toggled(choice, checked)
            )

        self.bits_combo = QComboBox()
        self.bits_combo.setObjectName("quantizationBits")
        self.bits_combo.addItem("4-bit (least memory)", 4)
        self.bits_combo.addItem("8-bit (NVIDIA GPU only)", 8)
        self.bits_combo.setToolTip(field_help(MethodSpec, "quantization_bits"))
        self.bits_combo.currentIndexChanged.connect(self._on_setting_edited)
        self._add_setting("qlora", "Com&pression:", self.bits_combo)
        self.layers_spin = QSpinBox()
        self.layers_spin.setObjectName("freezeTrainableLayers")
        self.layers_spin.setRange(1, 999)
        self.layers_spin.setToolTip(field_help(MethodSpec, "freeze_trainable_layers"))
        self.layers_spin.valueChanged.connect(self._on_setting_edited)
        self._add_setting("freeze", "La&yers trained:", self.layers_spin)

        intro = _wrapping_label(
            "methodIntro",
            "How should the model learn? The methods differ in how much of the model is "
            "changed, and so in the memory and time they need.",
        )
        self.facts_note = _wrapping_label("methodFactsNote")
        self.facts_note.setTextFormat(Qt.TextFormat.RichText)
        grid = QGridLayout()
        grid.addWidget(self.cards["auto"], 0, 0, 1, 2)
        for index, method in enumerate(METHODS):
            grid.addWidget(self.cards[method], 1 + index // 2, index % 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.addWidget(intro)
        content_layout.addWidget(self.facts_note)
        content_layout.addLayout(grid)
        content_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("methodScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.setStyleSheet(CARD_STYLE)

        order = [self.cards["auto"].radio, self.cards["qlora"].radio, self.bits_combo]
        order += [self.cards[m].radio for m in ("lora", "full", "freeze")] + [self.layers_spin]
        for first, second in zip(order, order[1:], strict=False):
            QWidget.setTabOrder(first, second)
        self._select("auto")
        self._refresh()

    def _add_setting(self, choice: str, text: str, editor: QWidget) -> None:
        label = QLabel(text)
        label.setBuddy(editor)
        row = self.cards[choice].settings_row
        row.addWidget(label)
        row.addWidget(editor)
        row.addStretch(1)

    # -- the WizardPage contract ---------------------------------------------------------

    def load(self, config: RunConfig) -> None:
        self._config = config
        method = config.method
        for editor in (self.bits_combo, self.layers_spin):
            editor.blockSignals(True)
        self.bits_combo.setCurrentIndex(max(0, self.bits_combo.findData(method.quantization_bits)))
        self.layers_spin.setValue(method.freeze_trainable_layers)
        for editor in (self.bits_combo, self.layers_spin):
            editor.blockSignals(False)
        self._select(method.name)
        self._refresh()

    def apply(self, config: RunConfig) -> None:
        config.method = self._spec(config.method)

    def blocking_reason(self) -> str | None:
        if self.facts is None or self._selected == "auto":
            return None
        spec = self._spec(self._config.method)
        return method_cost(self.facts, self._selected, spec, self._config).impossible

    # -- model facts and choices ---------------------------------------------------------

    def set_model_facts(self, facts: ModelFacts | None) -> None:
        """The Model step read (or cleared) the chosen model's facts."""
        self.facts = facts
        if facts is not None and facts.num_layers:
            self.layers_spin.setMaximum(max(facts.num_layers, self.layers_spin.value()))
        self._refresh()

    def _spec(self, method: MethodSpec) -> MethodSpec:
        """``method`` with this page's choices in it (validated)."""
        return dataclasses.replace(
            method,
            name=self._selected,
            quantization_bits=int(self.bits_combo.currentData()),
            freeze_trainable_layers=self.layers_spin.value(),
        )

    def _select(self, choice: str) -> None:
        self._selected = choice if choice in self.cards else "auto"
        for name, card in self.cards.items():
            card.set_selected(name == self._selected)

    def _on_radio_toggled(self, choice: str, checked: bool) -> None:
        if not checked and choice == self._selected:
            # A click on the chosen radio would clear it; a choice is always made.
            self.cards[choice].set_selected(True)
            return
        if checked and choice != self._selected:
            self._select(choice)
            self._refresh()
            self.changed.emit()

    def _on_setting_edited(self) -> None:
        self._refresh()
        self.changed.emit()

    # -- showing the costs ---------------------------------------------------------------

    def _refresh(self) -> None:
        facts = self.facts
        device = facts.device if facts is not None else None
        recommended = facts.recommended_method if facts is not None else None
        for method in METHODS:
            card = self.cards[method]
            card.badge.setVisible(method == recommended)
            card.time.setText(describe_step_time(method, device))
            card.cost.setVisible(facts is not None)
            card.cost.setText("" if facts is None else self._cost_html(facts, method))
        auto = self.cards["auto"]
        auto.time.setVisible(False)
        auto.cost.setVisible(facts is not None and facts.device is not None)
        auto.cost.setText("")
        if facts is not None and facts.device is not None:
            resolved = resolve_auto(facts.device)
            auto.cost.setText(
                f"On this computer that means <b>{NAMES[resolved]}</b>. "
                + self._cost_html(facts, resolved)
            )
        self.facts_note.setText(self._facts_note(facts))

    def _cost_html(self, facts: ModelFacts, method: str) -> str:
        cost = method_cost(facts, method, self._spec(self._config.method), self._config)
        text = _escape(cost.message)
        if cost.fits is False:
            return f"<span style='color:{WARNING_COLOUR}'>✗ Memory: {text}</span>"
        return ("✓ " if cost.fits else "") + f"Memory: {text}"

    def _facts_note(self, facts: ModelFacts | None) -> str:
        if facts is None:
            return (
                "Choose a model on the Model step to see what each method needs in memory "
                "on this computer, and which one is recommended."
            )
        hyper = self._config.hyperparameters
        length = min(hyper.max_length, facts.context_length or hyper.max_length)
        if facts.memory_available_bytes is None:
            where = "This computer's memory was not checked, so fits are not judged."
        else:
            device = "the GPU" if facts.device == "cuda" else "the CPU"
            where = (
                f"Training runs on {device} with {format_gib(facts.memory_available_bytes)} free."
            )
        note = (
            f"For {_escape(facts.display_name)}: {where} Figures assume a batch of "
            f"{hyper.batch_size} example{'s' if hyper.batch_size != 1 else ''} of up to "
            f"{length:,} tokens (set on the "
            "Hyperparameters step). Times are rough comparisons; the Train step shows the "
            "real speed."
        )
        if facts.memory_available_bytes is not None and facts.recommended_method is None:
            note += (
                f" <span style='color:{WARNING_COLOUR}'>No method is expected to fit with "
                "these settings; try a smaller model.</span>"
            )
        return note


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
