"""The model's card: family, year, paper, the idea in a sentence, parameters and multiply-adds."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

import models
from workbench.core.inspect import ModelSummary, human_count


class ModelCard(QLabel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("modelCard")
        self.setWordWrap(True)
        self.setOpenExternalLinks(True)
        self.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.setTextFormat(Qt.TextFormat.RichText)

    def follow(self, session) -> None:
        """The session's model, with what its weights are when a run is on show."""
        session.subscribe(lambda names: self.show_model(session.summary, session.note if session.run else "")
                          if {"summary", "note", "run"} & names and session.summary is not None else None)

    def show_model(self, summary: ModelSummary, note: str = "") -> None:
        name = summary.model
        info = models.get_model_info(name)
        c, h, w = summary.input_shape
        self.setText(
            f"<h3 style='margin:0'>{html.escape(name)}</h3>"
            f"<p style='color:#555'>{html.escape(info.family)} · {info.year} · paper input "
            f"{'×'.join(map(str, info.input_size))}<br>"
            f"<a href='{html.escape(info.url)}'>{html.escape(info.paper)}</a></p>"
            f"<p>{html.escape(info.idea)}</p>"
            f"<p><b>{summary.total_params:,}</b> parameters · <b>{human_count(summary.total_macs)}</b> "
            f"multiply-adds at {c}×{h}×{w}<br><span style='color:#555'>Stem: {html.escape(summary.stem_info)}</span></p>"
            + (f"<p style='color:#555'>{html.escape(note)}</p>" if note else "")
        )
