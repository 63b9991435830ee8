"""The run configuration: one RunConfig made of five sections.

Every field carries help text (``metadata["help"]``), which is the single source for
the CLI documentation, docs/run-config.md and the wizard's tooltips. Each section
validates itself in ``__post_init__`` and names the offending field in its message.
Reading and writing JSON lives in :mod:`desktop_app.core.config_io`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from desktop_app.core.config_fields import SectionChecks, config_field, field_help
from desktop_app.core.data_spec import (
    DATA_FORMATS,
    MIX_ENTRY_KEYS,
    PII_REDACTION_MODES,
    DataSpec,
)
from desktop_app.core.errors import ConfigError

__all__ = [
    "COMPUTE_DTYPES",
    "CONFIG_VERSION",
    "DATA_FORMATS",
    "DEMO_MODEL",
    "METHOD_NAMES",
    "MIX_ENTRY_KEYS",
    "PII_REDACTION_MODES",
    "QUANT_TYPES",
    "SCHEDULERS",
    "DataSpec",
    "HyperParams",
    "MethodSpec",
    "ModelSpec",
    "OutputSpec",
    "RunConfig",
    "field_help",
]

CONFIG_VERSION = 1

#: The value of ``model.path`` that selects the built-in demo model (SmolLM2-135M-Instruct).
DEMO_MODEL = "builtin:smollm2-135m-instruct"

METHOD_NAMES = ("auto", "qlora", "lora", "full", "freeze")
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")
COMPUTE_DTYPES = ("auto", "bfloat16", "float16", "float32")
QUANT_TYPES = ("nf4", "fp4")


@dataclass
class ModelSpec(SectionChecks):
    """Which base model to fine-tune."""

    SECTION: ClassVar[str] = "model"

    path: str = config_field(
        DEMO_MODEL,
        "The base model: a local folder in Hugging Face layout (config.json, .safetensors "
        f"weights, tokenizer) or a single .gguf file. '{DEMO_MODEL}' selects the built-in "
        "SmolLM2-135M-Instruct demo model. Models are never downloaded.",
    )
    allow_remote_code: bool = config_field(
        False,
        "Advanced; leave off unless you must. Lets a model that needs its own program "
        "code (Python files in its folder, 'auto_map' in config.json, or a model type "
        "transformers does not know) run that code when it is loaded. The code runs with "
        "your rights and can read, change or send your files, so turn this on only for a "
        "model from a source you trust, after checking its code. Each use is recorded in "
        "the audit log with the files' sha256.",
    )
    convert_pickle_weights: bool = config_field(
        False,
        "Advanced; leave off unless you must. Lets a model whose weights are only in "
        "pickle files (.bin, .pt, .pth) be converted once to safetensors. The files are "
        "read in PyTorch's safe mode (weights_only), which refuses a file that holds "
        "anything but weights; the copy is kept in the cache and the conversion is "
        "recorded in the audit log. Safer still: get the model as .safetensors.",
    )

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path.strip():
            self._fail("path", "is empty; give a model folder, a .gguf file or the demo model.")
        for name in ("allow_remote_code", "convert_pickle_weights"):
            if not isinstance(getattr(self, name), bool):
                self._fail(name, f"must be true or false (got {getattr(self, name)!r}).")


@dataclass
class MethodSpec(SectionChecks):
    """How the model is adapted."""

    SECTION: ClassVar[str] = "method"

    name: str = config_field(
        "auto",
        "qlora: small adapters on a 4-bit (or 8-bit) copy of the model, the least memory; "
        "lora: small adapters on the full-precision model; full: every weight is trained, "
        "the most memory; freeze: only the top layers and the output head are trained. "
        "auto picks QLoRA on an NVIDIA GPU and LoRA on the CPU.",
    )
    lora_r: int = config_field(
        16,
        "Adapter rank: how much the adapters can learn. 8 to 64 is usual; higher uses more memory.",
    )
    lora_alpha: int = config_field(
        32,
        "Adapter scaling. Usually twice the rank.",
    )
    lora_dropout: float = config_field(
        0.05,
        "Share of adapter inputs randomly dropped during training, against over-fitting "
        "(0 to 0.5).",
    )
    target_modules: str = config_field(
        "all-linear",
        "Which layers get adapters: 'all-linear' or a comma-separated list of layer names "
        "such as 'q_proj,v_proj'.",
    )
    quantization_bits: int = config_field(
        4,
        "For qlora: load the base model in 4-bit (least memory) or 8-bit (closer to the "
        "original). 8-bit needs an NVIDIA GPU.",
    )
    quant_type: str = config_field(
        "nf4",
        "For 4-bit qlora: the 4-bit number format, nf4 (recommended) or fp4.",
    )
    double_quantization: bool = config_field(
        True,
        "For 4-bit qlora: also compress the quantisation constants; saves a little memory.",
    )
    compute_dtype: str = config_field(
        "auto",
        "Number format for computation: auto picks bfloat16 on GPUs that support it, "
        "float16 on other GPUs and float32 on the CPU (bfloat16 is about ten times slower "
        "there).",
    )
    freeze_trainable_layers: int = config_field(
        2,
        "For freeze: how many of the top transformer blocks are trained, together with "
        "the output head.",
    )
    gradient_checkpointing: bool | None = config_field(
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
class HyperParams(SectionChecks):
    """How long and how fast to train."""

    SECTION: ClassVar[str] = "hyperparameters"

    epochs: float = config_field(3.0, "Passes over the training data (may be fractional).")
    max_steps: int | None = config_field(
        None,
        "Stop after this many optimiser steps, whatever the epochs say. Empty (null) means "
        "use epochs.",
    )
    learning_rate: float = config_field(
        2e-4,
        "How big each update is. 0.0002 suits LoRA and QLoRA; full fine-tuning wants about "
        "0.00002.",
    )
    batch_size: int = config_field(
        4, "Examples processed together. Lower it if you run out of memory."
    )
    gradient_accumulation_steps: int = config_field(
        1,
        "Add up this many batches before each update: a larger effective batch without "
        "more memory.",
    )
    max_length: int = config_field(
        1024,
        "Longest example in tokens; longer ones are cut (and counted in a warning). "
        "Lower it if you run out of memory.",
    )
    seed: int = config_field(42, "Random seed: the same seed, data and settings give the same run.")
    warmup_ratio: float = config_field(
        0.03, "Share of the steps over which the learning rate ramps up from zero (0 to 0.5)."
    )
    lr_scheduler: str = config_field(
        "cosine",
        "How the learning rate changes after warm-up: linear, cosine, constant or "
        "constant_with_warmup.",
    )
    weight_decay: float = config_field(0.0, "Pull on the weights towards zero (0 to 1).")
    max_grad_norm: float = config_field(
        1.0, "Clip updates larger than this, against unstable training (0 turns it off)."
    )
    eval_every_steps: int = config_field(
        50, "Measure validation loss every this many steps (0: only at the end)."
    )
    save_every_steps: int = config_field(
        100,
        "Save a checkpoint every this many steps, so a crash or reboot loses little "
        "(0: only when you cancel).",
    )
    keep_checkpoints: int = config_field(2, "How many of the latest checkpoints to keep on disk.")
    log_every_steps: int = config_field(1, "Report loss and speed every this many steps.")

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
class OutputSpec(SectionChecks):
    """Where runs are written."""

    SECTION: ClassVar[str] = "output"

    dir: str = config_field(
        "runs",
        "Folder that holds run folders; each run gets its own sub-folder.",
    )
    run_name: str | None = config_field(
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
