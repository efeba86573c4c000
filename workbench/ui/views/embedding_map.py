"""The embedding map: every image of the folder as a point (PCA then t-SNE of the network's features),
coloured by its class, the doctor's suspects ringed; clicking a point opens its image."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal


COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]


class EmbeddingMap(pg.PlotWidget):
    pointClicked = Signal(int)  # the image's index in the report

    def __init__(self, parent=None):
        super().__init__(parent, background="w")
        self.setObjectName("embeddingMap")
        self.setMinimumHeight(160)
        self.hideAxis("left")
        self.hideAxis("bottom")
        self.setMouseEnabled(x=True, y=True)
        self.points = pg.ScatterPlotItem(size=7, pen=None, hoverable=True)
        self.suspects = pg.ScatterPlotItem(size=13, brush=None, pen=pg.mkPen("#d62728", width=2), symbol="o")
        self.addItem(self.points)
        self.addItem(self.suspects)
        self.legend = self.addLegend(offset=(4, 4), labelTextSize="8pt")
        self.points.sigClicked.connect(self._clicked)
        self.suspects.sigClicked.connect(self._clicked)
        self.shown = 0
        self.coords = np.zeros((0, 2))

    def show_map(self, coords, labels: list[int], classes: list[str], suspects: set[int]) -> None:
        self.points.clear()
        self.suspects.clear()
        self.legend.clear()
        if coords is None:
            self.shown = 0
            return
        xy = np.asarray(coords, dtype=float)
        self.coords = xy
        brushes = [pg.mkBrush(COLOURS[c % len(COLOURS)]) for c in labels]
        self.points.setData(pos=xy, brush=brushes, data=list(range(len(xy))))
        marked = sorted(suspects)
        self.suspects.setData(pos=xy[marked] if marked else np.zeros((0, 2)), data=marked)
        for c, name in enumerate(classes[:len(COLOURS)]):  # one legend entry a class (a sample point each)
            self.legend.addItem(pg.ScatterPlotItem(brush=pg.mkBrush(COLOURS[c % len(COLOURS)]), pen=None, size=7), name)
        self.legend.addItem(self.suspects, "suspect")
        self.shown = len(xy)
        self.autoRange()

    def _clicked(self, item, points, *_) -> None:
        if len(points):
            self.pointClicked.emit(int(points[0].data()))
