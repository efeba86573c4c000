"""The Python source of the selected layer's class (``core.inspect.source``): its file and line, the
model's paper, and the code itself, read-only, in a monospaced font."""

from __future__ import annotations

import html

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from .text import rich


class SourceView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("sourceView")
        self.header = rich(QLabel("Select a layer to read the code of its class.", objectName="sourceHeader",
                                  wordWrap=True))
        self.header.setOpenExternalLinks(True)
        self.code = QPlainTextEdit(objectName="sourceCode", readOnly=True)
        self.code.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.code.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.code, 1)
        self.source = None

    def show_source(self, source) -> None:
        """A ``core.inspect.source.Source``, or ``None`` for nothing selected."""
        self.source = source
        if source is None:
            self.header.setText("Select a layer to read the code of its class.")
            self.code.setPlainText("")
            return
        paper = (f" · from <a href='{html.escape(source.url, quote=True)}'>{html.escape(source.paper)}</a>"
                 if source.paper else "")
        self.header.setText(f"<b>{html.escape(source.layer or 'the model')}</b> is a "
                            f"<code>{html.escape(source.class_name)}</code>, defined in "
                            f"<code>{html.escape(source.where)}</code>{paper}")
        self.code.setPlainText(source.text)
