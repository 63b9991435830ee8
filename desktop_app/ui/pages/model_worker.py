"""Reading the chosen model's facts off the GUI thread, for the Model step.

Only plain data leaves the worker: the facts, hardware and code files as frozen
dataclasses, or a message.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot

from desktop_app.core.config import ModelSpec
from desktop_app.core.errors import EnclaveError
from desktop_app.core.hardware import HardwareInfo
from desktop_app.engine.inspect_model import ModelFacts, inspect_model
from desktop_app.engine.model_conversion import PICKLE_SUFFIXES, converted_folder
from desktop_app.engine.model_files import (
    PickleWeightsRefused,
    RemoteCodeRefused,
    resolve_model_source,
)


@dataclass(frozen=True)
class ModelCodeFiles:
    """A model's files that can run code: its own Python code (relative paths) and its
    pickle weight files; both empty for an ordinary model."""

    remote_code: tuple[str, ...] = ()
    pickle: tuple[str, ...] = ()


def read_model_facts(
    spec: ModelSpec, hardware: HardwareInfo | None, **settings: int
) -> tuple[ModelFacts, ModelCodeFiles]:
    """The model's facts, with the opt-ins of ``spec`` applied.

    Pickle weights (when converting them is allowed) are converted once into the cache,
    as training would, and the facts read from the copy. Nothing from the model runs.

    Raises:
        RemoteCodeRefused, PickleWeightsRefused: the model needs an opt-in that is off.
        ModelError: the model cannot be used.
    """
    source = resolve_model_source(spec)
    if source.kind != "pickle":
        return inspect_model(spec.path, hardware, **settings), ModelCodeFiles(source.remote_code)
    pickles = tuple(
        sorted(p.name for p in source.path.iterdir() if p.name.endswith(PICKLE_SUFFIXES))
    )
    facts = inspect_model(str(converted_folder(source)), hardware, **settings)
    facts = dataclasses.replace(
        facts, path=spec.path, location=str(source.path), display_name=source.display_name
    )
    return facts, ModelCodeFiles(source.remote_code, pickles)


class FactsWorker(QObject):
    """Reads a model's facts (and, the first time, the hardware) off the GUI thread.

    Only plain data leaves it: the facts, hardware and code files as frozen dataclasses,
    or a message.
    """

    #: (request id, ModelFacts, HardwareInfo, ModelCodeFiles)
    inspected = Signal(int, object, object, object)
    #: (request id, plain message)
    failed = Signal(int, str)
    #: (request id, plain message, ModelCodeFiles): refused until an opt-in is ticked
    refused = Signal(int, str, object)
    finished = Signal()

    def __init__(
        self,
        request: int,
        spec: ModelSpec,
        hardware: HardwareInfo | None,
        disk_path: str,
        batch_size: int,
        max_length: int,
        lora_r: int,
    ) -> None:
        super().__init__()
        self.request = request
        self.spec = spec
        self.hardware = hardware
        self.disk_path = disk_path
        self.settings = {"batch_size": batch_size, "max_length": max_length, "lora_r": lora_r}

    @Slot()
    def run(self) -> None:
        try:
            hardware = self.hardware
            if hardware is None:
                # Imported here: the probe imports torch, which takes seconds.
                from desktop_app.engine.hardware import probe_hardware

                hardware = probe_hardware(self.disk_path)
            facts, files = read_model_facts(self.spec, hardware, **self.settings)
            self.inspected.emit(self.request, facts, hardware, files)
        except RemoteCodeRefused as error:
            if error.can_allow:
                files = ModelCodeFiles(remote_code=error.files)
                self.refused.emit(self.request, error.user_message(), files)
            else:
                self.failed.emit(self.request, error.user_message())
        except PickleWeightsRefused as error:
            files = ModelCodeFiles(pickle=error.files)
            self.refused.emit(self.request, error.user_message(), files)
        except EnclaveError as error:
            self.failed.emit(self.request, error.user_message())
        except Exception as error:  # noqa: BLE001 - any failure must reach the user
            self.failed.emit(self.request, f"The model could not be read: {error}")
        finally:
            self.finished.emit()
