"""The run configuration: one RunConfig made of five sections.

Every field carries help text (``metadata["help"]``), which is the single source for
the CLI documentation, docs/run-config.md and the wizard's tooltips. Each section
validates itself in ``__post_init__`` and names the offending field in its message.
Reading and writing JSON lives in :mod:`desktop_app.core.config_io`.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any, ClassVar

from desktop_app.core.errors import ConfigError

CONFIG_VERSION = 1

#: The value of ``model.path`` that selects the built-in demo model (SmolLM2-135M-Instruct).
DEMO_MODEL = "builtin:smollm2-135m-instruct"

METHOD_NAMES = ("auto", "qlora", "lora", "full", "freeze")
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
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")
COMPUTE_DTYPES = ("auto", "bfloat16", "float16", "float32")
QUANT_TYPES = ("nf4", "fp4")


def _field(default: Any, help: str, **kwargs: Any) -> Any:
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help, **kwargs})


def field_help(section: type, name: str) -> str:
    """The help text of one field, for tooltips and documentation."""
    for item in dataclasses.fields(section):
        if item.name == name:
            return str(item.metadata.get("help", ""))
    raise KeyError(name)


class _Checks:
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


@dataclass
class ModelSpec(_Checks):
    """Which base model to fine-tune."""

    SECTION: ClassVar[str] = "model"

    path: str = _field(
        DEMO_MODEL,
        "The base model: a local folder in Hugging Face layout (config.json, .safetensors "
        f"weights, tokenizer) or a single .gguf file. '{DEMO_MODEL}' selects the built-in "
        "SmolLM2-135M-Instruct demo model. Models are never downloaded.",
    )

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path.strip():
            self._fail("path", "is empty; give a model folder, a .gguf file or the demo model.")


@dataclass
class DataSpec(_Checks):
    """The training data and how to read and split it."""

    SECTION: ClassVar[str] = "data"

    train: str = _field(
        "",
        "The training data file: .jsonl, .json, .csv, .tsv, .parquet, .xlsx or .txt. Each "
        "record (row) is one example.",
    )
    format: str = _field(
        "auto",
        "How records are laid out: auto (detect), alpaca (instruction/input/output), "
        "prompt_completion, chat (messages with role and content), sharegpt "
        "(conversations with from/value), text (plain text, for continued pre-training), "
        "classification (text and label) or preference (prompt, chosen, rejected).",
    )
    column_map: dict[str, str] = _field(
        {},
        "For tables (CSV, TSV, Excel, Parquet): which column holds which field, for example "
        '{"instruction": "Question", "output": "Answer"}. Fields not listed are guessed '
        "from the headers.",
    )
    mix: list[dict[str, Any]] = _field(
        [],
        "More training files combined with the main one, each an object with path and "
        "optionally weight (default 1), format and column_map. A weight of 2 repeats each "
        "of that file's records twice per epoch; 0.5 uses a seeded half of them.",
    )
    train_weight: float = _field(
        1.0, "Weight of the main training file when files are combined (see mix)."
    )
    validation_fraction: float = _field(
        0.1,
        "Share of the training records held back to measure validation loss "
        "(0 to 0.5; 0 turns validation off unless a validation file is given).",
    )
    test_fraction: float = _field(
        0.0,
        "Share of the training records set aside, never trained on or used for validation; "
        "they are listed in the run's manifest for the evaluation step (0 to 0.5).",
    )
    validation_file: str | None = _field(
        None,
        "A separate validation file to use instead of splitting the training data. It is "
        "read with the training file's format and column_map when it is of the same file "
        "type, otherwise they are detected.",
    )
    train_on_prompt: bool = _field(
        False,
        "Also learn to reproduce the prompt. Off by default: the model is trained only on "
        "the answers, which is what you want for question-and-answer data.",
    )
    exclude_invalid: bool = _field(
        False,
        "Train without the records that have errors instead of refusing to start. The "
        "excluded file lines are listed in the run's manifest.",
    )
    max_chars: int = _field(
        100_000, "Records with a text field longer than this many characters are errors."
    )
    pii_redaction: str = _field(
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


@dataclass
class MethodSpec(_Checks):
    """How the model is adapted."""

    SECTION: ClassVar[str] = "method"

    name: str = _field(
        "auto",
        "qlora: small adapters on a 4-bit (or 8-bit) copy of the model, the least memory; "
        "lora: small adapters on the full-precision model; full: every weight is trained, "
        "the most memory; freeze: only the top layers and the output head are trained. "
        "auto picks QLoRA on an NVIDIA GPU and LoRA on the CPU.",
    )
    lora_r: int = _field(
        16,
        "Adapter rank: how much the adapters can learn. 8 to 64 is usual; higher uses more memory.",
    )
    lora_alpha: int = _field(
        32,
        "Adapter scaling. Usually twice the rank.",
    )
    lora_dropout: float = _field(
        0.05,
        "Share of adapter inputs randomly dropped during training, against over-fitting "
        "(0 to 0.5).",
    )
    target_modules: str = _field(
        "all-linear",
        "Which layers get adapters: 'all-linear' or a comma-separated list of layer names "
        "such as 'q_proj,v_proj'.",
    )
    quantization_bits: int = _field(
        4,
        "For qlora: load the base model in 4-bit (least memory) or 8-bit (closer to the "
        "original). 8-bit needs an NVIDIA GPU.",
    )
    quant_type: str = _field(
        "nf4",
        "For 4-bit qlora: the 4-bit number format, nf4 (recommended) or fp4.",
    )
    double_quantization: bool = _field(
        True,
        "For 4-bit qlora: also compress the quantisation constants; saves a little memory.",
    )
    compute_dtype: str = _field(
        "auto",
        "Number format for computation: auto picks bfloat16 on GPUs that support it, "
        "float16 on other GPUs and float32 on the CPU (bfloat16 is about ten times slower "
        "there).",
    )
    freeze_trainable_layers: int = _field(
        2,
        "For freeze: how many of the top transformer blocks are trained, together with "
        "the output head.",
    )
    gradient_checkpointing: bool | None = _field(
        None,
        "Recompute activations instead of storing them: less memory, about 30% slower. "
        "Empty (null) means on for qlora on a GPU and off otherwise.",
    )

    def __post_init__(self) -> None:
        self._choice("name", METHOD_NAMES)
        self._range("lora_r", 1, 1024)
        self._range("lora_alpha", 1, 4096)
        self._range("lora_dropout", 0.0, 0.5)
        if not self.target_modules.strip():
            self._fail("target_modules", "is empty; use 'all-linear' or list layer names.")
        if self.quantization_bits not in (4, 8):
            self._fail("quantization_bits", f"must be 4 or 8 (got {self.quantization_bits!r}).")
        self._choice("quant_type", QUANT_TYPES)
        self._choice("compute_dtype", COMPUTE_DTYPES)
        self._range("freeze_trainable_layers", 1, None)

    def target_module_list(self) -> str | list[str]:
        """PEFT's form: the string 'all-linear' or a list of layer names."""
        if self.target_modules.strip() == "all-linear":
            return "all-linear"
        return [name.strip() for name in self.target_modules.split(",") if name.strip()]


