"""The headless command line. It drives the same engine as the window; its progress bar is a
training callback like the window's worker.

Every value is checked where it is parsed, with a message that names it, before anything is
loaded or written.
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import sys

from workbench.core.data.choices import PRESETS
from workbench.core.errors import counted
from workbench.core.events import RunFailed

from .commands import (cmd_cache, cmd_data, cmd_evaluate, cmd_export, cmd_models, cmd_predict, cmd_recipes,
                       cmd_summary)
from .progress import ProgressBar


# -- value types: each names the bad value --------------------------------------------------
def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a whole number of at least {low}, not {text!r}")
        return value
    parse.__name__ = "integer"
    return parse


def _float_in(low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if not math.isfinite(value) or too_low or too_high:
            bounds = f"{'above' if low_open else 'at least'} {low:g}"
            if math.isfinite(high):
                bounds += f" and {'below' if high_open else 'at most'} {high:g}"
            raise argparse.ArgumentTypeError(f"expected a number {bounds}, not {text!r}")
        return value
    parse.__name__ = "number"
    return parse


_positive_int = _int_at_least(1)


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


def _parse_milestones(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(p) for p in text.replace("/", ",").split(",") if p.strip())
    except ValueError:
        values = ()
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected epochs above 0 separated by commas such as 30,60, not {text!r}")
    return values


def _parse_shape(text: str) -> tuple[int, int, int]:
    parts = text.lower().replace("×", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected CxHxW such as 3x224x224 with every number at least 1, not {text!r}")
    return shape  # type: ignore[return-value]


def _model_name(text: str) -> str:
    import models

    if text in models.list_models():
        return text
    names = models.list_models()
    stem = text.lower().rstrip("0123456789_-")
    close = [n for n in names if stem and n.startswith(stem)] or difflib.get_close_matches(text, names, n=6)
    hint = f"; did you mean {', '.join(close[:6])}?" if close else "; `cnn-workbench models` lists them"
    raise argparse.ArgumentTypeError(f"unknown model {text!r}{hint}")


def _fmt(value, digits=4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


# -- commands -----------------------------------------------------------------------------
TRAIN_FIELDS = ("model", "dataset", "recipe", "epochs", "batch_size", "optimizer", "lr", "momentum", "nesterov",
                "weight_decay", "decay_norm_and_bias", "schedule", "step_size", "milestones", "gamma", "warmup",
                "max_steps", "label_smoothing", "clip", "amp", "channels_last", "compile", "seed", "device",
                "input_size", "data_root", "augment", "image_size", "split", "split_seed", "pretrained",
                "transfer", "weights", "tensorboard", "timelapse", "keep_epoch_weights")


def cmd_train(args: argparse.Namespace) -> int:
    from workbench.core.train import TrainConfig, Trainer

    failures: list[RunFailed] = []
    keep_failures = lambda event: failures.append(event) if isinstance(event, RunFailed) else None  # noqa: E731
    main_process = os.environ.get("RANK", "0") == "0"  # under torchrun, rank 0 speaks for all
    callbacks = [ProgressBar(), keep_failures] if main_process else [keep_failures]
    if args.accept_data_change and not args.resume:
        print("error: --accept-data-change goes with --resume", file=sys.stderr)
        return 2
    if args.resume:
        given = {name for name in TRAIN_FIELDS if name != "epochs" and getattr(args, name) != DEFAULTS.get(name)}
        if given:
            print(f"error: --resume continues a run with its own settings; only --epochs and --workers may be given "
                  f"(got {', '.join('--' + g.replace('_', '-') for g in sorted(given))})", file=sys.stderr)
            return 2
        trainer = Trainer(TrainConfig(num_workers=args.workers), callbacks, resume=args.resume, epochs=args.epochs,
                          accept_data_change=args.accept_data_change)
    else:
        config = TrainConfig(**{name: getattr(args, name) for name in TRAIN_FIELDS}, num_workers=args.workers)
        trainer = Trainer(config, callbacks, run_dir=args.out, runs_root=args.runs_root)
    try:
        summary = trainer.run()
    except KeyboardInterrupt:  # the trainer has reported it; last.pt is whole
        print("\ninterrupted: continue with --resume " + (str(trainer.store.dir) if trainer.store else ""),
              file=sys.stderr)
        return 130
    if failures:
        print(f"error: {failures[0].message}", file=sys.stderr)
        return 1
    if not main_process:
        return 0
    print(f"{summary['status']}: {summary['model']} on {summary['dataset']}, {counted(summary['epochs'], 'epoch')}, "
          f"best val_acc {_fmt(summary['best_val_acc'])}, test_acc {_fmt(summary['test_acc'])}, "
          f"{summary['device']}, {summary['seconds']:.1f}s -> {summary['run_dir']}")
    return 0


def cmd_install_desktop(args: argparse.Namespace) -> int:
    from .desktop import install

    code, message = install(uninstall=args.uninstall)
    print(message if code == 0 else f"error: {message}", file=sys.stdout if code == 0 else sys.stderr)
    return code


# -- the parser ---------------------------------------------------------------------------
DEFAULTS: dict = {}


def _epilog() -> str:
    from workbench.core import catalog
    from workbench.core.train.config import RECIPES

    return ("models: " + ", ".join(catalog.model_names()) + "\n\ndatasets: " + ", ".join(catalog.dataset_names()) +
            ", or the path of a folder with one sub-folder of images per class\n\nrecipes: " + ", ".join(RECIPES))


def _family_optimisers() -> str:
    """What ``--optimizer`` defaults to, read from the very tables training uses."""
    from workbench.core.train.config import BN_DEFAULTS, FAMILY_DEFAULTS

    said = [f"{family} {d['optimizer']} at lr {d['lr']:g}" for family, d in FAMILY_DEFAULTS.items()]
    return ", ".join(said) + f", every other family {BN_DEFAULTS['optimizer']} at lr {BN_DEFAULTS['lr']:g}"


def build_parser() -> argparse.ArgumentParser:
    """Reads the catalogue, not the registries: ``--help`` answers before torch would have loaded."""
    from workbench.core import catalog
    from workbench.core.train.config import AMP_MODES, OPTIMIZERS, RECIPES, SCHEDULES

    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="cnn-workbench", description="Train and inspect classic CNNs. "
                                     "With no command, opens the window.", epilog=_epilog(), formatter_class=fmt)
    sub = parser.add_subparsers(dest="command")

    train = sub.add_parser("train", help="train a model headless and write a run folder (or --resume one)",
                           epilog=_epilog(), formatter_class=fmt)
    what = train.add_argument_group("what to train")
    what.add_argument("--model", default="lenet5", type=_model_name, help="a model of the zoo (listed below)")
    what.add_argument("--dataset", default="digits",
                      help=f"a built-in dataset ({', '.join(catalog.dataset_names())}) or the path of a folder with one "
                           f"sub-folder of images per class")
    what.add_argument("--recipe", default=None, choices=list(RECIPES),
                      help="a paper's training recipe; explicit flags override its settings. "
                           "`cnn-workbench recipes` describes them")
    what.add_argument("--resume", default=None, metavar="RUN_DIR",
                      help="continue a run from its last.pt with every setting it had (add --epochs to train longer)")
    what.add_argument("--accept-data-change", action="store_true",
                      help="with --resume: go on although the data changed since the run started (classes or files; "
                           "the run records the change). Without it such a resume is refused")
    opt = train.add_argument_group("optimisation (unset values come from the recipe, then the model family)")
    opt.add_argument("--epochs", type=_positive_int, default=None, help="default 10, or the recipe's")
    opt.add_argument("--batch-size", type=_positive_int, default=None, help="per process; default 32")
    opt.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                     help="default by family (`cnn-workbench recipes` lists them): " + _family_optimisers())
    opt.add_argument("--lr", type=_float_in(0, low_open=True), default=None, help="learning rate")
    opt.add_argument("--momentum", type=_float_in(0, 1), default=None, help="SGD momentum, default 0.9")
    opt.add_argument("--nesterov", action="store_true", default=None, help="Nesterov momentum (SGD)")
    opt.add_argument("--weight-decay", type=_float_in(0), default=None, help="L2 weight decay")
    opt.add_argument("--no-decay-norm-bias", dest="decay_norm_and_bias", action="store_false", default=None,
                     help="no weight decay on BatchNorm weights and biases")
    opt.add_argument("--schedule", choices=SCHEDULES, default=None,
                     help="learning-rate schedule, stepped every iteration; default constant")
    opt.add_argument("--step-size", type=_float_in(0, low_open=True), default=None,
                     help="step schedule: epochs between multiplications by --gamma (default 30)")
    opt.add_argument("--milestones", type=_parse_milestones, default=None,
                     help="multistep schedule: epochs at which the rate is multiplied by --gamma, e.g. 30,60")
    opt.add_argument("--gamma", type=_float_in(0, 1, low_open=True), default=None, help="step factor, default 0.1")
    opt.add_argument("--warmup", type=_float_in(0), default=None, help="epochs of linear warm-up (may be fractional)")
    opt.add_argument("--max-steps", type=_positive_int, default=None, help="stop after this many iterations")
    opt.add_argument("--label-smoothing", type=_float_in(0, 1, high_open=True), default=None,
                     help="label smoothing of the cross-entropy, e.g. 0.1")
    opt.add_argument("--clip", type=_float_in(0), default=0.0, help="clip the gradients' global norm (0: off)")
    opt.add_argument("--seed", type=int, default=0, help="seeds the weights, the shuffling and the augmentation")
    dev = train.add_argument_group("device and speed")
    dev.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    dev.add_argument("--amp", choices=AMP_MODES, default="off",
                     help="mixed precision: bf16 (CUDA or CPU) or fp16 (CUDA, with a gradient scaler)")
    dev.add_argument("--channels-last", action="store_true", help="channels-last memory format (faster convolutions "
                     "on recent GPUs)")
    dev.add_argument("--compile", action="store_true", help="torch.compile the model (slow first epoch)")
    dev.add_argument("--workers", type=_int_at_least(0), default=0,
                     help="data loader worker processes for image folders (0: up to 4)")
    data = train.add_argument_group("data")
    data.add_argument("--input-size", type=_int_at_least(8), default=None, help="height and width the model sees")
    data.add_argument("--data-root", default=None, help="where downloadable datasets are kept")
    data.add_argument("--augment", default=None, choices=list(PRESETS),
                      help="augmentation of training batches: " + "; ".join(f"{k}: {v}" for k, v in PRESETS.items()).replace("%", "%%"))
    data.add_argument("--image-size", type=_int_at_least(8), default=None,
                      help="image folders: side of the square images they are decoded to (default 64, or 224 "
                           "with --pretrained)")
    data.add_argument("--split", type=_parse_split, default=(0.6, 0.2, 0.2),
                      help="image folders: train/val/test fractions, default 60/20/20")
    data.add_argument("--split-seed", type=int, default=0, help="image folders: seed of the split")
    tl = train.add_argument_group("transfer learning")
    tl.add_argument("--pretrained", action="store_true",
                    help="start from torchvision's ImageNet weights (downloaded once into $TORCH_HOME)")
    tl.add_argument("--transfer", choices=["finetune", "extract"], default="finetune",
                    help="with --pretrained: finetune every layer (backbone at lr/10) or extract features "
                         "(frozen backbone, new head only)")
    tl.add_argument("--weights", default=None, help="with --pretrained: a weights file to use instead of the download")
    out = train.add_argument_group("output")
    out.add_argument("--out", default=None, help="run folder, which must be new or empty (default: a new folder "
                     "under --runs-root)")
    out.add_argument("--runs-root", default=None, help="default: $CNN_WORKBENCH_HOME/runs or ~/.cnn-workbench/runs")
    out.add_argument("--no-tensorboard", dest="tensorboard", action="store_false",
                     help="do not write TensorBoard event files")
    out.add_argument("--no-timelapse", dest="timelapse", action="store_false",
                     help="do not keep the probe image's maps, first filters and Grad-CAM at every epoch")
    out.add_argument("--keep-epoch-weights", action="store_true",
                     help="keep every epoch's weights in the run's timelapse/ folder (a checkpoint an epoch)")
    train.set_defaults(func=cmd_train)
    DEFAULTS.update({a.dest: a.default for a in train._actions})

    predict = sub.add_parser("predict", help="classify image files or folders with a trained run")
    predict.add_argument("run", metavar="RUN_DIR", help="a run folder (its best.pt) or a checkpoint file")
    predict.add_argument("images", nargs="+", metavar="IMAGE_OR_FOLDER")
    predict.add_argument("--top-k", type=_positive_int, default=3, help="classes to show per image")
    predict.add_argument("--format", choices=["text", "csv", "json"], default="text")
    predict.add_argument("--checkpoint", choices=["best", "last"], default="best")
    predict.add_argument("--batch-size", type=_positive_int, default=64, help="images classified at a time")
    predict.set_defaults(func=cmd_predict)

    evaluate = sub.add_parser("evaluate", help="test a run's checkpoint on its test split (a stopped run too) and "
                                               "write its report")
    evaluate.add_argument("run", metavar="RUN_DIR")
    evaluate.add_argument("--checkpoint", choices=["best", "last"], default="best",
                          help="best.pt (else last.pt when the run has no best) or last.pt")
    evaluate.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    evaluate.add_argument("--accept-data-change", action="store_true",
                          help="evaluate although the data changed since the run (the report says so)")
    evaluate.set_defaults(func=cmd_evaluate)

    export = sub.add_parser("export", help="export a trained run as ONNX or as a plain state_dict")
    export.add_argument("run", metavar="RUN_DIR", help="a run folder (its best.pt) or a checkpoint file")
    export.add_argument("--format", choices=["onnx", "state_dict"], default="onnx")
    export.add_argument("--out", default=None, help="output file (default: beside the checkpoint)")
    export.add_argument("--checkpoint", choices=["best", "last"], default="best")
    export.add_argument("--check", nargs="*", default=None, metavar="IMAGE_OR_FOLDER",
                        help="images to compare ONNX and PyTorch on (default: the run's test images)")
    export.set_defaults(func=cmd_export)

    data_cmd = sub.add_parser("data", help="the health report of an image folder (one sub-folder per class)")
    data_cmd.add_argument("path")
    data_cmd.add_argument("--image-size", type=_int_at_least(8), default=64, help="side the images are decoded to")
    data_cmd.add_argument("--grey", action="store_true", help="decode as grey images")
    data_cmd.add_argument("--split", type=_parse_split, default=(0.6, 0.2, 0.2), help="train/val/test, default 60/20/20")
    data_cmd.add_argument("--split-seed", type=int, default=0)
    data_cmd.set_defaults(func=cmd_data)

    cache = sub.add_parser("cache", help="show or clear the image cache (decoded folders and their indexes)")
    cache.add_argument("--clear", action="store_true", help="remove every cached file")
    cache.set_defaults(func=cmd_cache)

    lst = sub.add_parser("models", help="list the model zoo")
    lst.add_argument("filter", nargs="?", default=None, help="fnmatch pattern, e.g. 'resnet*'")
    lst.set_defaults(func=cmd_models)

    rec = sub.add_parser("recipes", help="the training recipes from the papers, and the defaults by family")
    rec.set_defaults(func=cmd_recipes)

    desktop = sub.add_parser("install-desktop", help="add CNN Workbench to the applications menu (a freedesktop "
                                                     "launcher entry with its icon, for this user)")
    desktop.add_argument("--uninstall", action="store_true", help="remove the entry and the icon again")
    desktop.set_defaults(func=cmd_install_desktop)

    from .explain import add_parser as add_explain
    from .doctor import add_parser as add_doctor

    add_explain(sub)
    add_doctor(sub)

    summary = sub.add_parser("summary", help="per-layer table: output shapes, parameters, multiply-adds")
    summary.add_argument("model", type=_model_name)
    summary.add_argument("--input", type=_parse_shape, default=(3, 224, 224), help="CxHxW, default 3x224x224")
    summary.add_argument("--classes", type=_positive_int, default=1000)
    summary.add_argument("--depth", type=_int_at_least(0), default=None, help="show layers down to this depth")
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
    except (ValueError, RuntimeError, OSError) as exc:  # CheckpointError, ExportError, DatasetError...: for the user
        print(f"error: {exc}", file=sys.stderr)
        return 1
