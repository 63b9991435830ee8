"""What a model is and whether it can be trained here, read from its files without loading it.

For a folder the facts come from config.json, the safetensors headers and the tokenizer
files; for a GGUF file from its metadata. Then each training method gets a memory estimate
(:mod:`desktop_app.core.estimates`) and a verdict against this computer's memory.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.core.config import MethodSpec
from desktop_app.core.errors import ModelError
from desktop_app.core.estimates import METHODS, MemoryEstimate, estimate_training_memory, verdict
from desktop_app.core.hardware import (
    HardwareInfo,
    format_gib,
    format_size,
    recommend_method,
    training_memory,
)
from desktop_app.engine.model_files import ModelSource, resolve_model_source

#: A safetensors header larger than this is taken as a damaged file.
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
_SAFETENSORS_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I8": "int8",
    "U8": "uint8",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
}


@dataclass(frozen=True)
class MethodFit:
    """Whether one training method is expected to fit in this computer's memory.

    Args:
        method: qlora, lora, full or freeze.
        estimate: The memory estimate.
        fits: Whether it is expected to fit.
        message: The verdict in plain words.
    """

    method: str
    estimate: MemoryEstimate
    fits: bool
    message: str


@dataclass(frozen=True)
class ModelFacts:
    """A model's facts, read from its files, and how it can be trained here.

    Args:
        path: The path as given (a folder, a .gguf file or the demo model's name).
        kind: ``folder`` or ``gguf``.
        location: The absolute folder or file.
        display_name: A short name to show.
        architecture: For example ``LlamaForCausalLM`` (folder) or ``llama`` (GGUF).
        parameter_count: Parameters, counted from the weight files' tensor shapes.
        context_length: Longest input in tokens the model was built for, if stated.
        dtype: Number format of the weights (``bfloat16``; ``Q4_1`` for GGUF), if known.
        quantization: Quantisation method or GGUF file type, if the weights are quantised.
        hidden_size: Model width, if stated.
        num_layers: Transformer blocks, if stated.
        vocab_size: Vocabulary size, if stated.
        has_chat_template: Whether the tokenizer brings a chat template.
        size_on_disk_bytes: All the model's files together.
        device: Where training would run (``cuda`` or ``cpu``); None if hardware unknown.
        memory_available_bytes: Free GPU memory or available RAM; None if hardware unknown.
        trainable_here: An estimate and verdict per method; empty if hardware unknown.
        recommended_method: The method to use here, or None if none fits (or unknown).
    """

    path: str
    kind: str
    location: str
    display_name: str
    architecture: str
    parameter_count: int
    context_length: int | None
    dtype: str | None
    quantization: str | None
    hidden_size: int | None
    num_layers: int | None
    vocab_size: int | None
    has_chat_template: bool
    size_on_disk_bytes: int
    device: str | None = None
    memory_available_bytes: int | None = None
    trainable_here: tuple[MethodFit, ...] = ()
    recommended_method: str | None = None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelError(
            f"{path} cannot be read ({error}).", "Copy the model folder again."
        ) from None
    if not isinstance(data, dict):
        raise ModelError(f"{path} does not hold a JSON object.", "Copy the model folder again.")
    return data


def safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file (tensor names, dtypes and shapes), no tensors.

    The file starts with the header's length as an 8-byte little-endian integer, then the
    header itself.
    """
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        length = struct.unpack("<Q", prefix)[0] if len(prefix) == 8 else -1
        if not 0 < length <= MAX_SAFETENSORS_HEADER:
            raise ModelError(f"{path} is not a valid safetensors file.", "Copy it again.")
        try:
            header = json.loads(handle.read(length))
        except ValueError:
            raise ModelError(f"{path} has a damaged header.", "Copy it again.") from None
    if not isinstance(header, dict):
        raise ModelError(f"{path} has a damaged header.", "Copy it again.")
    return header


def _weight_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = set(_read_json(index).get("weight_map", {}).values())
        return [folder / name for name in sorted(shards)]
    return sorted(folder.glob("*.safetensors"))


def _count_safetensors(files: list[Path]) -> tuple[int, str | None]:
    """Parameters in the files, and the most common tensor number format."""
    total = 0
    dtypes: Counter[str] = Counter()
    for file in files:
        for name, tensor in safetensors_header(file).items():
            if name == "__metadata__":
                continue
            count = math.prod(tensor["shape"])
            total += count
            dtypes[tensor["dtype"]] += count
    common = dtypes.most_common(1)[0][0] if dtypes else None
    return total, _SAFETENSORS_DTYPES.get(common, common) if common else None


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _folder_facts(source: ModelSource, given: str) -> ModelFacts:
    folder = source.path
    config = _read_json(folder / "config.json")
    # Multimodal models keep the language model's settings in a text_config.
    text_config = config.get("text_config")
    text: dict[str, Any] = text_config if isinstance(text_config, dict) else {}

    def setting(*names: str) -> Any:
        for name in names:
            for where in (config, text):
                if where.get(name) is not None:
                    return where[name]
        return None

    architectures = config.get("architectures") or []
    architecture = str(architectures[0] if architectures else config.get("model_type", "unknown"))
    parameters, stored_dtype = _count_safetensors(_weight_files(folder))
    quantization = config.get("quantization_config")
    tokenizer_config = folder / "tokenizer_config.json"
    has_template = (folder / "chat_template.jinja").is_file() or (
        folder / "chat_template.json"
    ).is_file()
    if not has_template and tokenizer_config.is_file():
        has_template = bool(_read_json(tokenizer_config).get("chat_template"))
    return ModelFacts(
        path=given,
        kind="folder",
        location=str(folder),
        display_name=source.display_name,
        architecture=architecture,
        parameter_count=parameters,
        context_length=_int_or_none(setting("max_position_embeddings", "n_positions")),
        dtype=setting("torch_dtype", "dtype") or stored_dtype,
        quantization=(
            str(quantization.get("quant_method", "quantised"))
            if isinstance(quantization, dict)
            else None
        ),
        hidden_size=_int_or_none(setting("hidden_size", "n_embd", "d_model")),
        num_layers=_int_or_none(setting("num_hidden_layers", "n_layer", "num_layers")),
        vocab_size=_int_or_none(setting("vocab_size")),
        has_chat_template=has_template,
        size_on_disk_bytes=sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()),
    )


