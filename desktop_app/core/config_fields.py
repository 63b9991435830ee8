"""Building blocks of the configuration sections: fields with help text and checks
that name the field they refuse."""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any, ClassVar

from desktop_app.core.errors import ConfigError


def config_field(default: Any, help: str, **kwargs: Any) -> Any:
    """A dataclass field carrying its help text; lists and dicts get a fresh copy each."""
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help, **kwargs})


def field_help(section: type, name: str) -> str:
    """The help text of one field, for tooltips and documentation."""
    for item in dataclasses.fields(section):
        if item.name == name:
            return str(item.metadata.get("help", ""))
    raise KeyError(name)


class SectionChecks:
    """Validation helpers shared by the sections; each names the field it checks."""

    SECTION: ClassVar[str] = ""

    def _fail(self, name: str, message: str) -> None:
        raise ConfigError(f"{self.SECTION}.{name}", message)

    def _choice(self, name: str, allowed: tuple[str, ...]) -> None:
        value = getattr(self, name)
        if value not in allowed:
            self._fail(name, f"must be one of {', '.join(allowed)} (got {value!r}).")

    def _range(
        self,
        name: str,
        low: float | None = None,
        high: float | None = None,
        *,
        low_open: bool = False,
        high_open: bool = False,
        advice: str = "",
    ) -> None:
        value = getattr(self, name)
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            parts = []
            if low is not None:
                parts.append(f"{'greater than' if low_open else 'at least'} {low:g}")
            if high is not None:
                parts.append(f"{'less than' if high_open else 'at most'} {high:g}")
            extra = f" {advice}" if advice else ""
            self._fail(name, f"must be {' and '.join(parts)} (got {value!r}).{extra}")
