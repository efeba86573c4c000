"""What the window remembers between sessions (QSettings in the app's home): its geometry, splitter and tab,
and everything the form held (model, dataset — an image folder too —, transfer and its weights file, every
setting). A folder that is gone since is not restored, and the form says so."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from workbench.core import catalog, paths

from .views.experiment_form import FOLDER_ENTRY

FORM_KEY = "form/config"
"""The form's whole ``TrainConfig`` as JSON."""


def default_settings() -> QSettings:
    """``$CNN_WORKBENCH_HOME/settings.ini``: a test or a second home never inherits another's."""
    return QSettings(str(paths.settings_path()), QSettings.Format.IniFormat)


def restore_window(window) -> None:
    s = window.settings
    for key, apply in (("window/geometry", window.restoreGeometry), ("window/splitter", window.splitter.restoreState)):
        value = s.value(key)
        if isinstance(value, QByteArray) and not value.isEmpty():
            apply(value)
    tab = s.value("window/tab")
    if isinstance(tab, (int, str)) and str(tab).isdigit():
        window.centre_tabs.setCurrentIndex(int(tab))


def restore(window, form_too: bool = True) -> str:
    """The window's layout and (unless the start-up window did it already) the form; returns what could
    not be restored, for the status line."""
    restore_window(window)
    return restore_form(window.form, window.settings) if form_too else window.form.restore_note


def restore_form(form, settings: QSettings) -> str:
    """Put back what the form held last time; returns what could not be (else ``""``)."""
    try:
        config = json.loads(str(settings.value(FORM_KEY) or "{}"))
    except ValueError:
        config = {}
    if not isinstance(config, dict):
        config = {}
    if not config:  # settings from before the whole form was kept
        config = {key: settings.value(f"form/{key}") for key in ("model", "dataset", "epochs")}
        config = {k: v for k, v in config.items() if v is not None}
        if "epochs" in config and str(config["epochs"]).isdigit():
            config["epochs"] = int(config["epochs"])
    note = ""
    dataset = config.get("dataset")
    if isinstance(dataset, str) and catalog.is_folder_dataset(dataset) and not Path(dataset).is_dir():
        note = f"The image folder used last time is gone ({dataset}); the form shows a built-in set instead."
        config.pop("dataset")
    if config.get("model") is not None and catalog.model_card(str(config["model"])) is None:
        config.pop("model")
    if config:
        form.apply_run(config)
    form.restore_note = note
    return note


def remember_choice(settings, model: str | None, dataset: str | None) -> None:
    if model:
        settings.setValue("form/model", model)
    if dataset and dataset != FOLDER_ENTRY:
        settings.setValue("form/dataset", dataset)


def save(window) -> None:
    s = window.settings
    s.setValue("window/geometry", window.saveGeometry())
    s.setValue("window/splitter", window.splitter.saveState())
    s.setValue("window/tab", window.centre_tabs.currentIndex())
    config = asdict(window.form.config())
    if config.get("dataset") == FOLDER_ENTRY:
        config.pop("dataset")
    s.setValue(FORM_KEY, json.dumps(config))
    remember_choice(s, window.form.model_name, window.form.dataset_name)
    s.sync()
