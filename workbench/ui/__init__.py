"""The Qt window. The only package that imports PySide6 and pyqtgraph."""

import pyqtgraph as pg

# Images are tensors laid out (row, column); tell pyqtgraph once, for every view.
pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, background="w", foreground="k")
