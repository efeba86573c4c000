"""The experiment form: model, dataset, recipe and every setting the engine takes, what the
run will cost, and why a combination cannot run, shown in place before Start."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

# Nothing here imports torch: the form is shown, and can be filled in, while torch loads.
from workbench.core import catalog, papers
from workbench.core.data.choices import PRESETS
from workbench.core.train.config import RECIPES, SCHEDULES, TrainConfig, resolve

from .run_status import RunStatusView, clock
from .text import plain

FOLDER_ENTRY = "__image_folder__"
TRANSFER_TIP = "Start from torchvision's ImageNet weights and train a new head for your classes"
SLOW_EPOCH_SECONDS = 600
"""An estimate above this many seconds per epoch gets a warning."""


def _has_weights(name: str | None) -> bool:
    card = catalog.model_card(name) if name else None
    return card is not None and card.pretrained


def _tip(combo: QComboBox, text: str) -> None:
    combo.setItemData(combo.count() - 1, text, Qt.ItemDataRole.ToolTipRole)


class ExperimentForm(QWidget):
    """Emits ``changed`` for any edit; ``selectionChanged`` when the model, dataset or transfer
    choice changes (the window then builds the model for it); ``folderWanted`` when "Image
    folder…" is picked. A new model gets its recommended settings; transfer is offered only for
    models with ImageNet weights. ``apply_run`` shows an earlier run's whole configuration."""

    selectionChanged = Signal()
    changed = Signal()
    folderWanted = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("experimentForm")
        self.model_combo = QComboBox(objectName="modelCombo")
        self.dataset_combo = QComboBox(objectName="datasetCombo")
        self.epochs_spin = QSpinBox(objectName="epochsSpin", minimum=1, maximum=100_000, value=10)
        self.batch_spin = QSpinBox(objectName="batchSizeSpin", minimum=1, maximum=65_536, value=32)
        self.lr_spin = QDoubleSpinBox(objectName="learningRateSpin", decimals=6, minimum=1e-6, maximum=10.0,
                                      singleStep=1e-4, value=1e-3)
        self.optimizer_combo = QComboBox(objectName="optimizerCombo")
        for text, name in (("Adam", "adam"), ("SGD + momentum", "sgd"), ("AdamW", "adamw")):
            self.optimizer_combo.addItem(text, name)
        self.schedule_combo = QComboBox(objectName="scheduleCombo")
        self.schedule_combo.addItem("recipe's", None)
        for name in SCHEDULES:
            self.schedule_combo.addItem(name, name)
        self.wd_spin = QDoubleSpinBox(objectName="weightDecaySpin", decimals=6, minimum=0.0, maximum=1.0,
                                      singleStep=1e-4, value=0.0)
        self.smoothing_spin = QDoubleSpinBox(objectName="labelSmoothingSpin", decimals=2, minimum=0.0, maximum=0.99,
                                             singleStep=0.05, value=0.0)
        self.input_spin = QSpinBox(objectName="inputSizeSpin", minimum=0, maximum=1024, value=0)
        self.input_spin.setSpecialValueText("model's")
        self.input_spin.setToolTip("Side of the square network input; \"model's\" lets the model and dataset decide")
        self.seed_spin = QSpinBox(objectName="seedSpin", minimum=0, maximum=2**31 - 1, value=0)
        self.recipe_combo = QComboBox(objectName="recipeCombo")
        self.recipe_combo.addItem("Family defaults", None)
        _tip(self.recipe_combo, "Learning rate and optimiser that train this model family well on small sets")
        for recipe in RECIPES.values():
            self.recipe_combo.addItem(recipe.label or recipe.title, recipe.name)
            _tip(self.recipe_combo, f"{recipe.title}: {recipe.source}")
        self.recommend_button = QPushButton("Use recommended settings", objectName="recommendButton")
        self.recommend_button.setToolTip("Fill in the recipe's (or the model family's) settings again")
        self.device_combo = QComboBox(objectName="deviceCombo")
        self.device_combo.addItem("auto", "auto")  # the devices are listed when torch is in (``engine_ready``)
        self.amp_combo = QComboBox(objectName="ampCombo")
        for text, name in (("off (fp32)", "off"), ("bf16", "bf16"), ("fp16 (CUDA)", "fp16")):
            self.amp_combo.addItem(text, name)
        self.amp_combo.setToolTip("Mixed precision: faster on recent GPUs; slower on CPUs without bf16 units")
        self.augment_combo = QComboBox(objectName="augmentCombo")
        for name, text in PRESETS.items():
            self.augment_combo.addItem(name.replace("_", " + ") if name == "flip_crop" else name.replace("_", " "), name)
            _tip(self.augment_combo, text)
        self.transfer_check = QCheckBox("ImageNet weights", objectName="transferCheck")
        self.transfer_check.setToolTip(TRANSFER_TIP)
        self.transfer_mode_combo = QComboBox(objectName="transferModeCombo", enabled=False)
        self.transfer_mode_combo.addItem("fine-tune all layers", "finetune")
        _tip(self.transfer_mode_combo, "every layer learns; the backbone at a tenth of the head's learning rate")
        self.transfer_mode_combo.addItem("extract features", "extract")
        _tip(self.transfer_mode_combo, "frozen backbone and BatchNorm statistics; only the new head learns")
        self.weights_file: str | None = None
        self.weights_button = QPushButton(objectName="weightsButton", enabled=False)
        self.weights_button.clicked.connect(self.choose_weights)
        self._show_weights()
        self.cost_label = QLabel(objectName="costLabel", wordWrap=True)
        self.cost_label.setTextFormat(Qt.TextFormat.RichText)
        self.problem_label = plain(QLabel(objectName="validationLabel", wordWrap=True, visible=False))
        self.problem_label.setStyleSheet("QLabel { color: #8a1c13; }")

        self.start_button = QPushButton("Start", objectName="startButton")
        self.start_button.setDefault(True)
        self.stop_button = QPushButton("Stop", objectName="stopButton", enabled=False)
        self.pause_button = QPushButton("Pause", objectName="pauseButton", enabled=False, checkable=True)
        self.status = RunStatusView()
        self.progress, self.eta_label = self.status.progress, self.status.eta_label
        self.status_label, self.error_banner = self.status.status_label, self.status.error_banner

        form = QFormLayout()
        form.addRow("Model", self.model_combo)
        form.addRow("Dataset", self.dataset_combo)
        form.addRow("Transfer", self.transfer_check)
        form.addRow("", self.transfer_mode_combo)
        form.addRow("", self.weights_button)
        form.addRow("Recipe", self.recipe_combo)
        form.addRow("", self.recommend_button)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Optimizer", self.optimizer_combo)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Schedule", self.schedule_combo)
        form.addRow("Weight decay", self.wd_spin)
        form.addRow("Label smoothing", self.smoothing_spin)
        form.addRow("Augmentation", self.augment_combo)
        form.addRow("Input size", self.input_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Device", self.device_combo)
        form.addRow("Mixed precision", self.amp_combo)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        box = QGroupBox("Experiment")
        QVBoxLayout(box).addLayout(form)
        # Below the fields, outside what scrolls (``SetupPanel``): the cost, why it cannot run, Start and the
        # run's status stay in view however small the window.
        self.footer = QWidget(objectName="formFooter")
        footer = QVBoxLayout(self.footer)
        footer.setContentsMargins(6, 4, 6, 4)
        footer.addWidget(self.cost_label)
        footer.addWidget(self.problem_label)
        footer.addLayout(buttons)
        footer.addWidget(self.status)
        for row in range(form.rowCount()):  # rows keep their height: the window scrolls instead (800×600)
            item = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            if item is not None and item.widget() is not None:
                item.widget().setMinimumHeight(item.widget().minimumSizeHint().height())
        for b in (self.start_button, self.pause_button, self.stop_button):
            b.setMinimumHeight(b.minimumSizeHint().height())
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(box)
        self._populate()

        self.transfer_check.toggled.connect(self.transfer_mode_combo.setEnabled)
        self.transfer_check.toggled.connect(self.weights_button.setEnabled)
        self.loading_engine = False
        self.restore_note = ""  # what the settings could not put back (``settings.restore_form``)
        self._wanted_device: str | None = None
        self._recommended_for: str | None = None
        self._previous_dataset = self.dataset_combo.currentIndex()
        self.model_combo.currentIndexChanged.connect(self._on_model)
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset)
        self.transfer_check.toggled.connect(self.selectionChanged)
        self.input_spin.valueChanged.connect(self.selectionChanged)  # the model is rebuilt at that size
        self.recipe_combo.currentIndexChanged.connect(self.apply_recommended)
        self.recommend_button.clicked.connect(self.apply_recommended)
        for spin in (self.epochs_spin, self.batch_spin, self.lr_spin, self.wd_spin, self.smoothing_spin,
                     self.input_spin, self.seed_spin):
            spin.valueChanged.connect(self.changed)
        for combo in (self.optimizer_combo, self.schedule_combo, self.device_combo, self.amp_combo, self.augment_combo,
                      self.recipe_combo, self.transfer_mode_combo):
            combo.currentIndexChanged.connect(self.changed)

    # -- the selection policy --------------------------------------------------------------------
    def _on_model(self) -> None:
        """A new model gets its family's (or the recipe's) settings, and transfer where it has weights."""
        name = self.model_name
        if name is not None and name != self._recommended_for:
            self._recommended_for = name
            self.apply_recommended()
            if self.weights_file:  # a weights file is one model's: another model downloads its own
                self.set_weights_file(None)
        has_weights = _has_weights(name)
        imagenet = papers.imagenet_figure(name) if has_weights else None
        self.transfer_check.setToolTip(
            (TRANSFER_TIP + (f" ({imagenet.value:g} % top-1 on ImageNet-1K, {imagenet.weights})" if imagenet else ""))
            if has_weights else f"{name} has no ImageNet weights in torchvision")
        self.transfer_check.setEnabled(has_weights and self.start_button.isEnabled())
        if not has_weights and self.transfer_check.isChecked():
            self.transfer_check.setChecked(False)  # emits selectionChanged itself
            return
        self.selectionChanged.emit()

    def _on_dataset(self) -> None:
        if self.dataset_name == FOLDER_ENTRY:
            self.folderWanted.emit()
            return
        self._previous_dataset = self.dataset_combo.currentIndex()
        self.selectionChanged.emit()

    def back_to_previous_dataset(self) -> None:
        """The folder dialog was cancelled, or the folder could not be used."""
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.setCurrentIndex(self._previous_dataset)
        self.dataset_combo.blockSignals(False)

    def show_folder(self, path: str) -> None:
        """Make ``path`` the dataset shown, with an entry of its own, without re-entering the selection."""
        self.dataset_combo.blockSignals(True)  # inserting an item moves the current index: no re-entry
        try:
            index = self.dataset_combo.findData(path)
            if index < 0:
                index = self.dataset_combo.findData(FOLDER_ENTRY) - 1  # above the separator
                name = path.rstrip("/").rsplit("/", 1)[-1]
                self.dataset_combo.insertItem(index, f"Folder: {name if len(name) <= 16 else name[:15] + '…'}", path)
                self.dataset_combo.setItemData(index, path, Qt.ItemDataRole.ToolTipRole)
            self.dataset_combo.setCurrentIndex(index)
            self._previous_dataset = index
        finally:
            self.dataset_combo.blockSignals(False)

    def apply_run(self, config: dict) -> None:
        """An earlier run's configuration, every field, without rebuilding the model on show."""
        self.blockSignals(True)
        widgets = [self.model_combo, self.dataset_combo, self.transfer_check, self.recipe_combo]
        for widget in widgets:
            widget.blockSignals(True)
        try:
            config = {k: v for k, v in config.items() if isinstance(v, (str, int, float, bool, type(None)))}
            self.select(self.model_combo, config.get("model"))
            self._recommended_for = config.get("model")
            dataset = config.get("dataset") or ""
            if not self.select(self.dataset_combo, dataset) and dataset:
                self.show_folder(dataset)
            self._previous_dataset = self.dataset_combo.currentIndex()
            self.select(self.recipe_combo, config.get("recipe"))
            self.transfer_check.setChecked(bool(config.get("pretrained")))
            self.select(self.transfer_mode_combo, config.get("transfer") or "finetune")
            self.set_weights_file(config.get("weights") if isinstance(config.get("weights"), str) else None)
            for spin, key in ((self.epochs_spin, "epochs"), (self.batch_spin, "batch_size"), (self.lr_spin, "lr"),
                              (self.wd_spin, "weight_decay"), (self.smoothing_spin, "label_smoothing"),
                              (self.input_spin, "input_size"), (self.seed_spin, "seed")):
                value = config.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    spin.setValue(type(spin.value())(value))
            self._wanted_device = config.get("device")  # the devices may not be listed yet (torch loading)
            for combo, key in ((self.optimizer_combo, "optimizer"), (self.schedule_combo, "schedule"),
                               (self.device_combo, "device"), (self.amp_combo, "amp"), (self.augment_combo, "augment")):
                self.select(combo, config.get(key))
        finally:
            for widget in widgets:
                widget.blockSignals(False)
            self.blockSignals(False)
        self.changed.emit()

    def _populate(self) -> None:
        """From the catalogue (no torch): the zoo by family, oldest family first, each in natural order."""
        by_family: dict[str, list[catalog.ModelCard]] = {}
        for card in catalog.model_cards():  # natural order already: a stable sort by year keeps it
            by_family.setdefault(card.family, []).append(card)
        bold = QFont()
        bold.setBold(True)
        for family, cards in sorted(by_family.items(), key=lambda kv: min(c.year for c in kv[1])):
            self.model_combo.addItem(family)
            header = self.model_combo.model().item(self.model_combo.count() - 1)
            header.setEnabled(False)
            header.setFont(bold)
            for card in sorted(cards, key=lambda c: c.year):
                self.model_combo.addItem(card.name, card.name)  # no padding: typing a name selects it
                _tip(self.model_combo, card.idea)
        self.model_combo.setCurrentIndex(self.model_combo.findData("lenet5"))
        for name in catalog.dataset_names():
            card = catalog.dataset_card(name)
            self.dataset_combo.addItem(card.title, name)
            _tip(self.dataset_combo, card.description)
        self.dataset_combo.insertSeparator(self.dataset_combo.count())
        self.dataset_combo.addItem("Image folder…", FOLDER_ENTRY)

    @property
    def model_name(self) -> str | None:
        return self.model_combo.currentData()

    @property
    def dataset_name(self) -> str | None:
        return self.dataset_combo.currentData()

    def select(self, combo: QComboBox, data) -> bool:
        index = combo.findData(data)
        if index >= 0:
            combo.setCurrentIndex(index)
        return index >= 0

    def apply_recommended(self, train_size: int | None = None) -> None:
        """Fill the settings from the chosen recipe or from the model family's defaults (the
        engine's ``resolve``, so the window and the command line agree)."""
        if self.model_name is None:
            return
        recipe = self.recipe_combo.currentData()
        size = train_size if isinstance(train_size, int) and train_size > 0 else getattr(self, "train_size", None)
        settings = resolve(TrainConfig(model=self.model_name, recipe=recipe), train_size=size)
        self.select(self.optimizer_combo, settings.optimizer)
        self.lr_spin.setValue(settings.lr)
        self.batch_spin.setValue(settings.batch_size)
        self.wd_spin.setValue(settings.weight_decay or 0.0)
        self.smoothing_spin.setValue(settings.label_smoothing or 0.0)
        self.schedule_combo.setCurrentIndex(0)
        if recipe is not None:
            self.select(self.augment_combo, settings.augment)
            if size and settings.epochs:
                self.epochs_spin.setValue(settings.epochs)

    def config(self, image_size: int | None = None) -> TrainConfig:
        return TrainConfig(
            model=self.model_name, dataset=self.dataset_name, epochs=self.epochs_spin.value(),
            batch_size=self.batch_spin.value(), lr=self.lr_spin.value(), optimizer=self.optimizer_combo.currentData(),
            recipe=self.recipe_combo.currentData(), schedule=self.schedule_combo.currentData(),
            weight_decay=self.wd_spin.value(), label_smoothing=self.smoothing_spin.value(),
            input_size=self.input_spin.value() or None, seed=self.seed_spin.value(),
            device=self.device_combo.currentData(), amp=self.amp_combo.currentData(),
            augment=self.augment_combo.currentData(), pretrained=self.transfer_check.isChecked(),
            transfer=self.transfer_mode_combo.currentData(), image_size=image_size,
            weights=self.weights_file if self.transfer_check.isChecked() else None,
        )

    def show_problem(self, text: str) -> None:
        self.problem_label.setText(text)
        self.problem_label.setVisible(bool(text))

    def show_cost(self, macs: int | None, train_images: int | None, seconds: float | None, device: str,
                  passes: int = 3) -> None:
        """``macs`` per image forward; training costs about three times that (forward and backward), or
        once (``passes`` 1) when the frozen backbone only extracts features."""
        if not macs:
            self.cost_label.setText("")
            return
        from workbench.core.inspect import human_count

        images = f"{train_images:,}" if train_images else "?"
        how = "3 (forward + backward)" if passes == 3 else "1 (the frozen backbone's forward only)"
        text = f"Cost: {human_count(macs)} multiply-adds per image × {how} × {images} images"
        if seconds is not None:
            span = f"{max(1, round(seconds))} s" if seconds < 60 else clock(seconds)
            text += f" → about <b>{span}</b> per epoch on {html.escape(device)}"
            if seconds > SLOW_EPOCH_SECONDS:
                text += ("<br><span style='color:#b35900'>⚠ This will be slow. A GPU, a smaller model or a smaller "
                         "input size makes it faster.</span>")
        self.cost_label.setText(text)

    # -- the engine, and a weights file --------------------------------------------------------
    def wait_for_engine(self) -> None:
        """Shown while torch loads: everything can be chosen, only Start waits."""
        self.loading_engine = True
        self.start_button.setEnabled(False)
        self.start_button.setText("Start (loading PyTorch…)")

    def engine_ready(self, devices: list[tuple[str, str]]) -> None:
        """Torch is in: the devices it sees (label, name; the first is "auto") and Start."""
        wanted = self._wanted_device or self.device_combo.currentData()
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        for label, name in devices:
            self.device_combo.addItem(label, name)
        self.device_combo.blockSignals(False)
        self.select(self.device_combo, wanted)
        self.loading_engine = False
        self.start_button.setText("Start")
        self.start_button.setEnabled(True)  # the window locks it again where the settings cannot run

    def choose_weights(self) -> None:
        start = str(Path(self.weights_file).parent) if self.weights_file else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Choose an ImageNet weights file for this model", start,
                                              "PyTorch weights (*.pth *.pt *.bin);;All files (*)")
        if path:
            self.set_weights_file(path)

    def set_weights_file(self, path: str | None) -> None:
        """``None``: torchvision's weights (its cache, else the download)."""
        self.weights_file = path or None
        self._show_weights()
        self.changed.emit()

    def _show_weights(self) -> None:
        name = Path(self.weights_file).name if self.weights_file else "download"
        self.weights_button.setText(f"Weights: {name if len(name) <= 20 else name[:19] + '…'}")
        self.weights_button.setToolTip(f"{self.weights_file}\nClick to choose another file" if self.weights_file else
                                       "Downloaded once into torchvision's cache; click to use a file you have "
                                       "instead (offline)")

    def lock(self, training: bool, loading: bool, problem: bool) -> None:
        """Nothing to edit while a run trains or a folder is read; Start waits for settings that can run
        (and for torch)."""
        self.set_running(training or loading)
        self.start_button.setEnabled(not training and not loading and not problem and not self.loading_engine)
        self.stop_button.setEnabled(training)
        self.pause_button.setEnabled(training)

    def show_paused(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")

    def set_running(self, running: bool) -> None:
        for widget in (self.model_combo, self.dataset_combo, self.epochs_spin, self.batch_spin, self.lr_spin,
                       self.optimizer_combo, self.augment_combo, self.start_button, self.recipe_combo,
                       self.recommend_button, self.device_combo, self.amp_combo, self.schedule_combo, self.wd_spin,
                       self.smoothing_spin, self.input_spin, self.seed_spin):
            widget.setEnabled(not running)
        self.start_button.setEnabled(not running and not self.loading_engine)
        has_weights = _has_weights(self.model_name)
        self.transfer_check.setEnabled(not running and has_weights)
        self.transfer_mode_combo.setEnabled(not running and self.transfer_check.isChecked())
        self.weights_button.setEnabled(not running and self.transfer_check.isChecked())
        self.pause_button.setEnabled(running)
        if not running:
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.setText("Pause")
            self.pause_button.blockSignals(False)
        self.stop_button.setEnabled(running)
