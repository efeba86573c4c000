"""Regenerate the README screenshot: ``python -m workbench.ui.screenshot OUT.png``.

Trains LeNet-5 on the bundled digits in the real window (offscreen when there is no
display), drops a test digit on the drop zone, selects a layer and grabs the window."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--layer", default="c3")
    parser.add_argument("--folder", default=None, help="train on this image folder instead of the digits")
    parser.add_argument("--tab", choices=["training", "health"], default="training", help="centre tab to show")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PIL import Image
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(runs_root=Path(tmp) / "runs")
        window.resize(1400, 860)
        window.show()
        window.model_combo.setCurrentIndex(window.model_combo.findData(args.model))
        deadline = time.monotonic() + 600

        def wait(busy):
            while busy() and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.01)

        if args.folder:
            window.open_folder(args.folder)
            wait(lambda: window._folder_thread is not None)
        if args.epochs:
            window.epochs_spin.setValue(args.epochs)
            window.start_training()
            wait(lambda: window.training)
        if args.folder:
            window.classify_file(str(Path(args.folder) / window.bundle.split_files["test"][0]))
        else:
            sample, _ = window.bundle.test[3]
            drawn = Image.fromarray(((1 - sample[0]) * 255).byte().numpy(), "L").resize((128, 128))
            path = Path(tmp) / "my_digit.png"
            drawn.save(path)
            window.classify_file(str(path))
        window.select_layer(args.layer)
        window.centre_tabs.setCurrentIndex(0 if args.tab == "training" else 1)
        for _ in range(20):
            app.processEvents()
            time.sleep(0.02)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(args.out))
        window.close()
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
