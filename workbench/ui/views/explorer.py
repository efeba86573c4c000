"""The explorer: the drop zone with the photo as dropped, the prediction with what the network is given,
the layer tree, and the selected layer's feature maps (with one channel enlarged), filters and source.
It renders the session and what the inspection controller computes; it holds no model of its own."""

from __future__ import annotations

import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget

from workbench.core.inspect import ModelSummary
from workbench.core.inspect.activations import upsample_to
from workbench.core.inspect.filters import convolutions
from workbench.core.inspect.source import source_of

from .ablation_view import AblationView
from .channel_view import ChannelView
from .conv_step_view import ConvStepView
from .drop_zone import DropZone
from .feature_maps import FeatureMapView
from .filter_view import FilterView
from .gradcam_view import GradCamView
from .layer_tree import LayerTree
from .prediction_view import PredictionView
from .source_view import SourceView
from .top_images_view import TopImagesView


def normalisation_words(predictor) -> str:
    """How the input is normalised, in words: "normalised: (x − 0.31) / 0.33"."""
    mean = predictor.preprocess.mean.flatten().tolist()
    std = predictor.preprocess.std.flatten().tolist()
    if len(mean) == 1:
        return f"normalised: (x − {mean[0]:.2f}) / {std[0]:.2f}"
    return "normalised by the training set's mean and std per channel"


