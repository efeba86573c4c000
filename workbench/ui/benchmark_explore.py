"""The explorer's benchmark (``python -m workbench.ui.benchmark explore``): ResNet-18 at 224×224 on the CPU,
as the window runs it.

- drop → every layer recorded and the selected layer's maps on screen, against one plain forward pass of
  the same input as a job on the same model thread, each from the call to its own signal (goal ≤ 1.3× and
  ≤ 250 ms);
- a layer switch to its maps on screen (goal ≤ 50 ms), and a page of ResNet-50's 2,048-channel ``layer4``
  (goal ≤ 50 ms);
- a folder of 1,000 images classified by ``predict_files`` (thumbnails, truth, progress) against a plain
  batched loop (decode, stack, forward) in the same thread (goal ≥ 0.9×);
- the window's peak memory (its own process) against a bare ``import torch, torchvision`` in another
  (goal ≤ 300 MB above it).

Figures are medians; compare the ratios, not the milliseconds."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD_ENV = "CNN_WORKBENCH_EXPLORE_CHILD"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _photo_folder(root: Path, count: int) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / f"class{i % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        size = (int(rng.integers(160, 320)), int(rng.integers(160, 320)))
        pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels, "RGB").save(folder / f"{i:04d}.jpg", quality=85)
    return root


def _explored(app, window, folder: Path | None, model: str = "resnet18") -> None:
    """``model`` at 224×224 on show: on the photo ``folder`` (RGB), or on the bundled digits (grey)."""
    from .benchmark_tools import _wait

    _wait(app, lambda: window.idle)
    if folder is not None:
        window.open_folder(str(folder))
        _wait(app, lambda: window.idle and window.datasets.bundle is not None and window.datasets.bundle.health)
    window.form.select(window.model_combo, model)
    window.form.input_spin.setValue(224)
    _wait(app, lambda: window.idle)
    window.on_selection_changed()
    _wait(app, lambda: window.idle)
    assert window.session.predictor.input_shape[1:] == (224, 224), window.session.predictor.input_shape


def _explorer_window(app, tmp: str, folder: Path | None, model: str = "resnet18"):
    """The window with fresh runs and settings of its own, ``model`` at 224×224 on show (``_explored``)."""
    from PySide6.QtCore import QSettings

    from .main_window import MainWindow

    window = MainWindow(runs_root=Path(tmp) / "runs", settings=QSettings(f"{tmp}/settings.ini", QSettings.Format.IniFormat))
    window.resize(1500, 950)
    window.show()
    _explored(app, window, folder, model)
    return window


def _plain_job(app, window, plain) -> float:
    """Seconds from submitting ``plain`` on the window's model thread to its result being back in the UI thread:
    the baseline a view's latency is set beside."""
    from .benchmark_tools import _wait

    done: list[float] = []
    start = time.perf_counter()
    window.jobs.submit("plain", plain, lambda _: done.append(time.perf_counter()))
    _wait(app, lambda: done)
    return done[0] - start


def _settle(app, window) -> None:
    """Every job and paint done: a measurement then waits for nothing the last step left behind."""
    from .benchmark_tools import _wait

    _wait(app, lambda: window.idle)
    for _ in range(5):
        app.processEvents()
        time.sleep(0.02)


