"""What the window tests share: the controls by object name, a settings file of their own,
waiting for the window's jobs, drag and drop, curve point counts, a run's best model by hand."""

from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QPushButton, QSpinBox, QTreeWidget, QWidget

from workbench.ui.views.run_status import RunStatusView

ASK_CLOSE = RunStatusView.ask_close
"""The real question on closing mid-run ("Stop and close" or "Keep training"): the conftest answers it for
every test; a test that drives the box itself puts this back."""

OBJECT_NAMES = {
    "modelCombo": QComboBox, "datasetCombo": QComboBox, "epochsSpin": QSpinBox, "batchSizeSpin": QSpinBox,
    "learningRateSpin": QDoubleSpinBox, "startButton": QPushButton, "stopButton": QPushButton,
    "lossPlot": QWidget, "accuracyPlot": QWidget, "dropZone": QWidget, "predictionView": QWidget,
    "layerTree": QTreeWidget, "featureMapView": QWidget, "pauseButton": QPushButton, "recipeCombo": QComboBox,
    "deviceCombo": QComboBox, "ampCombo": QComboBox, "etaLabel": QWidget, "augmentCombo": QComboBox,
    "transferCheck": QWidget, "probeView": QWidget, "evaluationView": QWidget, "confusionMatrixView": QWidget,
    "runsTable": QWidget, "compareButton": QPushButton, "healthReportView": QWidget, "lrPlot": QWidget,
    "channelView": QWidget, "filterView": QWidget, "sourceView": QWidget, "classifyTable": QWidget,
    "fitCombo": QComboBox, "invertCombo": QComboBox, "mapOrderCombo": QComboBox, "mapScaleCombo": QComboBox,
    "mapPageSpin": QSpinBox, "mapPerPageCombo": QComboBox, "gradCamView": QWidget, "ablationView": QWidget,
    "topImagesView": QWidget, "methodCombo": QComboBox, "targetClassCombo": QComboBox, "camLayerCombo": QComboBox,
    "knockButton": QPushButton, "topImagesButton": QPushButton, "topChannelSpin": QSpinBox, "opacitySlider": QWidget,
    "doctorView": QWidget, "doctorTable": QWidget, "embeddingMap": QWidget, "doctorExamineButton": QPushButton,
    "doctorFixButton": QPushButton, "doctorUndoButton": QPushButton, "doctorNotes": QWidget, "doctorStatus": QWidget,
}


def settings(tmp_path):
    """Each test its own settings file: never the user's, never another test's."""
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def settle(qtbot, win, timeout=60_000):
    """Wait until the window's jobs (model builds, classification, feature maps) are done."""
    qtbot.waitUntil(lambda: win.idle, timeout=timeout)


def find(win, name):
    widget = win.findChild(OBJECT_NAMES[name], name)
    assert widget is not None, f"no {name}"
    return widget


def drop_file(widget, *paths):
    """Drag ``paths`` (files or folders) over ``widget`` and drop them, as a file manager does."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    enter = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    widget.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(drop)


def curve_points(plot):
    return [len(item.getData()[0] if item.getData()[0] is not None else []) for item in plot.getPlotItem().listDataItems()]


def best_model(run_dir):
    from workbench.core.predict import load_predictor

    return load_predictor(run_dir).model.eval()
