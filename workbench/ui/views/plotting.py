"""pyqtgraph, configured once for every view that plots (imported from here, never directly):
images are tensors laid out (row, column), plots are drawn on white.

Not imported by the package: the experiment form is shown before pyqtgraph and torch load."""

import pyqtgraph as pg

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, background="w", foreground="k")

__all__ = ["colour_bar", "pg"]


def colour_bar(graphics, image, colormap: str = "viridis", values=(0, 1), **where):
    """A fixed (not draggable) colour scale beside ``image`` in the layout ``graphics`` (``row``/``col`` in
    ``where``): the maps', channel's and filters' views all read their colours off one."""
    bar = pg.ColorBarItem(values=values, colorMap=pg.colormap.get(colormap), interactive=False, width=12)
    bar.setImageItem(image)
    graphics.addItem(bar, **where)
    return bar