@dataclass
class HyperParams(_Checks):
    """How long and how fast to train."""

    SECTION: ClassVar[str] = "hyperparameters"

    epochs: float = _field(3.0, "Passes over the training data (may be fractional).")
    max_steps: int | None = _field(
        None,
        "Stop after this many optimiser steps, whatever the epochs say. Empty (null) means "
        "use epochs.",
    )
    learning_rate: float = _field(
        2e-4,
        "How big each update is. 0.0002 suits LoRA and QLoRA; full fine-tuning wants about "
        "0.00002.",
    )
    batch_size: int = _field(4, "Examples processed together. Lower it if you run out of memory.")
    gradient_accumulation_steps: int = _field(
        1,
        "Add up this many batches before each update: a larger effective batch without "
        "more memory.",
    )
    max_length: int = _field(
        1024,
        "Longest example in tokens; longer ones are cut (and counted in a warning). "
        "Lower it if you run out of memory.",
    )
    seed: int = _field(42, "Random seed: the same seed, data and settings give the same run.")
    warmup_ratio: float = _field(
        0.03, "Share of the steps over which the learning rate ramps up from zero (0 to 0.5)."
    )
    lr_scheduler: str = _field(
        "cosine",
        "How the learning rate changes after warm-up: linear, cosine, constant or "
        "constant_with_warmup.",
    )
    weight_decay: float = _field(0.0, "Pull on the weights towards zero (0 to 1).")
    max_grad_norm: float = _field(
        1.0, "Clip updates larger than this, against unstable training (0 turns it off)."
    )
    eval_every_steps: int = _field(
        50, "Measure validation loss every this many steps (0: only at the end)."
    )
    save_every_steps: int = _field(
        100,
        "Save a checkpoint every this many steps, so a crash or reboot loses little "
        "(0: only when you cancel).",
    )
    keep_checkpoints: int = _field(2, "How many of the latest checkpoints to keep on disk.")
    log_every_steps: int = _field(1, "Report loss and speed every this many steps.")

    def __post_init__(self) -> None:
        self._range("epochs", 0.0, 1000, low_open=True)
        if self.max_steps is not None:
            self._range("max_steps", 1, None)
        self._range(
            "learning_rate", 0.0, 1.0, low_open=True, advice="A usual value for LoRA is 0.0002."
        )
        self._range("batch_size", 1, 4096)
        self._range("gradient_accumulation_steps", 1, 4096)
        self._range("max_length", 8, 1_048_576)
        self._range("seed", 0, 2**32 - 1)
        self._range("warmup_ratio", 0.0, 0.5)
        self._choice("lr_scheduler", SCHEDULERS)
        self._range("weight_decay", 0.0, 1.0)
        self._range("max_grad_norm", 0.0, None)
        self._range("eval_every_steps", 0, None)
        self._range("save_every_steps", 0, None)
        self._range("keep_checkpoints", 1, 1000)
        self._range("log_every_steps", 1, None)


