"""The main window: a shell that lays out the views and wires them to the controllers.

Left, the experiment form and the model's card; in the centre, tabs for training (live curves
and the probe image), the dataset's health, the evaluation and the runs; right, the drop zone,
the prediction and the layer explorer. Every slow thing runs off the UI thread: training on
the training controller's thread, everything else through ``jobs.JobRunner``; the status bar
says what is running."""

from __future__ import annotations

import html
import time
from pathlib import Path

import torch
from PySide6.QtCore import QByteArray, QSettings, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.core import devices, pretrained
from workbench.core.data.folder_bundle import DEFAULT_IMAGE_SIZE
from workbench.core.datasets import get_dataset_info, is_folder_dataset
from workbench.core.runs import default_runs_root
from workbench.core.train import TrainConfig

from . import cost
from .controllers.inspection import InspectionController
from .controllers.runs import RunsController, evaluation_source, read_curves
from .controllers.training import TrainingController
from .folder_worker import FolderWorker
from .jobs import JobRunner
from .state import Session
from .views.evaluation_view import EvaluationView
from .views.experiment_form import FOLDER_ENTRY, ExperimentForm, clock
from .views.health_view import HealthReportView
from .views.inspector import DropZone, FeatureMapView, LayerTree, PredictionView
from .views.model_card import ModelCard
from .views.probe_view import ProbeView
from .views.runs_view import RunsView
from .views.training_plots import TrainingPlots

DEGRADATION_MODELS = ("plain20", "plain56", "resnet20", "resnet56")


