"""Opening a model without running code that came with it.

Two things in a model folder can run code on this computer with the user's rights:

* **The model's own Python code.** A model whose config.json has ``auto_map``, whose
  ``model_type`` transformers does not know, or whose folder holds ``.py`` files needs
  ``trust_remote_code=True``, which imports those files. Enclave refuses such a model
  (:func:`check_remote_code`) unless ``model.allow_remote_code`` is on; then it warns,
  names the files and records them, with their sha256, in the audit log.
* **Pickle weights** (``.bin``, ``.pt``, ``.pth``). Unpickling can call any function.
  Enclave loads weights only from safetensors or GGUF. With ``model.convert_pickle_weights``
  on, pickle weights are read once with ``torch.load(weights_only=True)``, whose
  restricted unpickler builds tensors and plain containers and refuses everything else
  before running it, and written as safetensors (:func:`write_safetensors_copy`).

:func:`record_model_opened` writes the ``model_opened`` audit entry from weight hashes
computed once elsewhere (the run manifest), so multi-gigabyte files are not read twice.
"""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desktop_app.core.audit import record
from desktop_app.core.errors import ModelError
from desktop_app.core.events import Reporter, WarningRaised
from desktop_app.core.manifest import file_hashes

#: Weight files transformers writes as pickles; the first shard name pattern included.
PICKLE_INDEX = "pytorch_model.bin.index.json"
#: Training-state pickles that can sit in a model folder; never weights, never loaded.
TRAINING_STATE_FILES = frozenset(
    {"training_args.bin", "optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state.pth"}
)
_SHOWN_FILES = 8


class RemoteCodeRefused(ModelError):
    """The model needs its own code to load, and running it was not allowed.

    Args:
        message: What happened.
        hint: What to do.
        files: The model's Python files (relative to its folder) that would run.
        can_allow: Whether allowing the model's code would make it load (False when
            the code it asks for is not in the folder).
    """

    def __init__(self, message: str, hint: str, files: tuple[str, ...], *, can_allow: bool) -> None:
        super().__init__(message, hint)
        self.files = files
        self.can_allow = can_allow


class PickleWeightsRefused(ModelError):
    """The model's weights are only in pickle files, and converting them was not allowed.

    Args:
        message: What happened.
        hint: What to do.
        files: The pickle files.
    """

    def __init__(self, message: str, hint: str, files: tuple[str, ...]) -> None:
        super().__init__(message, hint)
        self.files = files


# --- the model's own code -----------------------------------------------------------------


@dataclass(frozen=True)
class RemoteCode:
    """Why a model folder needs its own code to load, and the code files it holds.

    Args:
        reasons: Plain-language reasons; empty when the model loads without own code.
        files: The ``.py`` files in the folder, relative, sorted.
        in_folder: False when the model asks for code that is not in the folder (it
            would have to be downloaded, which Enclave never does).
    """

    reasons: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    in_folder: bool = True

    @property
    def needed(self) -> bool:
        """Whether loading the model would run code from its folder."""
        return bool(self.reasons)


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _auto_map_entries(auto_map: Any) -> list[str]:
    if not isinstance(auto_map, dict):
        return []
    entries: list[str] = []
    for value in auto_map.values():
        values = value if isinstance(value, list | tuple) else [value]
        entries.extend(str(item) for item in values if item)
    return sorted(set(entries))


def _known_model_types() -> frozenset[str]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return frozenset(CONFIG_MAPPING_NAMES)


def shown_names(names: tuple[str, ...] | list[str]) -> str:
    """A short comma-separated list of file names (the first few, then how many more)."""
    shown = ", ".join(names[:_SHOWN_FILES])
    more = len(names) - _SHOWN_FILES
    return f"{shown} and {more} more" if more > 0 else shown


