"""The main window: a shell that creates the views and controllers, connects them and handles window-level events
(drops, close, settings). What it works with is one session (``state.Session``): controllers set it, views follow it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QFileDialog, QMainWindow

from . import read_no_sources

read_no_sources()  # noqa: E402 - before torch loads below: see workbench/ui/__init__.py
from pyqtgraph.util.garbage_collector import GarbageCollector

from workbench.core import devices
from workbench.core.data import is_folder_dataset
from workbench.core.runs import default_runs_root
from workbench.core.threads import limit_this_thread
from workbench.core.train import decode_size

from .controllers.classify import ClassifyController
from .controllers.cost import CostController
from .controllers.datasets import DatasetController
from .controllers.inspection import InspectionController
from .controllers.model import ModelController
from .controllers.runs import RunsController
from .controllers.training import TrainingController
from . import settings as remembered  # noqa: I001 - the window's own QSettings is ``self.settings``
from .doctor_wiring import connect_doctor
from .explorer_wiring import connect_explorer
from .learn_wiring import connect_learning
from .jobs import JobRunner
from .state import RunOnShow, Session
from .views.experiment_form import FOLDER_ENTRY
from .views.drop_zone import local_folder
from .views.explorer import ExplorerPanel
from .views.panels import BusyIndicator, CentreTabs, SetupPanel, Workspace


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

    def __init__(self, runs_root: str | Path | None = None, settings: QSettings | None = None, form=None):
        super().__init__()  # ``form``: the one the start-up window showed while torch loaded, already restored
        limit_this_thread(1)  # the UI thread starts no OpenMP team of its own (see core.threads)
        # Cycles are collected on the UI thread only: a Qt wrapper freed in the training thread deadlocks.
        self._collector = GarbageCollector(interval=1.0)
        self.setWindowTitle("CNN Workbench")
        self.resize(1400, 880)
        self.runs_root = Path(runs_root) if runs_root else default_runs_root()
        self.settings = settings if settings is not None else remembered.default_settings()
        self.session = Session()
        self.jobs = JobRunner(self, workers=1, name="model")  # everything that touches the model, in order
        self.io_jobs = JobRunner(self, workers=2, name="io")  # files and measurements
        self.model = ModelController(self.session, self.jobs, self)
        self.inspection = InspectionController(self.session, self.jobs, self)
        self.classify = ClassifyController(self.session, self.jobs, self)
        self.datasets = DatasetController(self.io_jobs, self)
        self.training_controller = TrainingController(self.runs_root, self)
        self.runs = RunsController(self.runs_root, self.io_jobs, self)
        self.cost = CostController(self.session, self.io_jobs, self)
        self.setAcceptDrops(True)  # a folder dropped anywhere on the window becomes the dataset
        self._build_ui(form)
        self._connect()
        note = remembered.restore(self, form_too=form is None)
        self.form.engine_ready(devices.choices())
        self.plots.set_epochs(self.form.epochs_spin.value())
        self.on_selection_changed()
        self.status.say(note)
        self.runs.refresh()

    def _build_ui(self, form) -> None:
        self.setup, self.centre_tabs, self.explorer = SetupPanel(form), CentreTabs(), ExplorerPanel()
        self.form, self.model_card, self.status = self.setup.form, self.setup.model_card, self.setup.form.status
        for source, names in ((self.form, "model_combo dataset_combo epochs_spin batch_spin lr_spin optimizer_combo "
                                          "recipe_combo device_combo amp_combo augment_combo transfer_check "
                                          "transfer_mode_combo start_button stop_button pause_button eta_label "
                                          "progress status_label error_banner"),
                              (self.centre_tabs, "plots probe_view health_view evaluation_view runs_view classify_view"),
                              (self.explorer, "drop_zone prediction_view layer_tree feature_map_view channel_view "
                                              "filter_view image_label")):
            for name in names.split():
                setattr(self, name, getattr(source, name))
        self.splitter = Workspace(self.setup, self.centre_tabs, self.explorer)
        self.setCentralWidget(self.splitter)
        self.statusBar().addPermanentWidget(BusyIndicator((self.jobs, self.io_jobs)))
        self.statusBar().showMessage(f"Runs are saved under {self.runs_root}")

    def _connect(self) -> None:
        form, st, tr, rv, runs = self.form, self.status, self.training_controller, self.runs_view, self.runs
        form.selectionChanged.connect(self.on_selection_changed)
        form.folderWanted.connect(self._choose_folder)
        form.changed.connect(self._update_cost)
        form.epochs_spin.valueChanged.connect(self.plots.plan)  # the axes span the planned epochs
        form.start_button.clicked.connect(self.start_training)
        form.stop_button.clicked.connect(lambda: (tr.stop(), form.stop_button.setEnabled(False), st.stopping()))
        form.pause_button.toggled.connect(lambda paused: self.training and (tr.pause(paused), form.show_paused(paused),
                                                                             st.paused(paused)))
        for view in (self.explorer, self.probe_view, self.model_card):
            view.follow(self.session)
        self.session.subscribe(self._on_session)
        for connect in (connect_explorer, connect_doctor, connect_learning):
            connect(self)
        for signal, slot in ((self.probe_view.layerChosen, self.inspection.set_probe_layer),
                             (self.evaluation_view.imageOpened, self.inspection.show_image),
                             (rv.exportPngRequested, lambda path: runs.message.emit(f"Saved {path}")),
                             (rv.exportCsvRequested, lambda dirs, path: runs.export_csv(list(dirs), path))):
            signal.connect(slot)
        self.model.follow(tr, self.datasets)
        self.model.shown.connect(self._on_shown)
        self.model.weightsChanged.connect(self.inspection.refresh_weights)
        self.inspection.probeReady.connect(self.probe_view.show_result)
        for source in (self.model, self.inspection, runs, self.cost):
            source.failed.connect(st.show_error)
        self.cost.costShown.connect(form.show_cost)
        self.cost.problemShown.connect(lambda text: (form.show_problem(text), self._lock()))
        self.datasets.reading.connect(lambda path: (form.show_folder(path), st.reading(path), self._lock()))
        self.datasets.progress.connect(st.folder_progress)
        self.datasets.loaded.connect(self._on_folder_loaded)
        self.datasets.failed.connect(lambda message: (st.idle(), st.show_error(message), st.say(""),
                                                      form.back_to_previous_dataset(), self._lock(),
                                                      self.folderLoaded.emit(0)))
        self.plots.follow(tr)
        st.follow(tr)
        tr.runStarted.connect(lambda *_: runs.refresh())
        tr.stepsEnded.connect(lambda steps, memory: self.stepShown.emit(steps[-1]))
        tr.epochEnded.connect(lambda event, weights: (self._compare_experiment(), self.epochShown.emit(event)))
        tr.runFinished.connect(lambda event, weights: event.summary.get("test_acc") is not None and runs.evaluation(
            event.run_dir, self.datasets.bundle))
        tr.notice.connect(lambda event: self.statusBar().showMessage(event.message, 30_000))
        tr.ended.connect(self._on_training_ended)
        tr.starting.connect(lambda text, epochs: (self.plots.clear(epochs), st.begin(text, epochs),
                                                  self.centre_tabs.setCurrentIndex(0), form.set_running(True)))
        runs.runsRead.connect(lambda rows: (rv.show_runs(rows), self.runsShown.emit(rows)))
        runs.comparisonRead.connect(lambda rows: (rv.show_comparison(rows), self.comparisonShown.emit(rows)))
        runs.evaluationRead.connect(lambda run_dir, report, images, note: (
            self.evaluation_view.show_run(run_dir, report, images, note), self.evaluationShown.emit(report)))
        runs.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        for signal, slot in ((rv.refreshRequested, runs.refresh), (rv.openRequested, self.open_run),
                             (rv.compareRequested, runs.compare), (rv.renameRequested, self.rename_run),
                             (rv.evaluateRequested, runs.evaluate_run), (tr.refused, st.show_error),
                             (rv.degradationRequested, lambda: self.cost.estimate_degradation(form.config()))):
            signal.connect(slot)
        self.cost.queueEstimated.connect(lambda runs, device: rv.ask_queue(runs, device) and self.start_degradation())
        rv.resumeRequested.connect(lambda run_dir: tr.resume(run_dir, form.epochs_spin.value()))
        tr.dataChanged.connect(lambda d, text: rv.ask_go_on(text) and tr.resume(d, form.epochs_spin.value(), True))
        rv.deleteRequested.connect(lambda dirs: runs.delete(list(dirs), busy=tr.current_run))

    # -- what tests and automation read -----------------------------------------------------------
    bundle = property(lambda self: self.datasets.bundle)
    last_summary = property(lambda self: self.training_controller.last_summary)
    training = property(lambda self: self.training_controller.running)  # a run (or a queue of runs) is under way

    @property
    def idle(self) -> bool:
        """Nothing queued or running off the UI thread (training aside)."""
        return not self.jobs.busy and not self.io_jobs.busy and self.datasets.loading is None

    def config(self):
        bundle = self.datasets.for_config(self.form.dataset_name or "")
        return self.form.config(image_size=bundle.native_size[0] if bundle is not None and bundle.health else None)

    # -- the session, as every view shows it ------------------------------------------------------
    def _on_session(self, changed: set[str]) -> None:
        self.setWindowTitle(self.session.title())
        if "run" in changed and self.session.run is None and not self.training:
            self.plots.clear(self.form.epochs_spin.value())  # no run on show: no curves of another model
            self.evaluation_view.clear("No run on show: train one, or open one in Runs.")

    def _on_shown(self, shown) -> None:
        if shown.run is None:  # the form's choice: its dataset is the one to train on
            self.datasets.bundle = shown.bundle
            if shown.message:
                self.status.say(shown.message)
        elif shown.curves is not None:  # an opened run: its whole configuration, curves and report
            self.form.apply_run(shown.run.config)
            self.plots.load_run(*shown.curves)
            self.status.say(shown.message)  # the status line describes the opened run, not the last one
            self.runs.evaluation(shown.run.dir, self.datasets.bundle)
        self.form.train_size = self.cost.train_images(self.datasets.bundle, self.form.dataset_name)
        self._update_cost()
        self.modelShown.emit(shown.summary)

    # -- the form's choice ------------------------------------------------------------------------
    def on_selection_changed(self) -> None:
        name, dataset = self.form.model_name, self.form.dataset_name
        if name is None or dataset in (None, FOLDER_ENTRY) or self.training:
            return
        size = decode_size(name, self.transfer_check.isChecked())
        bundle = self.datasets.bundle
        if is_folder_dataset(dataset) and (bundle is None or bundle.name != dataset or bundle.native_size[0] != size):
            self.open_folder(dataset)
            return
        self.status.clear()  # a new choice: no message about the last run or error stays
        self.model.show_selection(name, dataset, bundle, self.transfer_check.isChecked(),
                                  self.form.input_spin.value() or None)
        remembered.remember_choice(self.settings, name, dataset)

    def _update_cost(self) -> None:
        self.cost.update(self.config(), self.datasets.bundle)

    def _lock(self) -> None:  # Start waits for settings that can run, for the folder being read and the run under way
        self.form.lock(self.training, self.datasets.loading is not None, bool(self.cost.problem))

    # -- images and folders -----------------------------------------------------------------------
    def classify_file(self, path: str) -> None:
        self.status.show_error("")
        self.inspection.classify_file(path)  # the status bar's busy label says so meanwhile

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder with one sub-folder of images per class",
                                                str(self.settings.value("data/folder", "") or ""))
        if path:
            self.open_folder(path)
        else:
            self.form.back_to_previous_dataset()

    def open_folder(self, path: str) -> None:
        """Scan, split and decode a class-per-folder set in a job; the window stays live."""
        if self.training or self.datasets.loading is not None:
            return
        path = str(Path(path).expanduser().resolve())
        self.settings.setValue("data/folder", str(Path(path).parent))
        self.datasets.open_folder(path, decode_size(self.form.model_name, self.transfer_check.isChecked()))

    def _on_folder_loaded(self, bundle) -> None:
        self.health_view.show_report(bundle.health)
        self.centre_tabs.setCurrentWidget(self.health_view)
        self.session.set(image=None, caption="")  # the folder's first test image replaces the last one
        self.on_selection_changed()
        self.status.folder_loaded(bundle.health)
        self._lock()
        self.folderLoaded.emit(bundle)

    def dragEnterEvent(self, event) -> None:
        if local_folder(event.mimeData()) and not self.training:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        folder = local_folder(event.mimeData())
        if folder:
            event.acceptProposedAction()
            self.open_folder(folder)

    # -- training ---------------------------------------------------------------------------------
    def start_training(self) -> None:
        config = self.config()
        self.training_controller.train(config, self.datasets.for_config(config.dataset),
                                       f"Training {config.model} on {self.dataset_combo.currentText()}…")

    def start_degradation(self, epochs: int | None = None, batch_size: int | None = None) -> None:
        self.training_controller.start_degradation(self.device_combo.currentData(), self.amp_combo.currentData(),
                                                   self.datasets.bundle, epochs, batch_size)
        self.centre_tabs.setCurrentWidget(self.runs_view)

    def _on_training_ended(self, summary: dict) -> None:
        for step in (self._lock, self.runs.refresh, self._compare_experiment):
            step()
        self.trainingEnded.emit(summary)

    def _compare_experiment(self) -> None:
        if self.training_controller.in_experiment:  # a queue of runs: their curves overlaid as they train
            self.runs.compare(self.training_controller.experiment_runs)

    # -- runs ---------------------------------------------------------------------------------------
    def open_run(self, run_dir: str) -> None:
        """An earlier run becomes what the window shows: its weights, configuration, curves, report."""
        self.status.show_error("Stop the current run before opening another." if self.training else "")
        if not self.training:
            self.model.open_run(run_dir, self.datasets.bundle)

    def rename_run(self, run_dir: str, name: str) -> None:
        self.status.show_error("")
        renamed, run = self.runs.rename(run_dir, name, busy=self.training_controller.current_run), self.session.run
        if renamed and run is not None and run.dir == run_dir:
            self.session.set(run=RunOnShow(renamed, run.config, run.how, run.epochs))

    # -- closing ----------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        """Ask first while a run trains; stop it cleanly (its thread ends), drop the jobs without waiting."""
        if self.training and not self.status.ask_close():
            event.ignore()
            return
        remembered.save(self)
        self.training_controller.close()
        self.datasets.cancel()
        for runner in (self.jobs, self.io_jobs):
            runner.shutdown(wait=False)  # they only read, or write atomically: nothing is left half-done
        super().closeEvent(event)
