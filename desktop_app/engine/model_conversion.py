"""Converting a model once into a Hugging Face folder in the cache: a GGUF file
(de-quantised to float32) or a folder of pickle weights (rewritten as safetensors).

Each conversion lives in ``cache_dir()/<kind>/<first 16 hex of a content hash>``. It is
written to a temporary folder beside it and moved into place only when complete, with
its marker file written last, so an interrupted conversion never looks finished and a
finished one is reused.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from desktop_app.core.audit import record
from desktop_app.core.errors import ModelError
from desktop_app.core.events import Reporter, StageChanged, WarningRaised
from desktop_app.core.hashing import sha256_file, sha256_text
from desktop_app.core.manifest import file_hashes
from desktop_app.core.paths import ensure_cache_dir
from desktop_app.engine.safe_loading import (
    PICKLE_INDEX,
    pickle_weight_files,
    write_safetensors_copy,
)

if TYPE_CHECKING:
    from desktop_app.engine.model_files import ModelSource

#: Written last into a converted folder; a folder without it is incomplete.
CONVERSION_MARKER = "enclave-conversion.json"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


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


def converted_folder(source: ModelSource, reporter: Reporter | None = None) -> Path:
    """The cache folder holding the source converted (``gguf`` or ``pickle`` kind),
    converting it the first time.

    Raises:
        ModelError: the GGUF file or pickle weights cannot be converted (a pickle file
            holding more than weights is refused without running it).
        AuditError: a pickle conversion cannot be recorded in the audit log.
    """
    _report(reporter, f"Checking {source.display_name}", 0.0)
    if source.kind == "pickle":
        hashes = file_hashes(item for item in source.path.iterdir() if item.is_file())
        return _cached_conversion(source, "pickle", _combined_digest(hashes), reporter, hashes)
    return _cached_conversion(source, "gguf", sha256_file(source.path), reporter)


def _combined_digest(hashes: dict[str, dict[str, Any]]) -> str:
    """One sha256 for a set of files: over their names and contents' hashes."""
    listing = sorted((Path(path).name, entry["sha256"]) for path, entry in hashes.items())
    return sha256_text(json.dumps(listing))


def _cached_conversion(
    source: ModelSource,
    kind: str,
    digest: str,
    reporter: Reporter | None,
    hashes: dict[str, dict[str, Any]] | None = None,
) -> Path:
    target = ensure_cache_dir(kind) / digest[:16]
    marker = _read_marker(target)
    if marker is not None and marker.get("sha256") == digest:
        _report(reporter, "Using the model converted earlier", 1.0)
        return target

    _remove_abandoned_partials(target)
    if kind == "gguf":
        _check_room_for_conversion(source.path, target.parent)
    else:
        _check_room(
            source.path.name,
            sum(entry["bytes"] for entry in (hashes or {}).values()),
            target.parent,
        )
    temporary = target.parent / f".{target.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        if kind == "gguf":
            _convert_gguf(source, digest, temporary, reporter)
        else:
            _convert_pickle(source, digest, temporary, target, hashes or {}, reporter)
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


def _convert_pickle(
    source: ModelSource,
    digest: str,
    folder: Path,
    target: Path,
    hashes: dict[str, dict[str, Any]],
    reporter: Reporter | None,
) -> None:
    """Write the weights as safetensors, the other files as they are, then the marker."""
    folder.mkdir(mode=0o700)
    weights = pickle_weight_files(source.path, PICKLE_SUFFIXES)

    def skip(name: str) -> bool:
        return name.endswith(PICKLE_SUFFIXES) or name in (PICKLE_INDEX, CONVERSION_MARKER)

    write_safetensors_copy(
        source.path,
        weights,
        folder,
        skip,
        lambda detail, fraction: _report(reporter, detail, 0.05 + 0.85 * fraction),
    )
    outputs = file_hashes(sorted(folder.glob("*.safetensors")))
    by_name = {Path(path).name: entry for path, entry in hashes.items()}
    record(
        "pickle_converted",
        {
            "source": str(source.path),
            "folder": str(target),
            "sources": {item.name: by_name.get(item.name) for item in weights},
            "outputs": {Path(path).name: entry for path, entry in outputs.items()},
            "loaded_with": "torch.load(weights_only=True)",
        },
    )
    marker = {
        "source": str(source.path),
        "sha256": digest,
        "kind": "pickle",
        "files": {name: entry["sha256"] for name, entry in sorted(by_name.items())},
    }
    (folder / CONVERSION_MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")


def _check_room(name: str, needed: int, cache: Path) -> None:
    """Refuse before converting when the copy would not fit on the disk."""
    free = shutil.disk_usage(cache).free
    if free < needed * 1.05:
        raise ModelError(
            f"Converting {name} needs about {needed / 2**30:.1f} GiB of disk space "
            f"in {cache}, but only {free / 2**30:.1f} GiB is free.",
            "Free some space there, or point ENCLAVE_HOME at a larger disk.",
        )


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
    _check_room(gguf_file.name, sum(int(tensor.n_elements) for tensor in tensors) * 4, cache)


def _convert_gguf(
    source: ModelSource, digest: str, folder: Path, reporter: Reporter | None
) -> None:
    """Write the de-quantised float32 model, its tokenizer and the marker into ``folder``."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    parent, name = str(source.path.parent), source.path.name
    folder.mkdir(mode=0o700)
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
