"""The training engine: torch, transformers, peft and bitsandbytes; never Qt.

Importing the engine quiets the libraries' own console output: progress is reported
through our events, and their progress bars and notices would only confuse a user.

Importing it loads none of those libraries, so the window opens quickly: modules import
them inside the functions that use them (annotations under ``TYPE_CHECKING``). Only
the subclasses of library classes import them at the top, in ``sft_batches``,
``callbacks`` and ``generation_stop``, which are imported from inside functions.
tests/engine/test_lazy_imports.py keeps to this.
"""

from __future__ import annotations

import logging
import warnings

# bitsandbytes tries to fetch a CPU kernel from a model hub through the optional
# 'kernels' package (not installed: Enclave never downloads) and logs a warning about it
# on every start; the built-in kernel it falls back to is the one we test.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
# transformers 5 renamed gradient checkpointing; peft still calls the old name.
warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*", category=FutureWarning)


def quiet_library_output() -> None:
    """Silence transformers' info logs and progress bars (we report our own)."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
