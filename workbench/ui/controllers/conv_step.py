"""A convolution step by step in the window: a pixel clicked in the enlarged channel becomes a job on the model
thread that records the layer once for the image on show (kept while the image, the model and its weights
stay), does the arithmetic of that output value, and measures the unit's theoretical receptive field (once per
layer) and its effective field (the gradient, for this image)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ..jobs import JobRunner
from ..state import Session


class ConvStepController(QObject):
    stepReady = Signal(object)  # dict: step (ConvStep), layer, shown (the map's value), field, box, heat, image, note
    failed = Signal(str)

    def __init__(self, session: Session, jobs: JobRunner, parent=None):
        super().__init__(parent)
        self.session, self.jobs = session, jobs
        self._recording = None  # (key, LayerRecording)
        self._fields: dict = {}
        self.version = 0  # bumped when the weights change in place
        self.last = None  # the last (layer, channel, row, col, shown)

    def weights_changed(self) -> None:
        self.version += 1

    def step(self, layer: str, channel: int, row: int, col: int, shown: float | None = None) -> None:
        predictor, image = self.session.predictor, self.session.image
        if predictor is None or image is None or not layer:
            self.failed.emit("Drop an image and select a convolution's map first.")
            return
        self.last = (layer, channel, row, col, shown)
        key = (id(predictor), id(image), self.version)

        def work():
            from workbench.core.inspect.conv_step import record_layer, step_at, steppable_leaf
            from workbench.core.inspect.receptive_field import effective_field, theoretical_field

            model = predictor.model
            leaf = steppable_leaf(model, layer)
            if leaf is None:
                raise ValueError(f"{layer} holds no convolution or pooling layer to compute step by step")
            x = predictor.prepare(image).unsqueeze(0)
            cached = self._recording
            if cached is None or cached[0] != (key, leaf):
                cached = ((key, leaf), record_layer(model, x, leaf))
                self._recording = cached
            step = step_at(cached[1], channel, row, col)
            fkey = (id(model), leaf, tuple(x.shape[1:]))
            if fkey not in self._fields:
                self._fields[fkey] = theoretical_field(model, tuple(x.shape[1:]), leaf)
            field = self._fields[fkey]
            heat = effective_field(model, x, leaf, channel, row, col)
            note = ""
            if leaf != layer:
                note = f"{layer} is a block: this is its last layer that can be computed by hand, {leaf}"
                if shown is not None and abs(step.final - shown) > 1e-4 * max(1.0, abs(shown)):
                    note += f"; after it {layer} adds or joins more (its map shows {shown:.4g} here)"
            return {"step": step, "layer": layer, "shown": shown, "field": field, "out_size": tuple(cached[1].output.shape[1:]),
                    "box": field.box(row, col, x.shape[2], x.shape[3]), "heat": heat, "image": image, "note": note}
        self.jobs.submit("conv-step", work, self.stepReady.emit, self.failed.emit, what="computing the step")
