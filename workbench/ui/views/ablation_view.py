"""The knock-out view: switch off a channel of the selected layer, or one incoming branch of the selected
merge (a residual branch, a skip connection, an inception branch), and see the prediction change at once;
the test set's accuracy with it off beside the accuracy with it on, as a job; and, at a merge, each branch's
share of the output's magnitude and of the class evidence."""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QListWidget, QProgressBar,
                               QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from workbench.core.inspect.ablation import KnockOut
from workbench.core.predict import is_merge

from .drop_zone import photo_to_pixmap
from .text import plain, tip


def _mean_map(maps) -> QIcon:
    """A branch's maps as one picture: the mean of their sizes, on the heat scale."""
    from workbench.core.inspect.methods import normalise
    from workbench.core.inspect.overlay import heat_colours

    colours = heat_colours(normalise(maps.abs().mean(0)))
    image = Image.fromarray(colours, "RGB").resize((48, 48), Image.Resampling.NEAREST)
    return QIcon(photo_to_pixmap(image, 48))


class AblationView(QWidget):
    knockRequested = Signal(object)  # a KnockOut
    accuracyRequested = Signal(object)  # a KnockOut
    branchOpened = Signal(str)  # the layer that made a branch: its maps in the Maps tab

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("ablationView")
        self.caption = plain(QLabel("Select a layer or a merge (an addition, a concatenation) in the tree.",
                                    wordWrap=True, objectName="ablationCaption"))
        self.channel_spin = QSpinBox(objectName="knockChannelSpin", minimum=0, maximum=0)
        self.branch_list = QListWidget(objectName="branchList")
        self.branch_list.setMaximumHeight(110)
        self.knock_button = QPushButton("Switch it off", objectName="knockButton")
        self.knock_button.setToolTip("The prediction again, with this channel or branch replaced by zeros")
        self.accuracy_button = QPushButton("Test-set accuracy with it off", objectName="knockAccuracyButton")
        row = QHBoxLayout()
        self.channel_label = QLabel("Channel")
        row.addWidget(self.channel_label)
        row.addWidget(self.channel_spin)
        row.addStretch(1)
        row.addWidget(self.knock_button)
        row.addWidget(self.accuracy_button)
        self.result = plain(QLabel(objectName="knockResult", wordWrap=True))
        self.accuracy = plain(QLabel(objectName="knockAccuracy", wordWrap=True))
        self.progress = QProgressBar(objectName="knockProgress", visible=False)
        self.shares = QTableWidget(0, 3, objectName="branchSharesTable")
        self.shares.setHorizontalHeaderLabels(["branch", "share of the output", "share of the evidence"])
        self.shares.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.shares.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.shares.verticalHeader().setVisible(False)
        self.shares.setIconSize(QSize(48, 48))
        self.shares.setToolTip("Each branch's maps (their mean size); double-click a row to see them all")
        self.shares.cellDoubleClicked.connect(self._open_branch)
        self.branch_layers: list[str] = []
        self.shares_caption = plain(QLabel(wordWrap=True, objectName="sharesCaption"))
        layout = QVBoxLayout(self)
        for widget in (self.caption, self.branch_list):
            layout.addWidget(widget)
        layout.addLayout(row)
        for widget in (self.result, self.progress, self.accuracy, self.shares_caption, self.shares):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.layer: str | None = None
        self.knock_button.clicked.connect(lambda: self._request(self.knockRequested))
        self.accuracy_button.clicked.connect(lambda: self._request(self.accuracyRequested))
        self.show_layer(None, 0, [])

    def current(self) -> KnockOut | None:
        if self.layer is None:
            return None
        if is_merge(self.layer):
            row = self.branch_list.currentRow()
            return KnockOut(self.layer, branch=row) if row >= 0 else None
        return KnockOut(self.layer, channel=self.channel_spin.value())

    def _request(self, signal) -> None:
        knock = self.current()
        if knock is not None:
            signal.emit(knock)

    def show_layer(self, layer: str | None, channels: int, branches: list) -> None:
        """The selected node: a module with ``channels`` channels, or a merge with its ``branches``."""
        self.layer = layer
        merge = is_merge(layer)
        self.branch_list.clear()
        for branch in branches:
            self.branch_list.addItem(branch.words)
        if branches:
            self.branch_list.setCurrentRow(0)
        self.branch_list.setVisible(merge)
        self.channel_spin.setVisible(not merge)
        self.channel_label.setVisible(not merge)
        self.channel_spin.setMaximum(max(0, channels - 1))
        can = layer is not None and (bool(branches) if merge else channels > 0)
        self.knock_button.setEnabled(can)
        self.accuracy_button.setEnabled(can)
        self.result.setText("")
        self.accuracy.setText("")
        self.shares.setRowCount(0)
        self.shares_caption.setText("")
        if layer is None:
            self.caption.setText("Select a layer or a merge (an addition, a concatenation) in the tree.")
        elif merge:
            self.caption.setText(f"{layer} joins {len(branches)} branches: choose one to switch off.")
        else:
            self.caption.setText(f"{layer}: choose a channel to switch off (0 to {max(0, channels - 1)}).")

    def show_knock(self, result: dict) -> None:
        before = ", ".join(f"{c} {p:.1%}" for c, p in result["before"][:3])
        after = ", ".join(f"{c} {p:.1%}" for c, p in result["after"][:3])
        changed = result["before"][0][0] != result["after"][0][0]
        self.result.setText(f"With {result['words']}:\n  as it is: {before}\n  switched off: {after}\n"
                            + ("The prediction changes." if changed else
                               f"The prediction stays {result['class']} (its probability falls by "
                               f"{result['drop']:.1%})."))

    def _open_branch(self, row: int, _column: int) -> None:
        if 0 <= row < len(self.branch_layers):
            self.branchOpened.emit(self.branch_layers[row])

    def show_progress(self, done: int, total: int, what: str) -> None:
        self.progress.setVisible(done < total)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def show_accuracy(self, result: dict) -> None:
        self.progress.setVisible(False)
        self.accuracy.setText(f"Test-set accuracy on {result['images']} images: {result['on']:.1%} as it is, "
                              f"{result['off']:.1%} with {result['words']} ({result['off'] - result['on']:+.1%}).")

    def show_shares(self, shares) -> None:
        if isinstance(shares, str):
            self.shares_caption.setText(shares)
            return
        self.shares.setRowCount(len(shares.branches))
        self.branch_layers = [b.node.split(":")[0].split("#")[0] for b in shares.branches]
        for row, branch in enumerate(shares.branches):
            for col, text in enumerate((branch.words, f"{shares.magnitude[row]:.1%}", f"{shares.evidence[row]:+.1%}")):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setIcon(_mean_map(shares.maps[row]))
                    item.setToolTip(tip(f"{branch.words}: {tuple(shares.maps[row].shape)}; double-click to see its maps"))
                self.shares.setItem(row, col, item)
            self.shares.setRowHeight(row, 52)
        self.shares_caption.setText(
            f"Each branch's share of {shares.merge}'s output (L1 magnitude) and of the evidence for the predicted "
            "class (gradient × activation, signed: negative speaks against it).")
