"""The explorer's benchmark (``python -m workbench.ui.benchmark explore``): ResNet-18 at 224×224 on the CPU,
as the window runs it.

- drop → every layer recorded and the selected layer's maps on screen, against one plain forward pass of
  the same input on the same model thread (goal ≤ 1.3× and ≤ 250 ms);
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


def child(rounds: int, folder_images: int) -> dict:
    """The window's side, in its own process: every figure but the bare import's memory."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import torch

    from resources import resource_path
    from workbench.core.predict import Predictor, predict_files

    from .benchmark_tools import _app, _wait

    app = _app()
    from PySide6.QtCore import QSettings

    from .main_window import MainWindow

    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = _photo_folder(Path(tmp) / "set", 100)
        window = MainWindow(runs_root=Path(tmp) / "runs",
                            settings=QSettings(f"{tmp}/settings.ini", QSettings.Format.IniFormat))
        window.resize(1500, 950)
        window.show()
        _wait(app, lambda: window.idle)
        window.open_folder(str(folder))
        _wait(app, lambda: window.idle and window.datasets.bundle is not None and window.datasets.bundle.health)
        window.form.select(window.model_combo, "resnet18")
        window.form.input_spin.setValue(224)
        _wait(app, lambda: window.idle)
        window.on_selection_changed()
        _wait(app, lambda: window.idle)
        predictor = window.session.predictor
        assert predictor.input_shape == (3, 224, 224), predictor.input_shape
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
        for _ in range(rounds):
            done: list[float] = []
            start = time.perf_counter()
            window.jobs.submit("plain", plain, lambda _: done.append(time.perf_counter()))
            _wait(app, lambda: done)
            plain_s.append(done[0] - start)
            shown.clear()
            start = time.perf_counter()
            window.classify_file(photo)
            _wait(app, lambda: shown and window.idle)
            app.processEvents()
            drop_s.append(time.perf_counter() - start)
            for layer in ("layer2", "layer3.0.conv1", "layer4", "layer1"):
                start = time.perf_counter()
                window.explorer.select_layer(layer)
                _wait(app, lambda: window.feature_map_view.layer == layer and window.idle)
                app.processEvents()
                switch_s.append(time.perf_counter() - start)
        out.update(plain=statistics.median(plain_s), drop=statistics.median(drop_s),
                   switch=statistics.median(switch_s), switch_max=max(switch_s))
        out["peak_resnet18_mb"] = _peak_mb()

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
    env = {**os.environ, CHILD_ENV: json.dumps([rounds, folder_images]), "QT_QPA_PLATFORM": "offscreen"}
    with tempfile.TemporaryDirectory() as home:
        env["HOME"] = home
        bare = subprocess.run([sys.executable, "-c", "import resource, torch, torchvision; "
                               "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"],
                              capture_output=True, text=True, env=env, check=True)
        done = subprocess.run([sys.executable, "-m", "workbench.ui.benchmark_explore"], capture_output=True,
                              text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    r = json.loads(done.stdout.strip().splitlines()[-1])
    bare_mb = float(bare.stdout.strip())
    print("explore: ResNet-18 at 224×224, CPU, the window's model thread (one OpenMP thread)")
    print(f"  plain forward            {r['plain'] * 1000:7.1f} ms")
    print(f"  drop → every layer, maps {r['drop'] * 1000:7.1f} ms   {r['drop'] / r['plain']:.2f}× plain (goal ≤ 1.3×, ≤ 250 ms)")
    print(f"  layer switch → maps      {r['switch'] * 1000:7.1f} ms   max {r['switch_max'] * 1000:.1f} ms (goal ≤ 50 ms)")
    print(f"  ResNet-50 layer4, 2,048 channels, a page of 64: {r['page'] * 1000:.1f} ms median, "
          f"{r['page_max'] * 1000:.1f} ms max over {r['pages']} pages (goal ≤ 50 ms)")
    print(f"  folder of {r['folder_images']:,} images: plain batched {r['folder_images'] / r['folder_plain']:.1f} img/s, "
          f"predict_files {r['folder_images'] / r['folder_ours']:.1f} img/s = "
          f"{r['folder_plain'] / r['folder_ours']:.2f}× (goal ≥ 0.9×)")
    print(f"  peak memory: window with ResNet-18 explored {r['peak_resnet18_mb']:.0f} MB, bare import torch, "
          f"torchvision {bare_mb:.0f} MB: +{r['peak_resnet18_mb'] - bare_mb:.0f} MB (goal ≤ 300 MB)")
    return r


if __name__ == "__main__":
    if os.environ.get(CHILD_ENV):
        print(json.dumps(child(*json.loads(os.environ[CHILD_ENV]))))
    else:
        explore()
