"""The window's views, one per file. A view shows what it is given and emits what the user
asks for; it never holds a model and never does slow work."""

import pyqtgraph as pg

# Images are tensors laid out (row, column); tell pyqtgraph once, for every view.
pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, background="w", foreground="k")
