"""User strings (class names, file names, run names) are shown as text, never as rich text: every
label states its format (``plain`` or ``rich``, whose callers escape what the user wrote), and
tooltips that carry user strings go through ``tip``."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt

__all__ = ["plain", "rich", "tip"]


def plain(label):
    """``label`` shows its text as it is, tags and entities included."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def rich(label):
    """``label`` renders HTML: whatever the user wrote in it must be ``html.escape``d."""
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


def tip(text: str) -> str:
    """A tooltip that shows ``text`` literally (Qt guesses rich text for tooltips that look like it)."""
    return "<qt>" + html.escape(text).replace("\n", "<br>") + "</qt>"