def find_remote_code(folder: str | Path) -> RemoteCode:
    """Say whether a Hugging Face model folder needs its own code, and why.

    Looks at config.json (``auto_map``; a ``model_type`` unknown to the installed
    transformers), tokenizer_config.json (``auto_map``) and ``.py`` files anywhere in the
    folder. Reads no weights and imports nothing from the folder.
    """
    root = Path(folder)
    reasons: list[str] = []
    files = tuple(
        sorted(path.relative_to(root).as_posix() for path in root.rglob("*.py") if path.is_file())
    )
    asked_for: list[str] = []
    config = _read_json_object(root / "config.json")
    for name, settings in (
        ("config.json", config),
        ("tokenizer_config.json", _read_json_object(root / "tokenizer_config.json")),
    ):
        entries = _auto_map_entries(settings.get("auto_map"))
        if entries:
            asked_for.extend(entries)
            reasons.append(
                f"{name} asks for the model's own classes (auto_map: {shown_names(entries)})"
            )
    model_type = config.get("model_type")
    unknown_type = isinstance(model_type, str) and model_type not in _known_model_types()
    if unknown_type:
        import transformers

        reasons.append(
            f"config.json names a model type, '{model_type}', that transformers "
            f"{transformers.__version__} does not know, so only the model's own code could "
            "build it"
        )
    if files:
        reasons.append(f"the folder holds Python code ({shown_names(files)})")
    # "org/repo--module.Class" points at code on the Hugging Face Hub, not in the folder.
    on_hub = any("--" in entry for entry in asked_for)
    in_folder = bool(files) and not on_hub
    return RemoteCode(tuple(reasons), files, in_folder or not (asked_for or unknown_type))


def check_remote_code(folder: str | Path, allowed: bool) -> RemoteCode:
    """Refuse a model that needs its own code, unless that was allowed.

    Args:
        folder: The model folder about to be loaded.
        allowed: Whether the user opted in (``model.allow_remote_code``).

    Returns:
        What was found (``needed`` is False for an ordinary model).

    Raises:
        RemoteCodeRefused: the model needs its own code and it was not allowed, or the
            code it asks for is not in the folder.
    """
    root = Path(folder)
    found = find_remote_code(root)
    if not found.needed or (allowed and found.in_folder):
        return found
    message = (
        f"The model in {root} needs its own program code to load: "
        f"{'; '.join(found.reasons)}. That code would run on this computer with your "
        "rights, able to read and change your files, so Enclave does not run it."
    )
    if not found.in_folder:
        hint = (
            "The code it asks for is not in the folder, and Enclave never downloads "
            "anything. Use a model that transformers supports without extra code."
        )
    else:
        hint = (
            "Use a model that transformers supports without extra code. If you trust "
            "where this model came from and have checked its code, tick 'Allow this "
            "model's own code to run' under Advanced on the Model step "
            "(model.allow_remote_code in a run configuration). The files that would run: "
            f"{shown_names(found.files)}."
        )
    raise RemoteCodeRefused(message, hint, found.files, can_allow=found.in_folder)


def announce_remote_code(
    folder: Path, model_path: str, found: RemoteCode, reporter: Reporter | None
) -> None:
    """Warn that the model's own code will run, and record it in the audit log.

    Raises:
        AuditError: the audit log cannot be written (the code must then not run).
    """
    hashes = file_hashes(folder / name for name in found.files)
    record(
        "remote_code_allowed",
        {
            "model": model_path,
            "folder": str(folder),
            "reasons": list(found.reasons),
            "files": {
                name: hashes[str((folder / name).resolve())]["sha256"] for name in found.files
            },
        },
    )
    if reporter is not None:
        reporter.report(
            WarningRaised(
                f"This model's own code will run on this computer with your rights "
                f"(allowed by model.allow_remote_code): {shown_names(found.files)}, in "
                f"{folder}. This was recorded in the audit log."
            )
        )


# --- pickle weights ---------------------------------------------------------------------


def pickle_weight_files(folder: Path, pickle_suffixes: tuple[str, ...]) -> list[Path]:
    """The pickle files that hold a folder's weights: the shards its index lists, else
    every pickle file except known training-state files (which are never loaded)."""
    index = folder / PICKLE_INDEX
    if index.is_file():
        weight_map = _read_json_object(index).get("weight_map")
        if isinstance(weight_map, dict) and weight_map:
            return [folder / name for name in sorted(set(map(str, weight_map.values())))]
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file()
        and path.name.endswith(pickle_suffixes)
        and path.name not in TRAINING_STATE_FILES
    )


def load_pickle_weights(path: Path) -> dict[str, Any]:
    """Read a pickle weights file with torch's restricted unpickler (weights_only).

    Only tensors and plain containers are built; anything else (a function to call,
    a class to create) is refused before it runs.

    Raises:
        ModelError: the file holds more than weights, or cannot be read.
    """
    import torch

    try:
        loaded = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()
        detail = next(
            (line for line in reason if "Unsupported" in line), reason[0] if reason else ""
        )
        raise ModelError(
            f"{path} holds more than weights: loading it would run code ({detail.strip()}). "
            "Enclave refused it and ran nothing from it.",
            "Do not use this file. Get the model as .safetensors from its publisher.",
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError) as error:
        raise ModelError(
            f"{path} cannot be read as PyTorch weights ({str(error).splitlines()[0]}).",
            "The file may be damaged or only partly copied; copy the model folder again.",
        ) from None
    return _tensor_table(loaded, path)


