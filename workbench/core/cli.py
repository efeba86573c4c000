"""The headless command line: ``cnn-workbench train|models|summary``.

It drives the same engine as the window; a progress bar is just one more listener.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
from typing import TextIO

from .data.augment import PRESETS
from .events import DataProgress, EpochEnded, RunFailed, RunStarted, StepEnded


class ProgressBar:
    """Listener that draws ``epoch 3/5 [######----] 12/20 loss 0.1234`` on one line."""

    def __init__(self, epochs: int, stream: TextIO | None = None, width: int = 24):
        self.epochs = epochs
        self.stream = stream or sys.stderr or io.StringIO()  # pythonw (a GUI script) has no stderr
        self.width = width
        self.tty = self.stream.isatty()
        self._last_val = ""

    def data(self, done: int, total: int, what: str) -> None:
        """Scanning, decoding or downloading: a counter on one line (a terminal) or a few lines (a log)."""
        if self.tty:
            self.stream.write(f"\r{what[:60]:<60} {done}/{total}")
            self.stream.flush()
        elif done == total or done == 1:
            self._print(f"{what.split(' ', 1)[0]} {done}/{total}")

    def end_data(self) -> None:
        if self.tty:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()

    def __call__(self, event) -> None:
        if isinstance(event, DataProgress):
            if event.stage == "download":
                mb = lambda n: f"{n / 1e6:.1f} MB"  # noqa: E731
                self.data(event.done, event.total, f"downloading {event.what} {mb(event.done)} of {mb(event.total)}")
            else:
                self.data(event.done, event.total, event.what)
            return
        if isinstance(event, RunStarted):
            self.end_data()
            if event.health:
                self._print(event.health)
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
        input_size=args.input_size, data_root=args.data_root, num_workers=args.workers, augment=args.augment,
        image_size=args.image_size, split=args.split, split_seed=args.split_seed, pretrained=args.pretrained,
        transfer=args.transfer, weights=args.weights,
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


def cmd_data(args: argparse.Namespace) -> int:
    """The health report of an image folder."""
    from .data.folder_bundle import load_folder

    progress = ProgressBar(0)
    bundle = load_folder(args.path, size=args.image_size, channels=1 if args.grey else 3, ratios=args.split,
                         seed=args.split_seed, progress=progress.data)
    progress.end_data()
    print(bundle.health.full())
    return 0


def _parse_split(text: str) -> tuple[float, float, float]:
    parts = text.replace(",", "/").split("/")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 3 or min(values) < 0 or values[0] <= 0 or sum(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected train/val/test such as 60/20/20 or 0.8/0.1/0.1, not {text!r}")
    total = sum(values)
    return tuple(v / total for v in values)  # type: ignore[return-value]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


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
    train.add_argument("--dataset", default="digits",
                       help="a built-in dataset (digits, mnist, fashion_mnist, cifar10, cifar100) or the path of "
                            "a folder with one sub-folder of images per class")
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
    train.add_argument("--augment", default="none", choices=list(PRESETS),
                       help="augmentation of training batches: " + "; ".join(f"{k}: {v}" for k, v in PRESETS.items()).replace("%", "%%"))
    train.add_argument("--image-size", type=_positive_int, default=None,
                       help="image folders: side of the square images they are decoded to (default 64, or 224 "
                            "with --pretrained)")
    train.add_argument("--split", type=_parse_split, default=(0.6, 0.2, 0.2),
                       help="image folders: train/val/test fractions, default 60/20/20")
    train.add_argument("--split-seed", type=int, default=0, help="image folders: seed of the split")
    train.add_argument("--pretrained", action="store_true",
                       help="start from torchvision's ImageNet weights (downloaded once into $TORCH_HOME)")
    train.add_argument("--transfer", choices=["finetune", "extract"], default="finetune",
                       help="with --pretrained: finetune every layer (backbone at lr/10) or extract features "
                            "(frozen backbone, new head only)")
    train.add_argument("--weights", default=None, help="with --pretrained: a weights file to use instead of the download")
    train.add_argument("--out", default=None, help="run folder (default: a new folder under --runs-root)")
    train.add_argument("--runs-root", default=None, help="default: $CNN_WORKBENCH_HOME/runs or ~/.cnn-workbench/runs")
    train.set_defaults(func=cmd_train)

    data = sub.add_parser("data", help="the health report of an image folder (one sub-folder per class)")
    data.add_argument("path")
    data.add_argument("--image-size", type=_positive_int, default=64, help="side the images are decoded to")
    data.add_argument("--grey", action="store_true", help="decode as grey images")
    data.add_argument("--split", type=_parse_split, default=(0.6, 0.2, 0.2), help="train/val/test, default 60/20/20")
    data.add_argument("--split-seed", type=int, default=0)
    data.set_defaults(func=cmd_data)

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
    except (ValueError, RuntimeError) as exc:  # FolderError, DatasetError, PretrainedError: messages for the user
        print(f"error: {exc}", file=sys.stderr)
        return 1
