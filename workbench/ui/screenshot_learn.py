"""The learn-by-looking screenshots (``python -m workbench.ui.screenshot resources/screenshots --only learn``):
``timelapse.png`` (LeNet-5's time-lapse on the digits, the slider part-way), ``lineage.png`` (the digit through
the trained LeNet-5, VGG-11 and ResNet-18), and the papers on a run: ``papers-curve.png`` (ResNet-20's accuracy
with He et al.'s figure dotted), ``papers-evaluation.png`` and ``papers-degradation.png`` (Figure 6's four runs).

The papers' shots need CIFAR-10. Where it is not in the data folder (a machine with no network), a stand-in in
CIFAR-10's own file format is written to a temporary folder — a colour per class under random blotches, so the accuracies on those
shots are not CIFAR-10's; the paper's figures and words are the real ones."""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def cifar10_or_stand_in():
    """CIFAR-10 from the data folder if it is there; else a temporary home whose data folder holds a stand-in
    torchvision accepts (the user's own data folder is never written)."""
    from torchvision import datasets

    from workbench.core import paths

    if (paths.data_root() / "cifar-10-batches-py" / "test_batch").is_file():
        yield False
        return

    md5 = lambda p: hashlib.md5(p.read_bytes()).hexdigest()  # noqa: E731
    saved = datasets.CIFAR10.train_list, datasets.CIFAR10.test_list, datasets.CIFAR10.meta
    home = os.environ.get("CNN_WORKBENCH_HOME")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CNN_WORKBENCH_HOME"] = tmp
        folder = paths.data_root() / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        rng = np.random.default_rng(0)
        labels = np.arange(1200) % 10
        colours = rng.integers(40, 216, size=(10, 3, 1, 1))  # a colour per class, blotches and grain over it
        blotches = np.repeat(np.repeat(rng.integers(-50, 51, size=(1200, 3, 4, 4)), 8, axis=2), 8, axis=3)
        images = colours[labels] + blotches + rng.integers(-20, 21, size=(1200, 3, 32, 32))
        flat = np.clip(images, 0, 255).astype(np.uint8).reshape(1200, -1)
        train = []
        for i in range(5):
            name = f"data_batch_{i + 1}"
            with open(folder / name, "wb") as fh:
                pickle.dump({"data": flat[i * 200:(i + 1) * 200], "labels": labels[i * 200:(i + 1) * 200].tolist()}, fh)
            train.append([name, md5(folder / name)])
        with open(folder / "test_batch", "wb") as fh:
            pickle.dump({"data": flat[1000:], "labels": labels[1000:].tolist()}, fh)
        with open(folder / "batches.meta", "wb") as fh:
            pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                         "ship", "truck"]}, fh)
        datasets.CIFAR10.train_list, datasets.CIFAR10.test_list = train, [["test_batch", md5(folder / "test_batch")]]
        datasets.CIFAR10.meta = {**saved[2], "md5": md5(folder / "batches.meta")}
        try:
            yield True
        finally:
            datasets.CIFAR10.train_list, datasets.CIFAR10.test_list, datasets.CIFAR10.meta = saved
            if home is None:
                os.environ.pop("CNN_WORKBENCH_HOME", None)
            else:
                os.environ["CNN_WORKBENCH_HOME"] = home


def learn_shots(window, wait, out: Path, epochs: int) -> list[Path]:
    saved = []
    window.form.select(window.model_combo, "lenet5")
    wait(lambda: not window.idle)
    window.epochs_spin.setValue(epochs)
    window.start_training()
    wait(lambda: window.training or not window.idle)
    lenet_run = window.last_summary["run_dir"]
    tabs = window.centre_tabs
    tabs.setCurrentWidget(window.timelapse_view)
    window.centre_tabs.training.setSizes([300, 560])
    view = window.timelapse_view
    wait(lambda: view.lapse is None or len(view.lapse.frames) < epochs + 1)
    view.layer_combo.setCurrentIndex(view.layer_combo.findData("c3"))
    view.slider.setValue(2)
    wait(lambda: not window.idle)
    saved.append(out / "timelapse.png")
    tabs.grab().save(str(saved[-1]))

    lineage = window.lineage_view
    window.resize(1800, 1000)  # room for three networks side by side
    window.splitter.setSizes([330, 1000, 470])
    tabs.setCurrentWidget(lineage)
    window.runs.refresh()
    wait(lambda: not window.idle)
    lineage.choose(("run", lenet_run), ("model", "vgg11"), ("model", "resnet18"))
    results = []
    window.lineage.ready.connect(lambda columns, caption: results.append(columns))
    lineage.compare_button.click()
    wait(lambda: not results)
    saved.append(out / "lineage.png")
    tabs.grab().save(str(saved[-1]))
    window.resize(1400, 880)

    with cifar10_or_stand_in() as stand_in:
        window.form.select(window.dataset_combo, "cifar10")
        wait(lambda: not window.idle)
        window.start_degradation(epochs=3 if stand_in else epochs, batch_size=32)
        wait(lambda: window.training or not window.idle)
        tabs.setCurrentWidget(window.runs_view)
        wait(lambda: len(window.runs_view.compared) < 4 or not window.idle)
        saved.append(out / "papers-degradation.png")
        tabs.grab().save(str(saved[-1]))
        tabs.setCurrentWidget(tabs.training)
        wait(lambda: not window.idle)
        saved.append(out / "papers-curve.png")
        tabs.grab().save(str(saved[-1]))
        tabs.setCurrentWidget(window.evaluation_view)
        wait(lambda: not window.idle)
        saved.append(out / "papers-evaluation.png")
        tabs.grab().save(str(saved[-1]))
    return saved