@dataclass
class OutputSpec(_Checks):
    """Where runs are written."""

    SECTION: ClassVar[str] = "output"

    dir: str = _field(
        "runs",
        "Folder that holds run folders; each run gets its own sub-folder.",
    )
    run_name: str | None = _field(
        None,
        "Name of this run's folder. Empty (null) means date, time and method.",
    )

    def __post_init__(self) -> None:
        if not self.dir.strip():
            self._fail("dir", "is empty; give a folder for the runs.")
        if self.run_name is not None and (
            not self.run_name.strip() or any(c in self.run_name for c in '/\\:*?"<>|')
        ):
            self._fail("run_name", 'must be a plain folder name without / \\ : * ? " < > |.')


@dataclass
class RunConfig:
    """Everything a training run needs, saved as JSON with a version number."""

    model: ModelSpec = field(default_factory=ModelSpec)
    data: DataSpec = field(default_factory=DataSpec)
    method: MethodSpec = field(default_factory=MethodSpec)
    hyperparameters: HyperParams = field(default_factory=HyperParams)
    output: OutputSpec = field(default_factory=OutputSpec)
    version: int = CONFIG_VERSION

    #: Section name in JSON -> section class. The names are part of the file format.
    SECTIONS: ClassVar[dict[str, type]] = {
        "model": ModelSpec,
        "data": DataSpec,
        "method": MethodSpec,
        "hyperparameters": HyperParams,
        "output": OutputSpec,
    }

    def check_ready(self) -> None:
        """Raise ConfigError if a field needed to start a run is still empty."""
        if not self.data.train.strip():
            raise ConfigError("data.train", "is empty; give the training data file.")
