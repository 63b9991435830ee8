"""Screenshots of every wizard step, rendered off-screen: for the README and UI reviews.

:func:`take_screenshots` builds the real main window in a throw-away workspace (its own
ENCLAVE_HOME, settings and autosave, so the user's own are never touched), opens the
demo project, and for each step shows the page, waits for its background work and saves
``NN-<step>.png``. The Train page is captured after a short real training run on a tiny
model built on the spot, so its plots hold real curves. Nothing goes to the network.

Only the main window's public parts are used (``pages``, ``project``, ``step_list``,
``current``, ``demo_banner``) and, on pages, the optional ``is_busy``/``is_running``
methods and the ``startButton`` objectName, so new pages are captured as they arrive.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from PySide6.QtCore import QEventLoop, QMessageLogContext, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QPushButton, QWidget

from desktop_app.core.config import DEMO_MODEL, RunConfig
from desktop_app.core.errors import EnclaveError, UserInputError
from desktop_app.ui.main_window import STEPS, MainWindow
from desktop_app.ui.project import Project, app_settings, demo_config
from desktop_app.ui.widgets import error_dialog
from desktop_app.ui.widgets.error_dialog import ErrorDialog
from desktop_app.ui.widgets.live_plot import LivePlot
from desktop_app.ui.worker import live_sessions

#: The window size of the README images.
DEFAULT_SIZE = (1100, 760)
#: Training steps of the run shown on the Train page: enough for the curves to have shape.
TRAIN_STEPS = 40
#: Longest wait for one page's background work (reading a model, training), in seconds.
WAIT_SECONDS = 300.0
#: Time given to timers (buffered plot redraws, layouts) before each grab, in seconds.
SETTLE_SECONDS = 0.25

Notify = Callable[[str], None]


class ScreenshotError(EnclaveError):
    """A page could not be shown or its work did not finish, so a screenshot is missing."""


def take_screenshots(
    out_dir: str | Path,
    size: tuple[int, int] = DEFAULT_SIZE,
    *,
    model: str | None = None,
    training_model: str | Path | None = None,
    train_steps: int = TRAIN_STEPS,
    wait_seconds: float = WAIT_SECONDS,
    on_saved: Callable[[Path], None] | None = None,
    on_note: Notify | None = None,
) -> list[Path]:
    """Render every step of the wizard to ``out_dir/NN-<step>.png``.

    Args:
        out_dir: Folder for the images; created if missing.
        size: Window width and height in pixels.
        model: The model the Model page shows; None uses the built-in demo model, or a
            tiny model built on the spot when the demo model is not installed.
        training_model: The model trained on the Train page; None builds a tiny one.
        train_steps: Steps of that training run.
        wait_seconds: Longest wait for one page's background work.
        on_saved: Called with each image's path as soon as it is written.
        on_note: Called with remarks for the user (a fallback model, a size the window
            could not take).

    Returns:
        The images written, in step order.

    Raises:
        UserInputError: ``out_dir`` cannot be created or written, or ``size`` is not
            positive.
        ScreenshotError: A step could not be shown, its work did not finish in time, or
            a page reported an error.
    """
    note = on_note or (lambda _text: None)
    folder = _prepare_folder(Path(out_dir))
    width, height = size
    if width < 1 or height < 1:
        raise UserInputError(f"The window size {width}x{height} is not positive.")
    _application()
    errors: list[str] = []
    previous_runner = error_dialog.set_dialog_runner(_collector(errors))
    try:
        with tempfile.TemporaryDirectory(prefix="enclave-screenshots-") as workspace:
            root = Path(workspace)
            with _enclave_home(root / "home"):
                config = demo_config()
                config.model.path = model or _demo_model_or_tiny(root, note)
                config.output.dir = str(root / "runs")
                trained = training_model or _build_tiny_model(root)
                return _capture_steps(
                    folder,
                    (width, height),
                    config,
                    _training_config(config, str(trained), train_steps, root / "runs"),
                    wait_seconds,
                    errors,
                    on_saved,
                    note,
                )
    finally:
        error_dialog.set_dialog_runner(previous_runner)


def _capture_steps(
    folder: Path,
    size: tuple[int, int],
    config: RunConfig,
    training: RunConfig,
    wait_seconds: float,
    errors: list[str],
    on_saved: Callable[[Path], None] | None,
    note: Notify,
) -> list[Path]:
    window = MainWindow(settings=app_settings(), restore=False)
    written: list[Path] = []
    try:
        window.resize(*size)
        window.show()
        window.set_project(Project(config=config))
        window.demo_banner.setVisible(False)
        for index, (key, title, _section) in enumerate(STEPS):
            _wait_idle(window, wait_seconds)
            _show_step(window, index, title)
            if key == "train":
                _train(window, training, wait_seconds, errors)
            window.resize(*size)  # an earlier page may have pushed the window wider
            _wait_idle(window, wait_seconds)
            _check_errors(errors, f"on the {title} page")
            if (window.width(), window.height()) != size:
                note(
                    f"The {title} page does not fit a {size[0]}x{size[1]} window; its "
                    f"image is {window.width()}x{window.height()}."
                )
            path = folder / f"{index + 1:02d}-{key}.png"
            _grab(window, path)
            written.append(path)
            if on_saved is not None:
                on_saved(path)
    finally:
        _close(window, wait_seconds)
    _check_errors(errors, "while the window closed")
    return written


# --- the steps ---------------------------------------------------------------------------


def _show_step(window: MainWindow, index: int, title: str) -> None:
    """Go to step ``index`` the way a click in the step list does."""
    window.step_list.setCurrentRow(index)
    _settle()
    if window.current != index:
        step, reason = next(
            (
                (f"the {page.title} step", reason)
                for page in window.pages[:index]
                if (reason := page.blocking_reason()) is not None
            ),
            ("an earlier step", "it is not complete."),
        )
        raise ScreenshotError(
            f"The {title} step could not be shown because {step} is not complete: {reason}",
            f"The screenshots use the demo project, which should pass every step; look at {step}.",
        )


def _train(window: MainWindow, training: RunConfig, wait_seconds: float, errors: list[str]) -> None:
    """Run a short real training on the Train page so that its plots hold real curves."""
    page = window.pages[window.current]
    window.project.config = training
    page.load(training)
    start = page.findChild(QPushButton, "startButton")
    if start is None or not start.isEnabled():
        raise ScreenshotError(
            "The Train page has no Start button that can be pressed.",
            "Check the Train page: its Start button has the objectName 'startButton'.",
        )
    start.click()
    _settle()
    _wait_idle(window, wait_seconds)
    _check_errors(errors, f"on the {page.title} page")
    reason = page.blocking_reason()
    if reason is not None:
        raise ScreenshotError(f"The short training run for the Train page did not finish: {reason}")


def _training_config(base: RunConfig, model: str, steps: int, runs: Path) -> RunConfig:
    """The demo project with a tiny model and a run short enough to take seconds."""
    from desktop_app.core.config_io import config_from_dict, config_to_dict

    config = config_from_dict(config_to_dict(base))
    config.model.path = model
    config.method.name = "lora"
    config.data.validation_fraction = 0.1
    hyper = config.hyperparameters
    hyper.max_steps = steps
    hyper.batch_size = 4
    hyper.gradient_accumulation_steps = 1
    hyper.learning_rate = 1e-2
    hyper.warmup_ratio = 0.1
    hyper.lr_scheduler = "cosine"
    hyper.max_length = 64
    hyper.eval_every_steps = max(steps // 8, 1)
    hyper.save_every_steps = 0
    config.output.dir = str(runs)
    return config


# --- waiting and grabbing ----------------------------------------------------------------


def _busy_pages(window: MainWindow) -> list[str]:
    busy = []
    for page in window.pages:
        for name in ("is_busy", "is_running"):
            method = getattr(page, name, None)
            if callable(method) and method():
                busy.append(page.title)
                break
    return busy


def _wait_idle(window: MainWindow, wait_seconds: float) -> None:
    """Process events until no page has background work, then let timers fire."""
    deadline = time.monotonic() + wait_seconds
    while busy := _busy_pages(window):
        if time.monotonic() > deadline:
            raise ScreenshotError(
                f"The {busy[0]} page was still working after {wait_seconds:.0f} seconds.",
                "Try again on a less busy computer.",
            )
        _process_events(0.05)
    _settle()
    for plot in window.findChildren(LivePlot):
        flush = getattr(plot, "flush", None)
        if callable(flush):
            flush()
    _process_events(0.05)


def _settle() -> None:
    _process_events(SETTLE_SECONDS)


def _process_events(seconds: float) -> None:
    app = QApplication.instance()
    deadline = time.monotonic() + seconds
    while True:
        if app is not None:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        if time.monotonic() >= deadline:
            return
        time.sleep(0.01)


def _grab(window: QWidget, path: Path) -> None:
    if not window.grab().save(str(path), "PNG"):
        raise UserInputError(f"The image {path} could not be written.", "Check the folder.")


def _close(window: MainWindow, wait_seconds: float) -> None:
    """Stop a run that is still going, close the window and wait for every thread."""
    for session in live_sessions():
        session.cancel()
        session.wait(int(wait_seconds * 1000))
    window.close()
    deadline = time.monotonic() + wait_seconds
    while live_sessions() and time.monotonic() < deadline:
        _process_events(0.05)
    window.deleteLater()
    _process_events(0.1)


# --- set-up ------------------------------------------------------------------------------


def _prepare_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserInputError(
            f"{folder} is a file, not a folder.", "Give a folder for the images."
        ) from None
    except OSError as error:
        raise UserInputError(
            f"The folder {folder} cannot be created ({error.strerror}).",
            "Give a folder you can write to.",
        ) from None
    if not os.access(folder, os.W_OK):
        raise UserInputError(
            f"The folder {folder} cannot be written to.", "Give a folder you can write to."
        )
    return folder


def _application() -> QApplication:
    """The running QApplication, or a new off-screen one (no window appears)."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from desktop_app.ui.app import create_application

    qInstallMessageHandler(_quiet_offscreen_warnings)
    return create_application([])


