"""Regenerate the README screenshots: ``python -m workbench.ui.screenshot resources/screenshots``.

Drives the real window (offscreen when there is no display): the set-up view before a run,
the form as it shows while torch loads, the training view after LeNet-5 trains on the bundled
digits (with a drawn digit dropped and a layer selected), the evaluation view with a
confusion-matrix cell opened, the runs view comparing that run with a ResNet-20 run, and the
window at 800×600; the explorer's 1×1 bars, filters, source and a photograph's maps, and the classify
table. ``--folder`` trains on an image folder instead and
saves its health report; ``--only main`` saves just ``main-window.png``; ``--only why`` the Grad-CAM, knock-out,
top-images and evaluation-maps views (``screenshot_why``); ``--only doctor`` the dataset doctor
(``screenshot_doctor``); ``--only step`` a convolution computed step by step (``screenshot_step``); ``--only learn``
the time-lapse, the lineage and the papers on a run (``screenshot_learn``)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNG files")
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--layer", default="c3")
    parser.add_argument("--second-model", default="resnet20", help="the run compared with the first")
    parser.add_argument("--folder", default=None, help="train on this image folder and save its health report")
    parser.add_argument("--only", choices=["main", "all", "why", "doctor", "step", "learn"], default="all")
    parser.add_argument("--main-name", default="main-window.png", help="file name of the training view's screenshot")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PIL import Image
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from resources import resource_path

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    args.out.mkdir(parents=True, exist_ok=True)
    saved = []
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(runs_root=Path(tmp) / "runs",
                            settings=QSettings(f"{tmp}/settings.ini", QSettings.Format.IniFormat))
        window.resize(1400, 880)
        window.show()
        deadline = time.monotonic() + 900

        def wait(busy):
            while busy() and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.01)
            for _ in range(30):  # let the last paints land
                app.processEvents()
                time.sleep(0.01)

        def save(name):
            path = args.out / name
            window.grab().save(str(path))
            saved.append(path)

        def train(model, epochs):
            window.form.select(window.model_combo, model)
            wait(lambda: not window.idle)
            window.epochs_spin.setValue(epochs)
            window.start_training()
            wait(lambda: window.training or not window.idle)
            return window.last_summary

        wait(lambda: not window.idle)
        if args.only == "learn":
            from .screenshot_learn import learn_shots

            for path in learn_shots(window, wait, args.out, args.epochs):
                print(f"saved {path}")
            window.close()
            return 0
        if args.only == "step":
            from .screenshot_step import step_shots

            for path in step_shots(window, wait, args.out, args.epochs):
                print(f"saved {path}")
            return 0
        if args.only == "doctor":
            from .screenshot_doctor import doctor_shots

            for path in doctor_shots(window, wait, args.out, Path(tmp), args.epochs):
                print(f"saved {path}")
            return 0
        if args.only == "why":
            from .screenshot_why import why_shots

            for path in why_shots(window, wait, args.out, Path(tmp), args.epochs):
                print(f"saved {path}")
            window.close()
            return 0
        if args.only == "all" and not args.folder:  # what shows while torch loads: the real form, Start waiting
            from .app import startup_window
            from .views.experiment_form import ExperimentForm

            form = ExperimentForm()
            form.wait_for_engine()
            startup = startup_window(form, window.settings)
            startup.resize(1400, 880)
            startup.show()
            wait(lambda: False)
            startup.grab().save(str(args.out / "startup-form.png"))
            saved.append(args.out / "startup-form.png")
            startup.close()
        if args.folder:
            window.open_folder(args.folder)
            wait(lambda: not window.idle)
            save("health-report.png")
        window.form.select(window.model_combo, args.model)
        wait(lambda: not window.idle)
        if args.only == "all" and not args.folder:
            window.centre_tabs.setCurrentIndex(0)
            save("setup-view.png")
        first = train(args.model, args.epochs)
        if args.folder:
            window.classify_file(str(Path(args.folder) / window.bundle.split_files["test"][0]))
        else:
            sample, _ = window.bundle.test[3]
            drawn = Image.fromarray(((1 - sample[0]) * 255).byte().numpy(), "L").resize((128, 128))
            drawn.save(Path(tmp) / "my_digit.png")
            window.classify_file(str(Path(tmp) / "my_digit.png"))
        wait(lambda: not window.idle)
        tree = window.layer_tree
        for name in ("layer1", "layer1.0"):  # a residual block open: its layers and the ⊕ add that closes it
            item = tree.item_for(name)
            if item is not None:
                tree.expandItem(item)
        window.explorer.select_layer(args.layer)
        wait(lambda: not window.idle)
        window.centre_tabs.setCurrentIndex(0)
        save(args.main_name)
        if args.only == "all" and not args.folder:  # a 1×1 layer: bars, and the last layer's are the classes
            window.explorer.select_layer(window.session.summary.graph.nodes[window.session.summary.graph.output].module)
            wait(lambda: not window.idle)
            window.explorer.grab().save(str(args.out / "explorer-bars.png"))
            saved.append(args.out / "explorer-bars.png")
            source_layer = f"{args.layer}.conv" if window.layer_tree.item_for(f"{args.layer}.conv") else args.layer
            tree.expandItem(tree.item_for(args.layer))
            window.explorer.select_layer(source_layer)  # the code of the class the layer is built from
            window.explorer.detail_tabs.setCurrentWidget(window.explorer.source_view)
            wait(lambda: not window.idle)
            window.explorer.grab().save(str(args.out / "explorer-source.png"))
            saved.append(args.out / "explorer-source.png")
            first_conv = window.filter_view.layer_combo.itemData(0)  # the trained kernels of the first convolution
            window.explorer.select_layer(first_conv)
            window.explorer.detail_tabs.setCurrentWidget(window.filter_view)
            wait(lambda: not window.idle)
            window.explorer.grab().save(str(args.out / "explorer-filters.png"))
            saved.append(args.out / "explorer-filters.png")
            window.explorer.detail_tabs.setCurrentIndex(0)
            window.classify_file(str(resource_path("photos", "astronaut.jpg")))  # a photo unlike the digits
            window.explorer.select_layer(args.layer)
            wait(lambda: not window.idle)
            window.explorer.show_channel(window.feature_map_view.page_channels[0])
            wait(lambda: False)
            window.explorer.grab().save(str(args.out / "explorer-photo.png"))
            saved.append(args.out / "explorer-photo.png")
            digits = Path(tmp) / "digits to classify"  # the test digits, a folder per class, and the photos
            for i in range(60):
                image, label = window.bundle.test[i]
                folder = digits / window.bundle.classes[int(label)]
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(((1 - image[0]) * 255).byte().numpy(), "L").resize((64, 64)).save(folder / f"{i:03d}.png")
            window.classify_files([str(digits), str(resource_path("photos"))])
            wait(lambda: window.classify.running or not window.idle)
            window.centre_tabs.setCurrentWidget(window.classify_view)
            wait(lambda: False)
            save("classify-table.png")
            window.centre_tabs.setCurrentIndex(0)
            window.explorer.select_layer(args.layer)
            wait(lambda: not window.idle)
        if args.only == "all":
            from .screenshot_why import open_worst_cell

            open_worst_cell(window)
            wait(lambda: False)
            save("evaluation-view.png")
            second = train(args.second_model, max(1, args.epochs // 2))
            window.centre_tabs.setCurrentWidget(window.runs_view)
            window.runs.refresh()
            wait(lambda: not window.idle)
            window.runs_view.select_dirs([first["run_dir"], second["run_dir"]])
            window.runs.compare([first["run_dir"], second["run_dir"]])
            wait(lambda: not window.idle)
            save("runs-view.png")
            window.resize(800, 600)  # the smallest layout: the explorer is a tab, Start stays in view
            wait(lambda: False)
            window.centre_tabs.setCurrentIndex(0)
            wait(lambda: False)
            save("small-window.png")
            window.resize(1400, 880)
        window.centre_tabs.setCurrentIndex(0)
        window.close()
    for path in saved:
        print(f"saved {path}")
    print(f"first run: {first.get('seconds')} s, best val {first.get('best_val_acc')} (epoch {first.get('best_epoch')}), "
          f"test {first.get('test_acc')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
