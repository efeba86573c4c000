"""``cnn-workbench explain``: why a run (or a zoo model) classified images as it did, as files: for each
image an overlay on the photo as given (PNG), the raw map (``.npy``) and a JSON of what was done (method,
class, probability, the layer and the rule that chose it)."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

from .progress import ProgressBar


def add_parser(sub) -> None:
    from workbench.core.inspect.methods import LAYER_RULE, METHODS

    explain = sub.add_parser("explain", help="Grad-CAM and other attribution maps for images, written as files",
                             description="For each image: NAME-METHOD-CLASS.png (the map over the photo), .npy "
                                         "(the raw map) and .json (method, class, layer).")
    explain.add_argument("run", metavar="RUN_DIR", nargs="?", default=None,
                         help="a run folder (its best.pt) or a checkpoint file; or use --model")
    explain.add_argument("images", nargs="+", metavar="IMAGE_OR_FOLDER")
    explain.add_argument("--model", default=None, help="a zoo model as an ImageNet classifier, instead of a run")
    explain.add_argument("--pretrained", action="store_true", help="with --model: torchvision's ImageNet weights")
    explain.add_argument("--weights", default=None, metavar="FILE", help="with --model: a weights file to use")
    explain.add_argument("--method", choices=list(METHODS), default="gradcam")
    explain.add_argument("--class", dest="target", default=None, metavar="CLASS",
                         help="the class to explain, by name or number (default: the predicted class)")
    explain.add_argument("--layer", default=None, help=f"the layer of a CAM (default: {LAYER_RULE})")
    explain.add_argument("--opacity", type=_opacity, default=0.5, help="of the map over the photo, 0 to 1")
    explain.add_argument("--out", required=True, metavar="DIR", help="the folder the files are written to")
    explain.add_argument("--checkpoint", choices=["best", "last"], default="best")
    explain.set_defaults(func=cmd_explain)


def _opacity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, not {text!r}")
    return value


def _predictor(args):
    from workbench.core.explain import imagenet_predictor
    from workbench.core.predict import load_predictor

    if args.model:
        import models

        if args.model not in models.list_models():
            raise ValueError(f"unknown model {args.model!r}: `cnn-workbench models` lists them")
        if args.run is not None:  # with --model the first positional is an image too
            args.images.insert(0, args.run)
        return imagenet_predictor(args.model, args.pretrained, args.weights), not (args.pretrained or args.weights)
    if args.run is None:
        raise ValueError("give a run folder, or --model NAME")
    return load_predictor(args.run, args.checkpoint), False


def cmd_explain(args: argparse.Namespace) -> int:
    from workbench.core.explain import class_index, explain_image
    from workbench.core.inspect.overlay import photo_overlay
    from workbench.core.paths import atomic_write_bytes, atomic_write_text
    from workbench.core.predict import UNTRAINED, image_files

    predictor, untrained = _predictor(args)
    if untrained:
        print(f"note: {UNTRAINED}", file=sys.stderr)
    target = class_index(predictor, args.target) if args.target is not None else None
    files = image_files(args.images)
    if not files:
        print("error: no image files found in " + ", ".join(args.images), file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bar, failed, written = ProgressBar(), [], 0
    try:
        for done, path in enumerate(files, start=1):
            try:
                prepared = predictor.decode_photo(path)
                found = explain_image(predictor, prepared, args.method, target, args.layer)
            except (ValueError, OSError, RuntimeError) as exc:
                failed.append((path, str(exc) or type(exc).__name__))
                continue
            finally:
                bar.data(done, len(files), "explaining")
            name = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in predictor.classes[found.target])
            stem = out / f"{path.stem}-{args.method}-{name}"
            image = photo_overlay(prepared, found.map, args.opacity)
            png = stem.with_suffix(".png")
            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            atomic_write_bytes(png, buffer.getvalue())
            raw = io.BytesIO()
            np.save(raw, found.raw.numpy().astype(np.float32))
            atomic_write_bytes(stem.with_suffix(".npy"), raw.getvalue())
            record = {"image": str(path), "method": args.method, "method_name": found.label,
                      "class": predictor.classes[found.target], "class_index": found.target,
                      "probability": round(found.score, 6), "layer": found.layer, "layer_rule": found.rule or None,
                      "map_size": list(found.map.shape), "raw_shape": list(found.raw.shape), "note": found.note,
                      "overlay": png.name, "input": list(predictor.input_shape), "untrained": untrained}
            atomic_write_text(stem.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
            written += 1
            print(f"{path}: {found.label} for {predictor.classes[found.target]} ({found.score:.1%})"
                  + (f" at {found.layer}" if found.layer else "") + f" → {png}")
    finally:
        bar.end_data()
    for path, why in failed:
        print(f"{path}: error: {why}", file=sys.stderr)
    return 1 if failed or not written else 0
