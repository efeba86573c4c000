"""The set-up pane's frame, shared by the start-up window (while torch loads) and the workbench: the form's
fields in a scroll area, its footer (cost, Start, status) always in view below. Qt only: no torch here."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget


def form_pane(form, below: QWidget | None = None, parent=None) -> QWidget:
    """The form's fields (and ``below`` them, the model's card) in a scroll area as wide as the widest field
    needs, and the form's footer (cost, Start, status) under it, always in view (800×600)."""
    pane = QWidget(parent, objectName="setupPane")
    scroll = QScrollArea(objectName="setupScroll", widgetResizable=True)
    inner = QWidget()
    layout = QVBoxLayout(inner)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(form)
    if below is not None:
        layout.addWidget(below, 1)
    else:
        layout.addStretch(1)
    scroll.setWidget(inner)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    bar = scroll.verticalScrollBar().sizeHint().width()
    width = max(form.sizeHint().width(), form.footer.sizeHint().width()) + bar + 12
    pane.setMinimumWidth(width)
    pane.setMaximumWidth(width + 120)
    outer = QVBoxLayout(pane)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll, 1)
    outer.addWidget(form.footer)
    pane.scroll = scroll
    return pane