class MainWindow(QMainWindow):
    # Emitted in the UI thread once the window has shown what happened (for automation and tests).
    stepShown = Signal(object)  # the last StepEnded of a coalesced batch
    epochShown = Signal(object)  # EpochEnded
    trainingEnded = Signal(object)  # the run's summary dict
    folderLoaded = Signal(object)  # the DataBundle of an image folder, or 0 when it failed
    modelShown = Signal(object)  # the ModelSummary of the model now classified and inspected
    evaluationShown = Signal(object)  # the report shown in the evaluation view
    runsShown = Signal(object)  # the rows shown in the runs table
    comparisonShown = Signal(object)  # the rows compared

    def __init__(self, runs_root: str | Path | None = None, settings: QSettings | None = None):
        super().__init__()
        self.setWindowTitle("CNN Workbench")
        self.resize(1400, 880)
        self.runs_root = Path(runs_root) if runs_root else default_runs_root()
        self.settings = settings if settings is not None else QSettings("CNN Workbench", "CNN Workbench")
        self.session = Session(self)
        self.jobs = JobRunner(self, workers=1, name="model")  # everything that touches the model, in order
        self.io_jobs = JobRunner(self, workers=2, name="io")  # files and measurements
        self.inspection = InspectionController(self.jobs, self)
        self.training_controller = TrainingController(self.runs_root, self)
        self.runs = RunsController(self.runs_root, self.io_jobs, self)
        self._folder_thread: QThread | None = None
        self._folder_worker: FolderWorker | None = None
        self._previous_dataset = 0
        self._pending_failure = False
        self._recommended_for: str | None = None
        self._epochs_planned, self._started_at, self._first_step = 1, time.monotonic(), 1
        self._rates: dict[str, tuple[float, float]] = {}  # device → (multiply-adds/s, seconds a step)
        self.setAcceptDrops(True)  # a folder dropped anywhere on the window becomes the dataset

        self._build_ui()
        self._connect()
        self._restore_settings()
        self.plots.set_epochs(self.epochs_spin.value())
        self.on_selection_changed()
        self.runs.refresh()

    # -- layout --------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.form = ExperimentForm()
        for name in ("model_combo", "dataset_combo", "epochs_spin", "batch_spin", "lr_spin", "optimizer_combo",
                     "recipe_combo", "device_combo", "amp_combo", "augment_combo", "transfer_check",
                     "transfer_mode_combo", "start_button", "stop_button", "pause_button", "eta_label", "progress",
                     "status_label", "error_banner"):
            setattr(self, name, getattr(self.form, name))
        self.model_card = ModelCard()
        card = QGroupBox("About this model")
        QVBoxLayout(card).addWidget(self.model_card)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.form)
        left_layout.addWidget(card, 1)
        # Scrolls instead of squeezing the form's rows into each other on a small screen (800×600).
        left_scroll = QScrollArea(objectName="setupScroll", widgetResizable=True)
        left_scroll.setWidget(left)
        left_scroll.setFrameShape(QFrame.Shape.NoFrame)
        left_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left.setMinimumWidth(250)
        left_scroll.setMinimumWidth(260)
        left_scroll.setMaximumWidth(420)

        self.plots = TrainingPlots()
        self.probe_view = ProbeView()
        training = QSplitter(Qt.Orientation.Vertical, objectName="trainingView")
        training.addWidget(self.plots)
        training.addWidget(self.probe_view)
        training.setSizes([620, 200])
        self.health_view = HealthReportView()
        self.evaluation_view = EvaluationView()
        self.runs_view = RunsView()
        self.centre_tabs = QTabWidget(objectName="centreTabs")
        self.centre_tabs.addTab(training, "Training")
        self.centre_tabs.addTab(self.health_view, "Dataset health")
        self.centre_tabs.addTab(self.evaluation_view, "Evaluation")
        self.centre_tabs.addTab(self.runs_view, "Runs")

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
        right = QSplitter(Qt.Orientation.Vertical, objectName="explorerSplitter")
        right.addWidget(top)
        right.addWidget(self.layer_tree)
        right.addWidget(self.feature_map_view)
        right.setSizes([190, 290, 350])

        self.splitter = QSplitter(Qt.Orientation.Horizontal, objectName="mainSplitter")
        self.splitter.addWidget(left_scroll)
        self.splitter.addWidget(self.centre_tabs)
        self.splitter.addWidget(right)
        self.splitter.setSizes([340, 600, 460])
        # Explicit minimums, below the views' own hints: at 800×600 the panes shrink (and scroll)
        # instead of pushing the window past the screen.
        self.centre_tabs.setMinimumSize(320, 300)
        right.setMinimumSize(180, 300)
        self.setCentralWidget(self.splitter)

        self.busy_bar = QProgressBar(objectName="busyIndicator", maximumWidth=120, textVisible=False, visible=False)
        self.busy_bar.setRange(0, 0)
        self.busy_label = QLabel(objectName="busyLabel")
        self.statusBar().addPermanentWidget(self.busy_label)
        self.statusBar().addPermanentWidget(self.busy_bar)
        self.statusBar().showMessage(f"Runs are saved under {self.runs_root}")

    def _connect(self) -> None:
        form = self.form
        form.selectionChanged.connect(self.on_selection_changed)
        form.changed.connect(self._update_cost)
        form.epochs_spin.valueChanged.connect(self._on_epochs_changed)
        form.start_button.clicked.connect(self.start_training)
        form.stop_button.clicked.connect(self.stop_training)
        form.pause_button.toggled.connect(self.pause_training)
        self.drop_zone.imageDropped.connect(self.classify_file)
        self.drop_zone.folderDropped.connect(self.open_folder)
        self.layer_tree.itemSelectionChanged.connect(self._on_layer_selected)
        self.probe_view.layerChosen.connect(self.inspection.set_probe_layer)

        self.session.changed.connect(self._on_session_changed)
        for runner in (self.jobs, self.io_jobs):
            runner.busyChanged.connect(self._on_busy)
        ins = self.inspection
        ins.modelReady.connect(self._on_model_ready)
        ins.imageChanged.connect(self._on_image)
        ins.predictionsReady.connect(self.prediction_view.show_predictions)
        ins.mapsReady.connect(self._on_maps)
        ins.probeReady.connect(self.probe_view.show_result)
        ins.failed.connect(self._show_error)
        ins.cleared.connect(self._on_image_cleared)

        tr = self.training_controller
        tr.runStarted.connect(self._on_run_started)
        tr.stepsEnded.connect(self._on_steps)
        tr.epochEnded.connect(self._on_epoch)
        tr.runFinished.connect(self._on_finished)
        tr.runFailed.connect(self._on_failed)
        tr.dataProgress.connect(self._on_data_progress)
        tr.notice.connect(self._on_notice)
        tr.ended.connect(self._on_training_ended)

        rv = self.runs_view
        self.runs.runsRead.connect(self._on_runs_read)
        self.runs.comparisonRead.connect(self._on_comparison_read)
        self.runs.failed.connect(self._show_error)
        self.runs.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        rv.refreshRequested.connect(self.runs.refresh)
        rv.openRequested.connect(self.open_run)
        rv.resumeRequested.connect(self.resume_run)
        rv.compareRequested.connect(self.runs.compare)
        rv.renameRequested.connect(self.rename_run)
        rv.deleteRequested.connect(self.delete_runs)
        rv.exportPngRequested.connect(self.export_png)
        rv.exportCsvRequested.connect(self.export_csv)
        rv.degradationRequested.connect(self.start_degradation)

    # -- the session as tests and views read it -----------------------------------------------
    @property
    def model_name(self) -> str | None:
        return self.form.model_name

    @property
    def dataset_name(self) -> str | None:
        return self.form.dataset_name

    @property
    def bundle(self):
        return self.session.bundle

    @bundle.setter
    def bundle(self, value) -> None:
        self.session.set(bundle=value)

    @property
    def classifier(self):
        return self.inspection.classifier

    @property
    def image(self) -> torch.Tensor | None:
        return self.inspection.image

    @property
    def image_caption(self) -> str:
        return self.inspection.caption

    @property
    def last_summary(self) -> dict | None:
        return self.training_controller.last_summary

    @property
    def training(self) -> bool:
        """A run (or a queue of runs) is under way."""
        return self.training_controller.running

    @property
    def _worker(self):
        return self.training_controller.worker

    @property
    def _thread(self):
        return self.training_controller.thread

    @property
    def idle(self) -> bool:
        """Nothing queued or running off the UI thread (training aside)."""
        return not self.jobs.busy and not self.io_jobs.busy and self._folder_thread is None

    @property
    def data_spec(self):
        """The loaded dataset, or, before its download, what is known of it (same attributes)."""
        if self.bundle is not None:
            return self.bundle
        return get_dataset_info(self.dataset_name)

    def config(self) -> TrainConfig:
        bundle = self.bundle
        folder_size = bundle.native_size[0] if bundle is not None and bundle.health is not None else None
        return self.form.config(image_size=folder_size)

    @Slot(str)
    def _on_session_changed(self, _what: str) -> None:
        """The title says what the window is working with: the model on show and its run, if any."""
        parts = [self.session.model_name or ""]
        if self.session.run_dir:
            parts.append(f"run {Path(self.session.run_dir).name}")
        self.setWindowTitle(" · ".join(["CNN Workbench", *filter(None, parts)]))

    # -- busy state ------------------------------------------------------------------------------
    @Slot(bool)
    def _on_busy(self, _busy: bool) -> None:
        busy = self.jobs.busy or self.io_jobs.busy
        self.busy_bar.setVisible(busy)
        what = ", ".join(filter(None, (self.jobs.describe(), self.io_jobs.describe())))
        self.busy_label.setText(f"{what}…" if busy and what else "")

    # -- selection and the inspection model ------------------------------------------------
    @Slot()
    def on_selection_changed(self) -> None:
        if self.model_name is None or self.dataset_name is None or self.training_controller.running:
            return
        if self.model_name != self._recommended_for:
            self._recommended_for = self.model_name
            self.form.apply_recommended()
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
        if self.bundle is None or self.bundle.name != self.dataset_name:
            self.status_label.setText("")  # what was said of the last dataset
        self.inspection.build(self.model_name, self.dataset_name, self.bundle, self.transfer_check.isChecked(),
                              self.form.input_spin.value() or None)
        self.settings.setValue("form/model", self.model_name)
        if not is_folder_dataset(self.dataset_name):
            self.settings.setValue("form/dataset", self.dataset_name)

    @Slot(object)
    def _on_model_ready(self, prepared) -> None:
        if not prepared.run_dir:  # an opened run leaves the dataset as it was
            self.bundle = prepared.bundle
        if prepared.message:
            self.status_label.setText(html.escape(prepared.message))
        self.layer_tree.show_summary(prepared.summary)
        self.model_card.show_model(prepared.summary, prepared.note if prepared.run_dir else "")
        self.feature_map_view.clear_maps("Select a layer to see its feature maps")
        self.probe_view.set_layers(getattr(prepared.classifier.model, "feature_info", []))
        self.session.set(model_name=prepared.summary.model)
        self.form.train_size = self._train_images()
        self._update_cost()
        self.modelShown.emit(prepared.summary)

    @Slot(object, str)
    def _on_image(self, image, caption: str) -> None:
        self.drop_zone.show_image(image, caption)
        self.image_label.setText(f"<small>{html.escape(caption)}</small>")
        self.probe_view.set_image(image, caption)

    @Slot()
    def _on_image_cleared(self) -> None:
        self.drop_zone.clear()
        self.drop_zone.setText("Drop an image here\n(or click)")
        self.image_label.setText("")
        self.prediction_view.show_predictions([], "")

    @Slot(str)
    def classify_file(self, path: str) -> None:
        if self.classifier is None:
            return
        self._show_error("")
        self.inspection.classify_file(path)  # the status bar's busy label says so meanwhile

    @Slot()
    def _on_layer_selected(self) -> None:
        self.inspection.show_layer(self.layer_tree.selected_layer())

    @Slot(str, object)
    def _on_maps(self, layer: str, maps) -> None:
        if layer != self.layer_tree.selected_layer():
            return
        if isinstance(maps, str):
            self.feature_map_view.clear_maps(maps)
        else:
            self.feature_map_view.show_maps(layer, maps)

    def select_layer(self, layer: str) -> None:
        item = self.layer_tree.item_for(layer)
        if item is None:
            raise KeyError(layer)
        self.layer_tree.setCurrentItem(item)

    @Slot(int)
    def _on_epochs_changed(self, epochs: int) -> None:
        """Before a run the plots' axes already span the planned epochs."""
        if not self.training and not any(self.plots.point_counts().values()):
            self.plots.set_epochs(epochs)

    # -- cost -----------------------------------------------------------------------------------
    def _train_images(self) -> int | None:
        if self.bundle is not None:
            return len(self.bundle.train)
        return cost.KNOWN_TRAIN_IMAGES.get(self.dataset_name or "")

    @Slot()
    def _update_cost(self) -> None:
        summary = self.inspection.summary
        if summary is None:
            return
        device = devices.pick_device(self.form.device_combo.currentData())
        key = str(device)
        self._check_config()
        if key not in self._rates:
            self.form.show_cost(summary.total_macs, self._train_images(), None, key)
            self.io_jobs.submit(f"rate:{key}", lambda: cost.measure_rate(device),
                                lambda rate: (self._rates.__setitem__(key, rate), self._update_cost()),
                                what=f"measuring {key}")
            return
        images = self._train_images()
        rate, overhead = self._rates[key]
        seconds = cost.epoch_seconds(summary.total_macs, images, self.form.batch_spin.value(), rate,
                                     overhead) if images else None
        self.form.show_cost(summary.total_macs, images, seconds, devices.describe(device))

    def _check_config(self) -> None:
        """Explain, next to Start, why the settings cannot run; Start waits until they can."""
        problem = cost.config_problem(self.config(), self._train_images())
        self.form.show_problem(problem)
        self.start_button.setEnabled(not problem and not self.training_controller.running and self._folder_thread is None)

    # -- image folders -------------------------------------------------------------------------------
    def _folder_image_size(self) -> int:
        """Folders are decoded at the pretrained weights' crop size, else at the default size."""
        if self.transfer_check.isChecked() and pretrained.has_weights(self.model_name):
            return pretrained.weights_for(self.model_name).crop_size
        return DEFAULT_IMAGE_SIZE

    def _choose_folder(self) -> None:
        start = str(self.settings.value("data/folder", "") or "")
        path = QFileDialog.getExistingDirectory(self, "Choose a folder with one sub-folder of images per class", start)
        if path:
            self.open_folder(path)
        else:
            self.dataset_combo.setCurrentIndex(self._previous_dataset)

    @Slot(str)
    def open_folder(self, path: str) -> None:
        """Scan, split and decode a class-per-folder set in a worker thread; the window stays live."""
        if self.training_controller.running or self._folder_thread is not None:
            return
        path = str(Path(path).expanduser().resolve())
        self.settings.setValue("data/folder", str(Path(path).parent))
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
        self.form.set_running(True)
        self.stop_button.setEnabled(False)
        self.pause_button.setEnabled(False)
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
        self.inspection.image = None  # the folder's first test image replaces the last one
        self.inspection.build(self.model_name, bundle.name, bundle, self.transfer_check.isChecked(),
                              self.form.input_spin.value() or None)

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
        loaded = not self._pending_failure
        self._pending_failure = False
        for obj in (self._folder_worker, self._folder_thread):
            if obj is not None:
                obj.deleteLater()
        self._folder_worker = self._folder_thread = None
        self.form.set_running(False)
        self._after_controls_change()
        self.folderLoaded.emit(self.bundle if loaded else 0)

    @staticmethod
    def _local_folder(mime) -> str | None:
        for url in mime.urls() if mime.hasUrls() else []:
            if url.isLocalFile() and Path(url.toLocalFile()).is_dir():
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event) -> None:
        if self._local_folder(event.mimeData()) and not self.training_controller.running:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        folder = self._local_folder(event.mimeData())
        if folder:
            event.acceptProposedAction()
            self.open_folder(folder)

    # -- training ------------------------------------------------------------------------
    @Slot()
    def start_training(self) -> None:
        if self.training_controller.running:
            return
        self._begin(f"Training {self.model_name} on {self.dataset_combo.currentText()}…", self.epochs_spin.value())
        self.training_controller.start(self.config(), self.bundle)

    def _begin(self, text: str, epochs: int) -> None:
        self._show_error("")
        self.plots.clear(epochs)
        self._epochs_planned = epochs
        self.form.set_running(True)
        self.transfer_check.setEnabled(False)
        self.transfer_mode_combo.setEnabled(False)
        self.progress.setRange(0, max(1, epochs))
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self.status_label.setText(html.escape(text))
        self.centre_tabs.setCurrentIndex(0)

    @Slot()
    def stop_training(self) -> None:
        if self.training_controller.running:
            self.training_controller.stop()
            self.stop_button.setEnabled(False)
            self.status_label.setText("Stopping after this batch…")

    @Slot(bool)
    def pause_training(self, paused: bool) -> None:
        """Pause holds the training thread before its next batch; Resume lets it go on."""
        if not self.training_controller.running:
            return
        self.training_controller.pause(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.status_label.setText("Paused (the run waits before its next batch)." if paused else "Training…")

    def _after_controls_change(self) -> None:
        running = self.training_controller.running or self._folder_thread is not None
        self.transfer_check.setEnabled(not running and pretrained.has_weights(self.model_name))
        self.transfer_mode_combo.setEnabled(not running and self.transfer_check.isChecked())
        if not running:
            self._check_config()

    @Slot(object)
    def _on_run_started(self, event) -> None:
        self.inspection.adopt(event, event.config["dataset"], self.bundle)
        self._epochs_planned = event.epochs or event.config.get("epochs") or 1
        self.plots.clear(self._epochs_planned)  # each run of a queue gets fresh curves
        self._started_at = time.monotonic()
        self._first_step = (event.start_epoch - 1) * event.steps_per_epoch + 1
        queued = f" ({len(self.training_controller.queue)} more queued)" if self.training_controller.queue else ""
        self.status_label.setText(f"Training {event.config['model']} ({event.num_params:,} parameters) "
                                  f"on {html.escape(event.device)}{queued}.<br>Run folder: {html.escape(event.run_dir)}")
        self.session.set(run_dir=event.run_dir)
        self.runs.refresh()

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

    @Slot(object, float)
    def _on_steps(self, steps, gpu_memory: float) -> None:
        for event in steps:
            self.plots.add_step(event.progress, event.loss, event.lr)
        event = steps[-1]
        total = self._epochs_planned * event.steps_per_epoch
        done = (event.epoch - 1) * event.steps_per_epoch + event.step
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"epoch {event.epoch}/{self._epochs_planned}: batch {event.step}/{event.steps_per_epoch}")
        elapsed = time.monotonic() - self._started_at
        fresh = done - self._first_step + 1
        remaining = elapsed / fresh * (total - done) if fresh > 0 else 0.0
        memory = f" · GPU memory {gpu_memory / 2**30:.2f} GiB" if gpu_memory else ""
        self.eta_label.setText(f"{event.images_per_sec:,.0f} img/s · elapsed {clock(elapsed)} · "
                               f"about {clock(remaining)} left{memory}")
        self.stepShown.emit(event)

    @Slot(object, object)
    def _on_epoch(self, event, weights) -> None:
        self.plots.add_epoch(event.epoch, event.train_acc, event.val_loss, event.val_acc, event.best_epoch,
                             event.best_val_acc)
        self.progress.setFormat(f"epoch {event.epoch}/{event.epochs} · val acc {event.val_acc:.3f}")
        self.inspection.load_weights(weights, f"(epoch {event.epoch})")
        if self.training_controller.in_experiment:
            self.runs.compare(self.training_controller.experiment_runs)
        self.epochShown.emit(event)

    @Slot(object, object)
    def _on_finished(self, event, weights) -> None:
        summary = event.summary
        if summary["status"] == "completed":
            note = f"(best epoch {summary['best_epoch']})"
            text = (f"Done in {summary['seconds']:.1f} s: best val acc <b>{summary['best_val_acc']:.3f}</b> "
                    f"(epoch {summary['best_epoch']}), test acc <b>{summary['test_acc']:.3f}</b>.")
        else:
            note = f"(stopped after epoch {summary['epochs']})"
            text = f"Stopped after {summary['epochs']} epoch(s)."
        self.status_label.setText(f"{text}<br>Run folder: {html.escape(event.run_dir)}")
        self.progress.setFormat(summary["status"])
        self.eta_label.setText(f"{summary.get('images_per_sec') or 0:,.0f} img/s on average · "
                               f"{clock(summary['seconds'])} in all")
        self.inspection.load_weights(weights, note)
        if summary.get("test_acc") is not None:
            self.show_evaluation(event.run_dir)

    @Slot(object)
    def _on_failed(self, event) -> None:
        self._show_error(event.message)
        self.status_label.setText("Training failed.")
        self.progress.setFormat("failed")

    @Slot(object)
    def _on_training_ended(self, summary: dict) -> None:
        self.form.set_running(self.training_controller.running)
        self._after_controls_change()
        self.runs.refresh()
        if self.training_controller.in_experiment:
            self.runs.compare(self.training_controller.experiment_runs)
        self.trainingEnded.emit(summary)

    # -- evaluation -------------------------------------------------------------------------------
    def show_evaluation(self, run_dir: str) -> None:
        """The run's test report (written by the engine with the best checkpoint), with the test
        images behind it when the dataset is on this machine."""
        bundle = self.bundle
        self.io_jobs.submit("evaluation", lambda: evaluation_source(run_dir, bundle),
                            lambda result: self._on_evaluation(run_dir, *result), self._show_error,
                            what="reading the evaluation")

    def _on_evaluation(self, run_dir: str, report: dict, images, note: str) -> None:
        if not report:
            self.evaluation_view.clear(f"{Path(run_dir).name} has no test report (it was stopped before the end, "
                                       "or it is still training).")
            self.evaluationShown.emit({})
            return
        self.evaluation_view.show_report(report, Path(run_dir).name, images, note)
        self.session.set(run_dir=run_dir)
        self.evaluationShown.emit(report)

    # -- runs ------------------------------------------------------------------------------------
    @Slot(object)
    def _on_runs_read(self, rows) -> None:
        self.runs_view.show_runs(rows)
        self.runsShown.emit(rows)

    @Slot(object)
    def _on_comparison_read(self, rows) -> None:
        self.runs_view.show_comparison(rows)
        self.comparisonShown.emit(rows)

    @Slot(str)
    def open_run(self, run_dir: str) -> None:
        """An earlier run: its best weights become the model the window classifies and inspects, its
        curves fill the training plots and its test report the evaluation view."""
        if self.training_controller.running:
            self._show_error("Stop the current run before opening another.")
            return
        self._show_error("")
        self.inspection.open_run(run_dir, self.bundle)
        self.io_jobs.submit("open-curves", lambda: read_curves(run_dir),
                            lambda curves: self.plots.load_run(*curves), self._show_error, what="reading curves")
        self.show_evaluation(run_dir)
        self.statusBar().showMessage(f"Opened {Path(run_dir).name}: its best weights are the model now", 10_000)

    @Slot(str)
    def resume_run(self, run_dir: str) -> None:
        """Continue a run from its ``last.pt``; a finished run goes on to the Epochs set in the form."""
        if self.training_controller.running:
            return
        from workbench.core.runs import Run

        run = Run(Path(run_dir))
        planned = run.config.get("epochs") or 0
        done = run.metrics[-1]["epoch"] if run.metrics else 0
        epochs = self.epochs_spin.value() if self.epochs_spin.value() > planned else None
        if done >= planned and epochs is None:
            self._show_error(f"{run.name} finished its {planned} epochs: set Epochs above {planned} to train it further.")
            return
        self._begin(f"Resuming {run.name}…", epochs or planned)
        self.training_controller.start(None, None, resume=run_dir, epochs=epochs)

    @Slot(str, str)
    def rename_run(self, run_dir: str, name: str) -> None:
        if run_dir == self.training_controller.current_run:
            self._show_error("That run is training; rename it once it has ended.")
            self.runs.refresh()
            return
        self._show_error("")
        renamed = self.runs.rename(run_dir, name)
        if renamed and self.session.run_dir == run_dir:
            self.session.set(run_dir=renamed)

    @Slot(object)
    def delete_runs(self, run_dirs, confirm: bool = True) -> None:
        names = ", ".join(Path(d).name for d in run_dirs[:3]) + (" …" if len(run_dirs) > 3 else "")
        if self.training_controller.current_run in run_dirs:
            self._show_error("That run is training; stop it before deleting it.")
            return
        if confirm and QMessageBox.question(self, "Delete runs", f"Delete {len(run_dirs)} run folder(s) ({names}) "
                                            "with their checkpoints? This cannot be undone.") != \
                QMessageBox.StandardButton.Yes:
            return
        self.runs.delete(list(run_dirs))

    @Slot()
    def export_png(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save the comparison curves", "curves.png", "PNG (*.png)")
        if path:
            self.runs_view.compare_plots.grab().save(path)
            self.statusBar().showMessage(f"Saved {path}", 8000)

    @Slot(object)
    def export_csv(self, run_dirs, path: str | None = None) -> None:
        if not run_dirs:
            self._show_error("Select the runs whose metrics to export.")
            return
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save the metrics", "metrics.csv", "CSV (*.csv)")
        if path:
            rows = self.runs.export_csv(list(run_dirs), path)
            self.statusBar().showMessage(f"Saved {rows} rows to {path}", 8000)

    @Slot()
    def start_degradation(self, epochs: int | None = None, batch_size: int | None = None) -> None:
        """He et al. 2015, Figure 6: deeper plain nets train worse; residual ones better. Four runs on
        CIFAR-10 with the paper's recipe, the same split and seed, queued and overlaid as they train."""
        if self.training_controller.running:
            return
        bundle = self.bundle if self.bundle is not None and self.bundle.name == "cifar10" else None
        runs = [(TrainConfig(model=m, dataset="cifar10", recipe="he2015-cifar", seed=0, epochs=epochs,
                             batch_size=batch_size, device=self.form.device_combo.currentData(),
                             amp=self.form.amp_combo.currentData()), bundle) for m in DEGRADATION_MODELS]
        self._begin("Degradation experiment: plain20, plain56, resnet20, resnet56 on CIFAR-10 (He et al. 2015)…",
                    epochs or 1)
        self.centre_tabs.setCurrentWidget(self.runs_view)
        self.training_controller.start_queue(runs)

    # -- errors, settings, closing ---------------------------------------------------------------------
    @Slot(str)
    def _show_error(self, message: str) -> None:
        self.error_banner.setText(message)
        self.error_banner.setVisible(bool(message))

    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        splitter = s.value("window/splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.splitter.restoreState(splitter)
        tab = s.value("window/tab")
        if tab is not None:
            self.centre_tabs.setCurrentIndex(int(tab))
        form = self.form
        form.blockSignals(True)
        for combo, key in ((form.model_combo, "form/model"), (form.dataset_combo, "form/dataset")):
            value = s.value(key)
            if value:
                form.select(combo, value)
        form.blockSignals(False)
        self._recommended_for = None
        for spin, key in ((form.epochs_spin, "form/epochs"),):
            value = s.value(key)
            if value is not None:
                spin.setValue(int(value))

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/splitter", self.splitter.saveState())
        s.setValue("window/tab", self.centre_tabs.currentIndex())
        s.setValue("form/model", self.model_name)
        if self.dataset_name and not is_folder_dataset(self.dataset_name) and self.dataset_name != FOLDER_ENTRY:
            s.setValue("form/dataset", self.dataset_name)
        s.setValue("form/epochs", self.epochs_spin.value())
        s.sync()

    def closeEvent(self, event) -> None:
        """Stop a run cleanly: ask the worker to stop, then wait for its thread to end."""
        self.save_settings()
        self.training_controller.close()
        if self._folder_worker is not None:
            self._folder_worker.cancel()
        if self._folder_thread is not None:
            self._folder_thread.quit()
            self._folder_thread.wait()
        self.jobs.shutdown()
        self.io_jobs.shutdown()
        super().closeEvent(event)

