"""Classify a folder: a table of every file (thumbnail, file, top-1, confidence, top-5, the true class
when the folder names it, or why the file could not be used), filled in batches while the job runs,
sortable, with Cancel, Export CSV and a double-click that opens the image in the explorer. Rows come
from ``core.predict.predict_files`` through the classify controller; the model holds 5,000 rows easily
(thumbnails become pixmaps only when drawn)."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QProgressBar,
                               QPushButton, QTableView, QVBoxLayout, QWidget)

from workbench.core.errors import counted

from .drop_zone import IMAGE_FILTER, photo_to_pixmap
from .text import plain

COLUMNS = ("File", "Top-1", "Confidence", "True class", "Top-5", "Problem")


class PredictionTable(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list = []  # core.predict.Prediction
        self._pixmaps: dict[int, object] = {}

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        r = self.rows[index.row()]
        col = index.column()
        top1, p1 = r.top[0] if r.top else ("", None)
        if role == Qt.ItemDataRole.DisplayRole:
            return (Path(r.path).name, top1 or ("unusable" if r.error else ""), f"{p1:.1%}" if p1 is not None else "",
                    r.truth or "", ", ".join(f"{c} {p:.0%}" for c, p in r.top), r.error or "")[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            return r.path if col == 0 else r.error if r.error and col in (1, 5) else None
        if role == Qt.ItemDataRole.DecorationRole and col == 0 and r.thumbnail is not None:
            if id(r) not in self._pixmaps:  # made when first drawn: 5,000 rows hold no 5,000 pixmaps up front
                self._pixmaps[id(r)] = photo_to_pixmap(r.thumbnail, 40)
            return self._pixmaps[id(r)]
        if role == Qt.ItemDataRole.ForegroundRole and col == 1 and (r.error or (r.truth and top1)):
            return Qt.GlobalColor.darkGreen if top1 and top1 == r.truth else Qt.GlobalColor.darkRed
        return None

    @staticmethod
    def key(r, column: int):
        top1, p1 = r.top[0] if r.top else ("", None)
        return (Path(r.path).name.lower(), top1, p1 if p1 is not None else -1.0, r.truth or "", top1,
                r.error or "")[column]

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        """One Python sort of the rows (a proxy asking ``data`` for each comparison took 300 ms for 5,000)."""
        if not 0 <= column < len(COLUMNS):
            return
        self.layoutAboutToBeChanged.emit()
        self.rows.sort(key=lambda r: self.key(r, column), reverse=order == Qt.SortOrder.DescendingOrder)
        self.layoutChanged.emit()

    def add(self, predictions: list) -> None:
        if not predictions:
            return
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(predictions) - 1)
        self.rows.extend(predictions)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self.rows, self._pixmaps = [], {}
        self.endResetModel()


class ClassifyView(QWidget):
    filesChosen = Signal(list)
    cancelRequested = Signal()
    imageOpened = Signal(str)
    exported = Signal(str)
    failed = Signal(str)  # a message for the error banner (a CSV that could not be written)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("classifyView")
        self.model = PredictionTable(self)
        self.table = QTableView(objectName="classifyTable")
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(44)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((150, 80, 80, 80, 170)):
            self.table.setColumnWidth(column, width)
        self.table.setMinimumWidth(200)
        self.table.doubleClicked.connect(self._open)
        self.files_button = QPushButton("Choose images…", objectName="classifyFilesButton")
        self.folder_button = QPushButton("Choose a folder…", objectName="classifyFolderButton")
        self.cancel_button = QPushButton("Cancel", objectName="classifyCancelButton", enabled=False)
        self.export_button = QPushButton("Export CSV…", objectName="classifyExportButton", enabled=False)
        self.progress = QProgressBar(objectName="classifyProgress", visible=False)
        self.summary = plain(QLabel("Drop several images or a folder on the drop zone, or choose them here. "
                                    "A folder with one sub-folder per class gives each image its true class.",
                                    objectName="classifySummary", wordWrap=True))
        choose, run = QHBoxLayout(), QHBoxLayout()  # two rows: the tab fits an 800-pixel window
        for button in (self.files_button, self.folder_button):
            choose.addWidget(button)
        choose.addStretch(1)
        for button in (self.cancel_button, self.export_button):
            run.addWidget(button)
        run.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(choose)
        layout.addLayout(run)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        self.files_button.clicked.connect(self._choose_files)
        self.folder_button.clicked.connect(self._choose_folder)
        self.cancel_button.clicked.connect(self.cancelRequested.emit)
        self.export_button.clicked.connect(self._ask_export)
        self.note = ""

    def _choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Classify images", "", IMAGE_FILTER)
        if paths:
            self.filesChosen.emit(paths)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Classify every image in a folder")
        if path:
            self.filesChosen.emit([path])

    def _open(self, index) -> None:
        prediction = self.model.rows[index.row()]
        if prediction.top:
            self.imageOpened.emit(prediction.path)

    # -- what the controller tells it ----------------------------------------------------------------
    def started(self, what: str, note: str) -> None:
        self.model.clear()
        self.note = note
        self.table.setSortingEnabled(False)  # rows keep their order while they arrive
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.setEnabled(True)
        self.export_button.setEnabled(False)
        self.summary.setText(f"Classifying {what} with the model on show {note}…")

    def add_rows(self, predictions: list) -> None:
        self.model.add(predictions)

    def show_progress(self, done: int, total: int, name: str) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done:,} of {total:,}")

    def finished(self, cancelled: bool = False) -> None:
        self.progress.hide()
        self.cancel_button.setEnabled(False)
        self.export_button.setEnabled(bool(self.model.rows))
        self.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        rows = self.model.rows
        good = [r for r in rows if r.top]
        bad = len(rows) - len(good)
        judged = [r for r in good if r.truth]
        right = sum(r.top[0][0] == r.truth for r in judged)
        parts = [f"{counted(len(good), 'image')} classified {self.note}".strip()]
        if bad:
            parts.append(f"{counted(bad, 'file')} could not be used (see Problem)")
        if judged:
            parts.append(f"top-1 right on {right} of the {len(judged)} whose folder names the class "
                         f"({right / len(judged):.1%})")
        if cancelled:
            parts.append("cancelled: the rest were not classified")
        self.summary.setText("; ".join(parts) + ".")

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the predictions", "predictions.csv", "CSV (*.csv)")
        if path:
            try:
                self.export_csv(path)
            except OSError as exc:  # a folder without write access, a full disk: said, nothing lost
                self.failed.emit(f"Could not write {path}: {exc.strerror or exc}")

    def export_csv(self, path: str) -> None:
        """One row per file, in the table's order: path, true class, top-1, confidence, top-5, problem."""
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "true_class", "top1", "confidence", "top5", "problem"])
            for r in self.model.rows:
                top1, p1 = r.top[0] if r.top else ("", None)
                writer.writerow([r.path, r.truth or "", top1, f"{p1:.6f}" if p1 is not None else "",
                                 "; ".join(f"{c} {p:.6f}" for c, p in r.top), r.error or ""])
        self.exported.emit(path)
