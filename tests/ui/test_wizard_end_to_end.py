"""The whole wizard on the real engine, as an analyst clicks through it.

Model (the tiny test model) -> Data (a sample data set shipped with Enclave) -> Method
(QLoRA: real bitsandbytes 4-bit layers on the CPU) -> Hyperparameters (Quick check) ->
Train (start, watch, finish) -> Evaluate (the run's numbers).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

from desktop_app.core.run_folder import RunFolder
from desktop_app.engine import train
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.pages.data_page import DataPage
from desktop_app.ui.pages.model_page import ModelPage
from desktop_app.ui.pages.train_page import TrainPage
from desktop_app.ui.project import app_settings

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "resources" / "sample_data"
WAIT_MS = 60_000
TRAIN_MS = 300_000


@pytest.fixture
def window(qtbot) -> MainWindow:
    window = MainWindow(settings=app_settings(), restore=False)
    qtbot.addWidget(window)
    window.resize(1100, 760)
    window.show()
    yield window
    window.close()


def _page(window: MainWindow, title: str) -> QWidget:
    return next(page for page in window.pages if page.title == title)


def _wait_idle(qtbot, window: MainWindow) -> None:
    busy = [page.is_busy for page in window.pages if hasattr(page, "is_busy")]
    qtbot.waitUntil(lambda: not any(is_busy() for is_busy in busy), timeout=WAIT_MS)


def _click(qtbot, window: MainWindow, name: str) -> None:
    button = window.findChild(QPushButton, name)
    assert button is not None, name
    assert button.isEnabled(), f"{name} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _next(qtbot, window: MainWindow) -> None:
    before = window.current
    _click(qtbot, window, "nextButton")
    assert window.current == before + 1


def _to_train_step(qtbot, window: MainWindow, model: Path, data: Path, method: str) -> TrainPage:
    """Click through Model, Data, Method and Hyperparameters (Quick check)."""
    model_page = _page(window, "Model")
    assert isinstance(model_page, ModelPage)
    model_page.choose(str(model))
    _wait_idle(qtbot, window)
    _next(qtbot, window)

    data_page = _page(window, "Data")
    assert isinstance(data_page, DataPage)
    data_page.add_files([str(data)])
    _wait_idle(qtbot, window)
    _next(qtbot, window)

    window.findChild(QWidget, f"method_{method}").click()
    _next(qtbot, window)

    _click(qtbot, window, "presetQuick")
    window.project.config.hyperparameters.max_length = 128  # the tiny model's context
    _next(qtbot, window)
    train_page = _page(window, "Train")
    assert isinstance(train_page, TrainPage)
    assert window.current == window.pages.index(train_page)
    return train_page


def test_the_wizard_trains_qlora_on_sample_data_and_shows_the_results(
    qtbot, window: MainWindow, tiny_model_dir: Path
) -> None:
    train_page = _to_train_step(
        qtbot, window, tiny_model_dir, SAMPLE_DATA / "insurance_qa.jsonl", "qlora"
    )
    config = window.project.config
    assert config.method.name == "qlora"
    assert config.hyperparameters.max_steps == 30
    assert config.data.train.endswith("insurance_qa.jsonl")

    with qtbot.waitSignal(train_page.run_finished, timeout=TRAIN_MS) as finished:
        _click(qtbot, window, "startButton")
    result = finished.args[0]
    assert result.status == "finished", result.message
    manifest = json.loads((result.run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["method"] == "qlora"

    plots = train_page.plots()
    assert plots["lossPlot"].point_count("training") >= 10
    assert plots["lossPlot"].point_count("validation") >= 1
    assert plots["learningRatePlot"].point_count("learning rate") >= 10
    assert plots["tokensPerSecondPlot"].point_count("tokens/s") >= 1
    assert window.step_state(window.current) == "current"

    _next(qtbot, window)
    evaluate = _page(window, "Evaluate")
    assert window.current == window.pages.index(evaluate)
    shown = " ".join(label.text() for label in evaluate.findChildren(QLabel))
    assert f"{result.metrics['train_loss']:.4f}" in shown
    assert f"{result.metrics['eval_loss']:.4f}" in shown
    assert str(result.output_path) in shown or result.output_path.name in shown
    assert evaluate.findChild(QWidget, "promptInput").isEnabled()


def test_a_bad_data_file_shows_its_problems_and_blocks_next(
    qtbot, window: MainWindow, tiny_model_dir: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "claims.jsonl"
    good = {"instruction": "What is an excess?", "input": "", "output": "The part you pay."}
    bad.write_text(
        json.dumps(good) + "\n" + json.dumps({**good, "output": ""}) + "\n{oops\n",
        encoding="utf-8",
    )
    _page(window, "Model").choose(str(tiny_model_dir))
    _wait_idle(qtbot, window)
    _next(qtbot, window)
    data_page = _page(window, "Data")
    data_page.add_files([str(bad)])
    _wait_idle(qtbot, window)

    next_button = window.findChild(QPushButton, "nextButton")
    reason = window.findChild(QLabel, "blockedReason")
    assert not next_button.isEnabled()
    assert "2 record(s) in claims.jsonl have errors" in reason.text()
    assert window.step_state(2) == "locked"
    problems = data_page.inspector.problems_view.model()
    texts = [problems.index(row, 3).data() for row in range(problems.rowCount())]
    assert any("empty" in text for text in texts)
    assert [problems.index(row, 1).data() for row in range(problems.rowCount())] == [
        "line 2",
        "line 3",
    ]

    data_page.settings.exclude_check.click()
    assert next_button.isEnabled()
    assert window.project.config.data.exclude_invalid


def test_an_engine_failure_shows_the_dialog_and_the_wizard_stays_usable(
    qtbot,
    window: MainWindow,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    dialogs_do_not_block,
) -> None:
    train_page = _to_train_step(
        qtbot, window, tiny_model_dir, SAMPLE_DATA / "insurance_qa.jsonl", "lora"
    )

    def explode(*args, **kwargs):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(train, "prepare_training_data", explode)
    with qtbot.waitSignal(train_page.error_occurred, timeout=TRAIN_MS):
        _click(qtbot, window, "startButton")
    [dialog] = dialogs_do_not_block
    assert dialog.isVisible() and "injected fault" in dialog.message_label.text()
    assert "Traceback" in dialog.details_view.toPlainText()
    dialog.close()

    # The window still works: Back, Next and Start again.
    assert not window.findChild(QPushButton, "nextButton").isEnabled()
    _click(qtbot, window, "backButton")
    assert window.pages[window.current].title == "Hyperparameters"
    _next(qtbot, window)
    assert window.findChild(QPushButton, "startButton").isEnabled()


def test_cancel_mid_run_then_resume_from_the_window(
    qtbot, window: MainWindow, tiny_model_dir: Path
) -> None:
    train_page = _to_train_step(
        qtbot, window, tiny_model_dir, SAMPLE_DATA / "insurance_qa.jsonl", "lora"
    )
    window.project.config.hyperparameters.save_every_steps = 5
    train_page.load(window.project.config)
    with qtbot.waitSignal(train_page.run_finished, timeout=TRAIN_MS) as cancelled:
        _click(qtbot, window, "startButton")
        qtbot.waitUntil(lambda: train_page.loss_plot.point_count("training") >= 6, timeout=TRAIN_MS)
        _click(qtbot, window, "cancelButton")
    assert cancelled.args[0].status == "cancelled"
    assert not window.findChild(QPushButton, "nextButton").isEnabled()

    with qtbot.waitSignal(train_page.run_finished, timeout=TRAIN_MS) as resumed:
        _click(qtbot, window, "resumeButton")
    result = resumed.args[0]
    assert result.status == "finished" and result.run_dir == cancelled.args[0].run_dir
    steps = train_page.loss_plot.data("training")[0]
    assert steps[-1] == 30 and list(steps) == sorted(set(steps))
    assert window.findChild(QPushButton, "nextButton").isEnabled()


def test_cancel_while_the_model_loads_stops_as_soon_as_loading_returns(
    qtbot, window: MainWindow, tiny_model_dir: Path
) -> None:
    train_page = _to_train_step(
        qtbot, window, tiny_model_dir, SAMPLE_DATA / "insurance_qa.jsonl", "lora"
    )
    with qtbot.waitSignal(train_page.run_finished, timeout=TRAIN_MS) as ended:
        _click(qtbot, window, "startButton")
        assert train_page.progress_bar.maximum() == 0  # busy: preparing and loading
        _click(qtbot, window, "cancelButton")
    assert ended.args[0].status == "cancelled"
    assert train_page.loss_plot.point_count("training") == 0
    assert window.findChild(QPushButton, "startButton").isEnabled()


def test_closing_during_a_run_asks_then_stops_with_a_checkpoint(
    qtbot, window: MainWindow, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QMessageBox

    train_page = _to_train_step(
        qtbot, window, tiny_model_dir, SAMPLE_DATA / "insurance_qa.jsonl", "lora"
    )
    window.project.config.hyperparameters.max_steps = 5_000
    train_page.load(window.project.config)
    asked: list[str] = []

    def answer(parent, title, text, *args, **kwargs):
        asked.append(text)
        return QMessageBox.StandardButton.No if len(asked) == 1 else QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    _click(qtbot, window, "startButton")
    qtbot.waitUntil(lambda: train_page.loss_plot.point_count("training") > 0, timeout=TRAIN_MS)

    assert not window.close()  # "No": the run goes on
    assert train_page.is_running()
    assert window.close()  # "Yes": cancelled with a checkpoint, thread waited for
    assert len(asked) == 2 and "checkpoint" in asked[0]
    assert not train_page.is_running()
    [run_dir] = [p for p in Path(window.project.config.output.dir).iterdir() if p.is_dir()]
    assert RunFolder.open(run_dir).latest_checkpoint() is not None
