"""Opening the window loads none of the machine-learning libraries (issue 7: the window
must show quickly). torch, transformers, peft, bitsandbytes, accelerate and datasets
are imported by the worker that first needs them: training, evaluating, exporting.

Each test starts a fresh Python: this test process has imported them long ago.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fresh_process import run_python

from desktop_app.core.config import RunConfig
from desktop_app.core.config_io import save_config
from desktop_app.ui.app import EXIT_AFTER_START_ENV, FIRST_WINDOW_LINE, REPORT_FIRST_WINDOW_ENV

HEAVY_LIBRARIES = ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "datasets")

#: Builds and shows the window as run_app does, lets its first timers run, and prints
#: which heavy libraries are loaded ("loaded: []" when none).
OPEN_WINDOW = f"""
import sys
from PySide6.QtCore import QEventLoop, QTimer
from desktop_app.ui.app import create_application
from desktop_app.ui.main_window import MainWindow, default_pages
from desktop_app.ui.project import app_settings

HEAVY = {HEAVY_LIBRARIES!r}
app = create_application([])
settings = app_settings()
window = MainWindow(default_pages(settings), settings)
window.show()
app.processEvents()
pause = QEventLoop()
QTimer.singleShot(1000, pause.quit)  # the autosave and other first timers fire
pause.exec()
print("loaded:", [name for name in HEAVY if name in sys.modules], flush=True)
"""


def test_the_main_window_opens_without_the_machine_learning_libraries(enclave_home: Path):
    completed = run_python(["-c", OPEN_WINDOW + "window.close()\n"], enclave_home)

    assert completed.returncode == 0, completed.stderr
    assert "loaded: []" in completed.stdout, completed.stdout


def test_the_app_entry_shows_its_first_window(enclave_home: Path):
    completed = run_python(
        ["-m", "desktop_app"],
        enclave_home,
        **{REPORT_FIRST_WINDOW_ENV: "1", EXIT_AFTER_START_ENV: "50"},
    )

    assert completed.returncode == 0, completed.stderr
    assert FIRST_WINDOW_LINE in completed.stdout.splitlines()


def test_the_entry_loads_no_library_and_later_torch_loads_stay_weights_only(
    enclave_home: Path, tmp_path: Path
):
    # main() forces weights-only loads before torch is imported; torch reads the setting
    # at each load, so a load after the lazy import, asking otherwise, is still refused.
    completed = run_python(
        [
            "-c",
            "import pickle, sys\n"
            "from desktop_app.__main__ import main\n"
            "code = main([])\n"
            f"print('window', code, [n for n in {HEAVY_LIBRARIES!r} if n in sys.modules])\n"
            "import torch\n"
            "class Payload:\n"
            "    pass\n"
            f"path = {str(tmp_path / 'payload.pt')!r}\n"
            "torch.save(Payload(), path)\n"
            "try:\n"
            "    torch.load(path, weights_only=False)\n"
            "    print('loaded a pickled object')\n"
            "except pickle.UnpicklingError:\n"
            "    print('refused a pickled object')\n",
        ],
        enclave_home,
        **{EXIT_AFTER_START_ENV: "50"},
    )

    assert completed.returncode == 0, completed.stderr
    assert "window 0 []" in completed.stdout, completed.stdout
    assert "refused a pickled object" in completed.stdout, completed.stdout


TRAIN_FROM_THE_WINDOW = """
import sys
from PySide6.QtCore import QObject, Slot
from desktop_app.core.config_io import load_config
from desktop_app.ui.worker import start_training


class Recorder(QObject):
    def __init__(self):
        super().__init__()
        self.outcomes = []

    @Slot(object)
    def on_run_ended(self, result):
        self.outcomes.append(f"{result.status} {result.message}")

    @Slot(str, str)
    def on_failed(self, message, details):
        self.outcomes.append(f"failed {message} {details}")


print("before training:", [name for name in HEAVY if name in sys.modules], flush=True)
recorder = Recorder()


def connect(worker):
    worker.run_ended.connect(recorder.on_run_ended)
    worker.failed.connect(recorder.on_failed)
    worker.finished.connect(pause.quit)


pause = QEventLoop()
QTimer.singleShot(240_000, pause.quit)
session = start_training(window, load_config(sys.argv[1]), connect=connect)
pause.exec()
assert session.wait(60_000), "the training thread did not end"
app.processEvents()
print("outcomes:", recorder.outcomes, "torch" in sys.modules, flush=True)
window.close()
"""


@pytest.mark.slow
def test_a_run_started_from_the_window_imports_torch_in_its_worker_and_finishes(
    enclave_home: Path, ui_config: RunConfig, tmp_path: Path
):
    config_file = tmp_path / "run.json"
    save_config(ui_config, config_file)

    completed = run_python(
        ["-c", OPEN_WINDOW + TRAIN_FROM_THE_WINDOW, str(config_file)], enclave_home
    )

    assert completed.returncode == 0, completed.stderr
    assert "before training: []" in completed.stdout, completed.stdout
    assert "outcomes: ['finished '] True" in completed.stdout, completed.stdout
