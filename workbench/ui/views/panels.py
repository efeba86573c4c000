"""The window's three panes and its busy indicator, laid out once so the window only assembles
them: the set-up pane (the experiment form and the model's card, scrolling on a small screen),
the centre tabs (training with the probe, dataset health, evaluation, runs, classify) and the status bar's
"what is running" indicator."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtWidgets import (QGroupBox, QHBoxLayout, QLabel, QProgressBar, QSplitter,
                               QTabWidget, QVBoxLayout, QWidget)

from .classify_table import ClassifyView
from .evaluation_view import EvaluationView
from .doctor_view import DoctorView
from .experiment_form import ExperimentForm
from .setup_pane import form_pane
from .health_view import HealthReportView
from .model_card import ModelCard
from .lineage_view import LineageView
from .probe_view import ProbeView
from .timelapse_view import TimelapseView
from .runs_view import RunsView
from .text import plain
from .training_plots import TrainingPlots


class SetupPanel(QWidget):
    """The form and the card; scrolls instead of squeezing the form's rows (800×600), with Start below."""

    def __init__(self, form: ExperimentForm | None = None, parent=None):
        super().__init__(parent)
        self.form, self.model_card = form or ExperimentForm(), ModelCard()
        card = QGroupBox("About this model")
        QVBoxLayout(card).addWidget(self.model_card)
        pane = form_pane(self.form, card, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(pane)
        self.setMinimumWidth(pane.minimumWidth())
        self.setMaximumWidth(pane.maximumWidth())


class CentreTabs(QTabWidget):
    def __init__(self, parent=None):
        super().__init__(parent, objectName="centreTabs", minimumWidth=320, minimumHeight=300)
        self.plots, self.probe_view, self.timelapse_view = TrainingPlots(), ProbeView(), TimelapseView()
        self.training_tabs = QTabWidget(objectName="trainingTabs", documentMode=True)  # below the curves
        for widget, title, tooltip in (
                (self.probe_view, "Probe", "One image's prediction and maps, refreshed at every epoch's end"),
                (self.timelapse_view, "Time-lapse", "The run's probe image at every epoch: maps, first kernels and "
                                                    "Grad-CAM, on a slider")):
            self.training_tabs.setTabToolTip(self.training_tabs.addTab(widget, title), tooltip)
        self.training = QSplitter(Qt.Orientation.Vertical, objectName="trainingView")
        self.training.addWidget(self.plots)
        self.training.addWidget(self.training_tabs)
        self.training.setSizes([560, 260])
        self.health_view, self.evaluation_view, self.runs_view = HealthReportView(), EvaluationView(), RunsView()
        self.classify_view, self.doctor_view, self.lineage_view = ClassifyView(), DoctorView(), LineageView()
        self.runs_tabs = QTabWidget(objectName="runsTabs", documentMode=True)  # the lineage beside the runs
        for widget, title, tooltip in (
                (self.runs_view, "Runs", "Every run saved: open, resume, compare, evaluate, export"),
                (self.lineage_view, "Lineage", "One image through two to four networks or runs, stage by stage, "
                                               "with shapes, parameters and multiply-adds")):
            self.runs_tabs.setTabToolTip(self.runs_tabs.addTab(widget, title), tooltip)
        self.data_tabs = QTabWidget(objectName="dataTabs", documentMode=True)  # the doctor beside the health report
        for widget, title, tooltip in (
                (self.health_view, "Health", "Classes, sizes, exact duplicates and unusable files"),
                (self.doctor_view, "Doctor", "The dataset doctor: label errors, near-duplicates and outliers found "
                                             "with the trained network, fixed in one click, undone in one")):
            self.data_tabs.setTabToolTip(self.data_tabs.addTab(widget, title), tooltip)
        for widget, title, tooltip in (
                (self.training, "Training", "Loss, accuracy and learning rate as the run trains, and the probe image"),
                (self.data_tabs, "Data", "The dataset's health report, and the doctor that finds wrong labels, "
                                         "near-duplicates and outliers"),
                (self.evaluation_view, "Test", "The run's best checkpoint on the test split: the confusion matrix"),
                (self.runs_tabs, "Runs", "Every run saved: open, resume, compare, evaluate, export; and the "
                                         "lineage: one image through several networks"),
                (self.classify_view, "Classify", "Many images or a folder classified in a table")):
            self.setTabToolTip(self.addTab(widget, title), tooltip)

    @property
    def _nested(self) -> dict:
        """The tabs inside a tab, by the widget that holds them."""
        return {self.data_tabs: self.data_tabs, self.runs_tabs: self.runs_tabs, self.training: self.training_tabs}

    def setCurrentWidget(self, widget) -> None:
        """A view inside a tab (the health report, the doctor, the time-lapse) is brought to the front there."""
        for holder, tabs in self._nested.items():
            if tabs.indexOf(widget) >= 0:
                tabs.setCurrentWidget(widget)
                widget = holder
        super().setCurrentWidget(widget)

    def current_view(self):
        """The view in front, inside the Data and Runs tabs too."""
        widget = self.currentWidget()
        return widget.currentWidget() if widget in (self.data_tabs, self.runs_tabs) else widget


class Workspace(QSplitter):
    """The set-up pane, the centre tabs and the explorer side by side; in a window narrower than ``NARROW``
    pixels (800×600) the explorer becomes the centre's last tab instead, so no pane squeezes its text."""

    NARROW = 1100

    def __init__(self, setup: QWidget, tabs: QTabWidget, explorer: QWidget, parent=None):
        super().__init__(Qt.Orientation.Horizontal, parent, objectName="mainSplitter")
        self.tabs, self.explorer = tabs, explorer
        for widget in (setup, tabs, explorer):
            self.addWidget(widget)
        self.setSizes([setup.minimumWidth(), 600, 460])
        self.setChildrenCollapsible(False)

    def minimumSizeHint(self) -> QSize:
        """As narrow as the set-up pane and the tabs allow: below ``NARROW`` the explorer joins the tabs."""
        hint = super().minimumSizeHint()
        setup, tabs = self.widget(0), self.tabs
        width = max(setup.minimumWidth(), setup.minimumSizeHint().width()) + tabs.minimumSizeHint().width()
        return QSize(width + 2 * self.handleWidth(), hint.height())

    @property
    def explorer_in_tabs(self) -> bool:
        return self.tabs.indexOf(self.explorer) >= 0

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        QTimer.singleShot(0, self._arrange)  # not while Qt lays this splitter out

    def _arrange(self) -> None:
        narrow = self.width() < self.NARROW
        if narrow and not self.explorer_in_tabs:
            self.tabs.addTab(self.explorer, "Explorer")
        elif not narrow and self.explorer_in_tabs:
            self.tabs.removeTab(self.tabs.indexOf(self.explorer))
            self.addWidget(self.explorer)
            self.explorer.show()
            sizes = self.sizes()
            self.setSizes([sizes[0], max(320, sum(sizes) - sizes[0] - 460), 460])


class BusyIndicator(QWidget):
    """What the job runners are doing ("building googlenet…"), with a moving bar while they work."""

    def __init__(self, runners, parent=None):
        super().__init__(parent)
        self.runners = list(runners)
        self.label = plain(QLabel(objectName="busyLabel"))
        self.bar = QProgressBar(objectName="busyIndicator", maximumWidth=120, textVisible=False, visible=False)
        self.bar.setRange(0, 0)
        policy = self.bar.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # showing it must not resize the window's panes: 10 ms a time
        self.bar.setSizePolicy(policy)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        for runner in self.runners:
            runner.busyChanged.connect(self.update_state)

    def update_state(self, _busy: bool = False) -> None:
        busy = any(r.busy for r in self.runners)
        self.bar.setVisible(busy)
        what = ", ".join(filter(None, (r.describe() for r in self.runners)))
        self.label.setText(f"{what}…" if busy and what else "")
