"""A bar chart of records by length in tokens, with the training limit marked."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from desktop_app.engine.token_stats import TokenStats

_BAR_COLOUR = "#4c78a8"
_CUT_COLOUR = "#e45756"


class TokenHistogram(pg.PlotWidget):
    """Records per token-length bin; bins past the maximum length are drawn in red."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        item = self.getPlotItem()
        item.setTitle("Records by length in tokens", color="#222", size="10pt")
        item.setLabel("left", "records", color="#333")
        item.setLabel("bottom", "tokens", color="#333")
        item.showGrid(x=False, y=True, alpha=0.25)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen("#666"))
            axis.setTextPen(pg.mkPen("#333"))
        self._bars: list[pg.BarGraphItem] = []
        self._limit = pg.InfiniteLine(
            angle=90, pen=pg.mkPen(_CUT_COLOUR, width=2, style=Qt.PenStyle.DashLine)
        )
        self._limit.setVisible(False)
        item.addItem(self._limit)
        self.bin_count = 0

    def show_stats(self, stats: TokenStats | None) -> None:
        """Draw ``stats``' histogram (None clears the chart)."""
        item = self.getPlotItem()
        for bars in self._bars:
            item.removeItem(bars)
        self._bars = []
        self.bin_count = 0
        self._limit.setVisible(False)
        if stats is None or not stats.histogram:
            return
        for cut in (False, True):
            chosen = [b for b in stats.histogram if (b.lower >= stats.max_length) == cut]
            if not chosen:
                continue
            bars = pg.BarGraphItem(
                x0=[b.lower for b in chosen],
                x1=[b.upper for b in chosen],
                height=[b.count for b in chosen],
                brush=_CUT_COLOUR if cut else _BAR_COLOUR,
                pen=pg.mkPen("w"),
            )
            item.addItem(bars)
            self._bars.append(bars)
        self.bin_count = len(stats.histogram)
        self._limit.setPos(stats.max_length)
        self._limit.setVisible(stats.max_tokens >= stats.max_length)
        item.enableAutoRange()