class ExplorerPanel(QSplitter):
    """The right-hand side: the drop zone and its caption, the prediction, the layer tree and the selected
    layer's maps, channel, filters and source. Emits ``layerSelected`` with the layer's dotted name (or
    ``None``) and ``filtersWanted`` when the filter view needs a layer's kernels."""

    layerSelected = Signal(object)
    filtersWanted = Signal(str)  # the layer whose kernels the filter view should show

    def __init__(self, parent=None):
        super().__init__(Qt.Orientation.Vertical, parent)
        self.setObjectName("explorerSplitter")
        self.drop_zone = DropZone()
        self.prediction_view = PredictionView()
        self.layer_tree = LayerTree()
        self.feature_map_view = FeatureMapView()
        self.channel_view = ChannelView()
        self.channel_view.hide()  # until a tile is clicked
        self.filter_view = FilterView()
        self.source_view = SourceView()
        self.gradcam_view, self.ablation_view, self.top_images_view = GradCamView(), AblationView(), TopImagesView()
        self.conv_step_view = ConvStepView()
        maps = QSplitter(Qt.Orientation.Vertical, objectName="mapsSplitter")
        maps.addWidget(self.feature_map_view)
        maps.addWidget(self.channel_view)
        maps.addWidget(self.conv_step_view)  # a value of the enlarged channel, computed by hand
        self.conv_step_view.hide()  # until a pixel of it is clicked
        maps.setSizes([330, 170, 0])
        self.detail_tabs = QTabWidget(objectName="layerDetailTabs")  # what the selected layer computes, and how
        self.detail_tabs.addTab(maps, "Maps")  # feature maps; short: six tabs fit 400 px
        self.detail_tabs.addTab(self.filter_view, "Filters")
        self.detail_tabs.addTab(self.source_view, "Source")
        self.detail_tabs.addTab(self.gradcam_view, "Why")  # where the network looked, and knock-outs
        self.detail_tabs.addTab(self.ablation_view, "Knock-out")
        self.detail_tabs.addTab(self.top_images_view, "Top 9")
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
        scroll = QScrollArea(objectName="predictionScroll", widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setWidget(top)  # warnings and steps scroll rather than overlap in a short window
        for widget in (scroll, self.layer_tree, self.detail_tabs):
            self.addWidget(widget)
        self.setSizes([300, 170, 440])
        self.setMinimumSize(180, 300)  # below the views' own hints: at 800×600 the panes shrink
        self.layer_tree.itemSelectionChanged.connect(lambda: self.layerSelected.emit(self.layer_tree.selected_layer()))
        self.layerSelected.connect(lambda layer: self._follow_tabs())
        self.detail_tabs.currentChanged.connect(lambda _: self._follow_tabs())
        self.filter_view.layerChosen.connect(self.filtersWanted.emit)
        self.feature_map_view.channelClicked.connect(self.show_channel)
        self.session = None  # set by ``follow``

    def _follow_tabs(self) -> None:
        """The filter and source views follow the selected layer while on show (a block: its first convolution;
        its class), so a layer switch with the maps on show costs the maps alone."""
        layer = self.layer_tree.selected_layer()
        current = self.detail_tabs.currentWidget()
        if current is self.filter_view and layer:
            self.filtersWanted.emit(layer)
        elif current is self.source_view:
            self._show_source(layer)

    def show_channel(self, channel: int) -> None:
        view = self.feature_map_view
        if view.maps is None or view.layer is None:
            return
        session = self.session
        image = session.image if session is not None else None
        if image is not None and session.predictor is not None:  # the input at the network's own size
            image = upsample_to(image, tuple(session.predictor.input_shape[1:]))
        self.channel_view.show_channel(view.layer, view.maps, channel, image)
        self.channel_view.show()

    def _show_source(self, layer: str | None) -> None:
        """The selected layer's class; for a merge, the block whose forward made it (its ``out += identity``)."""
        predictor = self.session.predictor if self.session is not None else None
        layer = layer.split(":")[0] if layer and ":" in layer else layer
        self.source_view.show_source(source_of(predictor.model, layer) if predictor is not None and layer else None)

    def follow(self, session) -> None:
        """The session's model in the tree, its image in the drop zone; a chosen layer into the session."""
        def changed(names):
            if "summary" in names and session.summary is not None:
                self.show_model(session.summary)
            if {"image", "predictor", "photo"} & names:
                self.show_image(session.image, session.caption)
        session.subscribe(changed)
        self.session = session
        self.layerSelected.connect(lambda layer: session.set(layer=layer))

    def show_model(self, summary: ModelSummary) -> None:
        self.layer_tree.show_summary(summary)
        self.feature_map_view.clear_maps("Select a layer to see its feature maps")
        self.channel_view.clear()
        self.channel_view.hide()
        self.conv_step_view.clear()
        self.conv_step_view.hide()
        self.source_view.show_source(None)
        predictor = self.session.predictor if self.session is not None else None
        self.filter_view.set_layers(convolutions(predictor.model) if predictor is not None else [])

    def show_image(self, image: torch.Tensor | None, caption: str) -> None:
        if image is None:
            self.drop_zone.clear()
            self.drop_zone.setText("Drop an image here\n(or click)")
            self.image_label.setText("")
            self.prediction_view.show_predictions([], "")
            self.prediction_view.show_input(None)
            self.prediction_view.show_warnings([])
            return
        session = self.session
        photo = session.photo if session is not None else None
        self.drop_zone.show_image(image, caption, photo.photo if photo is not None else None)
        self.image_label.setText(caption)
        predictor = session.predictor if session is not None else None
        self.prediction_view.show_input(image, photo, normalisation_words(predictor) if predictor is not None else "")

    def show_maps(self, layer: str, maps) -> None:
        if layer != self.layer_tree.selected_layer():
            return
        if isinstance(maps, str):
            self.feature_map_view.clear_maps(maps)
            self.channel_view.hide()
        else:
            self.feature_map_view.show_maps(layer, maps, self._class_names(layer))
            channel = self.channel_view.channel
            if self.channel_view.isVisible() and channel is not None and channel < maps.shape[0] \
                    and maps.shape[1:] != (1, 1):
                self.show_channel(channel)  # the same channel of the new layer (or new image)
            else:
                self.channel_view.hide()

    def show_filters(self, filters) -> None:
        """A ``FilterSet`` for the filter view, or why the selected layer has none."""
        if isinstance(filters, str):
            self.filter_view.clear(filters)
        else:
            self.filter_view.show_filters(filters)

    def _class_names(self, layer: str) -> list[str] | None:
        """The classes, when ``layer`` is the one whose output the network returns (its logits)."""
        session = self.session
        graph = getattr(session.summary, "graph", None) if session is not None and session.summary else None
        if graph is None or session.predictor is None or graph.nodes[graph.output].module != layer:
            return None
        return list(session.predictor.classes)

    def select_layer(self, layer: str) -> None:
        self.layer_tree.reveal(layer)
