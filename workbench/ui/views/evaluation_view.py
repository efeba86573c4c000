"""How the best checkpoint does on the test set: accuracy, a confusion matrix whose cells
open the images behind them, per-class precision and recall, and the most confidently wrong
images. It shows a run's ``test_eval.json`` as the engine wrote it."""

from __future__ import annotations

import html
from typing import Callable

import torch
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .inspector import tensor_to_pixmap
from .text import rich, tip

MAX_THUMBNAILS = 120
ImageSource = Callable[[int], "torch.Tensor"]


def _thumbnail_list(name: str) -> QListWidget:
    view = QListWidget(objectName=name)
    view.setViewMode(QListView.ViewMode.IconMode)
    view.setIconSize(QSize(64, 64))
    view.setResizeMode(QListView.ResizeMode.Adjust)
    view.setMovement(QListView.Movement.Static)
    view.setSpacing(4)
    view.setWordWrap(True)
    view.setMinimumHeight(110)
    return view


class ConfusionMatrixView(QTableWidget):
    """Rows are the true classes, columns the predicted ones; a cell's shade is its share of the row."""

    cellChosen = Signal(int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("confusionMatrixView")
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.setToolTip("Rows: true class. Columns: predicted class. Click a cell to see its images.")
        self.matrix: list[list[int]] = []
        self.cellClicked.connect(self.cellChosen)

    def show_matrix(self, classes: list[str], matrix: list[list[int]]) -> None:
        self.matrix = matrix
        n = len(classes)
        self.setRowCount(n)
        self.setColumnCount(n)
        short = [c if len(c) <= 12 else c[:11] + "…" for c in classes]
        self.setHorizontalHeaderLabels([f"→ {c}" for c in short])
        self.setVerticalHeaderLabels(short)
        for t in range(n):
            total = max(1, sum(matrix[t]))
            for p in range(n):
                count = matrix[t][p]
                item = QTableWidgetItem(str(count))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                share = count / total
                base = (31, 119, 180) if t == p else (214, 39, 40)
                alpha = int(255 * min(1.0, share * (1.0 if t == p else 3.0))) if count else 0
                item.setBackground(QBrush(QColor(*base, alpha)))
                if alpha > 150:
                    item.setForeground(QBrush(QColor("white")))
                item.setToolTip(tip(f"{count} image(s) of {classes[t]} predicted as {classes[p]} ({share:.1%} of the row)"))
                self.setItem(t, p, item)

    def total(self) -> int:
        return sum(map(sum, self.matrix))


class EvaluationView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("evaluationView")
        self.header = rich(QLabel("Train a model, or open a run in the Runs tab, to see how it does on the test set.",
                                  objectName="evaluationSummary", wordWrap=True))
        self.matrix = ConfusionMatrixView()
        self.per_class = QTableWidget(0, 4, objectName="perClassTable")
        self.per_class.setHorizontalHeaderLabels(["class", "images", "precision", "recall"])
        self.per_class.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.per_class.setMinimumWidth(260)
        self.per_class.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.per_class.verticalHeader().setVisible(False)
        self.cell_caption = rich(QLabel("Click a cell of the matrix to see the images behind it.",
                                        objectName="cellCaption", wordWrap=True))
        self.cell_images = _thumbnail_list("cellImagesList")
        self.mistakes_caption = rich(QLabel("<b>Most confidently wrong</b>"))
        self.mistakes = _thumbnail_list("mistakesGallery")

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.matrix)
        top.addWidget(self.per_class)
        top.setSizes([460, 320])
        cell_box, mistakes_box = QWidget(), QWidget()
        cell_layout = QVBoxLayout(cell_box)
        cell_layout.setContentsMargins(0, 0, 0, 0)
        cell_layout.addWidget(self.cell_caption)
        cell_layout.addWidget(self.cell_images, 1)
        mistakes_layout = QVBoxLayout(mistakes_box)
        mistakes_layout.setContentsMargins(0, 0, 0, 0)
        mistakes_layout.addWidget(self.mistakes_caption)
        mistakes_layout.addWidget(self.mistakes, 1)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(top)
        body.addWidget(cell_box)
        body.addWidget(mistakes_box)
        body.setSizes([380, 150, 150])
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(body, 1)
        self.report: dict = {}
        self.images: ImageSource | None = None
        self.matrix.cellChosen.connect(self.show_cell)

    def clear(self, message: str) -> None:
        self.report, self.images = {}, None
        self.header.setText(message)
        self.matrix.setRowCount(0)
        self.matrix.setColumnCount(0)
        self.matrix.matrix = []
        self.per_class.setRowCount(0)
        self.cell_images.clear()
        self.mistakes.clear()

    def show_run(self, run_dir: str, report: dict, images=None, note: str = "") -> None:
        """A run's test report, or why it has none."""
        name = run_dir.rstrip("/").rsplit("/", 1)[-1]
        if report:
            self.show_report(report, name, images, note)
        else:
            self.clear(f"{name} has no test report (it was stopped before the end, or it is still training).")

    def show_report(self, report: dict, title: str, images: ImageSource | None = None, note: str = "") -> None:
        """``images(index)`` gives the test image behind a dataset index (``C×H×W`` in [0, 1]),
        or is ``None`` when the set is not on this machine (the lists then show names only)."""
        self.report, self.images = report, images
        classes = report["classes"]
        line = (f"<b>{html.escape(title)}</b>: test accuracy <b>{report['accuracy']:.4f}</b> on "
                f"{report['images']:,} images with {_checkpoint_words(report)}")
        if report.get("top5_accuracy") is not None:
            line += f" (top-5 {report['top5_accuracy']:.4f})"
        self.header.setText(line + (f"<br><span style='color:#555'>{html.escape(note)}</span>" if note else ""))
        self.matrix.show_matrix(classes, report["matrix"])
        self.per_class.setRowCount(len(classes))
        for row, entry in enumerate(report["per_class"]):
            values = [entry["class"], str(entry["support"]), _fraction(entry["precision"]), _fraction(entry["recall"])]
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.per_class.setItem(row, col, item)
        self.cell_images.clear()
        self.cell_caption.setText("Click a cell of the matrix to see the images behind it.")
        self.mistakes.clear()
        for entry in report.get("most_confident_mistakes", []):
            text = f"{entry['true']} → {entry['predicted']}\n{entry['confidence']:.0%}"
            self._add_thumbnail(self.mistakes, entry["index"], text, entry.get("file"))
        self.mistakes_caption.setText(f"<b>Most confidently wrong</b> ({self.mistakes.count()} shown)")

    def show_cell(self, true: int, predicted: int) -> None:
        if not self.report:
            return
        classes = self.report["classes"]
        indices = self.report["cells"][true][predicted]
        files = self.report.get("files")
        self.cell_images.clear()
        for index in indices[:MAX_THUMBNAILS]:
            file = files[index] if files and index < len(files) else None
            self._add_thumbnail(self.cell_images, index, file.rsplit("/", 1)[-1] if file else f"#{index}", file)
        more = f" (first {MAX_THUMBNAILS} shown)" if len(indices) > MAX_THUMBNAILS else ""
        self.cell_caption.setText(f"<b>{len(indices)}</b> image(s) of <b>{html.escape(classes[true])}</b> predicted "
                                  f"as <b>{html.escape(classes[predicted])}</b>{more}")

    def cell_indices(self) -> list[int]:
        return [item.data(Qt.ItemDataRole.UserRole) for item in
                (self.cell_images.item(i) for i in range(self.cell_images.count()))]

    def _add_thumbnail(self, view: QListWidget, index: int, text: str, file: str | None) -> None:
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, index)
        item.setToolTip(tip(file or f"test image {index}"))
        if self.images is not None:
            try:
                image = self.images(index)
                item.setIcon(QIcon(tensor_to_pixmap(image, 64)))
            except Exception as exc:  # noqa: BLE001 - a missing image leaves a text entry, not a crash
                item.setToolTip(tip(f"{file or f'test image {index}'}: {exc}"))
        view.addItem(item)


def _checkpoint_words(report: dict) -> str:
    """Which weights the report is of: training's own test uses the best checkpoint."""
    name = report.get("checkpoint", "best.pt")
    epoch = f" (epoch {report['epoch']})" if report.get("epoch") else ""
    return ("the best checkpoint" if name == "best.pt" else name) + epoch


def _fraction(value) -> str:
    return "–" if value is None else f"{value:.3f}"
