"""LivePlot buffers points and draws them on a timer, a few times a second."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from desktop_app.ui.widgets import live_plot
from desktop_app.ui.widgets.live_plot import REDRAW_SPACING_MS, LivePlot


@pytest.fixture
def plot(qtbot) -> LivePlot:
    plot = LivePlot("Loss", "loss", redraw_interval_ms=50)
    plot.add_curve("training", "#1f77b4")
    plot.add_curve("smoothed", "#ff7f0e", smooth_of="training", smoothing=0.5)
    plot.add_curve("validation", "#d62728", symbol="o")
    qtbot.addWidget(plot)
    plot.resize(400, 300)
    plot.show()
    return plot


def _drawn_x(plot: LivePlot, curve: str) -> list[float]:
    x, _ = plot.curve(curve).getOriginalDataset()
    return [] if x is None else [float(value) for value in x]


def test_points_count_at_once_and_are_drawn_on_flush(plot: LivePlot):
    for step in range(1, 4):
        plot.append("training", step, 1.0 / step)

    assert plot.point_count("training") == 3
    assert plot.point_count("smoothed") == 3
    assert list(plot.data("training")[0]) == [1, 2, 3]
    assert _drawn_x(plot, "training") == []  # not drawn yet
    assert plot.redraw_pending()

    plot.flush()
    assert _drawn_x(plot, "training") == [1, 2, 3]
    assert _drawn_x(plot, "smoothed") == [1, 2, 3]
    x, y = plot.drawn_data("training")
    assert np.array_equal(x, [1, 2, 3]) and np.allclose(y, [1, 0.5, 1 / 3])
    assert not plot.redraw_pending()


def test_the_timer_draws_the_points_and_then_stops(qtbot, plot: LivePlot):
    plot.append("training", 1, 2.0)
    plot.append("training", 2, 1.5)
    timer = plot.findChild(QTimer, "redrawTimer")
    assert timer.isActive()

    qtbot.waitUntil(lambda: _drawn_x(plot, "training") == [1, 2], timeout=2_000)
    assert not plot.redraw_pending()
    assert not timer.isActive()  # idle: nothing left to draw, no timer running

    plot.append("training", 3, 1.2)  # a new point starts it again
    assert timer.isActive()
    qtbot.waitUntil(lambda: _drawn_x(plot, "training") == [1, 2, 3], timeout=2_000)


def test_only_the_curves_that_changed_are_redrawn(qtbot, plot: LivePlot):
    plot.append("training", 1, 2.0)
    plot.append("validation", 1, 2.5)
    plot.flush()
    redrawn: list[str] = []
    for name in ("training", "smoothed", "validation"):
        plot.curve(name).sigPlotChanged.connect(lambda _item, name=name: redrawn.append(name))

    plot.append("validation", 2, 2.2)
    plot.flush()
    assert redrawn == ["validation"]
    plot.flush()  # nothing new: nothing redrawn
    assert redrawn == ["validation"]


def test_several_plots_due_together_redraw_one_after_the_other(qtbot):
    plots = []
    for index in range(3):
        plot = LivePlot(f"Plot {index}", "value", redraw_interval_ms=20)
        plot.add_curve("curve", "#1f77b4", legend=False)
        qtbot.addWidget(plot)
        plots.append(plot)
    drawn_at: dict[int, float] = {}
    for index, plot in enumerate(plots):
        plot.curve("curve").sigPlotChanged.connect(
            lambda _item, index=index: drawn_at.setdefault(index, time.monotonic())
        )
        plot.append("curve", 1, float(index))

    qtbot.waitUntil(lambda: len(drawn_at) == 3, timeout=5_000)
    times = sorted(drawn_at.values())
    gaps_ms = [(later - earlier) * 1000 for earlier, later in zip(times, times[1:], strict=False)]
    assert min(gaps_ms) >= REDRAW_SPACING_MS * 0.9, gaps_ms


def test_discard_after_and_clear_are_drawn_too(plot: LivePlot):
    for step in range(1, 6):
        plot.append("training", step, float(step))
    plot.flush()

    plot.discard_after(3)
    assert plot.point_count("training") == plot.point_count("smoothed") == 3
    assert _drawn_x(plot, "training") == [1, 2, 3, 4, 5]  # until the redraw
    plot.flush()
    assert _drawn_x(plot, "training") == [1, 2, 3]
    assert _drawn_x(plot, "smoothed") == [1, 2, 3]

    plot.append("training", 4, 9.0)  # the buffers are reused: the drawn copy must not move
    assert _drawn_x(plot, "training") == [1, 2, 3]
    plot.clear_points()
    assert plot.point_count("training") == 0
    plot.flush()
    assert _drawn_x(plot, "training") == [] and _drawn_x(plot, "smoothed") == []


def test_curves_keep_peak_downsampling_and_clip_to_view(plot: LivePlot):
    for name in ("training", "smoothed", "validation"):
        options = plot.curve(name).opts
        assert options["autoDownsample"] and options["downsampleMethod"] == "peak", name
        assert options["clipToView"], name


def test_qt_draws_without_its_helper_thread_pool():
    assert live_plot.SERIAL_FILLS_VARIABLE == "QT_NO_GUI_THREADPOOL"
    assert os.environ.get(live_plot.SERIAL_FILLS_VARIABLE)


def test_the_memory_plot_does_not_magnify_a_flat_line(qtbot):
    from desktop_app.ui.widgets.training_plots import MEMORY_MIN_SPAN_BYTES, TrainingPlots

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(900, 500)
    plots.show()
    for step in range(1, 20):
        plots.memory_plot.append("memory", step, 1.14e9 + step * 1000)
    plots.memory_plot.flush()
    qtbot.wait(50)
    low, high = plots.memory_plot.getViewBox().viewRange()[1]
    assert high - low >= MEMORY_MIN_SPAN_BYTES * 0.99
    assert low <= 1.14e9 <= high
