"""The app's icon: three feature maps behind one another, a 3×3 kernel on the front one.

``resources/icons/cnn-workbench.png`` is drawn by ``python -m workbench.ui.icon --write`` (Qt's
painter, no other tool) and ships with the app; the window, the start-up window and the launcher
entry (``cnn-workbench install-desktop``) all use that file."""

from __future__ import annotations

import sys

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPen

from resources import resource_path

ICON_FILE = ("icons", "cnn-workbench.png")


def app_icon() -> QIcon:
    path = resource_path(*ICON_FILE)
    return QIcon(str(path)) if path.is_file() else QIcon()


def draw(size: int = 256) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    unit = size / 16
    for i, colour in enumerate(("#9ecae1", "#4292c6", "#08519c")):  # back to front
        x, y = unit * (1 + 2.2 * i), unit * (5.4 - 2.2 * i)
        p.setPen(QPen(QColor("#ffffff"), unit * 0.35))
        p.setBrush(QColor(colour))
        p.drawRoundedRect(QRectF(x, y, unit * 9.6, unit * 9.6), unit * 0.8, unit * 0.8)
    p.setPen(QPen(QColor("#fdae6b"), unit * 0.3))
    p.setBrush(QColor(253, 141, 60, 200))
    left, top, cell = unit * 7.2, unit * 1.2, unit * 1.6
    for r in range(3):
        for c in range(3):
            p.drawRect(QRectF(left + c * cell, top + r * cell, cell, cell))
    p.end()
    return image


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # painting needs one
    if "--write" not in (argv if argv is not None else sys.argv[1:]):
        print("python -m workbench.ui.icon --write  draws resources/icons/cnn-workbench.png")
        return 2
    path = resource_path(*ICON_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    draw().save(str(path))
    app.processEvents()
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
