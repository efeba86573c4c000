"""Inside-the-network widgets: the drop zone, the top-3 predictions, the layer tree and the
feature-map grid. They only render what the core computes."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import counted
from workbench.core.inspect import LayerInfo, ModelSummary, tile_maps
from workbench.core.inspect.source import source_of

from .plotting import pg
from .source_view import SourceView
from .text import rich, tip

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp *.pgm *.ppm)"


def tensor_to_pixmap(image: torch.Tensor, size: int) -> QPixmap:
    """A ``C×H×W`` tensor in [0, 1] as a pixmap scaled (blocky, to show real pixels) to ``size``."""
    array = (image.clamp(0, 1) * 255).byte()
    if array.shape[0] == 1:
        data = array[0].contiguous().numpy()
        qimage = QImage(data.data, data.shape[1], data.shape[0], data.strides[0], QImage.Format.Format_Grayscale8)
    else:
        data = array[:3].permute(1, 2, 0).contiguous().numpy()
        qimage = QImage(data.data, data.shape[1], data.shape[0], data.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(qimage.copy()).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                                  Qt.TransformationMode.FastTransformation)


def local_folder(mime) -> str | None:
    """The first local folder a drag carries (the window takes a dropped folder as the dataset)."""
    for url in mime.urls() if mime.hasUrls() else []:
        if url.isLocalFile() and Path(url.toLocalFile()).is_dir():
            return url.toLocalFile()
    return None


class DropZone(QLabel):
    """Takes image files dragged from the file manager (or picked with a click)."""

    imageDropped = Signal(str)
    folderDropped = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setTextFormat(Qt.TextFormat.PlainText)  # a dropped file's name is the user's
        self.setAcceptDrops(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(150, 150)
        self.setWordWrap(True)
        self.setToolTip("Drop an image file here, or click to choose one")
        self._set_style(False)
        self.setText("Drop an image here\n(or click)")
        self.path: str | None = None

    def _set_style(self, hover: bool) -> None:
        colour = "#1f77b4" if hover else "#999"
        self.setStyleSheet(f"QLabel#dropZone {{ border: 2px dashed {colour}; border-radius: 8px; "
                           f"background: {'#eef5fb' if hover else '#fafafa'}; color: #555; }}")

    @staticmethod
    def _first_local_file(mime) -> str | None:
        for url in mime.urls() if mime.hasUrls() else []:
            if url.isLocalFile():
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event) -> None:
        if self._first_local_file(event.mimeData()):
            event.acceptProposedAction()
            self._set_style(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if self._first_local_file(event.mimeData()):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self._set_style(False)

    def dropEvent(self, event) -> None:
        self._set_style(False)
        path = self._first_local_file(event.mimeData())
        if path:
            event.acceptProposedAction()
            (self.folderDropped if Path(path).is_dir() else self.imageDropped).emit(path)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            path, _ = QFileDialog.getOpenFileName(self, "Classify an image", "", IMAGE_FILTER)
            if path:
                self.imageDropped.emit(path)

    def show_image(self, image: torch.Tensor, caption: str) -> None:
        self.setPixmap(tensor_to_pixmap(image, 128))
        self.setToolTip(tip(caption))


class PredictionView(QWidget):
    """The top classes and their probabilities, as labelled bars."""

    def __init__(self, rows: int = 3, parent=None):
        super().__init__(parent)
        self.setObjectName("predictionView")
        layout = QGridLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.title = rich(QLabel("<b>Prediction</b>"))
        layout.addWidget(self.title, 0, 0, 1, 2)
        self._labels: list[QLabel] = []
        self._bars: list[QProgressBar] = []
        for row in range(rows):
            label, bar = rich(QLabel("–")), QProgressBar()
            label.setMinimumWidth(60)
            bar.setRange(0, 1000)
            bar.setFormat("")
            bar.setTextVisible(True)
            layout.addWidget(label, row + 1, 0)
            layout.addWidget(bar, row + 1, 1)
            self._labels.append(label)
            self._bars.append(bar)
        self.predictions: list[tuple[str, float]] = []

    def show_predictions(self, predictions: list[tuple[str, float]], note: str = "") -> None:
        self.predictions = list(predictions)
        self.title.setText(f"<b>Prediction</b> {html.escape(note)}")  # names are the user's: plain text
        for i, (label, bar) in enumerate(zip(self._labels, self._bars)):
            if i < len(predictions):
                name, p = predictions[i]
                label.setText(f"<b>{html.escape(name)}</b>" if i == 0 else html.escape(name))
                bar.setValue(int(round(p * 1000)))
                bar.setFormat(f"{p * 100:.1f} %")
            else:
                label.setText("–")
                bar.setValue(0)
                bar.setFormat("")


MERGE_SIGNS = {"add": "⊕", "cat": "⧉", "stack": "⧉", "mul": "⊗", "sum": "⊕", "mean": "⊕"}
MERGE_WORDS = {"add": "adds", "cat": "concatenates the channels of", "stack": "stacks, to average,",
               "mul": "multiplies", "sum": "sums", "mean": "averages"}


class LayerTree(QTreeWidget):
    """Every module of the model as a tree: name, type, output shape, parameters."""

    COLUMNS = ("Layer", "Type", "Output", "Params")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("layerTree")
        self.setHeaderLabels(self.COLUMNS)
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        for column in range(len(self.COLUMNS)):  # a column follows its contents as branches open: no "c…"
            self.header().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.header().setStretchLastSection(False)

    def show_summary(self, summary: ModelSummary) -> None:
        """Modules in the order they ran, each container's children with the merges its forward made between
        them (a residual ``⊕ add``, an inception ``⧉ cat``): the tree follows the dataflow, not the code's
        order. Modules that did not run (auxiliary heads in evaluation) are greyed at the end."""
        self.clear()
        graph = summary.graph
        first: dict[str, int] = {}  # module path → the first node it (or one of its children) made
        merges = []
        for node in graph.nodes if graph is not None else []:
            if node.kind == "module":
                parts = node.module.split(".")
                for depth in range(1, len(parts) + 1):
                    first.setdefault(".".join(parts[:depth]), node.index)
            elif node.kind == "merge":
                merges.append(node)
        idle = set(graph.did_not_run) if graph is not None else set()
        never = len(graph.nodes) if graph is not None else 0
        rows = [(first.get(info.name, never), info.depth, i, info) for i, info in enumerate(summary.layers)]
        rows += [(node.index, node.module.count(".") + 2 if node.module else 1, 0, node) for node in merges]
        items: dict[str, QTreeWidgetItem] = {}
        grey = QColor("#888888")
        for _, _, _, row in sorted(rows, key=lambda r: r[:3]):
            if isinstance(row, LayerInfo):
                parent = items.get(row.name.rpartition(".")[0], self.invisibleRootItem())
                shape = "×".join(map(str, row.output_shape)) if row.output_shape else "–"
                item = QTreeWidgetItem(parent, [row.name.rpartition(".")[2], row.type, shape, f"{row.params:,}"])
                item.setData(0, Qt.ItemDataRole.UserRole, row.name)
                item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight)
                items[row.name] = item
                if any(row.name == a or row.name.startswith(a + ".") for a in idle):
                    for column in range(4):
                        item.setForeground(column, grey)
                    item.setToolTip(0, "Not run in evaluation (an auxiliary head: it trains the early layers)")
            else:
                parent = items.get(row.module, self.invisibleRootItem())
                sources = ", ".join(graph.nodes[i].name for i in row.inputs)
                shape = "×".join(map(str, row.shape)) if row.shape else "–"
                item = QTreeWidgetItem(parent, [f"{MERGE_SIGNS.get(row.op, '∘')} {row.op}",
                                                f"{row.op} of {len(row.inputs)}", shape, ""])
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)  # a join of branches, not a module: nothing to select
                item.setToolTip(0, tip(f"{MERGE_WORDS.get(row.op, row.op)}: {sources}"))
                for column in range(3):
                    item.setForeground(column, QColor("#1f5fa8"))

    def item_for(self, layer: str) -> QTreeWidgetItem | None:
        found = [it for it in self.findItems("*", Qt.MatchFlag.MatchWildcard | Qt.MatchFlag.MatchRecursive)
                 if it.data(0, Qt.ItemDataRole.UserRole) == layer]
        return found[0] if found else None

    def selected_layer(self) -> str | None:
        items = self.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None


class FeatureMapView(QWidget):
    """A layer's activations as a grid with one tile a channel, each tile scaled on its own; a layer whose
    output is 1×1 (or flat: LeNet's C5 and F6, every classifier) as a bar chart of its values instead, where
    a tile of one pixel would only ever be a flat square. The network's last layer's bars are named by class."""

    def __init__(self, parent=None, name: str = "featureMapView"):
        super().__init__(parent)
        self.setObjectName(name)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.caption = rich(QLabel("Select a layer to see its feature maps", wordWrap=True))
        layout.addWidget(self.caption)
        self.graphics = pg.GraphicsLayoutWidget()
        self.view = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMouse=True)
        self.image = pg.ImageItem()
        self.view.addItem(self.image)
        layout.addWidget(self.graphics, 1)
        self.bars = pg.PlotWidget(objectName="featureBars")
        self.bars.setMouseEnabled(x=True, y=False)
        self.bars.getAxis("left").setLabel("value")
        self.bars.hide()
        layout.addWidget(self.bars, 1)
        self.bar_values: list[float] = []
        self.bar_labels: list[str] = []
        self.layer: str | None = None
        self.maps: torch.Tensor | None = None
        """The activations shown (``channels×h×w``), before tiling and scaling."""
        self.tile_count = 0
        self.grid: tuple[int, int] = (0, 0)
        self.tile_size: tuple[int, int] = (0, 0)

    def show_maps(self, layer: str, maps: torch.Tensor, labels: list[str] | None = None) -> None:
        if maps.shape[1:] == (1, 1):
            self._show_bars(layer, maps, labels)
            return
        self.bars.hide()
        self.graphics.show()
        self.bar_values, self.bar_labels = [], []
        mosaic, grid = tile_maps(maps)
        self.layer = layer
        self.maps = maps
        self.tile_count = int(maps.shape[0])
        self.grid = grid
        self.tile_size = (int(maps.shape[1]), int(maps.shape[2]))
        self.image.setImage(mosaic.numpy().astype(np.float32), levels=(0.0, 1.0))
        self.view.autoRange(padding=0.02)
        h, w = self.tile_size
        self.caption.setText(f"<b>{layer}</b>: {counted(self.tile_count, 'channel')} of {h}×{w} "
                             f"({grid[0]}×{grid[1]} grid)")

    def _show_bars(self, layer: str, maps: torch.Tensor, labels: list[str] | None) -> None:
        values = maps.flatten().tolist()
        self.layer, self.maps, self.tile_count, self.grid = layer, maps, len(values), (0, 0)
        self.bar_values = values
        self.bar_labels = list(labels) if labels and len(labels) == len(values) else []
        self.graphics.hide()
        self.bars.show()
        self.bars.clear()
        brushes = [pg.mkBrush("#1f77b4" if v >= 0 else "#d62728") for v in values]
        self.bars.addItem(pg.BarGraphItem(x=list(range(len(values))), height=values, width=0.8, brushes=brushes))
        axis = self.bars.getAxis("bottom")
        if self.bar_labels and len(values) <= 40:
            axis.setTicks([list(enumerate(self.bar_labels))])
            axis.setLabel("class")
        else:
            axis.setTicks(None)
            axis.setLabel("channel")
        self.bars.autoRange()
        what = "the class scores (logits)" if self.bar_labels else f"{counted(len(values), 'value')} of 1×1"
        self.caption.setText(f"<b>{layer}</b>: {what}; blue ≥ 0, red < 0")

    def clear_maps(self, message: str) -> None:
        self.bars.hide()
        self.graphics.show()
        self.bar_values, self.bar_labels = [], []
        self.image.clear()
        self.layer, self.maps, self.tile_count, self.grid = None, None, 0, (0, 0)
        self.caption.setText(message)


class ExplorerPanel(QSplitter):
    """The right-hand side: the drop zone and its caption, the top-3, the layer tree and the
    selected layer's maps. Emits ``layerSelected`` with the layer's dotted name (or ``None``)."""

    layerSelected = Signal(object)

    def __init__(self, parent=None):
        super().__init__(Qt.Orientation.Vertical, parent)
        self.setObjectName("explorerSplitter")
        self.drop_zone = DropZone()
        self.prediction_view = PredictionView()
        self.layer_tree = LayerTree()
        self.feature_map_view = FeatureMapView()
        self.source_view = SourceView()
        self.detail_tabs = QTabWidget(objectName="layerDetailTabs")  # what the selected layer computes, and how
        self.detail_tabs.addTab(self.feature_map_view, "Feature maps")
        self.detail_tabs.addTab(self.source_view, "Source")
        self.image_label = QLabel(objectName="imageCaption", wordWrap=True)
        self.image_label.setTextFormat(Qt.TextFormat.PlainText)  # a user's file name
        self.image_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_label.setMaximumWidth(170)
        image_box = QVBoxLayout()
        image_box.addWidget(self.drop_zone, 1)
        image_box.addWidget(self.image_label)
        top = QWidget()
        top_layout = QHBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(image_box)
        top_layout.addWidget(self.prediction_view, 1)
        for widget in (top, self.layer_tree, self.detail_tabs):
            self.addWidget(widget)
        self.setSizes([190, 290, 350])
        self.setMinimumSize(180, 300)  # below the views' own hints: at 800×600 the panes shrink
        self.layer_tree.itemSelectionChanged.connect(lambda: self.layerSelected.emit(self.layer_tree.selected_layer()))
        self.layerSelected.connect(self._show_source)
        self.session = None  # set by ``follow``

    def _show_source(self, layer: str | None) -> None:
        predictor = self.session.predictor if self.session is not None else None
        self.source_view.show_source(source_of(predictor.model, layer) if predictor is not None and layer else None)

    def follow(self, session) -> None:
        """The session's model in the tree, its image in the drop zone; a chosen layer into the session."""
        def changed(names):
            if "summary" in names and session.summary is not None:
                self.show_model(session.summary)
            if {"image", "predictor"} & names:
                self.show_image(session.image, session.caption)
        session.subscribe(changed)
        self.session = session
        self.layerSelected.connect(lambda layer: session.set(layer=layer))

    def show_model(self, summary: ModelSummary) -> None:
        self.layer_tree.show_summary(summary)
        self.feature_map_view.clear_maps("Select a layer to see its feature maps")
        self.source_view.show_source(None)

    def show_image(self, image: torch.Tensor | None, caption: str) -> None:
        if image is None:
            self.drop_zone.clear()
            self.drop_zone.setText("Drop an image here\n(or click)")
            self.image_label.setText("")
            self.prediction_view.show_predictions([], "")
            return
        self.drop_zone.show_image(image, caption)
        self.image_label.setText(caption)

    def show_maps(self, layer: str, maps) -> None:
        if layer != self.layer_tree.selected_layer():
            return
        if isinstance(maps, str):
            self.feature_map_view.clear_maps(maps)
        else:
            self.feature_map_view.show_maps(layer, maps, self._class_names(layer))

    def _class_names(self, layer: str) -> list[str] | None:
        """The classes, when ``layer`` is the one whose output the network returns (its logits)."""
        session = self.session
        graph = getattr(session.summary, "graph", None) if session is not None and session.summary else None
        if graph is None or session.predictor is None or graph.nodes[graph.output].module != layer:
            return None
        return list(session.predictor.classes)

    def select_layer(self, layer: str) -> None:
        item = self.layer_tree.item_for(layer)
        if item is None:
            raise KeyError(layer)
        self.layer_tree.setCurrentItem(item)
