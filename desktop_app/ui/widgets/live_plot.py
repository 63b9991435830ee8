"""A plot that grows while a run goes: numpy buffers, redraws a few times a second.

Points go into numpy buffers at once; the curves that changed are redrawn (``setData``)
by a timer about four times a second, with peak downsampling and clip-to-view, as
pyqtgraph advises for live plots. Drawing every point as it came kept the GUI thread
busy enough to freeze the window for hundreds of milliseconds (docs/benchmarks.md).
Several plots that became due together redraw one after the other, a few tens of
milliseconds apart, so that each repaint is a short pause instead of one long one.

Importing this module also keeps Qt's raster fills in the GUI thread
(:func:`keep_raster_fills_serial`): Qt otherwise hands large fills (a plot's grid, its
curves) to a pool of threads and waits for them, and while a run trains those threads
queue behind the training threads for the CPU; that wait was the larger part of each
repaint (docs/benchmarks.md).
"""

from __future__ import annotations

import os
import time
from typing import ClassVar

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QWidget

_INITIAL_CAPACITY = 256
#: Qt reads this variable once, when something first asks for its GUI thread pool.
SERIAL_FILLS_VARIABLE = "QT_NO_GUI_THREADPOOL"
#: Default time between a first new point and its redraw: about four redraws a second.
REDRAW_INTERVAL_MS = 250
#: Two plots' timed redraws are at least this far apart, so that each is painted in its
#: own turn of the event loop.
REDRAW_SPACING_MS = 40


def keep_raster_fills_serial() -> None:
    """Ask Qt to draw in the GUI thread alone, without its helper thread pool.

    Effective only before the first large fill is painted, so it runs when this module
    is imported (before the window is shown); a value the user set is kept.
    """
    os.environ.setdefault(SERIAL_FILLS_VARIABLE, "1")


keep_raster_fills_serial()


