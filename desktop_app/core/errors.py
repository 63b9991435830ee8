"""Errors that carry a plain-language message for the person at the keyboard."""

from __future__ import annotations


class EnclaveError(Exception):
    """Base class for every error Enclave raises on purpose.

    Args:
        message: What happened, in plain language.
        hint: What the user can do about it.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def user_message(self) -> str:
        """The message and the hint, ready to show."""
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class UserInputError(EnclaveError):
    """Something the user gave us (config, data, model path) cannot be used.

    The CLI exits with code 2 for these.
    """


class ConfigError(UserInputError):
    """A run configuration field is missing, unknown or out of range.

    Args:
        field: Dotted name of the field, for example ``hyperparameters.learning_rate``.
        message: What is wrong with it and what is allowed.
        source: The file the value came from, if any.
    """

    def __init__(self, field: str, message: str, source: str | None = None) -> None:
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{field}: {message}")
        self.field = field
        self.detail = message
        self.source = source


class DataError(UserInputError):
    """A data file cannot be read or a record in it cannot be used.

    Args:
        path: The file.
        message: What is wrong.
        line: 1-based line (or row) number, when the problem is in one record.
        field: The record field concerned, when there is one.
    """

    def __init__(
        self, path: str, message: str, line: int | None = None, field: str | None = None
    ) -> None:
        location = path if line is None else f"{path}, line {line}"
        if field:
            location += f", field '{field}'"
        super().__init__(f"{location}: {message}")
        self.path = path
        self.line = line
        self.field = field


class ModelError(UserInputError):
    """A model path cannot be used (missing, not local, wrong layout, unsupported)."""
