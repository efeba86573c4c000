"""The window's three panes and its busy indicator, laid out once so the window only assembles
them: the set-up pane (the experiment form and the model's card, scrolling on a small screen),
the centre tabs (training with the probe, dataset health, evaluation, runs) and the status bar's
"what is running" indicator."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QFrame, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QScrollArea, QSplitter,
                               QTabWidget, QVBoxLayout, QWidget)

from .evaluation_view import EvaluationView
from .experiment_form import ExperimentForm
from .health_view import HealthReportView
from .model_card import ModelCard
from .probe_view import ProbeView
from .runs_view import RunsView
from .text import plain
from .training_plots import TrainingPlots


class SetupPanel(QScrollArea):
    """The form and the card; scrolls instead of squeezing the form's rows (800×600)."""

    def __init__(self, parent=None):
        super().__init__(parent, objectName="setupScroll", widgetResizable=True, minimumWidth=260, maximumWidth=420)
        self.form, self.model_card = ExperimentForm(), ModelCard()
        card = QGroupBox("About this model")
        QVBoxLayout(card).addWidget(self.model_card)
        inner = QWidget(minimumWidth=250)
        layout = QVBoxLayout(inner)
        layout.addWidget(self.form)
        layout.addWidget(card, 1)
        self.setWidget(inner)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)


class CentreTabs(QTabWidget):
    def __init__(self, parent=None):
        super().__init__(parent, objectName="centreTabs", minimumWidth=320, minimumHeight=300)
        self.plots, self.probe_view = TrainingPlots(), ProbeView()
        self.training = QSplitter(Qt.Orientation.Vertical, objectName="trainingView")
        self.training.addWidget(self.plots)
        self.training.addWidget(self.probe_view)
        self.training.setSizes([620, 200])
        self.health_view, self.evaluation_view, self.runs_view = HealthReportView(), EvaluationView(), RunsView()
        for widget, title in ((self.training, "Training"), (self.health_view, "Dataset health"),
                              (self.evaluation_view, "Evaluation"), (self.runs_view, "Runs")):
            self.addTab(widget, title)


class BusyIndicator(QWidget):
    """What the job runners are doing ("building googlenet…"), with a moving bar while they work."""

    def __init__(self, runners, parent=None):
        super().__init__(parent)
        self.runners = list(runners)
        self.label = plain(QLabel(objectName="busyLabel"))
        self.bar = QProgressBar(objectName="busyIndicator", maximumWidth=120, textVisible=False, visible=False)
        self.bar.setRange(0, 0)
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
