"""Importing the engine loads none of the machine-learning libraries: each module
imports torch, transformers or peft inside the functions that use them, so the window
(which imports the engine's settings and results) opens without loading them.

Only the modules that define subclasses of library classes import them at the top;
nothing imports those modules except from inside a function.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import desktop_app.engine

HEAVY_LIBRARIES = ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "datasets")
#: torch.utils.data.Dataset, TrainerCallback and StoppingCriteria subclasses.
LIBRARY_SUBCLASS_MODULES = {"sft_batches", "callbacks", "generation_stop"}


def test_engine_modules_import_no_machine_learning_library():
    names = sorted(
        module.name
        for module in pkgutil.iter_modules(desktop_app.engine.__path__)
        if module.name not in LIBRARY_SUBCLASS_MODULES
    )
    assert {"generation", "train", "evaluation", "export", "token_stats"} <= set(names)
    # One fresh process; each import is checked before the next, so the report names
    # the module that brought a library in.
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module('desktop_app.engine.' + name)\n"
        f"    loaded = [lib for lib in {HEAVY_LIBRARIES!r} if lib in sys.modules]\n"
        "    if loaded:\n"
        "        print(name, 'loads', loaded)\n"
        "        break\n"
        "else:\n"
        "    print('none loaded')\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "none loaded", completed.stdout


def test_the_library_subclass_modules_are_real():
    # A name left in LIBRARY_SUBCLASS_MODULES after its module is gone would exempt a
    # future module of that name without anyone noticing.
    names = {module.name for module in pkgutil.iter_modules(desktop_app.engine.__path__)}
    assert names >= LIBRARY_SUBCLASS_MODULES