def _gguf_facts(source: ModelSource, given: str) -> ModelFacts:
    import gguf

    try:
        reader = gguf.GGUFReader(source.path)
    except (OSError, ValueError) as error:
        raise ModelError(
            f"{source.path} cannot be read as GGUF ({error}).", "Copy it again."
        ) from None

    def value(key: str) -> Any:
        field = reader.fields.get(key)
        return field.contents() if field is not None else None

    architecture = str(value("general.architecture") or "unknown")
    file_type = value("general.file_type")
    try:
        quantization = gguf.LlamaFileType(file_type).name.removeprefix("MOSTLY_")
    except ValueError:
        quantization = None
    vocab_size = _int_or_none(value(f"{architecture}.vocab_size"))
    if vocab_size is None and "tokenizer.ggml.tokens" in reader.fields:
        vocab_size = len(reader.fields["tokenizer.ggml.tokens"].data)
    return ModelFacts(
        path=given,
        kind="gguf",
        location=str(source.path),
        display_name=source.display_name,
        architecture=architecture,
        parameter_count=sum(int(tensor.n_elements) for tensor in reader.tensors),
        context_length=_int_or_none(value(f"{architecture}.context_length")),
        dtype=quantization,
        quantization=quantization,
        hidden_size=_int_or_none(value(f"{architecture}.embedding_length")),
        num_layers=_int_or_none(value(f"{architecture}.block_count")),
        vocab_size=vocab_size,
        has_chat_template=bool(value("tokenizer.chat_template")),
        size_on_disk_bytes=source.path.stat().st_size,
    )


def _fits_here(
    facts: ModelFacts, hardware: HardwareInfo, batch_size: int, max_length: int, lora_r: int
) -> ModelFacts:
    device, available = training_memory(hardware)
    length = min(max_length, facts.context_length) if facts.context_length else max_length
    fits: list[MethodFit] = []
    for method in METHODS:
        estimate = estimate_training_memory(
            facts.parameter_count,
            method,
            lora_r=lora_r,
            batch_size=batch_size,
            max_length=length,
            hidden_size=facts.hidden_size,
            num_layers=facts.num_layers,
            vocab_size=facts.vocab_size,
            device=device,
        )
        ok, message = verdict(estimate, available)
        fits.append(MethodFit(method, estimate, ok, message))
    fitting = {fit.method for fit in fits if fit.fits}
    preferred = recommend_method(hardware)
    # Otherwise the method that needs the least memory, if it fits.
    recommended = preferred if preferred in fitting else ("qlora" if "qlora" in fitting else None)
    return dataclasses.replace(
        facts,
        device=device,
        memory_available_bytes=available,
        trainable_here=tuple(fits),
        recommended_method=recommended,
    )


