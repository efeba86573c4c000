"""What the window remembers between sessions (QSettings in the app's home): its geometry, splitter and tab, and
the form's model, dataset and epochs (an image folder is not remembered: it may be gone)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings

from workbench.core import paths
from workbench.core.data import is_folder_dataset

from .views.experiment_form import FOLDER_ENTRY


def default_settings() -> QSettings:
    """``$CNN_WORKBENCH_HOME/settings.ini``: a test or a second home never inherits another's."""
    return QSettings(str(paths.settings_path()), QSettings.Format.IniFormat)


def restore(window) -> None:
    s, form = window.settings, window.form
    for key, apply in (("window/geometry", window.restoreGeometry), ("window/splitter", window.splitter.restoreState)):
        value = s.value(key)
        if isinstance(value, QByteArray) and not value.isEmpty():
            apply(value)
    if s.value("window/tab") is not None:
        window.centre_tabs.setCurrentIndex(int(s.value("window/tab")))
    form.blockSignals(True)
    for combo, key in ((form.model_combo, "form/model"), (form.dataset_combo, "form/dataset")):
        if s.value(key):
            form.select(combo, s.value(key))
    form.blockSignals(False)
    if s.value("form/epochs") is not None:
        form.epochs_spin.setValue(int(s.value("form/epochs")))


def remember_choice(settings, model: str | None, dataset: str | None) -> None:
    if model:
        settings.setValue("form/model", model)
    if dataset and not is_folder_dataset(dataset) and dataset != FOLDER_ENTRY:
        settings.setValue("form/dataset", dataset)


def save(window) -> None:
    s = window.settings
    s.setValue("window/geometry", window.saveGeometry())
    s.setValue("window/splitter", window.splitter.saveState())
    s.setValue("window/tab", window.centre_tabs.currentIndex())
    remember_choice(s, window.form.model_name, window.form.dataset_name)
    s.setValue("form/epochs", window.form.epochs_spin.value())
    s.sync()
