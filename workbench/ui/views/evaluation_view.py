"""How the best checkpoint does on the test set: accuracy, a confusion matrix whose cells
open the images behind them, per-class precision and recall, and the most confidently wrong
images. It shows a run's ``test_eval.json`` as the engine wrote it."""

from __future__ import annotations

import html
from typing import Callable

import torch
from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import counted

from .drop_zone import photo_to_pixmap, tensor_to_pixmap
from .text import plain, rich, tip

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


HEADER_TEXT = 110
"""The most pixels a class name takes in the matrix's headers; a longer one is elided (its tooltip has it whole)."""


class RotatedHeader(QHeaderView):
    """Column headers written upwards, so a name as long as "chelsea" fits a narrow column; elided past
    ``HEADER_TEXT`` pixels, the whole name in the tooltip."""

    def __init__(self, parent=None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

    def text_width(self) -> int:
        model, metrics = self.model(), self.fontMetrics()
        widths = [metrics.horizontalAdvance(str(model.headerData(i, Qt.Orientation.Horizontal)))
                  for i in range(self.count())] if model is not None else []
        return min(HEADER_TEXT, max(widths, default=0))

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), self.text_width() + 12)

    def paintSection(self, painter: QPainter, rect: QRect, index: int) -> None:
        painter.save()
        super().paintSection(painter, rect, -1)  # the section's frame, without its text
        painter.restore()
        text = str(self.model().headerData(index, Qt.Orientation.Horizontal))
        shown = self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, HEADER_TEXT)
        painter.save()
        painter.translate(rect.center().x() + self.fontMetrics().ascent() / 2 - 2, rect.bottom() - 6)
        painter.rotate(-90)
        painter.drawText(0, 0, shown)
        painter.restore()


