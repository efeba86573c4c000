"""Live training curves: loss per step (raw values faint, smoothed on top) and per epoch,
accuracy per epoch with the best epoch marked, and the learning rate.

The x axes read in epochs. Data are kept in growing numpy buffers and pushed to the curves
from a 1 Hz timer (only curves that changed), with clip-to-view and peak downsampling, so a
run of 100,000 steps costs the UI thread the same few milliseconds as a run of 100.
Legends sit in the plot titles, so they never cover a curve."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QSplitter

from workbench.core import papers

from .plotting import pg

BLUE, RED, GREEN, GREY = "#1f77b4", "#d62728", "#2ca02c", "#7f7f7f"
SMOOTHING = 0.9
"""Weight of the past in the exponential moving average of the step loss (TensorBoard's default 0.6
is too jumpy for batch losses of small batches)."""


class Series:
    """x/y values in numpy buffers that double when full."""

    def __init__(self):
        self.x = np.empty(256)
        self.y = np.empty(256)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self.x):
            self.x = np.resize(self.x, 2 * self.n)
            self.y = np.resize(self.y, 2 * self.n)
        self.x[self.n], self.y[self.n] = x, y
        self.n += 1

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[:self.n], self.y[:self.n]


def _swatch(color: str, text: str, dashed: bool = False) -> str:
    mark = "┅" if dashed else "━"
    return f"<span style='color:{color}'>{mark}</span>&nbsp;{text}"


def make_plot(name: str, title: str, ylabel: str, legend: list[str], grid: bool = False) -> pg.PlotWidget:
    """A plot with its legend in the title. ``grid`` only for plots drawn rarely: pyqtgraph draws
    grid lines in Python at every repaint, five times the cost of the curves (4 ms without, 30 ms
    with, measured by ``python -m workbench.ui.benchmark plots``), and that time is taken from the run."""
    plot = pg.PlotWidget()
    plot.setObjectName(name)
    plot.setTitle(f"<b>{title}</b>&nbsp;&nbsp; " + " &nbsp; ".join(legend), size="9pt")
    plot.setLabel("bottom", "epoch")
    plot.setLabel("left", ylabel)
    for axis in ("bottom", "left"):
        plot.getAxis(axis).enableAutoSIPrefix(False)  # "epoch (x0.001)" reads wrong
    if grid:
        plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setClipToView(True)
    plot.setDownsampling(auto=True, mode="peak")
    plot.setMinimumHeight(120)
    plot.setMouseEnabled(x=True, y=False)
    return plot


class TrainingPlots(QSplitter):
    """``lossPlot``, ``accuracyPlot`` and ``lrPlot`` stacked, and the data behind their curves."""

    def __init__(self, parent=None):
        super().__init__(Qt.Orientation.Vertical, parent)
        self.setObjectName("trainingPlots")
        self.loss_plot = make_plot("lossPlot", "Loss", "cross-entropy", [
            _swatch("#9ecae1", "train, per batch"), _swatch(BLUE, "train, smoothed"), _swatch(RED, "val")])
        self.accuracy_plot = make_plot("accuracyPlot", "Accuracy", "accuracy", [
            _swatch(BLUE, "train"), _swatch(RED, "val"), _swatch(GREEN, "best epoch", dashed=True)])
        self.lr_plot = make_plot("lrPlot", "Learning rate", "lr", [_swatch(GREY, "per step")])
        self.lr_plot.setMaximumHeight(170)
        for plot in (self.loss_plot, self.accuracy_plot, self.lr_plot):
            self.addWidget(plot)
        self.setSizes([330, 300, 130])
        self.curves = {
            "step_loss": self.loss_plot.plot(pen=pg.mkPen("#9ecae1", width=1), skipFiniteCheck=True),
            "smooth_loss": self.loss_plot.plot(pen=pg.mkPen(BLUE, width=2), skipFiniteCheck=True),
            "val_loss": self.loss_plot.plot(pen=pg.mkPen(RED, width=2), symbol="o", symbolSize=6, symbolBrush=RED),
            "train_acc": self.accuracy_plot.plot(pen=pg.mkPen(BLUE, width=2), symbol="s", symbolSize=5,
                                                 symbolBrush=BLUE),
            "val_acc": self.accuracy_plot.plot(pen=pg.mkPen(RED, width=2), symbol="o", symbolSize=6, symbolBrush=RED),
            "lr": self.lr_plot.plot(pen=pg.mkPen(GREY, width=1.5), skipFiniteCheck=True),
        }
        self.best_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(GREEN, width=1.5, style=Qt.PenStyle.DashLine),
                                         label="", labelOpts={"position": 0.1, "color": GREEN, "anchors": [(1, 1), (1, 1)]})
        self.best_line.setVisible(False)
        self.accuracy_plot.addItem(self.best_line, ignoreBounds=True)
        self.paper_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#555", width=1.2, style=Qt.PenStyle.DotLine),
                                          label="", labelOpts={"position": 0.02, "anchors": [(0, 0), (0, 0)],
                                                               "color": "#444"})
        self.paper_line.setVisible(False)
        self.paper = None  # the paper's figure for this run's network and set (workbench.core.papers)
        self.accuracy_plot.addItem(self.paper_line, ignoreBounds=True)
        self.best_epoch: int | None = None
        self.epochs = 1
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.clear()

    # -- data in ---------------------------------------------------------------------------------
    def clear(self, epochs: int = 1) -> None:
        self.series = {key: Series() for key in self.curves}
        self._ema: float | None = None
        self._dirty = set(self.curves)
        self.best_epoch = None
        self.best_line.setVisible(False)
        self.paper = None  # the next run's figure comes with it (set_paper)
        self.paper_line.setVisible(False)
        self.set_epochs(epochs)
        self.refresh()

    def set_epochs(self, epochs: int) -> None:
        """The x axes span the planned run, so the curves grow from left to right in epochs."""
        self.epochs = max(1, int(epochs))
        for plot in (self.loss_plot, self.accuracy_plot, self.lr_plot):
            plot.setXRange(0, self.epochs, padding=0.02)

    def follow(self, training) -> None:
        """Draw the runs of a ``TrainingController`` as they train."""
        training.runStarted.connect(lambda event, model, history: (self.start_run(
            event.epochs or event.config.get("epochs") or 1, history or None), self.set_paper(papers.figure_for(
                str(event.config.get("model", "")), str(event.config.get("dataset", ""))))))
        training.stepsEnded.connect(lambda steps, memory: self.add_steps(steps))
        training.epochEnded.connect(lambda e, weights: self.add_epoch(e.epoch, e.train_acc, e.val_loss, e.val_acc,
                                                                      e.best_epoch, e.best_val_acc))

    def start_run(self, epochs: int, history: tuple | None = None) -> None:
        """Fresh curves for a run; a resumed run's earlier epochs and steps first."""
        if history:
            self.load_run(*history, epochs)
        else:
            self.clear(epochs)

    def add_steps(self, steps) -> None:
        for event in steps:
            self.add_step(event.progress, event.loss, event.lr)

    def add_step(self, progress: float, loss: float, lr: float | None = None) -> None:
        if math.isfinite(loss):
            self._ema = loss if self._ema is None else SMOOTHING * self._ema + (1 - SMOOTHING) * loss
            self.series["step_loss"].append(progress, loss)
            self.series["smooth_loss"].append(progress, self._ema)
            self._dirty.update(("step_loss", "smooth_loss"))
        if lr is not None:
            self.series["lr"].append(progress, lr)
            self._dirty.add("lr")

    def add_epoch(self, epoch: int, train_acc: float, val_loss: float, val_acc: float, best_epoch: int | None = None,
                  best_acc: float | None = None) -> None:
        for key, value in (("val_loss", val_loss), ("train_acc", train_acc), ("val_acc", val_acc)):
            if value is not None and math.isfinite(value):
                self.series[key].append(float(epoch), value)
                self._dirty.add(key)
        if best_epoch:
            self.mark_best(best_epoch, best_acc)
        self.refresh()

    def plan(self, epochs: int) -> None:
        """Before a run (nothing plotted yet) the axes already span the planned epochs."""
        if not any(self.point_counts().values()):
            self.set_epochs(epochs)

    def mark_best(self, epoch: int, accuracy: float | None) -> None:
        self.best_epoch = epoch
        self.best_line.setPos(epoch)
        left, right = self.accuracy_plot.getViewBox().viewRange()[0]
        side = (0, 1) if epoch < (left + right) / 2 else (1, 1)  # the label on the roomier side: never cut at an edge
        self.best_line.label.anchors = [side, side]
        self.best_line.label.setFormat(f"best: epoch {epoch}" + (f" ({accuracy:.3f})" if accuracy is not None else ""))
        self.best_line.setVisible(True)

    def set_paper(self, figure) -> None:
        """The paper's accuracy for this network on this set, as a dotted line with its citation (or none)."""
        self.paper = figure
        self.paper_line.setVisible(figure is not None)
        if figure is not None:
            self.paper_line.setPos(figure.accuracy)
            self.paper_line.label.setFormat(f"paper: {100 * figure.accuracy:.2f} % ({figure.short})")
            self.paper_line.setToolTip(figure.label)
        self._fit_accuracy()

    def load_run(self, metrics: list[dict], steps: list[dict], epochs: int, paper=None) -> None:
        """An earlier run's curves, from its ``metrics.csv`` and ``steps.csv``, with the paper's figure."""
        self.clear(epochs)
        self.set_paper(paper)
        per_epoch: dict[int, int] = {}
        for row in steps:
            if row.get("epoch") and row.get("step"):
                per_epoch[row["epoch"]] = max(per_epoch.get(row["epoch"], 1), row["step"])
        for row in steps:
            if row.get("loss") is not None and row.get("step") and row.get("epoch"):
                self.add_step(row["epoch"] - 1 + row["step"] / per_epoch[row["epoch"]], row["loss"], row.get("lr"))
        best = None
        for row in metrics:
            self.add_epoch(row["epoch"], row.get("train_acc"), row.get("val_loss"), row.get("val_acc"))
            if row.get("best") and row.get("val_acc") is not None:  # the engine's own verdict (ties: lower loss)
                best = (row["epoch"], row["val_acc"])
        if best:
            self.mark_best(*best)
        self.refresh()

    # -- drawing -----------------------------------------------------------------------------------
    def refresh(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for key in dirty:
            self.curves[key].setData(*self.series[key].data())
        if {"train_acc", "val_acc"} & dirty:
            self._fit_accuracy()
        if "lr" in dirty and self.series["lr"].n:
            top = float(self.series["lr"].data()[1].max())
            top = top if top > 0 else 1.0
            self.lr_plot.setYRange(0, top * 1.1, padding=0)
            # Three labels (0, half, the peak): the plot is short, and the peak is the number to read.
            self.lr_plot.getAxis("left").setTicks([[(v, f"{v:.3g}") for v in (0.0, top / 2, top)], []])

    def _fit_accuracy(self) -> None:
        """The accuracy axis fits the data (0.95 and 0.98 must not look alike), never beyond [0, 1]."""
        values = np.concatenate([self.series[k].data()[1] for k in ("train_acc", "val_acc")])
        if len(values) and self.paper is not None:  # the gap to the paper stays in view
            values = np.append(values, self.paper.accuracy)
        if not len(values):
            self.accuracy_plot.setYRange(0, 1)
            return
        low, high = float(values.min()), float(values.max())
        pad = max(0.01, (high - low) * 0.1)
        self.accuracy_plot.setYRange(max(0.0, low - pad), min(1.0, high + pad), padding=0)

    def point_counts(self) -> dict[str, int]:
        return {key: series.n for key, series in self.series.items()}
