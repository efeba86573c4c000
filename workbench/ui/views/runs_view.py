"""Every run in the run store: its settings and results in a table; open, resume, rename
(edit the name), delete; select several to overlay their curves and compare them; export the
curves as PNG and the metrics as CSV; and the one-click degradation experiment."""

from __future__ import annotations

import html
import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core import papers
from workbench.core.errors import counted, human_duration
from workbench.core.inspect import human_count

from .plotting import pg
from .training_plots import make_plot
from .text import rich, tip

COLUMNS = ["name", "model", "dataset", "status", "epochs", "params", "MACs", "img/s", "best val", "test", "paper",
           "recipe", "start"]
PAPER = COLUMNS.index("paper")
HIDDEN_AT_FIRST = ("dataset", "epochs", "params", "MACs", "img/s", "recipe")
"""Shown when chosen (right-click the header): the rest fits the runs tab of a 1,280-pixel window
(a run's default name already holds its dataset)."""
NAME_WIDTH = 150
"""Run names start with the date and end with the model: longer ones are cut in the middle."""
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]


def _number(value, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def row_values(row: dict) -> list[str]:
    config, summary = row["config"], row["summary"]
    status = summary.get("status") or ("running or interrupted" if row["metrics"] else "not started")
    if row.get("problems"):  # the file names here, the whole story in the tooltip
        files = dict.fromkeys(re.findall(r"\b[\w.-]+\.(?:json|csv|pt)\b", " ".join(row["problems"])))
        status = f"damaged ({', '.join(files) or 'unreadable'})"  # why: in the tooltip
    epochs = summary.get("epochs") or (row["metrics"][-1]["epoch"] if row["metrics"] else 0)
    planned = config.get("epochs")
    dataset = str(config.get("dataset", ""))
    return [
        row["name"], str(config.get("model", "")), dataset.rsplit("/", 1)[-1], status,
        f"{epochs}/{planned}" if planned else str(epochs),
        f"{summary['params']:,}" if summary.get("params") else "–",
        human_count(summary["macs"]) if summary.get("macs") else "–",
        f"{summary['images_per_sec']:,.0f}" if summary.get("images_per_sec") else "–",
        _number(summary.get("best_val_acc") if summary else max((m.get("val_acc") or 0 for m in row["metrics"]), default=None)),
        _number(summary.get("test_acc")),
        row["paper"].cell() if row.get("paper") else "–",
        str(config.get("recipe") or "family defaults"),
        start_words(config),
    ]


def degradation_figure(models: list[str]):
    """He et al. 2016's Figure 6, when the runs compared are its plain and residual nets side by side."""
    plain = {f"plain{d}" for d in (20, 32, 44, 56, 110)}
    residual = {f"resnet{d}" for d in (20, 32, 44, 56, 110)}
    chosen = set(models)
    if chosen and chosen <= plain | residual and chosen & plain and chosen & residual:
        return papers.degradation()
    return None


def start_words(config: dict) -> str:
    """How the run began: from scratch, or from ImageNet weights, fine-tuned or as a frozen feature
    extractor (the header's tooltip says so)."""
    if not config.get("pretrained"):
        return "scratch"
    return "features" if config.get("transfer") == "extract" else "fine-tuned"


class NumericItem(QTableWidgetItem):
    """Sorts by the number it shows ("1,234" after "987")."""

    def __lt__(self, other):
        def key(item):
            text = item.text().replace(",", "").split("/")[0]
            try:
                return (0, float(text))
            except ValueError:
                return (1, text)
        return key(self) < key(other)


class RunsView(QWidget):
    openRequested = Signal(str)
    resumeRequested = Signal(str)
    evaluateRequested = Signal(str)  # test a run's checkpoint now (a stopped run has no test yet)
    compareRequested = Signal(object)  # [run_dir]
    renameRequested = Signal(str, str)  # run_dir, new name
    deleteRequested = Signal(object)  # [run_dir]
    exportPngRequested = Signal(str)  # the image saved
    exportCsvRequested = Signal(object, str)  # [run_dir], where
    refreshRequested = Signal()
    degradationRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("runsView")
        self.table = QTableWidget(0, len(COLUMNS), objectName="runsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setSortingEnabled(True)
        self.table.sortItems(0, Qt.SortOrder.DescendingOrder)  # names start with the date: newest first
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        header.setMaximumSectionSize(NAME_WIDTH)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._choose_columns)
        self.table.horizontalHeaderItem(COLUMNS.index("start")).setToolTip(
            "scratch: random initial weights; fine-tuned: ImageNet weights, every layer trained; features: ImageNet "
            "weights frozen, a new head trained")
        for name in HIDDEN_AT_FIRST:
            self.set_column_visible(name, False)
        self.table.setToolTip("Double-click a name to rename the run; select several runs to compare them")
        self.rows: list[dict] = []
        self._filling = False

        def button(text, name, tip):
            b = QPushButton(text, objectName=name)
            b.setToolTip(tip)
            return b
        self.refresh_button = button("Refresh", "refreshRunsButton", "Read the run folder again")
        self.open_button = button("Open", "openRunButton", "Its best weights become the model the window classifies and inspects")
        self.resume_button = button("Resume", "resumeRunButton", "Continue an interrupted or stopped run from its last.pt")
        self.evaluate_button = button("Evaluate", "evaluateRunButton", "Test the run's best.pt (a stopped run too) on "
                                      "its test split and show the report")
        self.compare_button = button("Compare", "compareButton", "Overlay the curves of the selected runs")
        self.delete_button = button("Delete…", "deleteRunButton", "Delete the selected run folders")
        self.png_button = button("Curves as PNG…", "exportPngButton", "Save the comparison plots as an image")
        self.csv_button = button("Metrics as CSV…", "exportCsvButton", "Save the selected runs' per-epoch metrics")
        self.degradation_button = button("Degradation experiment", "degradationButton",
                                         "He et al. 2015, Figure 6: plain-20, plain-56, ResNet-20 and ResNet-56 on "
                                         "CIFAR-10 with the paper's recipe, same split and seed, overlaid as they train")
        buttons = QHBoxLayout()  # in rows of a few, so the view fits the centre of an 800-pixel window
        for b in (self.refresh_button, self.open_button, self.resume_button, self.evaluate_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        exports = QHBoxLayout()
        for b in (self.compare_button, self.delete_button, self.png_button):
            exports.addWidget(b)
        exports.addStretch(1)
        experiment = QHBoxLayout()
        experiment.addWidget(self.csv_button)
        experiment.addWidget(self.degradation_button)
        experiment.addStretch(1)

        self.accuracy_plot = make_plot("compareAccuracyPlot", "Validation accuracy", "accuracy", [], grid=True)
        self.loss_plot = make_plot("compareLossPlot", "Training loss", "cross-entropy", [], grid=True)
        self.accuracy_plot.enableAutoRange()
        self.loss_plot.enableAutoRange()
        self.legend = rich(QLabel("Select runs and press Compare.", objectName="compareLegend", wordWrap=True))
        self.legend.setOpenExternalLinks(True)  # Figure 6's paper
        self.compare_table = QTableWidget(0, 7, objectName="compareTable")
        self.compare_table.setHorizontalHeaderLabels(["run", "model", "params", "MACs", "img/s", "best val", "test"])
        self.compare_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.compare_table.horizontalHeader().setStretchLastSection(True)
        self.compare_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.compare_table.verticalHeader().setVisible(False)
        plots = QWidget(objectName="comparePlots")  # what "Curves as PNG" saves: the legend goes with the curves
        plots_layout = QVBoxLayout(plots)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.addWidget(self.legend)
        side_by_side = QHBoxLayout()
        side_by_side.addWidget(self.accuracy_plot)
        side_by_side.addWidget(self.loss_plot)
        plots_layout.addLayout(side_by_side, 1)
        self.compare_plots = plots
        compare = QWidget()
        compare_layout = QVBoxLayout(compare)
        compare_layout.setContentsMargins(0, 0, 0, 0)
        compare_layout.addWidget(plots, 2)
        compare_layout.addWidget(self.compare_table, 1)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(self.table)
        body.addWidget(compare)
        body.setSizes([260, 480])
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addLayout(exports)
        layout.addLayout(experiment)
        layout.addWidget(body, 1)
        self.compared: list[str] = []

        self.refresh_button.clicked.connect(self.refreshRequested)
        self.open_button.clicked.connect(lambda: self._one(self.openRequested))
        self.resume_button.clicked.connect(lambda: self._one(self.resumeRequested))
        self.evaluate_button.clicked.connect(lambda: self._one(self.evaluateRequested))
        self.compare_button.clicked.connect(lambda: self.compareRequested.emit(self.selected_dirs()))
        self.delete_button.clicked.connect(self.confirm_delete)
        self.png_button.clicked.connect(lambda: self.export_png())
        self.csv_button.clicked.connect(lambda: self.export_csv(self.selected_dirs() or self.compared))
        self.degradation_button.clicked.connect(self.degradationRequested)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemDoubleClicked.connect(self._on_double_click)

    def set_column_visible(self, name: str, visible: bool) -> None:
        self.table.setColumnHidden(COLUMNS.index(name), not visible)

    def visible_columns(self) -> list[str]:
        return [c for i, c in enumerate(COLUMNS) if not self.table.isColumnHidden(i)]

    def _choose_columns(self, pos) -> None:
        menu = QMenu(self)
        for i, name in enumerate(COLUMNS[1:], start=1):  # the name always shows
            action = menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(not self.table.isColumnHidden(i))
            action.toggled.connect(lambda on, name=name: self.set_column_visible(name, on))
        menu.exec(self.table.horizontalHeader().mapToGlobal(pos))

    # -- rows ----------------------------------------------------------------------------------
    def show_runs(self, rows: list[dict]) -> None:
        selected = set(self.selected_dirs())
        self.rows = rows
        self._filling = True
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, value in enumerate(row_values(row)):
                item = NumericItem(value) if c >= 4 and c < 10 else QTableWidgetItem(value)
                item.setData(Qt.ItemDataRole.UserRole, row["dir"])
                flags = item.flags()
                if c != 0:
                    item.setFlags(flags & ~Qt.ItemFlag.ItemIsEditable)
                if c >= 4 and c < 10:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if c == 0:
                    item.setToolTip(tip(row["dir"]))
                if c == PAPER and row.get("paper"):
                    item.setToolTip(tip(row["paper"].text()))
                if c == 3 and row.get("problems"):
                    item.setToolTip(tip("\n".join(row["problems"])))
                    item.setForeground(Qt.GlobalColor.darkRed)
                self.table.setItem(r, c, item)
        self.table.setSortingEnabled(True)
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) in selected:
                self.table.selectRow(r)
        self._filling = False

    def selected_dirs(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in rows]

    def select_dirs(self, dirs: list[str]) -> None:
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) in dirs:
                self.table.selectRow(r)
        self.table.setSelectionMode(mode)

    def confirm_delete(self) -> None:
        """Ask first; "Yes" sends ``deleteRequested`` with the selected runs."""
        dirs = self.selected_dirs()
        if not dirs:
            return
        names = ", ".join(d.rstrip("/").rsplit("/", 1)[-1] for d in dirs[:3]) + (" …" if len(dirs) > 3 else "")
        box = QMessageBox(QMessageBox.Icon.Question, "Delete runs", f"Delete {counted(len(dirs), 'run folder')} ({names}) "
                          "with their checkpoints? This cannot be undone.", parent=self)
        box.setTextFormat(Qt.TextFormat.PlainText)  # run names are the user's
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        if box.exec() == QMessageBox.StandardButton.Yes:
            self.deleteRequested.emit(dirs)

    def ask_go_on(self, message: str) -> bool:
        """A resume refused because the data changed: ask whether to go on with the data as it is now."""
        box = QMessageBox(QMessageBox.Icon.Question, "The data changed", message.replace(
            "(--accept-data-change; the run records the change)", "(the run records the change)"), parent=self)
        box.setTextFormat(Qt.TextFormat.PlainText)  # file and class names are the user's
        box.setInformativeText("Go on training this run on the data as it is now?")
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes

    def ask_queue(self, runs: list[tuple[str, int, float]], device: str) -> bool:
        """Before a queued experiment: what it trains and how long that will take here."""
        lines = "\n".join(f"  {model}: {counted(epochs, 'epoch')}, about {human_duration(seconds)}"
                          for model, epochs, seconds in runs)
        total = human_duration(sum(seconds for _, _, seconds in runs))
        box = QMessageBox(QMessageBox.Icon.Question, "Degradation experiment",
                          f"{counted(len(runs), 'run')} on CIFAR-10 with the paper's recipe (He et al. 2015, "
                          f"Figure 6), one after another on {device}:\n{lines}\nIn all about {total}.", parent=self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setInformativeText("CIFAR-10 is downloaded first (163 MB) if it is not here. Queue the runs? Stop ends "
                               "the queue at any time; each run keeps its finished epochs.")
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes

    def export_png(self, path: str | None = None) -> str | None:
        """The comparison plots as an image (asks where, unless ``path``)."""
        path = path or QFileDialog.getSaveFileName(self, "Save the comparison curves", "curves.png", "PNG (*.png)")[0]
        if path:
            self.compare_plots.grab().save(path)
            self.exportPngRequested.emit(path)
        return path or None

    def export_csv(self, run_dirs: list[str], path: str | None = None) -> None:
        """Asks where (unless ``path``), then sends ``exportCsvRequested`` (runs, path)."""
        if run_dirs:
            path = path or QFileDialog.getSaveFileName(self, "Save the metrics", "metrics.csv", "CSV (*.csv)")[0]
        if path or not run_dirs:
            self.exportCsvRequested.emit(list(run_dirs), path or "")

    def _one(self, signal) -> None:
        dirs = self.selected_dirs()
        if len(dirs) == 1:
            signal.emit(dirs[0])

    def _on_double_click(self, item) -> None:
        if item.column() != 0:
            self.openRequested.emit(item.data(Qt.ItemDataRole.UserRole))

    def _on_item_changed(self, item) -> None:
        if self._filling or item.column() != 0:
            return
        run_dir = item.data(Qt.ItemDataRole.UserRole)
        new = item.text().strip()
        if run_dir and new and new != run_dir.rstrip("/").rsplit("/", 1)[-1]:
            self.renameRequested.emit(run_dir, new)

    # -- comparison ----------------------------------------------------------------------------
    def show_comparison(self, rows: list[dict]) -> None:
        """Overlay validation accuracy and training loss per epoch; one colour per run."""
        self.compared = [row["dir"] for row in rows]
        self.accuracy_plot.clear()
        self.loss_plot.clear()
        legend, papers_drawn = [], []
        self.compare_table.setRowCount(len(rows))
        epochs = 1
        for i, row in enumerate(rows):
            color = PALETTE[i % len(PALETTE)]
            metrics = row["metrics"]
            xs = [m["epoch"] for m in metrics]
            epochs = max([epochs, row["config"].get("epochs") or 1, *xs])
            acc = [(m["epoch"], m["val_acc"]) for m in metrics if m.get("val_acc") is not None]
            loss = [(m["epoch"], m["train_loss"]) for m in metrics if m.get("train_loss") is not None]
            pen = pg.mkPen(color, width=2)
            if acc:
                self.accuracy_plot.plot(*zip(*acc), pen=pen, symbol="o", symbolSize=5, symbolBrush=color, name=row["name"])
            if row.get("paper") is not None:  # the paper's test accuracy for this network, dotted in its colour
                figure = row["paper"].figure
                line = pg.InfiniteLine(figure.accuracy, angle=0, pen=pg.mkPen(color, width=1.2,
                                                                               style=Qt.PenStyle.DotLine))
                line.setToolTip(figure.label)
                self.accuracy_plot.addItem(line)
                papers_drawn.append(f"<span style='color:{color}'>┈</span>&nbsp;{html.escape(figure.label)}")
            if loss:
                self.loss_plot.plot(*zip(*loss), pen=pen, symbol="o", symbolSize=5, symbolBrush=color, name=row["name"])
            legend.append(f"<span style='color:{color}'>━</span>&nbsp;{html.escape(row['name'])}")
            values = row_values(row)
            for c, value in enumerate([values[0], values[1], values[5], values[6], values[7], values[8], values[9]]):
                self.compare_table.setItem(i, c, QTableWidgetItem(value))
        text = " &nbsp; ".join(legend) if legend else "Select runs and press Compare."
        if papers_drawn:
            text += "<br><span style='color:#555'>dotted: the paper's test accuracy — " + "; ".join(papers_drawn) + "</span>"
        figure = degradation_figure([str(row["config"].get("model", "")) for row in rows])
        if figure is not None:
            text += (f"<br><b>{html.escape(figure.label)}</b> (<a href='{html.escape(figure.url)}'>paper</a>): "
                     f"{html.escape(figure.caption)} <i>Reported:</i> {html.escape(figure.reported)}")
        self.legend.setText(text)
        for plot in (self.accuracy_plot, self.loss_plot):
            plot.setXRange(0, epochs, padding=0.02)
            plot.enableAutoRange(axis="y")

    def curve_counts(self) -> list[int]:
        return [len(item.getData()[0]) for item in self.accuracy_plot.getPlotItem().listDataItems()]