def _quiet_offscreen_warnings(kind: QtMsgType, context: QMessageLogContext, text: str) -> None:
    """Drop the off-screen platform's remarks on what it cannot do; pass on the rest."""
    if "does not support" not in text:
        print(text, file=sys.stderr)


@contextlib.contextmanager
def _enclave_home(home: Path) -> Iterator[None]:
    """Point ENCLAVE_HOME (settings, autosave, runs) at ``home`` for the duration."""
    previous = os.environ.get("ENCLAVE_HOME")
    home.mkdir(parents=True, exist_ok=True)
    os.environ["ENCLAVE_HOME"] = str(home)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("ENCLAVE_HOME", None)
        else:
            os.environ["ENCLAVE_HOME"] = previous


def _demo_model_or_tiny(root: Path, note: Notify) -> str:
    from desktop_app.core.errors import ModelError
    from desktop_app.engine.model_files import demo_model_file

    try:
        demo_model_file()
    except ModelError as error:
        note(f"{error.message} The Model page shows a tiny test model instead.")
        return str(_build_tiny_model(root))
    return DEMO_MODEL


def _build_tiny_model(root: Path) -> Path:
    folder = root / "tiny-model"
    if (folder / "config.json").is_file():
        return folder
    from desktop_app.engine.tiny_model import build_tiny_model

    with contextlib.redirect_stderr(io.StringIO()):  # the library's "Writing shards" bar
        return build_tiny_model(folder)


def _collector(errors: list[str]) -> Callable[[ErrorDialog], None]:
    """A dialog runner that records the error instead of waiting for a click."""

    def collect(dialog: ErrorDialog) -> None:
        errors.append(dialog.message_label.text())
        dialog.close()

    return collect


def _check_errors(errors: list[str], where: str) -> None:
    if errors:
        message = errors[0]
        errors.clear()
        raise ScreenshotError(f"An error was shown {where}: {message}")
