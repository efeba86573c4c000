"""The window's benchmarks: ``python -m workbench.ui.benchmark [processes|latency|plots|startup]``.

- ``processes``: the app as users start it. The installed ``cnn-workbench`` (the window,
  offscreen where there is no display, driven by ``CNN_WORKBENCH_AUTORUN`` as a user would: pick
  the model, press Start) and ``cnn-workbench train`` (the command line), each in its own process
  with a fresh home and fresh settings, alternated; prints images/s, wall time and their ratios,
  and whether the two runs wrote the same metrics (same configuration and seed).
- ``latency``: a 10 ms QTimer in the UI thread records how late each tick fires while a model
  trains in the window; prints percentiles (goal: p99 ≤ 50 ms).
- ``plots``: the UI-thread cost of a plot refresh with 100,000 steps against 100.
- ``startup``: seconds until the experiment form is on screen and usable, and until Start is
  enabled (``cnn-workbench`` with the start-up probe), against ``python -c "import torch,
  torchvision"``, alternated; prints the ratios (goals ≤ 0.3 and ≤ 1.05).
- ``explore``: the explorer with ResNet-18 at 224×224 (``benchmark_explore``): drop, layer switch,
  a 2,048-channel page, a 1,000-image folder, peak memory.
- ``why``: the Why tab with ResNet-18 at 224×224 (``benchmark_why``): Grad-CAM after a drop, a knock-out,
  Integrated Gradients' preview and map.

Machines are shared and noisy: compare ratios from the same run, not milliseconds."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


from .benchmark_tools import _app, _wait  # noqa: F401 - shared with benchmark_explore

PROBE_ENV = "CNN_WORKBENCH_STARTUP_PROBE"
AUTORUN_ENV = "CNN_WORKBENCH_AUTORUN"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _window(app, tmp: str, model: str, epochs: int):
    """The window, shown, with ``model`` built and ``epochs`` set (settings and runs under ``tmp``)."""
    from PySide6.QtCore import QSettings

    from .main_window import MainWindow

    window = MainWindow(runs_root=Path(tmp) / "runs", settings=QSettings(f"{tmp}/settings.ini", QSettings.Format.IniFormat))
    window.show()
    _wait(app, lambda: window.idle)
    window.form.select(window.model_combo, model)
    _wait(app, lambda: window.idle)
    window.epochs_spin.setValue(epochs)
    return window


def _entry_point() -> str:
    """The installed ``cnn-workbench`` next to this interpreter (a venv's bin/), else on PATH."""
    import shutil

    here = Path(sys.executable).with_name("cnn-workbench")
    found = str(here) if here.exists() else shutil.which("cnn-workbench")
    if not found:
        raise SystemExit("cnn-workbench is not installed: pip install -e . first")
    return found


def _metrics(run_dir: Path) -> list[dict]:
    import csv

    with (run_dir / "metrics.csv").open() as fh:
        return [{k: v for k, v in row.items() if k not in ("images_per_sec", "seconds")} for row in csv.DictReader(fh)]


def processes(model: str, epochs: int, rounds: int, batch_size: int) -> float:
    import json

    exe = _entry_point()
    rows = []
    for r in range(rounds):
        result = {}
        for side in (("cli", "window") if r % 2 == 0 else ("window", "cli")):
            with tempfile.TemporaryDirectory() as tmp:  # a fresh home and fresh settings for each process
                env = dict(os.environ, CNN_WORKBENCH_HOME=f"{tmp}/home", XDG_CONFIG_HOME=f"{tmp}/config")
                env.pop(PROBE_ENV, None)
                if side == "cli":
                    command = [exe, "train", "--model", model, "--dataset", "digits", "--epochs", str(epochs),
                               "--batch-size", str(batch_size), "--seed", "0"]
                else:
                    command = [exe]
                    env[AUTORUN_ENV] = json.dumps({"model": model, "dataset": "digits", "epochs": epochs,
                                                   "batch_size": batch_size, "seed": 0})
                    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
                        env["QT_QPA_PLATFORM"] = "offscreen"
                start = time.perf_counter()
                done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
                wall = time.perf_counter() - start
                runs = sorted(Path(tmp, "home", "runs").glob("*/summary.json"))
                if done.returncode != 0 or not runs:
                    raise SystemExit(f"{side} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
                summary = json.loads(runs[-1].read_text())
                result[side] = (summary["images_per_sec"], wall, _metrics(runs[-1].parent))
        same = result["cli"][2] == result["window"][2]
        rows.append((result["window"][0] / result["cli"][0], result["window"][1] / result["cli"][1], same))
        print(f"  round {r + 1}: cli {result['cli'][0]:,.0f} img/s in {result['cli'][1]:.1f} s, window "
              f"{result['window'][0]:,.0f} img/s in {result['window'][1]:.1f} s: {rows[-1][0]:.2f}x img/s, "
              f"{rows[-1][1]:.2f}x wall; same metrics.csv: {same}", flush=True)
    ratio = statistics.median(r[0] for r in rows)
    from workbench.core.errors import counted

    print(f"processes {model} batch {batch_size}, {counted(epochs, 'epoch')} × {rounds} rounds: window/cli images/s "
          f"{ratio:.2f}x (median; goal >= 0.95), wall {statistics.median(r[1] for r in rows):.2f}x (the window's "
          f"includes its start-up and the model on show); same metrics in {sum(r[2] for r in rows)}/{rounds} rounds")
    return ratio


def latency(model: str, epochs: int, idle_seconds: float = 3.0) -> float:
    from PySide6.QtCore import QElapsedTimer, QTimer

    app = _app()
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

    def measure(done) -> list[float]:
        lateness.clear()
        clock.start()
        timer.start()
        _wait(app, done)
        timer.stop()
        return lateness[1:]

    with tempfile.TemporaryDirectory() as tmp:
        window = _window(app, tmp, model, epochs)
        end = time.monotonic() + idle_seconds
        idle = measure(lambda: time.monotonic() > end)
        window.start_training()
        busy = measure(lambda: not window.training and window.idle)
        summary = window.last_summary or {}
        window.close()

    def line(name, values):
        return (f"  {name:<9} ticks {len(values):>5}  p50 {statistics.median(values):6.2f} ms  "
                f"p99 {_percentile(values, 99):6.2f} ms  max {max(values):7.2f} ms")

    print(f"UI timer lateness, {interval_ms} ms timer, training {model} for {epochs} epochs "
          f"({summary.get('status')}, {summary.get('seconds')} s, {summary.get('device')})")
    print(line("idle", idle))
    print(line("training", busy))
    p99 = _percentile(busy, 99)
    print(f"latency p99 while training {p99:.1f} ms (goal <= 50 ms); training/idle p99 "
          f"{p99 / max(_percentile(idle, 99), 1e-3):.1f}x")
    return p99


def startup(rounds: int) -> float:
    env = dict(os.environ, CNN_WORKBENCH_STARTUP_PROBE="1")
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    shown, ready, imports = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        env.update(XDG_CONFIG_HOME=tmp, CNN_WORKBENCH_HOME=tmp)  # settings and runs of this benchmark only
        for r in range(rounds):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import torch, torchvision"], check=True)
            imports.append(time.perf_counter() - start)
            out = subprocess.run([_entry_point()], env=env, capture_output=True, text=True,
                                 timeout=300).stdout
            marks = dict(line.split()[:2] for line in out.splitlines() if line.startswith(("shown", "ready")))
            shown.append(float(marks["shown"]))
            ready.append(float(marks["ready"]))
            print(f"  round {r + 1}: import torch, torchvision {imports[-1]:.2f} s; form shown {shown[-1]:.2f} s, "
                  f"Start enabled {ready[-1]:.2f} s", flush=True)
    ratio = statistics.median(shown) / statistics.median(imports)
    print(f"startup: the form on screen and usable {statistics.median(shown):.2f} s vs import torch, torchvision "
          f"{statistics.median(imports):.2f} s: {ratio:.2f}x (goal <= 0.3); the full workbench with Start enabled "
          f"after {statistics.median(ready):.2f} s: {statistics.median(ready) / statistics.median(imports):.2f}x "
          f"(goal <= 1.05)")
    return ratio


def plots(steps: int = 100_000) -> float:
    """UI-thread time of one refresh of the training plots holding ``steps`` points against 100."""
    app = _app()
    from PySide6.QtCore import QCoreApplication

    from .views.training_plots import TrainingPlots

    def cost(n: int) -> float:
        view = TrainingPlots()
        view.resize(700, 700)
        view.show()
        view.clear(epochs=max(1, n // 1000))
        times = []
        for i in range(n):
            view.add_step(i / 1000, 2.0 * 0.99999 ** i + 0.1 * ((i * 7919) % 13) / 13, 0.1)
            if (i + 1) % (n // 10) == 0:  # ten refreshes as the run grows, each with a repaint
                start = time.perf_counter()
                view.refresh()
                view.repaint()
                QCoreApplication.processEvents()
                times.append(time.perf_counter() - start)
        view.close()
        return statistics.median(times[-3:])

    small, large = cost(100), cost(steps)
    print(f"plots: refresh + repaint with {steps:,} steps {large * 1e3:.1f} ms, with 100 steps {small * 1e3:.1f} ms: "
          f"{large / small:.2f}x")
    del app
    return large / small


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", choices=["processes", "latency", "startup", "plots", "explore", "why"],
                        default=["processes", "latency", "startup", "plots"])
    parser.add_argument("--model", default=None, help="processes and latency: the model (default resnet20 and lenet5 for processes, lenet5 for latency)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args(argv)
    for which in args.which:
        if which == "processes":
            for model in [args.model] if args.model else ["resnet20", "lenet5"]:
                processes(model, args.epochs, args.rounds, args.batch_size or 32)
        elif which == "latency":
            latency(args.model or "lenet5", args.epochs)
        elif which == "plots":
            plots()
        elif which == "explore":
            from .benchmark_explore import explore
            explore(args.rounds)
        elif which == "why":
            from .benchmark_why import why
            why(max(args.rounds, 5))
        else:
            startup(args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
