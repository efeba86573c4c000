"""``cnn-workbench doctor PATH``: the mislabelled, duplicated and out-of-place images of an image folder,
found through a run's network, printed and written as CSV and JSON; ``--apply FILE`` makes the moves of a
reviewed CSV (its ``action`` column filled in), ``--undo`` puts the last batch back. Every move is logged in
the folder (``.cnn-workbench-doctor.json``); nothing is deleted."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .progress import ProgressBar
from .tables import print_table


def add_parser(sub) -> None:
    doctor = sub.add_parser(
        "doctor", help="find mislabelled, near-duplicate and out-of-place images in an image folder, and fix them",
        description="Examines PATH through a run's network (by default the newest run trained on it) and writes "
                    "FOLDER-doctor.csv and .json. Review the CSV, fill in its action column (move: to the suggested "
                    "class, exclude: to _excluded/, keep: mark as checked), then --apply it; --undo puts the last "
                    "batch of moves back.")
    doctor.add_argument("path", metavar="PATH", help="the image folder (one sub-folder per class)")
    doctor.add_argument("--run", default=None, metavar="RUN_DIR", help="the run whose network looks at the images")
    doctor.add_argument("--no-run", action="store_true", help="only what needs no network (the same image under two classes)")
    doctor.add_argument("--folds", type=int, default=5, help="folds of the held-out classifier (default 5)")
    doctor.add_argument("--method", choices=["features", "network"], default="features",
                        help="features: a linear head on the network's features, cross-validated (seconds); "
                             "network: the whole network trained once per fold with the run's settings (K trainings)")
    doctor.add_argument("--out", default=None, metavar="DIR", help="where the CSV and JSON go (default: here)")
    doctor.add_argument("--apply", default=None, metavar="CSV", help="make the moves of a reviewed CSV")
    doctor.add_argument("--undo", action="store_true", help="put the last batch of moves back")
    doctor.add_argument("--runs-root", default=None, help=argparse.SUPPRESS)
    doctor.add_argument("--device", default="auto")
    doctor.set_defaults(func=cmd_doctor)


def cmd_doctor(args) -> int:
    from workbench.core.doctor import apply_fixes, examine, read_fixes, undo

    root = Path(args.path).expanduser().resolve()
    if args.undo or args.apply:
        if args.undo and args.apply:
            print("error: --apply and --undo are two steps: give one at a time", file=sys.stderr)
            return 2
        batch = undo(root) if args.undo else apply_fixes(root, read_fixes(args.apply), _classes(root), source="cli")
        print(f"Put back batch {batch.id} of {batch.time} ({batch.describe()})" if args.undo else
              f"Done: batch {batch.id} ({batch.describe()})")
        for problem in batch.problems:
            print(f"  not done: {problem}")
        print(f"The log is {root / '.cnn-workbench-doctor.json'}; "
              + ("cnn-workbench doctor PATH --undo puts this batch back." if not args.undo else
                 "the folder is as it was before that batch."))
        return 1 if batch.problems and not (batch.moves or batch.checked) and not args.undo else 0
    from workbench.core import devices

    if args.folds < 2:
        print("error: --folds must be at least 2", file=sys.stderr)
        return 2
    bar = ProgressBar()
    try:
        report = examine(root, args.run, folds=args.folds, device=str(devices.pick_device(args.device)),
                         progress=bar.data, runs_root=args.runs_root, use_run=not args.no_run, method=args.method)
    finally:
        bar.end_data()
    out = Path(args.out) if args.out else Path.cwd()
    out.mkdir(parents=True, exist_ok=True)
    from workbench.core.paths import atomic_write_text

    csv_path = atomic_write_text(out / f"{root.name}-doctor.csv", report.to_csv())
    json_path = atomic_write_text(out / f"{root.name}-doctor.json", report.to_json())
    print(f"Dataset doctor: {root}")
    if report.source:
        print(f"Looked through {report.source} (features computed for {report.computed:,} images, "
              f"{len(report.files) - report.computed:,} remembered).")
    for notice in report.notices:
        print(f"note: {notice}")
    print(report.summary())
    if report.findings:
        print_table(["finding", "file", "given", "suggested", "score", "split", "evidence"],
                    [[f.kind + ("" if f.flagged else " (harmless)"), f.file, f.given, f.suggested or "(set aside)",
                      f"{f.score:.2f}", f.split, f.evidence] for f in report.findings[:40]], right=[4])
        if len(report.findings) > 40:
            print(f"… and {len(report.findings) - 40} more in the CSV")
    print(f"Wrote {csv_path} and {json_path}. Fill in the action column (move, exclude or keep: the fix column has "
          f"the doctor's suggestion) and run "
          f"cnn-workbench doctor {root} --apply {csv_path}")
    return 0


def _classes(root: Path) -> list[str]:
    from workbench.core.data.image_folder import scan_folder

    return scan_folder(root).classes
