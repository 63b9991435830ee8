"""The Train page's five live plots: loss, learning rate, gradient norm, speed, memory."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QWidget

from desktop_app.core.events import EvalMetrics, StepMetrics
from desktop_app.ui.widgets.live_plot import LivePlot

_TITLE_STYLE = {"color": "#222", "size": "10pt"}


#: The memory plot never zooms in closer than this (bytes, top to bottom).
MEMORY_MIN_SPAN_BYTES = 256 * 2**20


class TrainingPlots(QWidget):
    """A grid of live plots fed with the engine's step and validation events.

    The loss plot spans two columns (training loss, its moving average and the
    validation loss); the other plots show one curve each. Points are buffered and drawn
    a few times a second (see :class:`LivePlot`); :meth:`flush` draws them at once.

    Args:
        parent: The owning widget.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPlots")
        self.loss_plot = self._plot("lossPlot", "Loss", "loss")
        self.loss_plot.add_curve("training", "#9ecae1", width=1)
        self.loss_plot.add_curve(
            "training (smoothed)", "#1f77b4", width=2, smooth_of="training", smoothing=0.8
        )
        self.loss_plot.add_curve("validation", "#d62728", width=2, symbol="o")
        self.learning_rate_plot = self._plot("learningRatePlot", "Learning rate", "rate")
        self.learning_rate_plot.add_curve("learning rate", "#2ca02c", legend=False)
        self.grad_norm_plot = self._plot("gradNormPlot", "Gradient norm", "norm")
        self.grad_norm_plot.add_curve("grad norm", "#9467bd", legend=False)
        self.speed_plot = self._plot("tokensPerSecondPlot", "Speed", "tokens/s")
        self.speed_plot.add_curve("tokens/s", "#ff7f0e", legend=False)
        self.memory_plot = self._plot("memoryPlot", "Memory", "memory", units="B")
        self.memory_plot.add_curve("memory", "#8c564b", legend=False)
        # At least 256 MiB tall: a flat line must not look like a big swing.
        self.memory_plot.getViewBox().setLimits(minYRange=MEMORY_MIN_SPAN_BYTES)

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.loss_plot, 0, 0, 1, 2)
        grid.addWidget(self.learning_rate_plot, 0, 2)
        grid.addWidget(self.grad_norm_plot, 1, 0)
        grid.addWidget(self.speed_plot, 1, 1)
        grid.addWidget(self.memory_plot, 1, 2)
        for row in range(2):
            grid.setRowStretch(row, 1)
        for column in range(3):
            grid.setColumnStretch(column, 1)

    @staticmethod
    def _plot(name: str, title: str, y_label: str, units: str | None = None) -> LivePlot:
        plot = LivePlot(title, y_label, y_units=units)
        plot.setObjectName(name)
        plot.setMinimumSize(220, 160)
        return plot

    def plots(self) -> dict[str, LivePlot]:
        """The plots by objectName."""
        return {
            plot.objectName(): plot
            for plot in (
                self.loss_plot,
                self.learning_rate_plot,
                self.grad_norm_plot,
                self.speed_plot,
                self.memory_plot,
            )
        }

    def show_step(self, event: StepMetrics) -> None:
        """Add one step's figures (those the engine could measure) to the plots."""
        self.loss_plot.append("training", event.step, event.loss)
        self.learning_rate_plot.append("learning rate", event.step, event.learning_rate)
        if event.grad_norm is not None:
            self.grad_norm_plot.append("grad norm", event.step, event.grad_norm)
        if event.tokens_per_second is not None:
            self.speed_plot.append("tokens/s", event.step, event.tokens_per_second)
        if event.memory_bytes is not None:
            self.memory_plot.append("memory", event.step, event.memory_bytes)

    def show_validation(self, event: EvalMetrics) -> None:
        """Add a validation loss to the loss plot."""
        self.loss_plot.append("validation", event.step, event.eval_loss)

    def show_device(self, device: str) -> None:
        """Title the memory plot for what is measured on ``device``."""
        title = "GPU memory (peak)" if device == "cuda" else "Memory (process)"
        self.memory_plot.getPlotItem().setTitle(title, **_TITLE_STYLE)

    def discard_after(self, step: int) -> None:
        """Drop the points after ``step`` (a run resumed from an earlier checkpoint)."""
        for plot in self.plots().values():
            plot.discard_after(step)

    def clear(self) -> None:
        """Remove every point."""
        for plot in self.plots().values():
            plot.clear_points()

    def flush(self) -> None:
        """Draw every buffered point now."""
        for plot in self.plots().values():
            plot.flush()