def _tensor_table(loaded: Any, path: Path) -> dict[str, Any]:
    import torch

    if isinstance(loaded, dict) and len(loaded) == 1:
        (only,) = loaded.values()
        if isinstance(only, dict) and next(iter(loaded)) in ("state_dict", "model"):
            loaded = only
    if not isinstance(loaded, dict) or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in loaded.items()
    ):
        raise ModelError(
            f"{path} does not hold a plain table of named weights, so Enclave cannot convert it.",
            "Use the model as .safetensors, as published by its authors.",
        )
    return loaded


def _safetensors_name(pickle_name: str, single: bool) -> str:
    if single:
        return "model.safetensors"
    stem = pickle_name.rsplit(".", 1)[0]
    return (stem.replace("pytorch_model", "model", 1) or "model") + ".safetensors"


def _without_shared_storage(tensors: dict[str, Any]) -> dict[str, Any]:
    """Contiguous tensors with no two sharing memory (safetensors refuses shared ones:
    tied embeddings are written twice and tied again when the model is built)."""
    seen: set[int] = set()
    result = {}
    for name, tensor in tensors.items():
        tensor = tensor.detach().contiguous()
        pointer = tensor.untyped_storage().data_ptr()
        if pointer in seen and tensor.numel():
            tensor = tensor.clone()
        seen.add(tensor.untyped_storage().data_ptr())
        result[name] = tensor
    return result


def write_safetensors_copy(
    source: Path,
    weight_files: list[Path],
    destination: Path,
    skip: Callable[[str], bool],
    progress: Callable[[str, float], None] | None = None,
) -> None:
    """Write the folder's weights as safetensors into ``destination``, with its other
    files (config, tokenizer) copied as they are.

    Args:
        source: The model folder.
        weight_files: Its pickle weight files (see :func:`pickle_weight_files`).
        destination: An empty folder to write into.
        skip: Says which other file names not to copy (pickles, their index).
        progress: Called with a description and a fraction from 0 to 1.

    Raises:
        ModelError: a weights file holds more than weights, or cannot be read.
    """
    from safetensors.torch import save_file

    single = len(weight_files) == 1
    weight_map: dict[str, str] = {}
    total_size = 0
    for number, path in enumerate(weight_files):
        if progress is not None:
            progress(f"Converting {path.name} to safetensors", number / len(weight_files))
        tensors = _without_shared_storage(load_pickle_weights(path))
        name = _safetensors_name(path.name, single)
        save_file(tensors, str(destination / name), metadata={"format": "pt"})
        for key, tensor in tensors.items():
            weight_map[key] = name
            total_size += tensor.numel() * tensor.element_size()
        del tensors
    if not single:
        index = {"metadata": {"total_size": total_size}, "weight_map": weight_map}
        (destination / "model.safetensors.index.json").write_text(
            json.dumps(index, indent=2), encoding="utf-8"
        )
    for item in sorted(source.iterdir()):
        if item.is_file() and not skip(item.name) and not (destination / item.name).exists():
            shutil.copyfile(item, destination / item.name)


# --- the audit trail --------------------------------------------------------------------


def record_model_opened(
    model_path: str,
    source: Path,
    loaded_folder: Path,
    weights: Mapping[str, Mapping[str, Any]],
    *,
    kind: str = "folder",
    run: str | Path | None = None,
    hashes_from: str = "computed when the model was opened",
) -> None:
    """Write the ``model_opened`` audit entry: which model, and the sha256 of its weights.

    Args:
        model_path: ``model.path`` as the user gave it.
        source: The folder or GGUF file it names.
        loaded_folder: The folder actually loaded (a converted copy in the cache for GGUF
            and pickle models).
        weights: ``{path: {"sha256", "bytes"}}`` of the weight files, as the run manifest
            records them (:func:`desktop_app.core.manifest.file_hashes`).
        kind: ``folder``, ``gguf`` or ``pickle``.
        run: The run folder the model was opened for.
        hashes_from: Where the hashes come from, for the reader of the log.

    Raises:
        AuditError: the audit log cannot be written.
    """
    record(
        "model_opened",
        {
            "model": model_path,
            "source": str(source),
            "kind": kind,
            "folder": str(loaded_folder),
            "weights": {
                path: {"sha256": entry.get("sha256"), "bytes": entry.get("bytes")}
                for path, entry in weights.items()
            },
            "hashes": hashes_from,
        },
        run=run,
    )
