"""How responsive the window stays while it trains: ``python -m workbench.ui.benchmark``.

A 10 ms QTimer in the UI thread records how late each tick fires, first with the window idle
(the baseline), then while a model trains in the worker thread. Prints percentiles and the
ratio of the two p99s; machines are shared and noisy, so compare ratios, not milliseconds."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    lateness: list[float] = []
    clock = QElapsedTimer()
    interval_ms = 10

    def tick():
        elapsed = clock.nsecsElapsed() / 1e6
        clock.restart()
        lateness.append(max(0.0, elapsed - interval_ms))

    timer = QTimer()
    timer.setInterval(interval_ms)
    timer.timeout.connect(tick)

    def run_until(done) -> list[float]:
        lateness.clear()
        clock.start()
        timer.start()
        while not done():
            app.processEvents()
            time.sleep(0.001)
        timer.stop()
        return lateness[1:]

    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(runs_root=Path(tmp) / "runs")
        window.show()
        window.model_combo.setCurrentIndex(window.model_combo.findData(args.model))
        window.epochs_spin.setValue(args.epochs)
        end = time.monotonic() + args.idle_seconds
        idle = run_until(lambda: time.monotonic() > end)
        window.start_training()
        busy = run_until(lambda: not window.training)
        summary = window.last_summary or {}
        window.close()

    def line(name, values):
        return (f"{name:<9} ticks {len(values):>5}  p50 {statistics.median(values):6.2f} ms  "
                f"p99 {_percentile(values, 99):6.2f} ms  max {max(values):7.2f} ms")

    print(f"UI timer lateness, {interval_ms} ms timer, training {args.model} for {args.epochs} epochs "
          f"({summary.get('status')}, {summary.get('seconds')} s, {summary.get('device')})")
    print(line("idle", idle))
    print(line("training", busy))
    print(f"p99 ratio training/idle: {_percentile(busy, 99) / max(_percentile(idle, 99), 1e-3):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