class _FramedSelection(QStyledItemDelegate):
    """Paints a chosen cell as it is, in its own colour, and frames it."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        chosen = bool(option.state & QStyle.StateFlag.State_Selected)
        plain = QStyleOptionViewItem(option)
        plain.state &= ~QStyle.StateFlag.State_Selected
        plain.state &= ~QStyle.StateFlag.State_HasFocus
        super().paint(painter, plain, index)
        if chosen:
            painter.save()
            painter.setPen(QPen(QColor("#222222"), 3))
            painter.drawRect(option.rect.adjusted(1, 1, -2, -2))
            painter.restore()


class ConfusionMatrixView(QTableWidget):
    """Rows are the true classes, columns the predicted ones; a cell's shade is its share of the row.
    The chosen cell gets a dark frame and keeps its own colour (the highlight would paint it in the
    diagonal's blue); a new matrix starts with nothing chosen."""

    cellChosen = Signal(int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("confusionMatrixView")
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalHeader(RotatedHeader(self))
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setMaximumWidth(HEADER_TEXT + 12)
        self.verticalHeader().setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setItemDelegate(_FramedSelection(self))
        palette = self.palette()  # the row's highlight is painted under the cell too (PE_PanelItemViewRow)
        palette.setColor(QPalette.ColorRole.Highlight, QColor(0, 0, 0, 0))
        self.setPalette(palette)
        self.setToolTip("Rows: true class. Columns: predicted class. Click a cell to see its images.")
        self.matrix: list[list[int]] = []
        self.cellClicked.connect(self.cellChosen)

    def show_matrix(self, classes: list[str], matrix: list[list[int]]) -> None:
        self.matrix = matrix
        n = len(classes)
        self.clearSelection()
        self.setRowCount(n)
        self.setColumnCount(n)
        for i, name in enumerate(classes):
            for orientation in ("Horizontal", "Vertical"):
                item = QTableWidgetItem(name)
                item.setToolTip(tip(f"{'predicted' if orientation == 'Horizontal' else 'true'} class: {name}"))
                (self.setHorizontalHeaderItem if orientation == "Horizontal" else self.setVerticalHeaderItem)(i, item)
        self.horizontalHeader().updateGeometry()
        self.setCurrentCell(-1, -1)
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
                item.setToolTip(tip(f"{counted(count, 'image')} of {classes[t]} predicted as {classes[p]} ({share:.1%} of the row)"))
                self.setItem(t, p, item)

    def total(self) -> int:
        return sum(map(sum, self.matrix))


class EvaluationView(QWidget):
    """``imageOpened(image, caption)``: a thumbnail double-clicked, for the explorer to classify and show."""

    imageOpened = Signal(object, str)
    mapsWanted = Signal(str, str, object, object)  # gallery, run folder, [(index, true, predicted)], images

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("evaluationView")
        self.header = rich(QLabel("Train a model, or open a run in the Runs tab, to see how it does on the test set.",
                                  objectName="evaluationSummary", wordWrap=True))
        self.paper = plain(QLabel(objectName="paperComparison", wordWrap=True, visible=False))
        self.paper.setStyleSheet("QLabel { background: #f4f1e8; border: 1px solid #d8d0b8; padding: 4px; }")
        self.matrix = ConfusionMatrixView()
        self.per_class = QTableWidget(0, 4, objectName="perClassTable")
        self.per_class.setHorizontalHeaderLabels(["class", "images", "precision", "recall"])
        self.per_class.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.per_class.setMinimumWidth(200)
        self.per_class.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.per_class.verticalHeader().setVisible(False)
        self.cell_caption = rich(QLabel("Click a cell of the matrix to see the images behind it.",
                                        objectName="cellCaption", wordWrap=True))
        self.cell_images = _thumbnail_list("cellImagesList")
        self.mistakes_caption = rich(QLabel("<b>Most confidently wrong</b>", wordWrap=True))
        self.mistakes = _thumbnail_list("mistakesGallery")

        matrix_box = QWidget(objectName="confusionMatrixBox")  # the matrix with its axis titles
        grid = QGridLayout(matrix_box)
        grid.setContentsMargins(0, 0, 0, 0)
        self.predicted_title = plain(QLabel("predicted class →", objectName="predictedAxisTitle"))
        self.true_title = plain(QLabel("true\nclass\n↓", objectName="trueAxisTitle"))
        self.predicted_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.true_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(self.predicted_title, 0, 1)
        grid.addWidget(self.true_title, 1, 0)
        grid.addWidget(self.matrix, 1, 1)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(matrix_box)
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
        layout.addWidget(self.paper)
        layout.addWidget(body, 1)
        self.report: dict = {}
        self.images: ImageSource | None = None
        self.run_dir = ""
        self.matrix.cellChosen.connect(self.show_cell)
        for view in (self.cell_images, self.mistakes):
            view.itemDoubleClicked.connect(self._open)

    def clear(self, message: str) -> None:
        self.report, self.images = {}, None
        self.header.setText(message)
        self.paper.setVisible(False)
        self.matrix.setRowCount(0)
        self.matrix.setColumnCount(0)
        self.matrix.matrix = []
        self.per_class.setRowCount(0)
        self.cell_images.clear()
        self.mistakes.clear()

    def show_run(self, run_dir: str, report: dict, images=None, note: str = "") -> None:
        """A run's test report, or why it has none."""
        name = run_dir.rstrip("/").rsplit("/", 1)[-1]
        self.run_dir = run_dir
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
        paper = report.get("paper")  # workbench.core.papers.Comparison, where a paper reports this network and set
        self.paper.setText(paper.text() if paper is not None else "")
        self.paper.setVisible(paper is not None)
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
        self.mistakes.setIconSize(QSize(64, 64))
        for entry in report.get("most_confident_mistakes", []):
            text = f"{entry['true']} → {entry['predicted']}\n{entry['confidence']:.0%}"
            self._add_thumbnail(self.mistakes, entry["index"], text, entry.get("file"))
        self.mistakes_caption.setText(f"<b>Most confidently wrong</b> ({self.mistakes.count()} shown)")
        index = {name: i for i, name in enumerate(classes)}
        self._want_maps("mistakes", [(e["index"], index[e["true"]], index[e["predicted"]])
                                     for e in report.get("most_confident_mistakes", [])])

    def _want_maps(self, gallery: str, entries: list) -> None:
        """Ask for each image's Grad-CAM for its predicted and its true class (the run's best weights)."""
        if entries and self.images is not None and self.run_dir:
            self.mapsWanted.emit(gallery, self.run_dir, entries, self.images)

    def show_gallery_maps(self, gallery: str, sheets: dict) -> None:
        """Each image beside its Grad-CAM for the predicted class and for the true class."""
        view = self.mistakes if gallery == "mistakes" else self.cell_images
        view.setIconSize(QSize(196, 64))
        for i in range(view.count()):
            item = view.item(i)
            sheet = sheets.get(item.data(Qt.ItemDataRole.UserRole))
            if sheet is not None:
                item.setIcon(QIcon(photo_to_pixmap(sheet, 196)))
        caption = self.mistakes_caption if gallery == "mistakes" else self.cell_caption
        if "Grad-CAM" not in caption.text():
            caption.setText(caption.text() + " — each image, its Grad-CAM for the predicted class, then for the "
                                              "true class")

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
        self.cell_caption.setText(f"<b>{len(indices)}</b> {'image' if len(indices) == 1 else 'images'} of <b>{html.escape(classes[true])}</b> predicted "
                                  f"as <b>{html.escape(classes[predicted])}</b>{more}")
        self.cell_images.setIconSize(QSize(64, 64))
        self._want_maps("cell", [(index, true, predicted) for index in indices[:MAX_THUMBNAILS]])

    def _open(self, item: QListWidgetItem) -> None:
        if self.images is None:
            return
        index, file = item.data(Qt.ItemDataRole.UserRole), item.data(Qt.ItemDataRole.UserRole + 1)
        try:
            image = self.images(index)
        except Exception:  # noqa: BLE001 - its tooltip says why already
            return
        self.imageOpened.emit(image, file.rsplit("/", 1)[-1] if file else f"test image {index}")

    def cell_indices(self) -> list[int]:
        return [item.data(Qt.ItemDataRole.UserRole) for item in
                (self.cell_images.item(i) for i in range(self.cell_images.count()))]

    def _add_thumbnail(self, view: QListWidget, index: int, text: str, file: str | None) -> None:
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, index)
        item.setData(Qt.ItemDataRole.UserRole + 1, file)
        item.setToolTip(tip(f"{file or f'test image {index}'}\nDouble-click to open it in the explorer"))
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
