"""pyqtgraph, configured once for every view that plots (imported from here, never directly):
images are tensors laid out (row, column), plots are drawn on white.

Not imported by the package: the experiment form is shown before pyqtgraph and torch load."""

import pyqtgraph as pg

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, background="w", foreground="k")

__all__ = ["pg"]
