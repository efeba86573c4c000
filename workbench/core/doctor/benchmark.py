"""How well the doctor finds what is wrong, measured: a class-per-folder set written from real images (the
bundled UCI handwritten digits, 1,797 scans, as 32×32 PNGs) with faults planted — a share of labels swapped,
resized / re-encoded / slightly cropped copies, four photos that are no digit — a LeNet-5 trained on it, then
the examination: precision and recall of each kind of finding, and its time per 1,000 images beside the time
of one training epoch on the same images (a ratio: these machines are shared and noisy).

    python -m workbench.core.doctor.benchmark [--swap 0.05] [--copies 0.02] [--epochs 8] [--method network]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

NAMES = [str(d) for d in range(10)]


def write_digits_folder(root: Path, swap: float = 0.05, copies: float = 0.02, seed: int = 0) -> dict:
    """The digits as ``root/<digit>/<n>.png`` (32×32 grey), with ``swap`` of them filed under another digit,
    ``copies`` of them copied once more (resized to 24 px and re-encoded as JPEG, or cropped by 2 px), and the
    bundled photos put into four digit folders. Returns what was planted."""
    from resources import resource_path

    rng = np.random.default_rng(seed)
    with gzip.open(resource_path("data", "digits.csv.gz"), "rt", newline="") as fh:
        rows = np.array([[int(v) for v in row] for row in csv.reader(fh) if row])
    images, labels = rows[:, :64].reshape(-1, 8, 8), rows[:, 64]
    for name in NAMES:
        (root / name).mkdir(parents=True, exist_ok=True)
    order = rng.permutation(len(labels))
    swapped_ids = set(order[:int(round(swap * len(labels)))].tolist())
    copied_ids = order[len(swapped_ids):len(swapped_ids) + int(round(copies * len(labels)))].tolist()
    planted: dict = {"swapped": [], "copies": [], "outliers": []}
    for i, (pixels, label) in enumerate(zip(images, labels)):
        image = Image.fromarray((255 - pixels * 255 / 16).astype(np.uint8), "L").resize((32, 32), Image.BILINEAR)
        filed = label
        if i in swapped_ids:
            filed = int((label + rng.integers(1, 10)) % 10)
        path = root / NAMES[filed] / f"{i:04d}.png"
        image.save(path)
        if i in swapped_ids:
            planted["swapped"].append(path.relative_to(root).as_posix())
    for n, i in enumerate(copied_ids):
        original = root / NAMES[labels[i]] / f"{i:04d}.png"
        image = Image.open(original)
        copy = root / NAMES[labels[i]] / (f"{i:04d}-small.jpg" if n % 2 == 0 else f"{i:04d}-cropped.png")
        if n % 2 == 0:
            image.resize((24, 24), Image.BILINEAR).save(copy, quality=80)
        else:
            image.crop((1, 1, 31, 31)).save(copy)
        planted["copies"].append({original.relative_to(root).as_posix(), copy.relative_to(root).as_posix()})
    for k, photo in enumerate(sorted(resource_path("photos").glob("*.jpg"))):
        target = root / NAMES[k * 2] / f"photo-{photo.stem}.jpg"
        Image.open(photo).convert("L").resize((64, 64)).save(target, quality=90)
        planted["outliers"].append(target.relative_to(root).as_posix())
    return planted


def score(found: set, truth: set) -> tuple[float, float]:
    """(precision, recall)."""
    hits = len(found & truth)
    return (hits / len(found) if found else 1.0), (hits / len(truth) if truth else 1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--swap", type=float, default=0.05, help="share of labels swapped (default 0.05)")
    parser.add_argument("--copies", type=float, default=0.02, help="share of images copied (default 0.02)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--keep", default=None, metavar="DIR", help="write the folder and the run here and keep them")
    parser.add_argument("--method", choices=["features", "network"], default="features",
                        help="held-out probabilities from the features (default) or the whole network per fold")
    args = parser.parse_args(argv)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="doctor-bench-"))
    os.environ.setdefault("CNN_WORKBENCH_HOME", str(work / "home"))
    from workbench.core.train import TrainConfig, Trainer

    from .report import examine

    try:
        root = work / "digits"
        shutil.rmtree(root, ignore_errors=True)
        planted = write_digits_folder(root, args.swap, args.copies)
        config = TrainConfig(model="lenet5", dataset=str(root), epochs=args.epochs, image_size=32, tensorboard=False)
        run = work / "run"
        shutil.rmtree(run, ignore_errors=True)
        started = time.perf_counter()
        summary = Trainer(config, [], run_dir=run).run()
        epoch = (time.perf_counter() - started) / max(1, summary.get("epochs") or args.epochs)
        cold = time.perf_counter()
        report = examine(root, run, method=args.method)
        cold = time.perf_counter() - cold
        warm = time.perf_counter()
        examine(root, run, method=args.method)  # again, as after a fix: the features are remembered
        warm = time.perf_counter() - warm
        n = len(report.files)
        rows = []
        label_p, label_r = score({f.file for f in report.of_kind("label")}, set(planted["swapped"]))
        rows.append(("label errors", len(planted["swapped"]), len(report.of_kind("label")), label_p, label_r))
        groups = [{f.file, *f.others} for f in report.of_kind("near-duplicate")]
        found_pairs = {frozenset(p) for p in map(frozenset, planted["copies"]) if any(p <= g for g in groups)}
        copy_files = {f.file for f in report.of_kind("near-duplicate")}
        planted_copies = {f for p in planted["copies"] for f in p}
        dup_p = len(copy_files & planted_copies) / len(copy_files) if copy_files else 1.0
        rows.append(("near-duplicates", len(planted["copies"]), len(copy_files), dup_p,
                     len(found_pairs) / max(1, len(planted["copies"]))))
        out_p, out_r = score({f.file for f in report.of_kind("outlier")}, set(planted["outliers"]))
        rows.append(("outliers", len(planted["outliers"]), len(report.of_kind("outlier")), out_p, out_r))
        top = [f.file for f in report.of_kind("label")[:len(planted["swapped"])]]
        print(f"Dataset doctor on {n:,} real handwritten digits (UCI, 32×32) with {args.swap:.0%} of labels swapped, "
              f"{len(planted['copies'])} copies and {len(planted['outliers'])} photos planted; LeNet-5, "
              f"{args.epochs} epochs, test accuracy {summary.get('test_acc') or 0:.1%}")
        print(f"{'finding':<16} {'planted':>7} {'found':>6} {'precision':>9} {'recall':>7}")
        for name, planted_n, found_n, p, r in rows:
            print(f"{name:<16} {planted_n:>7} {found_n:>6} {p:>9.1%} {r:>7.1%}")
        print(f"label errors among the top {len(top)} suspects: {len(set(top) & set(planted['swapped'])) / max(1, len(top)):.1%}")
        print(f"time per 1,000 images: {cold / n * 1000:.2f} s the first time ({', '.join(f'{k} {v:.2f} s' for k, v in report.seconds.items() if k != 'total')}), "
              f"{warm / n * 1000:.2f} s again after a fix (features remembered)")
        print(f"ratio to one training epoch on the same images: first examination {cold / epoch:.2f}×, again {warm / epoch:.2f}×")
        print(f"source: {report.source}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
