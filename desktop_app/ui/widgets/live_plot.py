"""A plot that grows while a run goes: numpy buffers, setData, peak downsampling."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

_INITIAL_CAPACITY = 256


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
        parent: The owning widget.
    """

    def __init__(
        self,
        title: str,
        y_label: str,
        x_label: str = "step",
        *,
        y_units: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
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
        series = self._series[curve]
        series.append(x, y)
        self._curves[curve].setData(*series.views())

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
        for name, series in self._series.items():
            self._curves[name].setData(*series.views())

    def clear_points(self) -> None:
        """Remove every point from every curve."""
        for smoother in self._smoothers.values():
            smoother.reset()
        for name in self._series:
            self._series[name] = _Series()
            self._curves[name].setData([], [])
