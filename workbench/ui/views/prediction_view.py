"""Classify honestly: the top five with bars, what the network is given (the image after grey
conversion, resize, pad or crop, inversion) with every step in words, the controls for preparing it
(stretch, pad or crop; invert, with the automatic guess shown) and plain warnings when the image is
unlike the training data or the confidence is not one to trust."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from workbench.core.data.transforms import FITS

from .drop_zone import tensor_to_pixmap
from .text import plain, rich

FIT_CHOICES = [("As trained", None)] + [(words, key) for key, words in FITS.items()]
INVERT_CHOICES = [("Invert: automatic", None), ("Invert", True), ("Don't invert", False)]


class PredictionView(QWidget):
    """The top classes and their probabilities as labelled bars, with the network's input beside them."""

    preparationChanged = Signal(object, object)  # fit (None: as trained), invert (None: the guess)

    def __init__(self, rows: int = 5, parent=None):
        super().__init__(parent)
        self.setObjectName("predictionView")
        self.title = rich(QLabel("<b>Prediction</b>"))
        self.network_input = plain(QLabel(objectName="networkInput", alignment=Qt.AlignmentFlag.AlignCenter))
        self.network_input.setFixedSize(72, 72)
        self.network_input.setStyleSheet("QLabel { border: 1px solid #ccc; background: #fafafa; }")
        self.network_input.setToolTip("What the network is given (before normalisation), pixel for pixel")
        self.steps = plain(QLabel(objectName="preparationSteps", wordWrap=True))
        self.steps.setStyleSheet("color: #555;")
        self.fit_combo = QComboBox(objectName="fitCombo")
        self.invert_combo = QComboBox(objectName="invertCombo")
        for combo, choices in ((self.fit_combo, FIT_CHOICES), (self.invert_combo, INVERT_CHOICES)):
            for words, value in choices:
                combo.addItem(words, value)
            combo.currentIndexChanged.connect(self._on_control)
        self.fit_combo.setToolTip("How an image of another shape is brought to the network's input")
        self.invert_combo.setToolTip("A dataset drawn light on dark (MNIST, the digits) wants dark-on-light "
                                     "images inverted; the automatic choice guesses from the whole image")
        self.warnings = plain(QLabel(objectName="inputWarnings", wordWrap=True, visible=False))
        self.warnings.setStyleSheet("QLabel { background: #fff4e0; border: 1px solid #e0a040; border-radius: 4px;"
                                    " padding: 3px; color: #6b4000; }")
        bars = QGridLayout()
        bars.setContentsMargins(0, 0, 0, 0)
        self._labels: list[QLabel] = []
        self._bars: list[QProgressBar] = []
        for row in range(rows):
            label, bar = rich(QLabel("–")), QProgressBar()
            label.setMinimumWidth(50)
            bar.setRange(0, 1000)
            bar.setFormat("")
            bar.setMaximumHeight(16)
            bars.addWidget(label, row, 0)
            bars.addWidget(bar, row, 1)
            self._labels.append(label)
            self._bars.append(bar)
        top = QHBoxLayout()
        top.addWidget(self.network_input, 0, Qt.AlignmentFlag.AlignTop)
        top.addLayout(bars, 1)
        controls = QHBoxLayout()
        controls.addWidget(self.fit_combo)
        controls.addWidget(self.invert_combo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addLayout(top)
        layout.addWidget(self.warnings)  # before the details: what makes this answer doubtful comes first
        layout.addWidget(self.steps)
        layout.addLayout(controls)
        layout.addStretch(1)
        self.predictions: list[tuple[str, float]] = []
        self.warning_lines: list[str] = []
        self._set_controls_enabled(False)

    def _on_control(self) -> None:
        self.preparationChanged.emit(self.fit_combo.currentData(), self.invert_combo.currentData())

    def _set_controls_enabled(self, enabled: bool) -> None:
        for combo in (self.fit_combo, self.invert_combo):
            combo.setEnabled(enabled)

    def show_predictions(self, predictions: list[tuple[str, float]], note: str = "") -> None:
        self.predictions = list(predictions)
        self.title.setText(f"<b>Prediction</b> {html.escape(note)}")  # names are the user's: plain text
        for i, (label, bar) in enumerate(zip(self._labels, self._bars)):
            if i < len(predictions):
                name, p = predictions[i]
                label.setText(f"<b>{html.escape(name)}</b>" if i == 0 else html.escape(name))
                bar.setValue(int(round(p * 1000)))
                bar.setFormat(f"{p * 100:.1f} %")
            else:
                label.setText("–")
                bar.setValue(0)
                bar.setFormat("")

    def show_input(self, image, prepared=None, normalisation: str = "") -> None:
        """The network's input (``image``, the dataset's form) and, for a dropped file, how it was made."""
        if image is None:
            self.network_input.clear()
            self.steps.setText("")
            self._set_controls_enabled(False)
            return
        self.network_input.setPixmap(tensor_to_pixmap(image, 70))
        c, h, w = image.shape
        kind = "grey" if c == 1 else "colour" if c == 3 else f"{c}-channel"
        if prepared is None:
            self.steps.setText(f"{w}×{h} {kind}, from the dataset; {normalisation}".rstrip("; "))
            self._set_controls_enabled(False)
            return
        sw, sh = prepared.source_size
        words = [f"{sw}×{sh} {'colour' if prepared.colourfulness > 0.04 else 'grey'} image", *prepared.steps]
        if prepared.guess is not None and not prepared.inverted:
            words.append("not inverted" + (" (it looked light on dark)" if not prepared.guess else ""))
        if normalisation:
            words.append(normalisation)
        self.steps.setText(" → ".join(words))
        self._set_controls_enabled(True)
        guess = prepared.guess
        self.invert_combo.setItemText(0, "Invert: automatic" if guess is None else
                                      f"Auto: {'inverted' if guess else 'not inverted'}")
        self.invert_combo.setItemData(0, None if guess is None else
                                      f"The guess: {prepared.light_share:.0%} of the image is light, so it is drawn "
                                      f"{'dark on light' if guess else 'light on dark'}", Qt.ItemDataRole.ToolTipRole)

    def show_warnings(self, lines: list[str]) -> None:
        self.warning_lines = list(lines)
        self.warnings.setText("\n".join(f"⚠ {line}" for line in lines))
        self.warnings.setVisible(bool(lines))
