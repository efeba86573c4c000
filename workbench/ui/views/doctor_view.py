"""The doctor view, beside the health report: what the dataset doctor found in the folder (thumbnail, file,
finding, given and suggested class, how sure, the evidence), the one-click fixes and their undo, and the
embedding map of the features with the suspects marked. It renders what it is given and asks for the rest."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QGridLayout, QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton,
                               QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from workbench.core.doctor.report import KINDS

from .drop_zone import photo_to_pixmap
from .embedding_map import EmbeddingMap
from .text import plain, tip

COLUMNS = ("", "File", "Finding", "Given", "Suggested", "Sure", "Evidence")


class DoctorView(QWidget):
    examineRequested = Signal()
    cancelRequested = Signal()
    fixRequested = Signal(list, str)  # findings, action (suggested, move, exclude, keep)
    undoRequested = Signal()
    imageOpened = Signal(str)  # an image's path
    previewWanted = Signal(str)  # the path of the image to show small beside the map

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("doctorView")
        self.examine_button = QPushButton("Examine the folder", objectName="doctorExamineButton")
        self.examine_button.setToolTip("Find label errors, near-duplicates, outliers and images under two classes, "
                                       "through the network of the run on show (or the newest run of this folder)")
        self.network_check = QCheckBox("Train the whole network per fold (slow)", objectName="doctorNetworkCheck")
        self.network_check.setToolTip("Instead of a linear head on the features (seconds), train the run's network "
                                      "from its start five times, each without a fifth of the images (five trainings, "
                                      "again after each fix). Finds what a network that learnt a wrong label hides.")
        self.cancel_button = QPushButton("Cancel", objectName="doctorCancelButton", visible=False)
        self.progress = QProgressBar(objectName="doctorProgress", visible=False)
        self.caption = plain(QLabel("Open an image folder and train a run on it, then examine it here.",
                                    wordWrap=True, objectName="doctorCaption"))
        self.notes = plain(QLabel(wordWrap=True, objectName="doctorNotes", visible=False))
        self.notes.setStyleSheet("color:#8a5a00")
        self.table = QTableWidget(0, len(COLUMNS), objectName="doctorTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)  # the evidence is cut with an ellipsis; its tooltip holds it whole
        self.table.setIconSize(QSize(40, 40))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)  # the kind: short, the evidence gets the room
        header.resizeSection(2, 104)
        self.fix_button = QPushButton("Fix as suggested", objectName="doctorFixButton")
        self.fix_button.setToolTip("A label error moves to the suggested class folder; a duplicate, an outlier or the "
                                   "copy under the wrong class goes to _excluded/ inside the folder. Nothing is deleted.")
        self.move_button = QPushButton("Move to suggested", objectName="doctorMoveButton")
        self.exclude_button = QPushButton("Set aside", objectName="doctorExcludeButton")
        self.exclude_button.setToolTip("Move to _excluded/ inside the folder: no longer a training image, not deleted")
        self.keep_button = QPushButton("Keep, checked", objectName="doctorKeepButton")
        self.keep_button.setToolTip("Leave the file where it is and do not show this finding again")
        self.undo_button = QPushButton("Undo last fix", objectName="doctorUndoButton", enabled=False)
        self.status = plain(QLabel(wordWrap=True, objectName="doctorStatus"))
        self.map = EmbeddingMap()
        self.preview = plain(QLabel(alignment=Qt.AlignmentFlag.AlignCenter, objectName="doctorPreview"))
        self.preview.setMinimumWidth(120)
        self.preview.setWordWrap(True)
        top = QHBoxLayout()
        for w in (self.examine_button, self.progress, self.cancel_button):
            top.addWidget(w)
        top.addStretch(1)
        fixes = QGridLayout()  # two a row: the tab fits beside the set-up pane in an 800×600 window
        for n, w in enumerate((self.fix_button, self.move_button, self.exclude_button, self.keep_button,
                               self.undo_button)):
            fixes.addWidget(w, n // 2, n % 2)
        fixes.setColumnStretch(2, 1)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.caption, self.notes, self.table):
            upper_layout.addWidget(w)
        upper_layout.addLayout(fixes)
        upper_layout.addWidget(self.status)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.map)
        lower.addWidget(self.preview)
        lower.setSizes([420, 160])
        split = QSplitter(Qt.Orientation.Vertical, objectName="doctorSplitter")
        split.addWidget(upper)
        split.addWidget(lower)
        split.setSizes([380, 260])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.network_check)
        layout.addWidget(split, 1)
        self.report = None
        self.examine_button.clicked.connect(self.examineRequested)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.undo_button.clicked.connect(self.undoRequested)
        for button, action in ((self.fix_button, "suggested"), (self.move_button, "move"),
                               (self.exclude_button, "exclude"), (self.keep_button, "keep")):
            button.clicked.connect(lambda _=False, a=action: self._fix(a))
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.cellDoubleClicked.connect(lambda row, _: self._open(self._finding(row).index))
        self.map.pointClicked.connect(self._point_clicked)
        self._selection_changed()

    # -- what the controller gives ----------------------------------------------------------
    def set_folder(self, root: str | None) -> None:
        self.examine_button.setEnabled(bool(root))
        if self.report is not None and self.report.root != root:  # another folder: the last one's findings go
            self.report = None
            self.table.setRowCount(0)
            self.map.show_map(None, [], [], set())
            self.preview.clear()
            self.notes.setVisible(False)
            self.status.clear()
            self._can_undo = False
            self._selection_changed()
        if root and self.report is None:
            self.caption.setText(f"{root}: press Examine to look for mislabelled, duplicated and out-of-place images.")
        elif not root:
            self.caption.setText("Open an image folder and train a run on it, then examine it here.")

    @property
    def method(self) -> str:
        return "network" if self.network_check.isChecked() else "features"

    def busy(self, on: bool) -> None:
        self.progress.setVisible(on)
        self.network_check.setEnabled(not on)
        self.cancel_button.setVisible(on)
        self.examine_button.setEnabled(not on)
        self.undo_button.setEnabled(not on and self._can_undo)
        if on:
            self.progress.setRange(0, 0)
        self._selection_changed()

    _can_undo = False

    def show_progress(self, done: int, total: int, what: str) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"{what} %v/%m" if total > 1 else what)

    def show_report(self, report, thumbnails: dict) -> None:
        self.report = report
        self.caption.setText(report.summary() + (f". Looked through {report.source}." if report.source else "."))
        self.notes.setText("\n".join(report.notices))
        self.notes.setVisible(bool(report.notices))
        self.table.setRowCount(len(report.findings))
        for row, f in enumerate(report.findings):
            icon = QTableWidgetItem()
            if f.index in thumbnails:
                icon.setIcon(QIcon(photo_to_pixmap(thumbnails[f.index], 40)))
            cells = [icon, QTableWidgetItem(f.file), QTableWidgetItem(KINDS[f.kind] + ("" if f.flagged else " (harmless)")),
                     QTableWidgetItem(f.given), QTableWidgetItem(f.suggested or "set aside"),
                     QTableWidgetItem(f"{f.score:.0%}"), QTableWidgetItem(f.evidence)]
            cells[-1].setToolTip(tip(f.evidence))
            cells[1].setToolTip(tip(f.file))
            for col, cell in enumerate(cells):
                self.table.setItem(row, col, cell)
            self.table.setRowHeight(row, 44)
        self.map.show_map(report.embedding, report.labels, report.classes, report.suspects)
        self.preview.clear()
        self._selection_changed()

    def show_preview(self, image) -> None:
        """The chosen image (a small PIL image), or ``None`` when it cannot be read."""
        if image is None:
            self.preview.setText("cannot be shown (moved or changed since the examination?)")
        else:
            self.preview.setPixmap(photo_to_pixmap(image, 160))

    def show_failure(self, message: str) -> None:
        self.notes.setText(message or "Examination cancelled.")
        self.notes.setVisible(True)

    def show_fixed(self, text: str, can_undo: bool) -> None:
        self.status.setText(text)
        self._can_undo = can_undo
        self.undo_button.setEnabled(can_undo)

    # -- what the user does ------------------------------------------------------------------
    def _finding(self, row: int):
        return self.report.findings[row]

    def selected(self) -> list:
        if self.report is None:
            return []
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self._finding(r) for r in rows if r < len(self.report.findings)]

    def _selection_changed(self) -> None:
        chosen = self.selected()
        for b in (self.fix_button, self.exclude_button, self.keep_button):
            b.setEnabled(bool(chosen) and not self.progress.isVisible())
        self.move_button.setEnabled(bool(chosen) and all(f.suggested and f.suggested != f.given for f in chosen)
                                    and not self.progress.isVisible())
        if len(chosen) == 1:
            self._preview(chosen[0].index)

    def _fix(self, action: str) -> None:
        chosen = self.selected()
        if chosen:
            self.fixRequested.emit(chosen, action)

    def _point_clicked(self, index: int) -> None:
        if self.report is None:
            return
        rows = [r for r, f in enumerate(self.report.findings) if f.index == index]
        if rows:
            self.table.selectRow(rows[0])
        self._open(index)

    def _open(self, index: int) -> None:
        self._preview(index)
        self.imageOpened.emit(str(_path(self.report, index)))

    def _preview(self, index: int) -> None:
        self.previewWanted.emit(str(_path(self.report, index)))  # decoded off the UI thread: a photo can be large
        cls = self.report.classes[self.report.labels[index]]
        self.preview.setToolTip(tip(f"{self.report.files[index]} ({cls}, {self.report.splits[index]})"))


def _path(report, index: int):
    from pathlib import Path

    return Path(report.root) / report.files[index]