class _Series:
    """A growing pair of float arrays; doubling keeps appends amortised O(1)."""

    def __init__(self) -> None:
        self.x = np.empty(_INITIAL_CAPACITY, dtype=np.float64)
        self.y = np.empty(_INITIAL_CAPACITY, dtype=np.float64)
        self.count = 0

    def append(self, x: float, y: float) -> None:
        if self.count == len(self.x):
            self.x = np.resize(self.x, 2 * len(self.x))
            self.y = np.resize(self.y, 2 * len(self.y))
        self.x[self.count] = x
        self.y[self.count] = y
        self.count += 1

    def discard_after(self, x: float) -> None:
        self.count = int(np.searchsorted(self.x[: self.count], x, side="right"))

    def views(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[: self.count], self.y[: self.count]


class _Smoother:
    """Exponential moving average with start-up bias correction (as TensorBoard shows)."""

    def __init__(self, source: str, weight: float) -> None:
        self.source = source
        self.weight = weight
        self.reset()

    def reset(self) -> None:
        self.average = 0.0
        self.seen = 0

    def __call__(self, value: float) -> float:
        self.seen += 1
        self.average = self.weight * self.average + (1.0 - self.weight) * value
        return self.average / (1.0 - self.weight**self.seen)


class LivePlot(pg.PlotWidget):
    """A plot of named curves that grow point by point.

    Args:
        title: Shown above the plot.
        y_label: What the vertical axis measures.
        x_label: What the horizontal axis counts.
        y_units: The values' unit (``"B"``); the axis then shows it with an SI prefix
            (MB, GB). Without a unit, ticks are plain numbers (0.0002, not 0.2 x 0.001).
        redraw_interval_ms: The longest a new point waits before it is drawn. Points
            are counted at once (:meth:`point_count`, :meth:`data`); :meth:`flush`
            draws them immediately.
        parent: The owning widget.
    """

    #: When any LivePlot last redrew on its timer (time.monotonic()).
    _last_timed_redraw: ClassVar[float] = float("-inf")

    def __init__(
        self,
        title: str,
        y_label: str,
        x_label: str = "step",
        *,
        y_units: str | None = None,
        redraw_interval_ms: int = REDRAW_INTERVAL_MS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        # Not a Tab stop: the keyboard has nothing to do in a plot.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setBackground("w")
        item = self.getPlotItem()
        item.setTitle(title, color="#222", size="10pt")
        item.setLabel("left", y_label, units=y_units, color="#333")
        item.getAxis("left").enableAutoSIPrefix(y_units is not None)
        item.setLabel("bottom", x_label, color="#333")
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen("#666"))
            axis.setTextPen(pg.mkPen("#333"))
        self._legend: pg.LegendItem | None = None
        self._series: dict[str, _Series] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._smoothers: dict[str, _Smoother] = {}  # smoothed curve name -> its smoother
        self._stale: set[str] = set()  # curves whose buffers changed since they were drawn
        # Single shot, started by the first change after a redraw: it stops when idle.
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setObjectName("redrawTimer")
        self._redraw_timer.setSingleShot(True)
        self._redraw_interval_ms = redraw_interval_ms
        self._redraw_timer.timeout.connect(self._on_redraw_due)

    def add_curve(
        self,
        name: str,
        color: str,
        *,
        width: float = 1.5,
        symbol: str | None = None,
        smooth_of: str | None = None,
        smoothing: float = 0.9,
        legend: bool = True,
    ) -> None:
        """Add a curve.

        Args:
            name: The curve's name (also its legend entry).
            color: Its colour, any form pyqtgraph accepts (``"#1f77b4"``).
            width: Line width in pixels.
            symbol: A marker drawn at each point (``"o"``), for sparse series.
            smooth_of: Make this curve the moving average of another curve; it then grows
                by itself whenever that curve does.
            smoothing: The moving average's weight on the past (0 to 1).
            legend: Show the curve in a legend.
        """
        if legend and self._legend is None:
            self._legend = self.getPlotItem().addLegend(offset=(-8, 8), labelTextColor="#222")
            self._legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        pen = pg.mkPen(color, width=width)
        options: dict[str, object] = {"pen": pen, "name": name if legend else None}
        if symbol:
            options.update(symbol=symbol, symbolSize=6, symbolBrush=color, symbolPen=pen)
        self._curves[name] = self.getPlotItem().plot(**options)
        self._series[name] = _Series()
        if smooth_of is not None:
            self._smoothers[name] = _Smoother(smooth_of, smoothing)

    def append(self, curve: str, x: float, y: float) -> None:
        """Add the point (x, y) to ``curve`` (and to the curves that smooth it)."""
        self._append(curve, x, y)
        for name, smoother in self._smoothers.items():
            if smoother.source == curve:
                self._append(name, x, smoother(y))

    def _append(self, curve: str, x: float, y: float) -> None:
        self._series[curve].append(x, y)
        self._mark_stale(curve)

    def _mark_stale(self, *curves: str) -> None:
        self._stale.update(curves)
        if not self._redraw_timer.isActive():
            self._redraw_timer.start(self._redraw_interval_ms)

    def _on_redraw_due(self) -> None:
        now = time.monotonic()
        wait_ms = (LivePlot._last_timed_redraw - now) * 1000 + REDRAW_SPACING_MS
        if wait_ms > 1:  # another plot has just redrawn: take the next turn
            self._redraw_timer.start(int(wait_ms))
            return
        LivePlot._last_timed_redraw = now
        self.flush()

    def flush(self) -> None:
        """Draw every point added so far now (the end of a run, tests, screenshots)."""
        self._redraw_timer.stop()
        stale, self._stale = self._stale, set()
        for name in stale:
            # Copies: the buffers are rewritten in place after discard_after.
            x, y = self._series[name].views()
            self._curves[name].setData(x.copy(), y.copy())

    def redraw_pending(self) -> bool:
        """Whether some points are waiting to be drawn."""
        return bool(self._stale)

    def drawn_data(self, curve: str) -> tuple[np.ndarray, np.ndarray]:
        """The x and y values ``curve`` was last drawn with (points waiting for a redraw
        are not among them)."""
        x, y = self._curves[curve].getOriginalDataset()
        if x is None or y is None:
            return np.empty(0), np.empty(0)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def curve(self, name: str) -> pg.PlotDataItem:
        """The pyqtgraph item that draws curve ``name``."""
        return self._curves[name]

    def point_count(self, curve: str) -> int:
        """How many points ``curve`` holds."""
        return self._series[curve].count

    def data(self, curve: str) -> tuple[np.ndarray, np.ndarray]:
        """Copies of ``curve``'s x and y values."""
        x, y = self._series[curve].views()
        return x.copy(), y.copy()

    def discard_after(self, x: float) -> None:
        """Drop every point right of ``x`` (a run resumed from an earlier checkpoint).

        Smoothed curves restart from the points that remain.
        """
        for name, series in self._series.items():
            if name not in self._smoothers:
                series.discard_after(x)
        for name, smoother in self._smoothers.items():
            smoother.reset()
            self._series[name] = _Series()
            for source_x, source_y in zip(*self._series[smoother.source].views(), strict=True):
                self._series[name].append(float(source_x), smoother(float(source_y)))
        self._mark_stale(*self._series)

    def clear_points(self) -> None:
        """Remove every point from every curve."""
        for smoother in self._smoothers.values():
            smoother.reset()
        for name in self._series:
            self._series[name] = _Series()
        self._mark_stale(*self._series)