def inspect_model(
    path: str,
    hardware: HardwareInfo | None,
    *,
    batch_size: int = 4,
    max_length: int = 1024,
    lora_r: int = 16,
) -> ModelFacts:
    """Read a model's facts from its files (no weights are loaded) and judge each method.

    Args:
        path: A model folder, a .gguf file or the demo model's name.
        hardware: This computer, from ``probe_hardware``; None skips the memory verdicts.
        batch_size: Batch size the estimates assume.
        max_length: Tokens per example the estimates assume (capped at the context length).
        lora_r: Adapter rank the estimates assume.

    Returns:
        The facts.

    Raises:
        ModelError: If the model cannot be used or its files cannot be read.
    """
    source = resolve_model_source(path)
    facts = _gguf_facts(source, path) if source.kind == "gguf" else _folder_facts(source, path)
    if hardware is None:
        return facts
    return _fits_here(facts, hardware, batch_size, max_length, lora_r)


def format_parameter_count(count: int) -> str:
    """A parameter count in plain units, for example ``134.5 M`` or ``7.2 B``."""
    for size, unit in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return str(count)


def format_model_facts(facts: ModelFacts) -> str:
    """The facts as readable text, for ``enclave model inspect``."""
    kind = (
        "GGUF file; converted once to a normal model folder before the first training"
        if facts.kind == "gguf"
        else "Hugging Face model folder"
    )
    context = f"{facts.context_length:,} tokens" if facts.context_length else "not stated"
    template = (
        "yes" if facts.has_chat_template else "no (chat data will be laid out in a plain format)"
    )
    lines = [
        f"Model: {facts.display_name}",
        f"  Location: {facts.location}",
        f"  Format: {kind}",
        f"  Architecture: {facts.architecture}",
        f"  Parameters: {format_parameter_count(facts.parameter_count)}",
        f"  Context length: {context}",
        f"  Number format: {facts.dtype or 'not stated'}",
    ]
    if facts.quantization and facts.kind == "folder":
        lines.append(f"  Quantisation: {facts.quantization}")
    lines += [
        f"  Chat template: {template}",
        f"  Size on disk: {format_size(facts.size_on_disk_bytes)}",
    ]
    if facts.memory_available_bytes is None:
        lines.append("Hardware was not checked, so there is no memory estimate.")
        return "\n".join(lines)
    where = "a GPU" if facts.device == "cuda" else "the CPU"
    lines += ["", f"Training here (on {where}, {format_gib(facts.memory_available_bytes)} free):"]
    for fit in facts.trainable_here:
        lines.append(f"  {fit.method:<7} {fit.message}")
    if facts.recommended_method:
        lines.append(f"Recommended here: {facts.recommended_method}")
    else:
        lines.append(
            "No method is expected to fit with the default settings. Try a smaller batch "
            "size or maximum length, or a smaller model."
        )
    return "\n".join(lines)


def model_facts_to_dict(facts: ModelFacts) -> dict[str, Any]:
    """The JSON form, for ``enclave model inspect --json``."""
    return dataclasses.asdict(facts)


def estimate_for_model(
    facts: ModelFacts, method: str, spec: MethodSpec, *, batch_size: int, max_length: int
) -> MemoryEstimate:
    """The memory estimate of training ``method`` on the facts' model, here.

    Args:
        facts: The model (its size and shape) and where it would train (``device``).
        method: ``qlora``, ``lora``, ``full`` or ``freeze`` (not ``auto``).
        spec: The method settings: compression, adapter rank, layers trained.
        batch_size: Examples per step.
        max_length: Tokens per example; capped at the model's context length.
    """
    length = min(max_length, facts.context_length or max_length)
    return estimate_training_memory(
        facts.parameter_count,
        method,
        quantization_bits=spec.quantization_bits,
        lora_r=spec.lora_r,
        batch_size=batch_size,
        max_length=length,
        hidden_size=facts.hidden_size,
        num_layers=facts.num_layers,
        vocab_size=facts.vocab_size,
        freeze_trainable_layers=spec.freeze_trainable_layers,
        device=facts.device or "cpu",
    )