def memory(dataset: str) -> dict:
    """Peak memory of the window, in its own process, with ResNet-18 at 224×224 explored: a photo dropped and
    ten layers walked."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from resources import resource_path

    from .benchmark_tools import _app, _wait

    app = _app()
    with tempfile.TemporaryDirectory() as tmp:
        folder = _photo_folder(Path(tmp) / "set", 100) if dataset == "folder" else None
        window = _explorer_window(app, tmp, folder)
        window.classify_file(str(resource_path("photos", "astronaut.jpg")))
        _wait(app, lambda: window.idle)
        for layer in ("conv1", "bn1", "layer1", "layer1.0.bn1", "layer2", "layer2.0.downsample.0", "layer3",
                      "layer4", "avgpool", "fc"):
            window.explorer.select_layer(layer)
            _wait(app, lambda: window.idle)
        window.close()
    return {"peak_mb": _peak_mb(), "dataset": dataset}


def child(rounds: int, folder_images: int) -> dict:
    """The window's timings, in its own process."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import torch

    from resources import resource_path
    from workbench.core.predict import Predictor, predict_files

    from .benchmark_tools import _app, _wait

    app = _app()
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = _photo_folder(Path(tmp) / "set", 100)
        window = _explorer_window(app, tmp, folder)
        predictor = window.session.predictor
        shown: list[float] = []
        window.inspection.mapsReady.connect(lambda layer, maps: shown.append(time.perf_counter()))
        photo = str(resource_path("photos", "astronaut.jpg"))
        x = predictor.prepare(photo).unsqueeze(0)

        def plain():
            with torch.no_grad():
                predictor.model.eval()(x)
        plain_s, drop_s, switch_s = [], [], []
        window.explorer.select_layer("layer1")
        _wait(app, lambda: window.idle)
        def settle() -> None:
            _settle(app, window)
        for _ in range(rounds):
            settle()
            plain_s.append(_plain_job(app, window, plain))
            settle()
            shown.clear()
            start = time.perf_counter()
            window.classify_file(photo)  # decode, one recorded pass, the maps drawn (mapsReady comes after)
            _wait(app, lambda: shown and window.idle)
            drop_s.append(shown[0] - start)
            for layer in ("layer2", "layer3.0.conv1", "layer4", "layer1"):
                settle()
                shown.clear()
                start = time.perf_counter()
                window.explorer.select_layer(layer)  # from the recording: no job, no forward pass
                if not shown:
                    _wait(app, lambda: shown)
                app.processEvents()  # and painted
                switch_s.append(time.perf_counter() - start)
        out.update(plain=statistics.median(plain_s), drop=statistics.median(drop_s),
                   switch=statistics.median(switch_s), switch_max=max(switch_s))

        window.form.select(window.model_combo, "resnet50")
        _wait(app, lambda: window.idle)
        window.classify_file(photo)
        _wait(app, lambda: window.idle)
        window.explorer.select_layer("layer4")
        _wait(app, lambda: window.feature_map_view.tile_count == 2048)
        spin, pages = window.feature_map_view.page_spin, []
        for page in list(range(2, spin.maximum() + 1)) + [1]:
            start = time.perf_counter()
            spin.setValue(page)
            app.processEvents()
            pages.append(time.perf_counter() - start)
        out.update(page=statistics.median(pages), page_max=max(pages), pages=len(pages))

        # A folder of images, with the core's folder path and with a plain batched loop, alternated.
        big = _photo_folder(Path(tmp) / "many", folder_images)
        files = sorted(big.rglob("*.jpg"))
        resnet = Predictor(predictor.model, predictor.classes, predictor.input_shape, predictor.native_size,
                           predictor.preprocess.mean.flatten().tolist(), predictor.preprocess.std.flatten().tolist(),
                           crop=predictor.crop)

        def batched():
            for i in range(0, len(files), 64):
                resnet.classify_batch([resnet.decode(p) for p in files[i:i + 64]], 5)
        ours, theirs = [], []
        for _ in range(2):
            start = time.perf_counter()
            batched()
            theirs.append(time.perf_counter() - start)
            start = time.perf_counter()
            predict_files(resnet, [big], 5, progress=lambda *a: None, finished=lambda rows: None, thumbnail=48)
            ours.append(time.perf_counter() - start)
        out.update(folder_plain=min(theirs), folder_ours=min(ours), folder_images=len(files))
        window.close()
    return out


def explore(rounds: int = 5, folder_images: int = 1000) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    def run(which: str, command: list[str]) -> dict:
        with tempfile.TemporaryDirectory() as home:
            done = subprocess.run(command, capture_output=True, text=True,
                                  env={**env, "HOME": home, CHILD_ENV: which})
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        return json.loads(done.stdout.strip().splitlines()[-1])
    me = [sys.executable, "-m", "workbench.ui.benchmark_explore"]
    bare_mb = run("bare", [sys.executable, "-c", "import json, resource, torch, torchvision; print(json.dumps("
                           "{'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))"])["peak_mb"]
    grey, rgb = run("memory-digits", me)["peak_mb"], run("memory-folder", me)["peak_mb"]
    r = run(json.dumps([rounds, folder_images]), me)
    print("explore: ResNet-18 at 224×224, CPU, the window's model thread (one OpenMP thread)")
    print(f"  plain forward            {r['plain'] * 1000:7.1f} ms")
    print(f"  drop → every layer, maps {r['drop'] * 1000:7.1f} ms   {r['drop'] / r['plain']:.2f}× plain (goal ≤ 1.3×, ≤ 250 ms)")
    print(f"  layer switch → maps      {r['switch'] * 1000:7.1f} ms   max {r['switch_max'] * 1000:.1f} ms (goal ≤ 50 ms)")
    print(f"  ResNet-50 layer4, 2,048 channels, a page of 64: {r['page'] * 1000:.1f} ms median, "
          f"{r['page_max'] * 1000:.1f} ms max over {r['pages']} pages (goal ≤ 50 ms)")
    print(f"  folder of {r['folder_images']:,} images: plain batched {r['folder_images'] / r['folder_plain']:.1f} img/s, "
          f"predict_files {r['folder_images'] / r['folder_ours']:.1f} img/s = "
          f"{r['folder_plain'] / r['folder_ours']:.2f}× (goal ≥ 0.9×)")
    print(f"  peak memory, each its own process: bare import torch, torchvision {bare_mb:.0f} MB; the window with "
          f"ResNet-18 at 224×224 explored (a photo dropped, ten layers walked) on the digits {grey:.0f} MB = "
          f"+{grey - bare_mb:.0f} MB, on a folder of 100 photos {rgb:.0f} MB = +{rgb - bare_mb:.0f} MB (goal ≤ +300 MB)")
    r.update(bare_mb=bare_mb, grey_mb=grey, rgb_mb=rgb)
    return r


if __name__ == "__main__":
    which = os.environ.get(CHILD_ENV)
    if which and which.startswith("memory-"):
        print(json.dumps(memory(which.split("-", 1)[1])))
    elif which:
        print(json.dumps(child(*json.loads(which))))
    else:
        explore()
