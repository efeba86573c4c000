"""The headless command line: ``cnn-workbench train|models|summary``.

It drives the same engine as the window; a progress bar is just one more listener.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
from typing import TextIO

from .events import EpochEnded, RunFailed, RunStarted, StepEnded


class ProgressBar:
    """Listener that draws ``epoch 3/5 [######----] 12/20 loss 0.1234`` on one line."""

    def __init__(self, epochs: int, stream: TextIO | None = None, width: int = 24):
        self.epochs = epochs
        self.stream = stream or sys.stderr or io.StringIO()  # pythonw (a GUI script) has no stderr
        self.width = width
        self.tty = self.stream.isatty()
        self._last_val = ""

    def __call__(self, event) -> None:
        if isinstance(event, RunStarted):
            self._print(f"Training {event.config['model']} on {event.config['dataset']} "
                        f"({event.num_params:,} parameters, input {'x'.join(map(str, event.input_size))}) "
                        f"on {event.device}\nRun folder: {event.run_dir}")
        elif isinstance(event, StepEnded):
            if self.tty:
                done = int(self.width * event.step / event.steps_per_epoch)
                bar = "#" * done + "-" * (self.width - done)
                self.stream.write(f"\repoch {event.epoch}/{self.epochs} [{bar}] {event.step}/{event.steps_per_epoch} "
                                  f"loss {event.loss:.4f} {self._last_val}")
                self.stream.flush()
        elif isinstance(event, EpochEnded):
            self._last_val = f"val_acc {event.val_acc:.4f}"
            line = (f"epoch {event.epoch}/{event.epochs} train_loss {event.train_loss:.4f} "
                    f"train_acc {event.train_acc:.4f} val_loss {event.val_loss:.4f} val_acc {event.val_acc:.4f}"
                    f"{' *' if event.is_best else ''} ({event.seconds:.1f}s)")
            self._print(("\r" + " " * (shutil.get_terminal_size().columns - 1) + "\r" if self.tty else "") + line)

    def _print(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


def _fmt(value, digits=4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def cmd_train(args: argparse.Namespace) -> int:
    from .engine import TrainConfig, Trainer

    config = TrainConfig(
        model=args.model, dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        optimizer=args.optimizer, weight_decay=args.weight_decay, seed=args.seed, device=args.device,
        input_size=args.input_size, data_root=args.data_root, num_workers=args.workers,
    )
    failures: list[RunFailed] = []
    keep_failures = lambda event: failures.append(event) if isinstance(event, RunFailed) else None  # noqa: E731
    trainer = Trainer(config, [ProgressBar(args.epochs), keep_failures], run_dir=args.out, runs_root=args.runs_root)
    try:
        summary = trainer.run()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        trainer.request_stop()
        return 130
    if failures:
        print(f"error: {failures[0].message}", file=sys.stderr)
        return 1
    print(f"{summary['status']}: {summary['model']} on {summary['dataset']}, {summary['epochs']} epochs, "
          f"best val_acc {_fmt(summary['best_val_acc'])}, test_acc {_fmt(summary['test_acc'])}, "
          f"{summary['device']}, {summary['seconds']:.1f}s -> {summary['run_dir']}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    import models

    infos = [models.get_model_info(name) for name in models.list_models(include=args.filter)]
    name_width = max((len(i.name) for i in infos), default=0)
    family_width = max((len(i.family) for i in infos), default=0)
    for info in infos:
        size = "x".join(map(str, info.input_size))
        print(f"{info.name.ljust(name_width)}  {info.family.ljust(family_width)}  {info.year}  {size:<9}  {info.paper}")
    return 0


def _parse_shape(text: str) -> tuple[int, int, int]:
    parts = text.lower().replace("×", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected CxHxW such as 3x224x224, not {text!r}")
    return shape  # type: ignore[return-value]


def cmd_summary(args: argparse.Namespace) -> int:
    import models

    from .inspection import format_summary, summarize

    channels = args.input[0]
    model = models.create_model(args.model, num_classes=args.classes, in_channels=channels, input_size=args.input)
    print(format_summary(summarize(model, args.input), max_depth=args.depth))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnn-workbench", description="Train and inspect classic CNNs. "
                                     "With no command, opens the window.")
    sub = parser.add_subparsers(dest="command")

    train = sub.add_parser("train", help="train a model headless and write a run folder")
    train.add_argument("--model", default="lenet5")
    train.add_argument("--dataset", default="digits")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    train.add_argument("--weight-decay", type=float, default=0.0)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    train.add_argument("--input-size", type=int, default=None, help="height and width the model sees")
    train.add_argument("--data-root", default=None, help="where downloadable datasets are kept")
    train.add_argument("--workers", type=int, default=0, help="data loader worker processes")
    train.add_argument("--out", default=None, help="run folder (default: a new folder under --runs-root)")
    train.add_argument("--runs-root", default=None, help="default: $CNN_WORKBENCH_HOME/runs or ~/.cnn-workbench/runs")
    train.set_defaults(func=cmd_train)

    lst = sub.add_parser("models", help="list the model zoo")
    lst.add_argument("filter", nargs="?", default=None, help="fnmatch pattern, e.g. 'resnet*'")
    lst.set_defaults(func=cmd_models)

    summary = sub.add_parser("summary", help="per-layer table: output shapes, parameters, multiply-adds")
    summary.add_argument("model")
    summary.add_argument("--input", type=_parse_shape, default=(3, 224, 224), help="CxHxW, default 3x224x224")
    summary.add_argument("--classes", type=int, default=1000)
    summary.add_argument("--depth", type=int, default=None, help="show layers down to this depth")
    summary.set_defaults(func=cmd_summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except KeyError as exc:
        print(f"error: {str(exc).strip(chr(39))}", file=sys.stderr)
        return 2
