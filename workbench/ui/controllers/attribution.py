"""Why the network decided, for the window: CAMs of the image on show (two classes, and a strip at every
stage), the costly input methods as jobs with progress, a first preview and cancel, knock-outs (the
prediction again at once; the test set's accuracy as a job), branch shares at a merge, the test images that
excite a channel most, and CAMs for the evaluation view's galleries.

It follows the session like the inspection controller and runs everything on the window's model thread;
results go to the views as plain objects (PIL images and numbers), never a model."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from workbench.core.explain import explain_classes, explain_image, network_input, test_batches
from workbench.core.inspect.ablation import (KnockOut, accuracy_with, branch_shares, branches, graph_for,
                                             knock_out)
from workbench.core.inspect.attribution import CAM_METHODS, COSTLY, why
from workbench.core.inspect.overlay import overlay, photo_overlay, to_rgb
from workbench.core.inspect.top_images import cached_top_images, crop_field, top_images
from workbench.core.predict import is_merge
from workbench.core.threads import in_fresh_thread

from ..jobs import JobRunner
from ..state import Session

GALLERY = 24
"""Images of a gallery that get their maps (the first ones)."""


def _top(probs, classes, k: int = 5) -> list[tuple[str, float]]:
    values, indices = probs.topk(min(k, len(classes)))
    return [(classes[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]


class AttributionController(QObject):
    camsReady = Signal(object)  # dict: maps [(Attribution, PIL overlay)], classes, layer words
    stripReady = Signal(object)  # [(layer, PIL overlay)]
    progress = Signal(str, int, int, str)  # which view (cam, knock, top), done, total, what
    previewReady = Signal(object)  # dict like camsReady, a first look of a costly method
    camCancelled = Signal(str)  # a costly method stopped by the user: what it was
    knockReady = Signal(object)  # dict: words, before, after (top-5 lists)
    accuracyReady = Signal(object)  # dict: words, on, off, images
    sharesReady = Signal(object)  # BranchShares, or a message
    topReady = Signal(object)  # dict: layer, channel, crops [(PIL, caption)], images, cached
    galleryReady = Signal(str, object)  # gallery name, {index: PIL composite}
    failed = Signal(str)

    def __init__(self, session: Session, jobs: JobRunner, test_set=lambda: None, training=lambda: False,
                 parent=None):
        super().__init__(parent)
        self.session, self.jobs, self.test_set, self.training = session, jobs, test_set, training
        self.method, self.layer, self.second = "gradcam", None, None  # second: the other class shown
        self.opacity = 0.5
        self.active = False  # the Grad-CAM view is on show: maps follow every drop
        self._gallery_model: tuple = (None, None)  # (run folder, Predictor)
        self._before: tuple = (None, None)  # ((predictor, image, note), probabilities) of the last knock-out
        session.subscribe(self._on_session)

    def _on_session(self, changed: set[str]) -> None:
        if {"predictor", "image", "photo"} & changed and self.active:
            self.refresh()

    def _cores(self, fn):
        """``fn()`` for a long job: with every core on a thread of its own when no run trains (its OpenMP team
        ends with it), else on the job's thread, which leaves the cores to the run."""
        return fn() if self.training() else in_fresh_thread(fn)

    def _ready(self):
        s = self.session
        return (s.predictor, s.image, s.photo) if s.predictor is not None and s.image is not None else None

    def _paint(self, photo, image, heat, opacity):
        return photo_overlay(photo, heat, opacity, size=320) if photo is not None else \
            overlay(to_rgb(image).resize((224, 224)), heat, opacity)

    # -- CAMs ---------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """The maps of the image on show for its predicted class and the second class, and the strip."""
        ready = self._ready()
        if ready is None:
            return
        predictor, image, photo = ready
        method, layer, second, opacity = self.method, self.layer, self.second, self.opacity
        if method in COSTLY:
            self._costly(predictor, image, photo, method, second, opacity)
            return

        def work():
            x = network_input(predictor, image)
            if method in CAM_METHODS:
                found, strip = why(predictor.model, x, second, layer, method)
            else:  # Saliency, Guided Backprop: one backward pass each, no layer
                first = int(knock_out(predictor.model, x, None)[0].argmax())
                targets = [first] + ([second] if second is not None and second != first else [])
                found = [explain_image(predictor, image, method, t) for t in targets]
                strip = why(predictor.model, x, second, None, "gradcam")[1]
            return {"maps": [(a, self._paint(photo, image, a.map, opacity)) for a in found],
                    "classes": predictor.classes, "strip": [(a.layer, self._paint(photo, image, a.map, 0.6))
                                                            for a in strip]}
        self.jobs.submit("cam", work, self._on_cams, self.failed.emit, what="Grad-CAM")

    def _on_cams(self, result: dict) -> None:
        self.camsReady.emit(result)
        if "strip" in result:
            self.stripReady.emit(result["strip"])

    def _costly(self, predictor, image, photo, method, second, opacity) -> None:
        def costly(job):
            x = network_input(predictor, image)
            target = int(knock_out(predictor.model, x, None)[0].argmax()) if second is None else second
            found = explain_image(predictor, image, method, target,
                                  progress=lambda done, total: job.progress(done, total, method),
                                  preview=lambda a: self.previewReady.emit(
                                      {"maps": [(a, self._paint(photo, image, a.map, opacity))],
                                       "classes": predictor.classes, "rule": "", "preview": True}))
            return {"maps": [(found, self._paint(photo, image, found.map, opacity))], "classes": predictor.classes,
                    "rule": ""}

        def work(job):
            return self._cores(lambda: costly(job))
        self.jobs.submit("cam", work, self.camsReady.emit, self.failed.emit, what=f"{method} (a job)",
                         on_progress=lambda *a: self.progress.emit("cam", *a), cancellable=True,
                         on_cancel=lambda: self.camCancelled.emit(method))

    def cancel(self) -> None:
        self.jobs.cancel("cam")

    def set_opacity(self, opacity: float) -> None:
        """The view blends again by itself; the next maps come at this opacity."""
        self.opacity = opacity

    def choose(self, method: str | None = None, layer: str | None = "", second: int | None = -2,
               opacity: float | None = None) -> None:
        """The view's choices; ``""``/``-2``: unchanged. A new method, layer or class computes again."""
        if method is not None:
            self.method = method
        if layer != "":
            self.layer = layer or None
        if second != -2:
            self.second = second
        if opacity is not None:
            self.opacity = opacity
        if self.active:
            self.refresh()

    # -- knock-outs ---------------------------------------------------------------------------------------
    def branches_of(self, merge: str) -> list:
        """The incoming branches of a merge, from the graph the summary captured (no pass on the UI thread)."""
        graph = getattr(self.session.summary, "graph", None)
        if graph is None or not is_merge(merge):
            return []
        try:
            return branches(graph, merge)
        except ValueError:
            return []

    def _as_it_is(self, predictor, image, note: str, x):
        """The probabilities of the image on show with nothing switched off, once per image and weights."""
        key, held = (predictor, image, note), self._before
        if held[0] is not None and all(a is b for a, b in zip(held[0], key[:2])) and held[0][2] == key[2]:
            return held[1]
        before = knock_out(predictor.model, x, None)[0]
        self._before = (key, before)  # the next knock-out on this image needs one pass, not two
        return before

    def prime(self) -> None:
        """The prediction as it is, computed as the Knock-out tab opens, so a knock-out costs one pass."""
        ready = self._ready()
        if ready is not None:
            predictor, image, _ = ready
            note = self.session.note
            self.jobs.submit("knock-prime", lambda: self._as_it_is(predictor, image, note,
                                                                   network_input(predictor, image)),
                             None, self.failed.emit, what="the prediction as it is")

    def knock(self, knock: KnockOut) -> None:
        ready = self._ready()
        if ready is None:
            return
        predictor, image, _ = ready
        note = self.session.note

        def work():
            x = network_input(predictor, image)
            graph = graph_for(predictor.model, tuple(x.shape))
            before = self._as_it_is(predictor, image, note, x)
            after = knock_out(predictor.model, x, knock)[0]
            return {"knock": knock, "words": knock.words(graph), "before": _top(before, predictor.classes),
                    "after": _top(after, predictor.classes), "class": predictor.classes[int(before.argmax())],
                    "drop": float(before.max() - after[before.argmax()])}
        self.jobs.submit("knock", work, self.knockReady.emit, self.failed.emit, what="knock-out")

    def _test_set(self, predictor):
        """The test split of the model's dataset, or ``None`` (and why, on the banner) when it is not loaded."""
        data = self.test_set()
        if data is None or list(data.classes) != list(predictor.classes):
            self.failed.emit("The test set of this model's dataset is not loaded: pick its dataset in the form first")
            return None
        return data.test

    def knock_accuracy(self, knock: KnockOut) -> None:
        predictor = self.session.predictor
        test = self._test_set(predictor) if predictor is not None else None
        if test is None:
            return
        graph = getattr(self.session.summary, "graph", None)

        def work(job):
            batches = ((images, labels) for _, images, labels in test_batches(predictor, test))
            on, off, n = self._cores(lambda: accuracy_with(
                predictor.model, batches, knock, lambda done, total: job.progress(done, total, "test images"),
                len(test)))
            return {"words": knock.words(graph), "on": on, "off": off, "images": n}
        self.jobs.submit("knock-accuracy", work, self.accuracyReady.emit, self.failed.emit,
                         what="accuracy with a knock-out", on_progress=lambda *a: self.progress.emit("knock", *a),
                         cancellable=True)

    def shares(self, merge: str | None = None) -> None:
        ready, merge = self._ready(), merge or self.session.layer
        if ready is None or not is_merge(merge):
            return
        predictor, image, _ = ready

        def work():
            x = network_input(predictor, image)
            target = int(knock_out(predictor.model, x, None)[0].argmax())
            try:
                return branch_shares(predictor.model, x, merge, target)
            except ValueError as exc:
                return str(exc)
        self.jobs.submit("shares", work, self.sharesReady.emit, self.failed.emit, what=f"branch shares of {merge}")

    # -- top images ---------------------------------------------------------------------------------------
    def top_images(self, layer: str, channel: int) -> None:
        s = self.session
        predictor = s.predictor
        test = self._test_set(predictor) if predictor is not None and layer else None
        if test is None:
            return
        run_dir = s.run.dir if s.run is not None and s.note != "(untrained)" else None
        import torch

        from workbench.core.evaluate import to_float

        def work(job):
            def compute():
                batches = ((indices, images) for indices, images, _ in test_batches(predictor, test))
                return top_images(predictor.model, batches, layer, predictor.input_shape,
                                  progress=lambda done, total: job.progress(done, total, "test images"),
                                  total=len(test))
            found, cached = self._cores(lambda: cached_top_images(run_dir, predictor.model, layer, compute))
            if channel >= found.indices.shape[1]:
                raise ValueError(f"{layer} has {found.indices.shape[1]} channels")
            crops = []
            h, w = predictor.input_shape[1:]
            for index, value, box in found.channel(channel, clip=False):
                image = to_float(test[index][0])
                big = torch.nn.functional.interpolate(image[None], size=(h, w), mode="bilinear",
                                                      align_corners=False)[0]
                crop = to_rgb(crop_field(big, box)).resize((96, 96))
                label = predictor.classes[int(test[index][1])]
                crops.append((crop, f"#{index} {label}\n{value:.2f}"))
            return {"layer": layer, "channel": channel, "crops": crops, "images": found.images, "cached": cached,
                    "field": found.field.size}
        self.jobs.submit("top-images", work, self.topReady.emit, self.failed.emit, what="top images",
                         on_progress=lambda *a: self.progress.emit("top", *a), cancellable=True)

    # -- the evaluation view's galleries ----------------------------------------------------------------
    def gallery(self, name: str, run_dir: str, entries: list[tuple[int, int, int]], images) -> None:
        """For ``(dataset index, true class, predicted class)`` entries: the image, its map for the predicted
        class and its map for the true class, side by side."""
        if not entries or images is None:
            return
        held = self._gallery_model

        def work(job):
            from workbench.core.predict import Predictor

            predictor = held[1] if held[0] == run_dir else Predictor.from_checkpoint(run_dir)
            self._gallery_model = (run_dir, predictor)
            out = {}
            for done, (index, true, predicted) in enumerate(entries[:GALLERY]):
                job.progress(done, min(len(entries), GALLERY), "maps")
                image = images(index)
                maps = explain_classes(predictor, image, [predicted, true] if true != predicted else [predicted])
                tiles = [to_rgb(image).resize((64, 64))] + [overlay(to_rgb(image).resize((64, 64)), a.map, 0.5)
                                                            for a in maps]
                from PIL import Image

                sheet = Image.new("RGB", (66 * len(tiles), 64), "white")
                for i, tile in enumerate(tiles):
                    sheet.paste(tile, (66 * i, 0))
                out[index] = sheet
            return out
        self.jobs.submit(f"gallery-{name}", work, lambda maps: self.galleryReady.emit(name, maps), self.failed.emit,
                         what="maps of the gallery", on_progress=lambda *a: None, cancellable=True)
