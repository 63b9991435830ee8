"""The data section of the run configuration (kept apart from config.py for size)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, ClassVar

from desktop_app.core.config_fields import SectionChecks, config_field

DATA_FORMATS = (
    "auto",
    "alpaca",
    "prompt_completion",
    "chat",
    "sharegpt",
    "text",
    "classification",
    "preference",
)
PII_REDACTION_MODES = ("off", "tags", "pseudonyms")
MIX_ENTRY_KEYS = ("path", "weight", "format", "column_map")


@dataclass
class DataSpec(SectionChecks):
    """The training data and how to read and split it."""

    SECTION: ClassVar[str] = "data"

    train: str = config_field(
        "",
        "The training data file: .jsonl, .json, .csv, .tsv, .parquet, .xlsx or .txt. Each "
        "record (row) is one example.",
    )
    format: str = config_field(
        "auto",
        "How records are laid out: auto (detect), alpaca (instruction/input/output), "
        "prompt_completion, chat (messages with role and content), sharegpt "
        "(conversations with from/value), text (plain text, for continued pre-training), "
        "classification (text and label) or preference (prompt, chosen, rejected).",
    )
    column_map: dict[str, str] = config_field(
        {},
        "For tables (CSV, TSV, Excel, Parquet): which column holds which field, for example "
        '{"instruction": "Question", "output": "Answer"}. Fields not listed are guessed '
        "from the headers.",
    )
    mix: list[dict[str, Any]] = config_field(
        [],
        "More training files combined with the main one, each an object with path and "
        "optionally weight (default 1), format and column_map. A weight of 2 repeats each "
        "of that file's records twice per epoch; 0.5 uses a seeded half of them.",
    )
    train_weight: float = config_field(
        1.0, "Weight of the main training file when files are combined (see mix)."
    )
    validation_fraction: float = config_field(
        0.1,
        "Share of the training records held back to measure validation loss "
        "(0 to 0.5; 0 turns validation off unless a validation file is given).",
    )
    test_fraction: float = config_field(
        0.0,
        "Share of the training records set aside, never trained on or used for validation; "
        "they are listed in the run's manifest for the evaluation step (0 to 0.5).",
    )
    validation_file: str | None = config_field(
        None,
        "A separate validation file to use instead of splitting the training data. It is "
        "read with the training file's format and column_map when it is of the same file "
        "type, otherwise they are detected.",
    )
    train_on_prompt: bool = config_field(
        False,
        "Also learn to reproduce the prompt. Off by default: the model is trained only on "
        "the answers, which is what you want for question-and-answer data.",
    )
    exclude_invalid: bool = config_field(
        False,
        "Train without the records that have errors instead of refusing to start. The "
        "excluded file lines are listed in the run's manifest.",
    )
    max_chars: int = config_field(
        100_000, "Records with a text field longer than this many characters are errors."
    )
    pii_redaction: str = config_field(
        "off",
        "Personal data found in the training files: off (train on the data as it is; the "
        "scan summary is still recorded), tags (replace each value with its type, such "
        "as [EMAIL]) or pseudonyms (consistent made-up stand-ins). Records are redacted in "
        "memory for training; the files are never changed (use 'enclave data redact' for "
        "a redacted copy).",
    )

    def __post_init__(self) -> None:
        self._choice("format", DATA_FORMATS)
        self._column_map("column_map", self.column_map)
        for index, entry in enumerate(self.mix):
            self._mix_entry(index, entry)
        self._range("train_weight", 0.0, 100.0, low_open=True)
        self._range("validation_fraction", 0.0, 0.5, high_open=True)
        self._range("test_fraction", 0.0, 0.5, high_open=True)
        if self.validation_fraction + self.test_fraction >= 0.9:
            self._fail(
                "test_fraction",
                "and validation_fraction together must leave records "
                "to train on (keep their sum below 0.9).",
            )
        self._range("max_chars", 1, None)
        self._choice("pii_redaction", PII_REDACTION_MODES)

    def _column_map(self, name: str, value: Any) -> None:
        if not isinstance(value, dict) or not all(
            isinstance(key, str) and isinstance(column, str) and column.strip()
            for key, column in value.items()
        ):
            self._fail(name, 'must map field names to column names, like {"output": "Answer"}.')

    def _mix_entry(self, index: int, entry: Any) -> None:
        name = f"mix[{index}]"
        if not isinstance(entry, dict):
            self._fail(name, 'must be an object like {"path": "more.jsonl", "weight": 1}.')
        for key in entry:
            if key not in MIX_ENTRY_KEYS:
                close = difflib.get_close_matches(str(key), MIX_ENTRY_KEYS, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                self._fail(
                    f"{name}.{key}", f"is not a known key; use {', '.join(MIX_ENTRY_KEYS)}.{hint}"
                )
        path = entry.get("path")
        if not isinstance(path, str) or not path.strip():
            self._fail(f"{name}.path", "is missing; give the file's path.")
        weight = entry.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= 100:
            self._fail(
                f"{name}.weight", f"must be a number above 0 and at most 100 (got {weight!r})."
            )
        if entry.get("format", "auto") not in DATA_FORMATS:
            self._fail(f"{name}.format", f"must be one of {', '.join(DATA_FORMATS)}.")
        self._column_map(f"{name}.column_map", entry.get("column_map", {}))
