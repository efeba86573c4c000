"""Live loss and accuracy plots. Curves are made once and refreshed from a timer, never on
every step, so a fast run cannot flood the event loop."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer

TRAIN = pg.mkPen("#1f77b4", width=1)
VAL = pg.mkPen("#d62728", width=2)


def _plot(name: str, title: str, ylabel: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(title=title)
    plot.setObjectName(name)
    plot.setLabel("bottom", "epoch")
    plot.setLabel("left", ylabel)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.addLegend(offset=(-10, 10))
    plot.setClipToView(True)
    plot.setDownsampling(mode="peak")
    plot.setMinimumHeight(160)
    return plot


class TrainingPlots:
    """Owns ``lossPlot`` and ``accuracyPlot`` and the data behind their curves."""

    def __init__(self, parent=None):
        self.loss_plot = _plot("lossPlot", "Loss", "cross-entropy")
        self.accuracy_plot = _plot("accuracyPlot", "Accuracy", "accuracy")
        self.accuracy_plot.setYRange(0, 1)
        self.train_loss = self.loss_plot.plot([], [], pen=TRAIN, name="train (per batch)", skipFiniteCheck=True)
        self.val_loss = self.loss_plot.plot([], [], pen=VAL, symbol="o", symbolSize=6, symbolBrush="#d62728",
                                            name="val")
        self.train_acc = self.accuracy_plot.plot([], [], pen=TRAIN, symbol="s", symbolSize=5,
                                                 symbolBrush="#1f77b4", name="train")
        self.val_acc = self.accuracy_plot.plot([], [], pen=VAL, symbol="o", symbolSize=6, symbolBrush="#d62728",
                                               name="val")
        self._data: dict[str, tuple[list[float], list[float]]] = {}
        self._curves = {"train_loss": self.train_loss, "val_loss": self.val_loss,
                        "train_acc": self.train_acc, "val_acc": self.val_acc}
        self._dirty: set[str] = set()
        # 5 Hz: each repaint of a plot costs the UI thread a few ms of Python (axes, text), and
        # only curves whose data changed are touched, so the accuracy plot repaints once an epoch.
        self._timer = QTimer(parent)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.clear()

    def clear(self) -> None:
        self._data = {k: ([], []) for k in self._curves}
        self._dirty = set(self._curves)
        self.refresh()

    def add_step(self, progress: float, loss: float) -> None:
        xs, ys = self._data["train_loss"]
        xs.append(progress)
        ys.append(loss)
        self._dirty.add("train_loss")

    def add_epoch(self, epoch: int, train_loss: float, train_acc: float, val_loss: float, val_acc: float) -> None:
        for key, value in (("val_loss", val_loss), ("train_acc", train_acc), ("val_acc", val_acc)):
            xs, ys = self._data[key]
            xs.append(float(epoch))
            ys.append(value)
            self._dirty.add(key)
        self.refresh()

    def refresh(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for key in dirty:
            xs, ys = self._data[key]
            self._curves[key].setData(np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64))
