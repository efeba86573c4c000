"""The convolution step by step (``convStepView``): for the output value clicked in the enlarged channel, the
input patch of one feeding channel at a time, the kernel and their products as numbers, the sums, the bias and
the layers after it, ending at the network's own value; the unit's theoretical receptive field drawn on the
input and its effective field beside it. ◀ ▶ step across the output, Play sweeps it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QPushButton, QSpinBox, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from .plotting import pg
from .text import plain

SWEEP_MS = 400


def _grid(name: str) -> QTableWidget:
    table = QTableWidget(0, 0, objectName=name)
    table.horizontalHeader().setVisible(False)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setStyleSheet("QTableWidget { font-size: 8pt; }")  # an 11×11 kernel (AlexNet's conv1) fits a pane
    table.horizontalHeader().setMinimumSectionSize(8)
    table.verticalHeader().setMinimumSectionSize(8)
    table.setMinimumHeight(60)
    return table


class ConvStepView(QWidget):
    stepRequested = Signal(int, int, int)  # channel, row, col of the same layer

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("convStepView")
        self.caption = plain(QLabel("Enlarge a channel in Maps (click a tile), then click a pixel of it: its value is "
                                    "computed here step by step.", wordWrap=True, objectName="convStepCaption"))
        self.input_spin = QSpinBox(objectName="convStepInputSpin")
        self.input_spin.setToolTip("Which of the input maps that feed this value to show")
        self.input_spin.valueChanged.connect(self._show_input)
        self.back_button = QPushButton("◀", objectName="convStepBack")
        self.next_button = QPushButton("▶", objectName="convStepNext")
        self.play_button = QPushButton("Play", objectName="convStepPlay", checkable=True)
        self.play_button.setToolTip("Sweep the kernel across the output, one value every 0.4 s")
        row = QHBoxLayout()
        row.addWidget(QLabel("input map"))
        row.addWidget(self.input_spin)
        row.addStretch(1)
        for b in (self.back_button, self.next_button, self.play_button):
            row.addWidget(b)
        self.patch, self.kernel, self.products = _grid("convStepPatch"), _grid("convStepKernel"), _grid("convStepProducts")
        grids = QHBoxLayout()
        for title, table in (("input patch", self.patch), ("× kernel", self.kernel), ("= products", self.products)):
            box = QVBoxLayout()
            box.addWidget(QLabel(title))
            box.addWidget(table)
            grids.addLayout(box)
        self.sums = plain(QLabel(wordWrap=True, objectName="convStepSum"))
        self.field_label = plain(QLabel(wordWrap=True, objectName="receptiveFieldLabel"))
        self.fields = pg.GraphicsLayoutWidget()
        self.fields.setObjectName("receptiveFieldView")
        self.fields.setMinimumHeight(110)
        self.picture_box = self.fields.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.heat_box = self.fields.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.picture, self.heat = pg.ImageItem(), pg.ImageItem()
        self.picture_box.addItem(self.picture)
        self.heat_box.addItem(self.heat)
        self.rect = pg.QtWidgets.QGraphicsRectItem()
        self.rect.setPen(pg.mkPen("#ff3030", width=2))
        self.picture_box.addItem(self.rect)
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addLayout(row)
        layout.addLayout(grids, 2)
        layout.addWidget(self.sums)
        layout.addWidget(self.field_label)
        layout.addWidget(self.fields, 1)
        self.result = None
        self.timer = QTimer(self, interval=SWEEP_MS)
        self.timer.timeout.connect(lambda: self._move(1))
        self.play_button.toggled.connect(lambda on: self.timer.start() if on else self.timer.stop())
        self.back_button.clicked.connect(lambda: self._move(-1))
        self.next_button.clicked.connect(lambda: self._move(1))
        self._enable(False)

    def _enable(self, on: bool) -> None:
        for w in (self.input_spin, self.back_button, self.next_button, self.play_button):
            w.setEnabled(on)

    def _move(self, by: int) -> None:
        if self.result is None:
            return
        step, (h, w) = self.result["step"], self.result["out_size"]
        n = (step.row * w + step.col + by) % (h * w)
        self.stepRequested.emit(step.channel, n // w, n % w)

    def show_step(self, result: dict) -> None:
        step = result["step"]
        self.result = result
        s = step
        where = (f"stride {s.stride[0]}, padding {s.padding[0]}" + (f", dilation {s.dilation[0]}" if s.dilation[0] > 1 else "")
                 + (f", {s.groups} groups" if s.groups > 1 else ""))
        self.caption.setText(f"{s.layer}: output channel {s.channel} at row {s.row}, column {s.col} — a {s.kind} "
                             f"of {s.patch.shape[1]}×{s.patch.shape[2]} over {len(s.inputs)} input "
                             f"{'map' if len(s.inputs) == 1 else 'maps'} ({where})"
                             + (f". {result['note']}" if result.get("note") else ""))
        self.input_spin.blockSignals(True)
        self.input_spin.setRange(0, len(s.inputs) - 1)
        self.input_spin.setValue(min(self.input_spin.value(), len(s.inputs) - 1))
        self.input_spin.blockSignals(False)
        self._show_input()
        lines = []
        if s.kind == "convolution":
            lines.append(f"Σ of the {s.products.numel()} products over {len(s.inputs)} "
                         f"{'map' if len(s.inputs) == 1 else 'maps'} = {s.total:.6g}; + bias {s.bias:.6g} = {s.value:.6g}")
        elif s.kind == "max pooling":
            lines.append(f"the largest of the window = {s.value:.6g}")
        elif s.kind == "subsampling":
            lines.append(f"Σ of the window = {s.total:.6g}; × coefficient, + bias = {s.value:.6g}")
        else:
            lines.append(f"Σ of the window = {s.total:.6g}; mean = {s.value:.6g}")
        for st in s.steps:
            lines.append(f"then {st.name}: {st.what}")
        same = abs(s.final - (s.steps[-1].recorded if s.steps else s.recorded)) <= 1e-4 * max(1.0, abs(s.final))
        lines.append(f"= {s.final:.6g}; the network computed {(s.steps[-1].recorded if s.steps else s.recorded):.6g}"
                     + (" ✓" if same else " ✗"))
        self.sums.setText("\n".join(lines))
        field = result["field"]
        self.field_label.setText(f"Theoretical receptive field {field.size[0]}×{field.size[1]} px, stride "
                                 f"{field.stride[0]:g} (red, on the input); effective field: how much each input "
                                 f"pixel moves this value (right)")
        self._draw_fields(result)
        self._enable(True)

    def _show_input(self) -> None:
        if self.result is None:
            return
        s = self.result["step"]
        i = self.input_spin.value()
        H, W = s.in_size
        outside = np.array([[not (0 <= r < H and 0 <= c < W) for c in s.cols] for r in s.rows])
        self._fill(self.patch, s.patch[i].numpy(), outside)
        if s.kernel is not None:
            self._fill(self.kernel, s.kernel[i].numpy())
            self._fill(self.products, s.products[i].numpy())
        else:
            for t in (self.kernel, self.products):
                t.setRowCount(0)
                t.setColumnCount(0)

    @staticmethod
    def _fill(table: QTableWidget, values: np.ndarray, padding: np.ndarray | None = None) -> None:
        """The numbers of a grid; the cells in the padding greyed (and for max pooling, −∞)."""
        table.setRowCount(values.shape[0])
        table.setColumnCount(values.shape[1])
        table.setMinimumHeight(min(values.shape[0], 7) * 17 + 8)  # a 7×7 kernel whole, larger ones scroll
        for r in range(values.shape[0]):
            for c in range(values.shape[1]):
                v = float(values[r, c])
                item = QTableWidgetItem("−∞" if v == float("-inf") else f"{v:.3g}")
                if padding is not None and padding[r, c]:
                    item.setBackground(QColor("#dddddd"))
                    item.setToolTip("padding: outside the input map")
                table.setItem(r, c, item)

    def _draw_fields(self, result: dict) -> None:
        image = result["image"]
        picture = image.clamp(0, 1)
        if picture.shape[0] == 3:
            self.picture.setImage(picture.permute(1, 2, 0).numpy(), levels=(0, 1))
        else:
            self.picture.setImage(picture[0].numpy(), levels=(0, 1))
        heat = result["heat"].numpy()
        H, W = heat.shape
        h, w = picture.shape[1:]
        top, left, bottom, right = result["box"]
        sy, sx = h / H, w / W  # the field is in the network's input pixels; the picture is the dataset's
        self.rect.setRect(left * sx, top * sy, (right - left) * sx, (bottom - top) * sy)
        self.heat.setImage(heat, levels=(0, 1))
        self.picture_box.autoRange(padding=0.02)
        self.heat_box.autoRange(padding=0.02)

    def clear(self) -> None:
        self.result = None
        self.play_button.setChecked(False)
        self._enable(False)
