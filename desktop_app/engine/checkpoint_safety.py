"""Resuming from a checkpoint without running code hidden in its files.

A checkpoint holds pickle files (``optimizer.pt``, ``scheduler.pt``, ``rng_state.pth``),
and unpickling can call any function. What the Hugging Face Trainer reads when it
resumes (``resume_from_checkpoint``), checked in transformers 5.23's trainer.py:

* the adapter or model weights: ``adapter_model.safetensors`` / ``model.safetensors``
  through safetensors, which holds no code; the ``.bin`` fall-backs through
  ``torch.load(weights_only=True)`` (peft's ``torch_load`` too);
* ``optimizer.pt``, ``scheduler.pt`` and ``scaler.pt``: ``torch.load(..., weights_only=True)``;
* ``rng_state.pth``: ``torch.load(weights_only=True)`` inside transformers'
  ``safe_globals()``, which allows numpy arrays and dtypes and nothing else;
* ``trainer_state.json``: JSON. ``training_args.bin`` is written but never read back.

Every one of those loads passes ``weights_only=True`` explicitly, so the environment
variable ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` cannot turn it off, and transformers'
``check_torch_load_is_safe()`` refuses torch older than 2.6. A replaced file therefore
cannot run code on resume; torch refuses it. Enclave's own code has no other
``torch.load`` than the weights-only one in :mod:`desktop_app.engine.safe_loading`.

Two things are added here. :func:`check_checkpoint_state` reads every pickle file of a
checkpoint the same safe way before training resumes (memory-mapped, so the tensor data
is not read) and refuses a bad one with a plain message naming it, instead of torch's
long error from the middle of the Trainer. :func:`force_weights_only_loads` makes every
``torch.load`` in the process weights-only, even one that asks otherwise, so a library
changing its default cannot open a gap.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

from desktop_app.core.errors import UserInputError

#: Pickle files of a checkpoint that the Trainer never reads (it only writes them).
NEVER_READ = frozenset({"training_args.bin"})
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".pkl", ".ckpt")


class CheckpointRefused(UserInputError):
    """A checkpoint file holds more than training state, or cannot be read."""


def force_weights_only_loads() -> None:
    """Make every ``torch.load`` in this process use the weights-only unpickler.

    Sets ``TORCH_FORCE_WEIGHTS_ONLY_LOAD=1`` (torch reads it at each load; it wins over
    an explicit ``weights_only=False``) and removes ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``,
    which would otherwise make torch refuse every load. Call it at start-up.
    """
    os.environ.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"


def checkpoint_state_files(checkpoint: Path) -> list[Path]:
    """The pickle files the Trainer reads from a checkpoint folder when it resumes."""
    return sorted(
        path
        for path in checkpoint.iterdir()
        if path.is_file() and path.name.endswith(PICKLE_SUFFIXES) and path.name not in NEVER_READ
    )


def check_checkpoint_state(checkpoint: str | Path) -> None:
    """Read each pickle file of a checkpoint with torch's weights-only unpickler.

    Nothing in the files runs: the restricted unpickler refuses any function or class
    outside tensors, plain containers and (for the random-number state) numpy arrays,
    before calling it. Tensor data is memory-mapped, not read, so this is quick even
    for a large optimizer state.

    Args:
        checkpoint: A ``checkpoint-<step>`` folder.

    Raises:
        CheckpointRefused: a file holds more than training state, or cannot be read.
    """
    import torch
    from transformers.trainer_pt_utils import safe_globals

    folder = Path(checkpoint)
    for path in checkpoint_state_files(folder):
        try:
            with safe_globals():
                torch.load(
                    path, weights_only=True, map_location="cpu", mmap=zipfile.is_zipfile(path)
                )
        except pickle.UnpicklingError:
            raise CheckpointRefused(
                f"The checkpoint file {path} holds more than training state: loading it "
                "would run code. Enclave refused it and ran nothing from it.",
                "The checkpoint has been changed since Enclave wrote it. Delete the "
                f"folder {folder} to resume from an earlier checkpoint, or start the run "
                "again.",
            ) from None
        except (RuntimeError, OSError, EOFError, ValueError) as error:
            raise CheckpointRefused(
                f"The checkpoint file {path} cannot be read ({str(error).splitlines()[0]}).",
                f"Delete the folder {folder} to resume from an earlier checkpoint, or start "
                "the run again.",
            ) from None
