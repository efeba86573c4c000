"""The main window: pick a model and dataset, train live, drop an image, look inside."""

from __future__ import annotations

import html
import time
from pathlib import Path

import torch
from PySide6.QtCore import Qt, QThread, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

import models
from workbench.core import devices, pretrained
from workbench.core.data.augment import PRESETS
from workbench.core.data.folder_bundle import DEFAULT_IMAGE_SIZE
from workbench.core.datasets import (
    DataBundle,
    DatasetError,
    get_dataset_info,
    image_to_tensor,
    is_folder_dataset,
    list_datasets,
    load_dataset,
)
from workbench.core.train import RECIPES, TrainConfig, resolve, resolve_input_size
from workbench.core.inspection import Classifier, human_count, summarize
from workbench.core.runs import default_runs_root

from .folder_worker import FolderWorker
from .health_view import HealthReportView
from .inspector import DropZone, FeatureMapView, LayerTree, PredictionView
from .plots import TrainingPlots
from .worker import TrainingWorker

FOLDER_ENTRY = "__image_folder__"


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class MainWindow(QMainWindow):
    # Emitted in the UI thread once the window has shown what happened (for automation and tests).
    stepShown = Signal(object)  # StepEnded
    epochShown = Signal(object)  # EpochEnded
    trainingEnded = Signal(object)  # the run's summary dict
    folderLoaded = Signal(object)  # the DataBundle of an image folder, or None when it failed

    def __init__(self, runs_root: str | Path | None = None):
        super().__init__()
        self.setWindowTitle("CNN Workbench")
        self.resize(1400, 860)
        self.runs_root = Path(runs_root) if runs_root else default_runs_root()
        self.bundle: DataBundle | None = None
        self.classifier: Classifier | None = None
        self.image: torch.Tensor | None = None
        self.image_caption = ""
        self.weights_note = "(untrained)"
        self.last_summary: dict | None = None
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._folder_thread: QThread | None = None
        self._folder_worker: FolderWorker | None = None
        self._previous_dataset = 0
        self._pending_failure = False
        self._epochs_planned, self._started_at, self._first_step = 1, time.monotonic(), 1
        self.setAcceptDrops(True)  # a folder dropped anywhere on the window becomes the dataset

        self.plots = TrainingPlots(self)
        self._build_ui()
        self._populate()
        self._on_selection_changed()

    # -- layout --------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.model_combo = QComboBox(objectName="modelCombo")
        self.dataset_combo = QComboBox(objectName="datasetCombo")
        self.epochs_spin = QSpinBox(objectName="epochsSpin", minimum=1, maximum=10_000, value=10)
        self.batch_spin = QSpinBox(objectName="batchSizeSpin", minimum=1, maximum=65_536, value=32)
        self.lr_spin = QDoubleSpinBox(objectName="learningRateSpin", decimals=6, minimum=1e-6, maximum=10.0,
                                      singleStep=1e-4, value=1e-3)
        self.optimizer_combo = QComboBox(objectName="optimizerCombo")
        self.optimizer_combo.addItem("Adam", "adam")
        self.optimizer_combo.addItem("SGD + momentum", "sgd")
        self.optimizer_combo.addItem("AdamW", "adamw")
        self.recipe_combo = QComboBox(objectName="recipeCombo")
        self.recipe_combo.addItem("Family defaults", None)
        self.recipe_combo.setItemData(0, "Learning rate and optimiser that train this model family well on small sets",
                                      Qt.ItemDataRole.ToolTipRole)
        for recipe in RECIPES.values():
            self.recipe_combo.addItem(recipe.title, recipe.name)
            self.recipe_combo.setItemData(self.recipe_combo.count() - 1, recipe.source, Qt.ItemDataRole.ToolTipRole)
        self.device_combo = QComboBox(objectName="deviceCombo")
        self.device_combo.addItem(f"auto ({devices.describe(devices.pick_device())})", "auto")
        for name in devices.available_devices():
            self.device_combo.addItem(devices.describe(devices.pick_device(name)), name)
        self.amp_combo = QComboBox(objectName="ampCombo")
        self.amp_combo.addItem("off (fp32)", "off")
        self.amp_combo.addItem("bf16", "bf16")
        self.amp_combo.addItem("fp16 (CUDA)", "fp16")
        self.amp_combo.setToolTip("Mixed precision: faster on recent GPUs; slower on CPUs without bf16 units")
        self.augment_combo = QComboBox(objectName="augmentCombo")
        for name, text in PRESETS.items():
            self.augment_combo.addItem(name.replace("_", " + ") if name == "flip_crop" else name.replace("_", " "), name)
            self.augment_combo.setItemData(self.augment_combo.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
        self.transfer_check = QCheckBox("Start from ImageNet weights", objectName="transferCheck")
        self.transfer_mode_combo = QComboBox(objectName="transferModeCombo", enabled=False)
        self.transfer_mode_combo.addItem("fine-tune all layers", "finetune")
        self.transfer_mode_combo.addItem("extract features", "extract")
        self.transfer_mode_combo.setItemData(1, "frozen backbone and BatchNorm statistics; only the new head learns",
                                             Qt.ItemDataRole.ToolTipRole)
        self.transfer_mode_combo.setItemData(0, "every layer learns; the backbone at a tenth of the head's learning rate",
                                             Qt.ItemDataRole.ToolTipRole)
        self.transfer_check.toggled.connect(self.transfer_mode_combo.setEnabled)
        self.transfer_check.toggled.connect(self._on_selection_changed)
        self.start_button = QPushButton("Start", objectName="startButton")
        self.stop_button = QPushButton("Stop", objectName="stopButton", enabled=False)
        self.pause_button = QPushButton("Pause", objectName="pauseButton", enabled=False, checkable=True)
        self.eta_label = QLabel(objectName="etaLabel")
        self.start_button.setDefault(True)
        self.progress = QProgressBar(objectName="epochProgress", textVisible=True)
        self.progress.setFormat("idle")
        self.status_label = QLabel(objectName="runStatus", wordWrap=True)
        self.error_banner = QLabel(objectName="errorBanner", wordWrap=True, visible=False)
        self.error_banner.setStyleSheet("QLabel { background: #fdecea; color: #8a1c13; border: 1px solid #f5c2bd; "
                                        "border-radius: 4px; padding: 6px; }")
        self.error_banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model_card = QLabel(objectName="modelCard", wordWrap=True, openExternalLinks=True)
        self.model_card.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.model_card.setTextFormat(Qt.TextFormat.RichText)

        form = QFormLayout()
        form.addRow("Model", self.model_combo)
        form.addRow("Dataset", self.dataset_combo)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Recipe", self.recipe_combo)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Optimizer", self.optimizer_combo)
        form.addRow("Augmentation", self.augment_combo)
        form.addRow("Transfer", self.transfer_check)
        form.addRow("", self.transfer_mode_combo)
        form.addRow("Device", self.device_combo)
        form.addRow("Mixed precision", self.amp_combo)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.pause_button)
        buttons.addWidget(self.stop_button)
        setup = QGroupBox("Experiment")
        setup_layout = QVBoxLayout(setup)
        setup_layout.addLayout(form)
        setup_layout.addLayout(buttons)
        setup_layout.addWidget(self.progress)
        setup_layout.addWidget(self.eta_label)
        setup_layout.addWidget(self.status_label)
        setup_layout.addWidget(self.error_banner)
        card = QGroupBox("About this model")
        QVBoxLayout(card).addWidget(self.model_card)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(setup)
        left_layout.addWidget(card, 1)
        # Scrolls instead of squeezing the form's rows into each other on a small screen (800×600).
        left_scroll = QScrollArea(objectName="setupScroll", widgetResizable=True)
        left_scroll.setWidget(left)
        left_scroll.setFrameShape(QFrame.Shape.NoFrame)
        left_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left.setMinimumWidth(280)
        left_scroll.setMinimumWidth(300)
        left_scroll.setMaximumWidth(400)

        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.plots.loss_plot)
        plots.addWidget(self.plots.accuracy_plot)
        self.health_view = HealthReportView()
        middle = QTabWidget(objectName="centreTabs")
        middle.addTab(plots, "Training")
        middle.addTab(self.health_view, "Dataset health")
        self.centre_tabs = middle

        self.drop_zone = DropZone()
        self.prediction_view = PredictionView()
        self.layer_tree = LayerTree()
        self.feature_map_view = FeatureMapView()
        self.image_label = QLabel(objectName="imageCaption", wordWrap=True)
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
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(top)
        right.addWidget(self.layer_tree)
        right.addWidget(self.feature_map_view)
        right.setSizes([190, 290, 350])

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left_scroll)
        splitter.addWidget(middle)
        splitter.addWidget(right)
        splitter.setSizes([330, 560, 510])
        self.setCentralWidget(splitter)
        self.statusBar().showMessage(f"Runs are saved under {self.runs_root}")

        self.start_button.clicked.connect(self.start_training)
        self.stop_button.clicked.connect(self.stop_training)
        self.pause_button.toggled.connect(self.pause_training)
        self.recipe_combo.currentIndexChanged.connect(self._apply_recommended)
        self.model_combo.currentIndexChanged.connect(self._on_selection_changed)
        self.dataset_combo.currentIndexChanged.connect(self._on_selection_changed)
        self.drop_zone.imageDropped.connect(self.classify_file)
        self.drop_zone.folderDropped.connect(self.open_folder)
        self.layer_tree.itemSelectionChanged.connect(self._show_feature_maps)

    def _populate(self) -> None:
        by_family: dict[str, list[models.ModelInfo]] = {}
        for name in models.list_models():
            info = models.get_model_info(name)
            by_family.setdefault(info.family, []).append(info)
        bold = QFont()
        bold.setBold(True)
        for family, infos in sorted(by_family.items(), key=lambda kv: min(i.year for i in kv[1])):
            self.model_combo.addItem(family)
            header = self.model_combo.model().item(self.model_combo.count() - 1)
            header.setEnabled(False)
            header.setFont(bold)
            for info in sorted(infos, key=lambda i: (i.year, i.name)):
                self.model_combo.addItem(f"    {info.name}", info.name)
        self.model_combo.setCurrentIndex(self.model_combo.findData("lenet5"))
        for name in list_datasets():
            self.dataset_combo.addItem(get_dataset_info(name).title, name)
        self.dataset_combo.insertSeparator(self.dataset_combo.count())
        self.dataset_combo.addItem("Image folder…", FOLDER_ENTRY)

    # -- selection and the inspection model ------------------------------------------------
    @property
    def model_name(self) -> str:
        return self.model_combo.currentData()

    @property
    def dataset_name(self) -> str:
        return self.dataset_combo.currentData()

    @property
    def data_spec(self):
        """The loaded dataset, or, before its download, what is known of it (same attributes)."""
        return self.bundle if self.bundle is not None else get_dataset_info(self.dataset_name)

    def _classes(self) -> list[str]:
        spec = self.data_spec
        return list(spec.classes) if hasattr(spec, "classes") else [str(i) for i in range(spec.num_classes)]

    @Slot()
    def _apply_recommended(self) -> None:
        """Fill the optimiser, learning rate and batch size from the chosen recipe, or from the
        model family's defaults (the engine's ``resolve``, so window and CLI agree)."""
        if self.model_name is None:
            return
        settings = resolve(TrainConfig(model=self.model_name, recipe=self.recipe_combo.currentData()))
        self.optimizer_combo.setCurrentIndex(max(0, self.optimizer_combo.findData(settings.optimizer)))
        self.lr_spin.setValue(settings.lr)
        self.batch_spin.setValue(settings.batch_size)
        if self.recipe_combo.currentData() is not None:
            self.augment_combo.setCurrentIndex(max(0, self.augment_combo.findData(settings.augment)))

    @Slot()
    def _on_selection_changed(self) -> None:
        if self.model_name is None or self.dataset_name is None or self.training:
            return
        if self.model_name != getattr(self, "_recommended_for", None):
            self._recommended_for = self.model_name
            self._apply_recommended()
        has_weights = pretrained.has_weights(self.model_name)
        self.transfer_check.setEnabled(has_weights)
        self.transfer_check.setToolTip("" if has_weights else f"{self.model_name} has no ImageNet weights in torchvision")
        if not has_weights and self.transfer_check.isChecked():
            self.transfer_check.setChecked(False)  # re-enters this slot
            return
        if self.dataset_name == FOLDER_ENTRY:
            self._choose_folder()
            return
        self._previous_dataset = self.dataset_combo.currentIndex()
        if is_folder_dataset(self.dataset_name) and (self.bundle is None or self.bundle.name != self.dataset_name
                                                     or self.bundle.native_size[0] != self._folder_image_size()):
            self.open_folder(self.dataset_name)
            return
        self._show_error("")
        try:
            if self.bundle is None or self.bundle.name != self.dataset_name:
                self._load_bundle()
            self._build_inspection_model(self.model_name, self._input_shape())
        except (DatasetError, ValueError, RuntimeError) as exc:
            self._show_error(str(exc))

    def _input_shape(self) -> tuple[int, int, int]:
        spec = self.data_spec
        if self.transfer_check.isChecked():
            crop = pretrained.weights_for(self.model_name).crop_size
            return (spec.in_channels, crop, crop)
        return resolve_input_size(self.model_name, spec)

    # -- image folders -------------------------------------------------------------------------------
    def _folder_image_size(self) -> int:
        """Folders are decoded at the pretrained weights' crop size, else at the default size."""
        if self.transfer_check.isChecked() and pretrained.has_weights(self.model_name):
            return pretrained.weights_for(self.model_name).crop_size
        return DEFAULT_IMAGE_SIZE

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder with one sub-folder of images per class")
        if path:
            self.open_folder(path)
        else:
            self.dataset_combo.setCurrentIndex(self._previous_dataset)

    @Slot(str)
    def open_folder(self, path: str) -> None:
        """Scan, split and decode a class-per-folder set in a worker thread; the window stays live."""
        if self.training or self._folder_thread is not None:
            return
        path = str(Path(path).expanduser().resolve())
        self.dataset_combo.blockSignals(True)  # inserting an item moves the current index: no re-entry
        try:
            index = self.dataset_combo.findData(path)
            if index < 0:
                index = self.dataset_combo.findData(FOLDER_ENTRY) - 1  # above the separator
                self.dataset_combo.insertItem(index, f"Folder: {Path(path).name}", path)
                self.dataset_combo.setItemData(index, path, Qt.ItemDataRole.ToolTipRole)
            self.dataset_combo.setCurrentIndex(index)
        finally:
            self.dataset_combo.blockSignals(False)
        self._show_error("")
        self._set_controls_enabled(False)
        self.stop_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.setFormat(f"scanning {Path(path).name}…")
        self.status_label.setText(f"Reading {html.escape(path)}…")
        self._folder_thread = QThread(self)
        self._folder_worker = FolderWorker(path, image_size=self._folder_image_size())
        self._folder_worker.moveToThread(self._folder_thread)
        self._folder_thread.started.connect(self._folder_worker.run)
        self._folder_worker.progress.connect(self._on_folder_progress)
        self._folder_worker.loaded.connect(self._on_folder_loaded)
        self._folder_worker.failed.connect(self._on_folder_failed)
        self._folder_worker.done.connect(self._folder_thread.quit)
        self._folder_thread.finished.connect(self._on_folder_thread_finished)
        self._folder_thread.start()

    @Slot(int, int, str)
    def _on_folder_progress(self, done: int, total: int, what: str) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        verb = what.split(" ", 1)[0]
        self.progress.setFormat(f"{verb} {done}/{total}")

    @Slot(object)
    def _on_folder_loaded(self, bundle) -> None:
        self.bundle = bundle
        self._previous_dataset = self.dataset_combo.currentIndex()
        self.health_view.show_report(bundle.health)
        self.centre_tabs.setCurrentWidget(self.health_view)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        health = bundle.health
        self.status_label.setText(
            f"{health.usable} images in {len(health.classes)} classes"
            + (f"; {len(health.skipped)} file(s) skipped (see Dataset health)" if health.skipped else "")
            + (f"<br>{html.escape(health.changes)}" if health.changes else ""))
        sample, label = bundle.test[0] if len(bundle.test) else bundle.train[0]
        sample = sample.float() / 255 if sample.dtype == torch.uint8 else sample
        self._set_image(sample, f"test image 0 (label {bundle.classes[int(label)]})")
        try:
            self._build_inspection_model(self.model_name, self._input_shape())
        except (ValueError, RuntimeError) as exc:
            self._show_error(str(exc))

    @Slot(str, str)
    def _on_folder_failed(self, message: str, details: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setFormat("idle")
        if message:
            self._show_error(message)
        self.status_label.setText("")
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.setCurrentIndex(self._previous_dataset)
        self.dataset_combo.blockSignals(False)
        self._pending_failure = True

    @Slot()
    def _on_folder_thread_finished(self) -> None:
        loaded = not getattr(self, "_pending_failure", False)
        self._pending_failure = False
        self._epochs_planned, self._started_at, self._first_step = 1, time.monotonic(), 1
        for obj in (self._folder_worker, self._folder_thread):
            if obj is not None:
                obj.deleteLater()
        self._folder_worker = self._folder_thread = None
        self._set_controls_enabled(True)
        self.folderLoaded.emit(self.bundle if loaded else None)

    @staticmethod
    def _local_folder(mime) -> str | None:
        for url in mime.urls() if mime.hasUrls() else []:
            if url.isLocalFile() and Path(url.toLocalFile()).is_dir():
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event) -> None:
        if self._local_folder(event.mimeData()) and not self.training:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        folder = self._local_folder(event.mimeData())
        if folder:
            event.acceptProposedAction()
            self.open_folder(folder)

    def _load_bundle(self) -> None:
        """Load the chosen dataset if it is on disk; a dataset still to download loads at Start,
        in the training thread, so the window never waits on the network."""
        info = get_dataset_info(self.dataset_name)
        try:
            self.bundle = load_dataset(info.name, download=False)
        except DatasetError:
            if not info.needs_download:
                raise
            self.bundle = None
            self.status_label.setText(f"{html.escape(info.title)} is not downloaded yet: it downloads when you "
                                      f"press Start. {html.escape(info.description)}")
            return
        self.status_label.setText("")
        sample, label = self.bundle.test[0]
        self._set_image(sample, f"test sample 0 (label {self.bundle.classes[int(label)]})")

    def _build_inspection_model(self, name: str, input_shape: tuple[int, int, int], norm=None) -> None:
        spec = self.data_spec
        model = models.create_model(name, num_classes=len(self._classes()), in_channels=input_shape[0],
                                    input_size=input_shape)
        mean, std = norm if norm else (spec.mean, spec.std)
        self.classifier = Classifier(model, self._classes(), input_shape, spec.native_size, mean, std,
                                     spec.dark_background, getattr(spec, "crop", False))
        self.weights_note = "(untrained)"
        summary = summarize(model, input_shape)
        self.layer_tree.show_summary(summary)
        self._show_card(name, summary)
        self.feature_map_view.clear_maps("Select a layer to see its feature maps")
        if self.image is not None and self.image.shape[0] != input_shape[0]:
            self.image, self.image_caption = None, ""
            self.drop_zone.clear()
            self.drop_zone.setText("Drop an image here\n(or click)")
            self.image_label.setText("")
        self._refresh_inspection()

    def _show_card(self, name: str, summary) -> None:
        info = models.get_model_info(name)
        c, h, w = summary.input_shape
        self.model_card.setText(
            f"<h3 style='margin:0'>{html.escape(name)}</h3>"
            f"<p style='color:#555'>{html.escape(info.family)} · {info.year} · paper input "
            f"{'×'.join(map(str, info.input_size))}<br>"
            f"<a href='{html.escape(info.url)}'>{html.escape(info.paper)}</a></p>"
            f"<p>{html.escape(info.idea)}</p>"
            f"<p><b>{summary.total_params:,}</b> parameters · <b>{human_count(summary.total_macs)}</b> "
            f"multiply-adds at {c}×{h}×{w}<br><span style='color:#555'>Stem: {html.escape(summary.stem_info)}</span></p>"
        )

    def _set_image(self, image: torch.Tensor, caption: str) -> None:
        self.image = image
        self.image_caption = caption
        self.drop_zone.show_image(image, caption)
        self.image_label.setText(f"<small>{html.escape(caption)}</small>")

    @Slot(str)
    def classify_file(self, path: str) -> None:
        if self.classifier is None:
            return
        spec = self.data_spec
        try:
            image = image_to_tensor(path, spec.in_channels, spec.native_size, spec.dark_background,
                                    getattr(spec, "crop", False))
        except DatasetError as exc:
            self._show_error(str(exc))
            return
        self._show_error("")
        self._set_image(image, Path(path).name)
        self._refresh_inspection()
        self.statusBar().showMessage(f"Classified {Path(path).name}", 5000)

    def _refresh_inspection(self) -> None:
        if self.classifier is None or self.image is None:
            return
        self.prediction_view.show_predictions(self.classifier.top_k(self.image, 3), self.weights_note)
        self._show_feature_maps()

    @Slot()
    def _show_feature_maps(self) -> None:
        layer = self.layer_tree.selected_layer()
        if layer is None or self.classifier is None or self.image is None:
            return
        try:
            self.feature_map_view.show_maps(layer, self.classifier.feature_maps(self.image, layer))
        except (ValueError, RuntimeError) as exc:
            self.feature_map_view.clear_maps(f"{layer}: {exc}")

    def select_layer(self, layer: str) -> None:
        item = self.layer_tree.item_for(layer)
        if item is None:
            raise KeyError(layer)
        self.layer_tree.setCurrentItem(item)

    # -- training ------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        return self._thread is not None

    def config(self) -> TrainConfig:
        return TrainConfig(
            model=self.model_name, dataset=self.dataset_name, epochs=self.epochs_spin.value(),
            batch_size=self.batch_spin.value(), lr=self.lr_spin.value(), optimizer=self.optimizer_combo.currentData(),
            recipe=self.recipe_combo.currentData(), device=self.device_combo.currentData(),
            amp=self.amp_combo.currentData(), augment=self.augment_combo.currentData(), pretrained=self.transfer_check.isChecked(),
            transfer=self.transfer_mode_combo.currentData(),
            image_size=self.bundle.native_size[0] if self.bundle is not None and self.bundle.health is not None else None,
        )

    @Slot()
    def start_training(self) -> None:
        if self.training:
            return
        self._show_error("")
        self.plots.clear()
        self.last_summary = None
        config = self.config()
        self._thread = QThread(self)
        self._worker = TrainingWorker(config, runs_root=self.runs_root, bundle=self.bundle)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.runStarted.connect(self._on_run_started)
        self._worker.stepEnded.connect(self._on_step)
        self._worker.epochEnded.connect(self._on_epoch)
        self._worker.runFinished.connect(self._on_finished)
        self._worker.runFailed.connect(self._on_failed)
        self._worker.dataProgress.connect(self._on_data_progress)
        self._worker.notice.connect(self._on_notice)
        self._worker.done.connect(self._thread.quit)
        self._thread.finished.connect(self._on_thread_finished)
        self._set_controls_enabled(False)
        self.progress.setRange(0, config.epochs)
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self.status_label.setText(f"Training {config.model} on {config.dataset}…")
        self._thread.start()

    @Slot()
    def stop_training(self) -> None:
        if self._worker is not None:
            self._worker.stop()  # also releases a pause
            self.stop_button.setEnabled(False)
            self.status_label.setText("Stopping after this batch…")

    @Slot(bool)
    def pause_training(self, paused: bool) -> None:
        """Pause holds the training thread before its next batch; Resume lets it go on."""
        if self._worker is None:
            return
        if paused:
            self._worker.trainer.request_pause()
            self.pause_button.setText("Resume")
            self.status_label.setText("Paused (the run waits before its next batch).")
        else:
            self._worker.trainer.request_resume()
            self.pause_button.setText("Pause")
            self.status_label.setText("Training…")

    def _set_controls_enabled(self, enabled: bool) -> None:
        for widget in (self.model_combo, self.dataset_combo, self.epochs_spin, self.batch_spin, self.lr_spin,
                       self.optimizer_combo, self.augment_combo, self.start_button, self.recipe_combo,
                       self.device_combo, self.amp_combo):
            widget.setEnabled(enabled)
        self.pause_button.setEnabled(not enabled)
        if enabled:
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.setText("Pause")
            self.pause_button.blockSignals(False)
        self.transfer_check.setEnabled(enabled and pretrained.has_weights(self.model_name))
        self.transfer_mode_combo.setEnabled(enabled and self.transfer_check.isChecked())
        self.stop_button.setEnabled(not enabled)

    @Slot(object)
    def _on_run_started(self, event) -> None:
        if self.bundle is None:  # it was downloaded by the training thread just now
            try:
                self._load_bundle()
            except DatasetError as exc:
                self._show_error(str(exc))
        self._build_inspection_model(self.model_name, tuple(event.input_size),
                                     (event.mean, event.std) if event.mean else None)
        if event.config.get("pretrained") and hasattr(self.classifier.model, "transform_input"):
            self.classifier.model.transform_input = True
        self.weights_note = "(training…)"
        self._epochs_planned = event.epochs or event.config.get("epochs") or 1
        self._started_at = time.monotonic()
        self._first_step = (event.start_epoch - 1) * event.steps_per_epoch + 1
        self.status_label.setText(f"Training {event.config['model']} ({event.num_params:,} parameters) "
                                  f"on {event.device}.<br>Run folder: {html.escape(event.run_dir)}")

    @Slot(object)
    def _on_notice(self, event) -> None:
        self.statusBar().showMessage(event.message, 30_000)

    @Slot(object)
    def _on_data_progress(self, event) -> None:
        if event.stage == "download":
            self.progress.setRange(0, max(1, event.total))
            self.progress.setValue(event.done)
            self.progress.setFormat(f"downloading {event.what}: {event.done / 1e6:.1f} of {event.total / 1e6:.1f} MB")
        else:
            self._on_folder_progress(event.done, event.total, event.what)

    @Slot(object)
    def _on_step(self, event) -> None:
        self.plots.add_step(event.progress, event.loss)
        total = self._epochs_planned * event.steps_per_epoch
        done = (event.epoch - 1) * event.steps_per_epoch + event.step
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"epoch {event.epoch}/{self._epochs_planned}: batch {event.step}/{event.steps_per_epoch}")
        elapsed = time.monotonic() - self._started_at
        fresh = done - self._first_step + 1
        remaining = elapsed / fresh * (total - done) if fresh > 0 else 0.0
        self.eta_label.setText(f"{event.images_per_sec:,.0f} img/s · elapsed {_clock(elapsed)} · "
                               f"about {_clock(remaining)} left")
        self.stepShown.emit(event)

    @Slot(object, object)
    def _on_epoch(self, event, weights) -> None:
        self.plots.add_epoch(event.epoch, event.train_loss, event.train_acc, event.val_loss, event.val_acc)
        self.progress.setFormat(f"epoch {event.epoch}/{event.epochs} · val acc {event.val_acc:.3f}")
        self.classifier.model.load_state_dict(weights)
        self.weights_note = f"(epoch {event.epoch})"
        self._refresh_inspection()
        self.epochShown.emit(event)

    @Slot(object, object)
    def _on_finished(self, event, weights) -> None:
        summary = event.summary
        self.last_summary = summary
        self.classifier.model.load_state_dict(weights)
        if summary["status"] == "completed":
            self.weights_note = f"(best epoch {summary['best_epoch']})"
            text = (f"Done in {summary['seconds']:.1f} s: best val acc <b>{summary['best_val_acc']:.3f}</b> "
                    f"(epoch {summary['best_epoch']}), test acc <b>{summary['test_acc']:.3f}</b>.")
        else:
            self.weights_note = f"(stopped after epoch {summary['epochs']})"
            text = f"Stopped after {summary['epochs']} epoch(s)."
        self.status_label.setText(f"{text}<br>Run folder: {html.escape(event.run_dir)}")
        self.progress.setFormat(summary["status"])
        self.eta_label.setText(f"{summary.get('images_per_sec') or 0:,.0f} img/s on average · "
                               f"{_clock(summary['seconds'])} in all")
        self._refresh_inspection()

    @Slot(object)
    def _on_failed(self, event) -> None:
        self.last_summary = {"status": "failed", "error": event.message}
        self._show_error(event.message)
        self.status_label.setText("Training failed.")
        self.progress.setFormat("failed")

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._worker is not None:
            self._worker.deleteLater()
        if self._thread is not None:
            self._thread.deleteLater()
        self._worker = None
        self._thread = None
        self._set_controls_enabled(True)
        self.trainingEnded.emit(self.last_summary or {})

    def _show_error(self, message: str) -> None:
        self.error_banner.setText(message)
        self.error_banner.setVisible(bool(message))

    def closeEvent(self, event) -> None:
        """Stop a run cleanly: ask the worker to stop, then wait for its thread to end."""
        if self._worker is not None:
            self._worker.stop()
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait()
        if self._folder_worker is not None:
            self._folder_worker.cancel()
        if self._folder_thread is not None:
            self._folder_thread.quit()
            self._folder_thread.wait()
        super().closeEvent(event)
