"""The commands besides ``train``: a folder's health report, the zoo, the recipes, a model's
summary, predicting, exporting, and the image cache. Each takes the parsed arguments and returns
the exit status."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from .progress import ProgressBar
from .tables import print_table


def cmd_data(args: argparse.Namespace) -> int:
    """The health report of an image folder."""
    from workbench.core.data import load_folder

    progress = ProgressBar()
    bundle = load_folder(args.path, size=args.image_size, channels=1 if args.grey else 3, ratios=args.split,
                         seed=args.split_seed, progress=progress.data)
    progress.end_data()
    print(bundle.health.full())
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    import models

    names = models.list_models(include=args.filter)
    if not names:
        print(f"error: no model matches {args.filter!r}; try a pattern such as 'resnet*' or run "
              f"`cnn-workbench models` for the whole zoo", file=sys.stderr)
        return 1
    infos = [models.get_model_info(name) for name in names]
    print_table(["model", "family", "year", "paper's input", "paper"],
                [(i.name, i.family, i.year, "x".join(map(str, i.input_size)), i.paper) for i in infos])
    return 0


def cmd_recipes(args: argparse.Namespace) -> int:
    from workbench.core.train.config import BN_DEFAULTS, FAMILY_DEFAULTS, RECIPES

    for recipe in RECIPES.values():
        settings = ", ".join(f"{k}={v}" for k, v in recipe.settings.items())
        print(f"{recipe.name}\n  {recipe.title}\n  {recipe.source}\n  {settings}\n")
    print("Defaults by family when no recipe is given:")
    for family, settings in FAMILY_DEFAULTS.items():
        print(f"  {family}: {', '.join(f'{k}={v}' for k, v in settings.items())}")
    print(f"  others (batch-normalised): {', '.join(f'{k}={v}' for k, v in BN_DEFAULTS.items())}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    import models

    from workbench.core.inspect import human_count, summarize

    channels = args.input[0]
    try:
        model = models.create_model(args.model, num_classes=args.classes, in_channels=channels, input_size=args.input)
        summary = summarize(model, args.input)
    except RuntimeError as exc:  # an input too small for the network's downsampling
        print(f"error: {args.model} cannot take input {'x'.join(map(str, args.input))}: {str(exc).splitlines()[0]}",
              file=sys.stderr)
        return 1
    rows = []
    for info in summary.layers:
        if args.depth is None or info.depth <= args.depth:  # nested layers: their last name, indented
            rows.append(("  " * (info.depth - 1) + info.name.rsplit(".", 1)[-1], info.type,
                         "×".join(map(str, info.output_shape)) if info.output_shape else "-",
                         f"{info.params:,}", f"{info.macs:,}"))
    print(f"{summary.model}  input {'x'.join(map(str, summary.input_shape))}")
    print_table(["Layer", "Type", "Output shape", "Params", "Mult-adds"], rows, right=(3, 4))
    print(f"Total params: {summary.total_params:,}\nTrainable params: {summary.trainable_params:,}\n"
          f"Total mult-adds: {summary.total_macs:,} ({human_count(summary.total_macs)})")
    if summary.stem_info:
        print(f"Stem: {summary.stem_info}")
    idle = [info for info in summary.layers if info.depth == 1 and info.output_shape is None and info.params]
    if idle:
        print(f"Not run at inference (training-only heads): {', '.join(i.name for i in idle)}, "
              f"{sum(i.params for i in idle):,} params")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from workbench.core.predict import load_predictor, predict_files

    from .progress import ProgressBar

    classifier = load_predictor(args.run, args.checkpoint)
    bar = ProgressBar()  # on a terminal a live bar; in a log the first and last file only
    try:
        results = predict_files(classifier, args.images, args.top_k, batch_size=args.batch_size,
                                progress=lambda done, total, name: bar.data(done, total, "classifying"))
    finally:
        bar.end_data()
    if not results:
        print("error: no image files found in " + ", ".join(args.images), file=sys.stderr)
        return 1
    if args.format == "json":
        json.dump([{"path": r.path, "top": [{"class": c, "probability": round(p, 6)} for c, p in r.top],
                    "true_class": r.truth, "error": r.error} for r in results], sys.stdout, indent=2)
        print()
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["path", "rank", "class", "probability", "true_class", "error"])
        for r in results:
            if r.error:
                writer.writerow([r.path, "", "", "", r.truth or "", r.error])
            for rank, (c, p) in enumerate(r.top, start=1):
                writer.writerow([r.path, rank, c, f"{p:.6f}", r.truth or "", ""])
    else:
        for r in results:
            if r.error:
                print(f"{r.path}: error: {r.error}")
            else:
                truth = f"  (folder: {r.truth})" if r.truth else ""
                print(f"{r.path}: " + ", ".join(f"{c} {p:.1%}" for c, p in r.top) + truth)
        judged = [r for r in results if r.top and r.truth]
        if judged:
            right = sum(r.top[0][0] == r.truth for r in judged)
            print(f"top-1 right on {right} of the {len(judged)} images whose folder names the class ({right / len(judged):.1%})")
    failed = [r for r in results if r.error]
    if failed:
        print(f"{len(failed)} of {len(results)} files could not be classified or were skipped:", file=sys.stderr)
        for r in failed[:20]:
            print(f"  {r.path}: {r.error}", file=sys.stderr)
        if len(failed) > 20:
            print(f"  ... and {len(failed) - 20} more (all are listed above)", file=sys.stderr)
    return 1 if failed else 0


def cmd_cache(args: argparse.Namespace) -> int:
    """What the image cache holds (decoded tensors and folder indexes), and clearing it."""
    from workbench.core import paths
    from workbench.core.data.cache import cache_entries, cache_limit, clear_cache
    from workbench.core.errors import human_bytes

    if args.clear:
        files, size = clear_cache()
        print(f"removed {files} cache files ({human_bytes(size)}) from {paths.cache_root()}")
        return 0
    entries = cache_entries()
    tensors, folders = entries["tensors"], entries["folders"]
    total = sum(e["bytes"] for e in tensors)
    print(f"cache: {paths.cache_root()}")
    print(f"decoded images: {len(tensors)} files, {human_bytes(total)} of at most {human_bytes(cache_limit())} "
          f"(CNN_WORKBENCH_CACHE_MB; the least recently used go first)")
    import time as _time
    for e in sorted(tensors, key=lambda e: e["used"], reverse=True):
        print(f"  {Path(e['path']).name}  {human_bytes(e['bytes'])}  last used "
              f"{_time.strftime('%Y-%m-%d %H:%M', _time.localtime(e['used']))}")
    print(f"folder indexes: {len(folders)} files, {human_bytes(sum(e['bytes'] for e in folders))}")
    print("clear it with: cnn-workbench cache --clear")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from workbench.core.export import export_onnx, export_state_dict
    from workbench.core.predict import checkpoint_of

    source = checkpoint_of(args.run, args.checkpoint)
    default_name = f"{Path(args.run).name if Path(args.run).is_dir() else source.stem}.{'onnx' if args.format == 'onnx' else 'pt'}"
    out = Path(args.out) if args.out else (source.parent / default_name)
    if args.format == "state_dict":
        result = export_state_dict(source, out)
        print(f"state_dict -> {result.path}")
        return 0
    images = _check_images(source, args.check)
    result = export_onnx(source, out, check_images=images)
    print(f"onnx -> {result.path}")
    if result.images_checked:
        print(f"checked with onnxruntime on {result.images_checked} images: largest difference "
              f"{result.max_difference:.2e}, same top-1 on every image: {'yes' if result.same_top1 else 'no'}")
    else:
        print("not checked against PyTorch (no images: give --check IMAGE_OR_FOLDER)")
    return 0


def _check_images(checkpoint, given: list[str] | None, count: int = 32):
    """Network inputs to compare ONNX and PyTorch on: the given images, else the run's own test images."""
    import torch

    from workbench.core.predict import image_files, load_predictor
    from workbench.core.train.checkpointing import load_checkpoint

    classifier = load_predictor(checkpoint)
    if given:
        tensors = []
        for path in image_files(given)[:count]:
            try:
                tensors.append(classifier.prepare(path))
            except Exception:  # noqa: BLE001 - a bad check image is skipped, not fatal
                continue
        return torch.stack(tensors) if tensors else None
    payload = load_checkpoint(checkpoint)
    try:
        from workbench.core.data import load_dataset
        from workbench.core.evaluate import to_float

        bundle = load_dataset(payload["dataset"], download=False, image_size=payload["native_size"][0]
                              if payload.get("crop") else None)
        images = torch.stack([bundle.test[i][0] for i in range(min(count, len(bundle.test)))])
        return classifier.preprocess(to_float(images))
    except Exception:  # noqa: BLE001 - the dataset may be gone; the export still stands
        return None


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Test a run's checkpoint on its test split (a stopped run too) and write its report."""
    from workbench.core.evaluation import evaluate_run

    progress = ProgressBar()
    report = evaluate_run(args.run, which=args.checkpoint, device=args.device,
                          accept_data_change=args.accept_data_change, progress=progress.data)
    progress.end_data()
    epoch = f", epoch {report['epoch']}" if report.get("epoch") else ""
    print(f"test accuracy {report['accuracy']:.4f}, loss {report['loss']:.4f} on {report['images']} "
          f"{'image' if report['images'] == 1 else 'images'} ({report['checkpoint']}{epoch}) "
          f"-> {Path(args.run) / 'test_eval.json'}")
    figure = lambda value: "n/a" if value is None else f"{value:.3f}"  # noqa: E731
    print_table(["class", "images", "recall", "precision"],
                [(c["class"], c["support"], figure(c["recall"]), figure(c["precision"])) for c in report["per_class"]],
                right=(1, 2, 3), indent=2)
    return 0
