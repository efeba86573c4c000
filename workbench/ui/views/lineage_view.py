"""One image through several architectures (``lineageView``): two to four zoo models or runs side by side, a row
per stage (``feature_info``): its first maps, its shape, and the parameters and multiply-adds spent to get
there. It renders ``core.inspect.lineage`` columns; the forward passes run in a job."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QGridLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout,
                               QWidget)

from workbench.core.inspect import human_count
from workbench.core.inspect.activations import tile_page

from .text import plain, rich
from .timelapse_view import array_pixmap, viridis

PICKS = 4
TILE = 120
TUTORIAL = ("lenet5", "vgg11", "resnet18")
"""The lineage the tutorials teach, chosen at first."""


class LineageView(QWidget):
    compareRequested = Signal(object)  # [("model", name) | ("run", run_dir)]
    # The combos hold "model:NAME" or "run:FOLDER" (strings: Qt finds them again by value).

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("lineageView")
        self.caption = rich(QLabel("Choose two to four networks or runs, then <b>Compare</b>: the image on show goes "
                                   "through each, stage by stage.", objectName="lineageCaption", wordWrap=True))
        self.picks = []
        bar = QGridLayout()  # two by two: the view fits an 800-pixel window
        for i in range(PICKS):
            combo = QComboBox(objectName=f"lineagePick{i}")
            combo.setToolTip("A zoo model (untrained, for the dataset on show) or a saved run")
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(9)
            self.picks.append(combo)
            bar.addWidget(combo, i // 2, i % 2)
        self.compare_button = QPushButton("Compare", objectName="lineageCompare")
        self.compare_button.setToolTip("Put the image on show through each chosen network")
        bar.addWidget(self.compare_button, 0, 2)
        bar.setColumnStretch(3, 1)
        self.grid_widget = QWidget(objectName="lineageGrid")
        self.grid = QGridLayout(self.grid_widget)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid_widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addLayout(bar)
        layout.addWidget(scroll, 1)
        self.columns: list = []
        self.compare_button.clicked.connect(lambda: self.compareRequested.emit(self.choices()))

    def set_choices(self, models: list[str], runs: list[tuple[str, str]]) -> None:
        """The zoo's models and the saved runs (name, folder); what was chosen stays chosen."""
        for i, combo in enumerate(self.picks):
            chosen = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("—", None)
            for name in models:
                combo.addItem(name, f"model:{name}")
            for name, folder in runs:
                combo.addItem(f"run {name}", f"run:{folder}")
            default = f"model:{TUTORIAL[i]}" if i < len(TUTORIAL) and TUTORIAL[i] in models else None
            index = combo.findData(chosen if chosen is not None else default)
            combo.setCurrentIndex(max(0, index))
            combo.blockSignals(False)

    def choose(self, *choices) -> None:
        """Pick these (``("model", name)`` or ``("run", folder)``), the rest none."""
        for i, combo in enumerate(self.picks):
            combo.setCurrentIndex(max(0, combo.findData(":".join(choices[i]))) if i < len(choices) else 0)

    def choices(self) -> list:
        """What is chosen, as ``(kind, value)`` pairs."""
        return [tuple(c.currentData().split(":", 1)) for c in self.picks if c.currentData()]

    # -- what it is given ------------------------------------------------------------------------
    def busy(self, text: str) -> None:
        self.caption.setText(html.escape(text))

    def show_columns(self, columns: list, caption: str = "") -> None:
        self.columns = list(columns)
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.caption.setText(html.escape(caption) or "The image on show through each network, stage by stage.")
        for c, column in enumerate(columns):
            top = f"<br>predicts {html.escape(column.top[0][0])} ({column.top[0][1]:.0%})" if column.top else ""
            note = f"<br><span style='color:#8a5a00'>{html.escape(column.note)}</span>" if column.note else ""
            head = rich(QLabel(f"<b>{html.escape(column.title)}</b><br>input {'×'.join(map(str, column.input_shape))}"
                               f"<br>{human_count(column.params)} params · {human_count(column.macs)} MACs{top}{note}",
                               wordWrap=True))
            head.setObjectName(f"lineageHead{c}")
            head.setMinimumWidth(TILE + 20)
            self.grid.addWidget(head, 0, c)
            for r, stage in enumerate(column.stages, start=1):
                self.grid.addWidget(self._stage(stage), r, c)

    def _stage(self, stage) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        picture = plain(QLabel(alignment=Qt.AlignmentFlag.AlignCenter))
        mosaic = tile_page(stage.maps)
        picture.setPixmap(array_pixmap(viridis(mosaic.image.numpy()), TILE))
        picture.setToolTip(f"{stage.module}: its first {stage.maps.shape[0]} channels, each on its own scale")
        shape = "×".join(map(str, stage.shape))
        text = plain(QLabel(f"{stage.module}\n{shape}, 1/{stage.reduction}\n{human_count(stage.params)} params, "
                            f"{human_count(stage.macs)} MACs so far", alignment=Qt.AlignmentFlag.AlignCenter))
        text.setStyleSheet("color: #333; font-size: 8pt;")
        layout.addWidget(picture)
        layout.addWidget(text)
        return box

    def stage_texts(self) -> list[list[str]]:
        """Each column's stages as ``module C×H×W`` (for tests and automation)."""
        return [[f"{s.module} {'×'.join(map(str, s.shape))}" for s in column.stages] for column in self.columns]
