"""Hyperparameter presets: a few named starting points, each a set of overrides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from desktop_app.core.config import HyperParams


@dataclass(frozen=True)
class Preset:
    """A named set of hyperparameter values.

    Args:
        key: Short identifier (``quick``, ``balanced``, ``thorough``).
        name: The button text.
        description: One line saying what it is for.
        overrides: HyperParams field name -> value.
    """

    key: str
    name: str
    description: str
    overrides: dict[str, Any]


PRESETS: tuple[Preset, ...] = (
    Preset(
        "quick",
        "Quick check",
        "30 steps, to see that everything works before a long run. The model learns little.",
        {
            "epochs": 1.0,
            "max_steps": 30,
            "learning_rate": 2e-4,
            "eval_every_steps": 10,
            "save_every_steps": 10,
        },
    ),
    Preset(
        "balanced",
        "Balanced",
        "3 passes over the data: a good first real run for most data sets.",
        {
            "epochs": 3.0,
            "max_steps": None,
            "learning_rate": 2e-4,
            "eval_every_steps": 50,
            "save_every_steps": 100,
        },
    ),
    Preset(
        "thorough",
        "Thorough",
        "5 passes with a gentler learning rate and closer checks: slower, often a bit better.",
        {
            "epochs": 5.0,
            "max_steps": None,
            "learning_rate": 1e-4,
            "eval_every_steps": 25,
            "save_every_steps": 100,
        },
    ),
)


def preset_by_key(key: str) -> Preset:
    """The preset with that key."""
    for preset in PRESETS:
        if preset.key == key:
            return preset
    raise KeyError(key)


def matching_preset(hyperparameters: HyperParams) -> Preset | None:
    """The preset whose values the hyperparameters have, or None."""
    for preset in PRESETS:
        if all(getattr(hyperparameters, k) == v for k, v in preset.overrides.items()):
            return preset
    return None
