"""The dataset doctor (issue #18) on folders written here with their faults planted on purpose: labels swapped,
resized and re-encoded copies, the same bytes under two classes; fixes that move files and undo that puts
them back byte for byte; the split and the decoded cache of the files a fix did not touch."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fake_folders import NAMES, write_photo_folder
from workbench.core.data.image_folder import DOCTOR_LOG, EXCLUDED_FOLDER
from workbench.core.doctor import (DoctorError, Fix, MissingLibraryError, MoveError, apply_fixes, examine, read_log,
                                   undo)
from workbench.core.train import TrainConfig, Trainer


def plant(root: Path) -> dict:
    """Swap six labels (a file moved under another class), plant three resized / re-encoded copies and put
    one image's bytes under a second class. Returns what was planted."""
    swapped, copies = [], []
    for k in range(6):
        src, dst = NAMES[k % 5], NAMES[(k % 5 + 1 + k % 3) % 5]
        f = root / src / f"{k + 4:03d}{'.jpg' if (k + 4) % 2 else '.png'}"
        target = root / dst / f"from_{src}_{f.name}"
        os.rename(f, target)
        swapped.append(target.relative_to(root).as_posix())
    for k in range(3):
        original = root / NAMES[k] / "020.png"
        image = Image.open(original).convert("RGB")
        copy = root / NAMES[k] / f"copy_{k}.jpg"
        image.resize((image.width * 2 // 3, image.height * 2 // 3)).save(copy, quality=70)  # resized and re-encoded
        copies.append({original.relative_to(root).as_posix(), copy.relative_to(root).as_posix()})
    shutil.copy(root / NAMES[0] / "002.png", root / NAMES[1] / "same_as_bulbasaur_002.png")
    return {"swapped": swapped, "copies": copies,
            "conflict": {f"{NAMES[0]}/002.png", f"{NAMES[1]}/same_as_bulbasaur_002.png"}}


def train(root: Path, out: Path, epochs: int = 6) -> Path:
    config = TrainConfig(model="lenet5", dataset=str(root), epochs=epochs, image_size=32, tensorboard=False)
    summary = Trainer(config, [], run_dir=out).run()
    assert summary["status"] == "completed", summary
    return out


@pytest.fixture(scope="module")
def examined(tmp_path_factory):
    """A five-class folder with its faults planted, a LeNet-5 trained on it, and the doctor's report."""
    base = tmp_path_factory.mktemp("doctor")
    home = base / "home"
    old = os.environ.get("CNN_WORKBENCH_HOME")
    os.environ["CNN_WORKBENCH_HOME"] = str(home)
    try:
        root = write_photo_folder(base / "pokemon", per_class=36)
        planted = plant(root)
        run = train(root, base / "run")
        report = examine(root, run)
    finally:
        if old is None:
            os.environ.pop("CNN_WORKBENCH_HOME", None)
        else:
            os.environ["CNN_WORKBENCH_HOME"] = old
    return root, run, planted, report, home


def test_swapped_labels_rank_at_the_top_of_the_suspects(examined):
    root, run, planted, report, _ = examined
    labels = report.of_kind("label")
    wrong = planted["swapped"] + [f"{NAMES[1]}/same_as_bulbasaur_002.png"]  # the conflict's copy is mislabelled too
    top = [f.file for f in labels[:len(wrong)]]
    assert set(top) == set(wrong), (top, wrong)
    for f in labels[:len(wrong)]:
        src = f.file.split("/")[1].split("_")[1] if "from_" in f.file else NAMES[0]  # the class it came from
        assert f.suggested == src and f.given != src and f.action == "move"
        assert 0.5 < f.score <= 1 and "never saw it" in f.evidence
    assert report.folds == 5 and "5-fold" in report.source and "lenet5" in report.source
    sure = [f.score for f in labels]
    assert sure == sorted(sure, reverse=True) and sure[0] > sure[-1], "surest first"


def test_resized_and_reencoded_copies_are_found_as_near_duplicates(examined):
    _, _, planted, report, _ = examined
    groups = [{f.file, *f.others} for f in report.of_kind("near-duplicate")]
    for pair in planted["copies"]:
        assert any(pair <= g for g in groups), (pair, groups)
    for f in report.of_kind("near-duplicate"):
        if {f.file, *f.others} in planted["copies"]:
            assert "copy_" in f.file, "the smaller, re-encoded copy is the one set aside, not the original"
            assert f.action == "exclude" and f.flagged == (f.split != report.splits[report.files.index(f.others[0])])


def test_the_same_bytes_in_two_class_folders_are_conflicting_labels(examined, tmp_path):
    root, _, planted, report, _ = examined
    conflicts = report.of_kind("conflict")
    assert {f.file for f in conflicts} == planted["conflict"]
    assert all(f.score == 1.0 for f in conflicts)
    assert {f.action for f in conflicts} == {"keep", "exclude"}  # one copy stays in the class, the other goes
    # no network needed for these: a folder with no run finds them too, and says what else it could find
    bare = examine(root, use_run=False)
    assert {f.file for f in bare.findings} == planted["conflict"]
    assert any("No run of this folder" in n for n in bare.notices) and bare.embedding is None


def test_the_report_is_written_as_csv_and_json_with_the_map(examined):
    _, _, _, report, _ = examined
    rows = list(csv.DictReader(report.to_csv().splitlines()))
    assert len(rows) == len(report.findings) and rows[0]["file"] == report.findings[0].file
    assert set(rows[0]) >= {"file", "finding", "given", "suggested", "score", "action"}
    data = json.loads(report.to_json())
    assert data["findings"][0]["file"] == report.findings[0].file and data["classes"] == NAMES
    assert np.asarray(report.embedding).shape == (len(report.files), 2)
    assert np.isfinite(np.asarray(report.embedding)).all() and np.ptp(np.asarray(report.embedding), 0).min() > 0


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under the folder by relative path, with its bytes (the doctor's own log aside), and every folder."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.name == DOCTOR_LOG:
            continue
        out[rel] = p.read_bytes() if p.is_file() else b"<folder>"
    return out


def test_a_fix_and_its_undo_restore_the_folder_byte_for_byte(tmp_path):
    root = write_photo_folder(tmp_path / "set", per_class=6, classes=3)
    before = snapshot(root)
    fixes = [Fix("bulbasaur/001.jpg", "move", "mewtwo", "label"), Fix("charmander/002.png", "exclude", "", "outlier"),
             Fix("mewtwo/003.jpg", "keep", "", "outlier")]
    open(root / "mewtwo" / "001.jpg", "wb").write(b"taken")  # the name is taken where it goes: never overwritten
    before = snapshot(root)
    batch = apply_fixes(root, fixes, ["bulbasaur", "charmander", "mewtwo"])
    assert batch.problems == []
    after = snapshot(root)
    assert "bulbasaur/001.jpg" not in after and after["mewtwo/001 (2).jpg"] == before["bulbasaur/001.jpg"]
    assert after["mewtwo/001.jpg"] == b"taken"
    assert after[f"{EXCLUDED_FOLDER}/charmander/002.png"] == before["charmander/002.png"]
    assert len([k for k in after if not after[k] == b"<folder>"]) == len([k for k in before if before[k] != b"<folder>"])
    log = json.loads((root / DOCTOR_LOG).read_text())
    assert [m["from"] for m in log["batches"][0]["moves"]] == ["bulbasaur/001.jpg", "charmander/002.png"]
    assert log["batches"][0]["checked"][0]["file"] == "mewtwo/003.jpg"
    undone = undo(root)
    assert undone.problems == [] and undone.id == batch.id
    assert snapshot(root) == before  # every byte back where it was, and the folder _excluded/ gone
    with pytest.raises(MoveError, match="no fix to undo"):
        undo(root)


def test_a_fix_refuses_what_it_cannot_do_safely_and_loses_nothing(tmp_path):
    root = write_photo_folder(tmp_path / "set", per_class=4, classes=2)
    before = snapshot(root)
    batch = apply_fixes(root, [Fix("../outside.png", "exclude"), Fix("bulbasaur/000.png", "move", "pikachu"),
                               Fix("bulbasaur/001.jpg", "move", "bulbasaur"), Fix("gone.png", "exclude"),
                               Fix("bulbasaur/002.png", "exclude", sha1="0" * 40)], ["bulbasaur", "charmander"])
    assert len(batch.problems) == 5 and batch.moves == []
    assert any("changed since the doctor looked" in p for p in batch.problems)
    assert snapshot(root) == before
    (root / DOCTOR_LOG).write_text("{not json")  # a damaged log is kept aside, never overwritten or followed
    batches, notice = read_log(root)
    assert batches == [] and "damaged" in notice
    assert [p.name for p in root.iterdir() if p.name.startswith(DOCTOR_LOG + ".damaged")]


def test_a_fix_keeps_the_split_and_the_decoded_images_of_the_untouched_files(tmp_path, monkeypatch):
    from workbench.core.data import cache, load_folder

    root = write_photo_folder(tmp_path / "set", per_class=20, classes=3)
    first = load_folder(root, size=32)  # decodes and caches the folder
    decoded = []
    real = cache.decode_file
    monkeypatch.setattr(cache, "decode_file", lambda *a, **k: decoded.append(a[1]) or real(*a, **k))
    batch = apply_fixes(root, [Fix("bulbasaur/003.jpg", "move", "mewtwo"), Fix("charmander/004.png", "exclude")])
    to = batch.moves[0]["to"]
    assert to == "mewtwo/003 (2).jpg"  # mewtwo has a 003.jpg of its own
    second = load_folder(root, size=32)
    assert decoded == [], "the fixed folder's images come from the earlier cache, none decoded again"
    moved = {"bulbasaur/003.jpg", "charmander/004.png"}
    for part in ("train", "val", "test"):
        assert set(first.split_files[part]) - moved == set(second.split_files[part]) - {to}
    assert to in second.split_files[next(p for p in ("train", "val", "test") if "bulbasaur/003.jpg" in first.split_files[p])]
    assert sum(len(second.split_files[p]) for p in ("train", "val", "test")) == 59
    assert any(p == f"{EXCLUDED_FOLDER}/" for p, _ in second.health.ignored)
    images = {p: i for i, p in enumerate(second.split_files["train"])}
    assert len(images) == len(second.train)
    # the pixels are those of the files themselves, wherever the cache found them
    path = second.split_files["train"][0]
    assert (second.train.images[0] == real(root, path, 32, 3)).all()


def test_a_run_of_another_folder_is_refused_and_a_checked_finding_is_logged(examined, tmp_path):
    root, run, _, report, _ = examined
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    first = report.of_kind("label")[0]
    apply_fixes(copy, [Fix(first.file, "keep", "", "label")])
    with pytest.raises(DoctorError, match="was trained on"):  # the run is of the original folder
        examine(copy, run)
    bare = examine(copy, use_run=False)
    assert bare.hidden == 0  # a conflict was not what was marked
    batches, _ = read_log(copy)
    assert batches[-1].checked[0]["finding"] == "label"


def test_a_folder_changed_since_the_run_is_said_to_have_changed(examined, monkeypatch):
    root, run, _, report, home = examined
    monkeypatch.setenv("CNN_WORKBENCH_HOME", str(home))
    suspect = report.of_kind("label")[0]
    batch = apply_fixes(root, [Fix(suspect.file, "move", suspect.suggested, "label", suspect.sha1)])
    try:
        again = examine(root, run)
        changed = next(n for n in again.notices if "changed since" in n)
        assert suspect.file in changed and batch.moves[0]["to"] in changed
        assert again.computed == 0, "the moved image's content is the same: its features are remembered"
        assert suspect.file not in {f.file for f in again.of_kind("label")}
        assert batch.moves[0]["to"] not in {f.file for f in again.of_kind("label")[:3]}
    finally:
        undo(root)


def test_the_doctor_says_what_to_do_without_its_libraries_or_enough_images(examined, monkeypatch, tmp_path):
    import importlib.util

    root, run, _, _, home = examined
    monkeypatch.setenv("CNN_WORKBENCH_HOME", str(home))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cleanlab" else real(name, *a))
    with pytest.raises(MissingLibraryError, match=r"cnn-workbench\[doctor\]"):
        examine(root, run)
    monkeypatch.setattr(importlib.util, "find_spec", real)
    small = write_photo_folder(tmp_path / "small", per_class=3, classes=2)
    (small / "charmander" / "001.jpg").unlink()
    (small / "charmander" / "002.png").unlink()
    small_run = train(small, tmp_path / "small-run", epochs=1)
    report = examine(small, small_run)
    assert any("too few" in n and "charmander (1)" in n for n in report.notices)
    assert report.of_kind("label") == []


def test_cnn_workbench_doctor_writes_its_csv_applies_a_reviewed_list_and_undoes_it(examined, tmp_path):
    root, run, planted, _, home = examined
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "QT_"))}
    env["CNN_WORKBENCH_HOME"] = str(home)
    exe = Path(sys.executable).with_name("cnn-workbench")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "workbench.cli"]
    done = subprocess.run(command + ["doctor", str(root), "--run", str(run), "--out", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "suspected label error" in done.stdout
    rows = list(csv.DictReader(open(tmp_path / "pokemon-doctor.csv", encoding="utf-8")))
    assert {r["file"] for r in rows if r["finding"] == "label"} >= set(planted["swapped"])
    for r in rows:  # review: accept the doctor's fix for the label errors, nothing else
        r["action"] = r["fix"] if r["finding"] == "label" else ""
    with open(tmp_path / "reviewed.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    before = snapshot(root)
    done = subprocess.run(command + ["doctor", str(root), "--apply", str(tmp_path / "reviewed.csv")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for path in planted["swapped"]:
        cls = path.split("/")[1].split("_")[1]
        assert not (root / path).exists() and (root / cls / path.split("/")[1]).exists()
    done = subprocess.run(command + ["doctor", str(root), "--undo"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "Put back" in done.stdout, done.stderr
    assert snapshot(root) == before


def test_the_whole_network_trained_per_fold_finds_the_swapped_labels_and_leaves_no_checkpoints(tmp_path):
    from workbench.core import paths

    root = write_photo_folder(tmp_path / "set", per_class=24, classes=3)
    swapped = []
    for k, (src, dst) in enumerate(((0, 1), (1, 2), (2, 0))):
        f = root / NAMES[src] / f"{k + 2:03d}{'.jpg' if (k + 2) % 2 else '.png'}"
        target = root / NAMES[dst] / f"from_{NAMES[src]}_{f.name}"
        os.rename(f, target)
        swapped.append(target.relative_to(root).as_posix())
    run = train(root, tmp_path / "run", epochs=8)
    seen = []
    report = examine(root, run, folds=3, method="network", progress=lambda d, t, w: seen.append((d, t, w)))
    assert set(f.file for f in report.of_kind("label")[:3]) == set(swapped), [f.file for f in report.of_kind("label")]
    assert "trained 3 times" in report.source and report.folds == 3
    assert any("without fold 3 of 3" in w for _, _, w in seen) and seen[-1][0] <= seen[-1][1]
    assert not list((paths.cache_root() / "doctor").glob("folds-*")), "the folds' runs are removed"
    with pytest.raises(DoctorError, match="unknown method"):
        examine(root, run, method="guess")


def test_a_reviewed_list_moves_only_files_that_are_as_the_doctor_saw_them(examined, tmp_path):
    from workbench.core.doctor import read_fixes

    root, _, _, report, _ = examined
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    rows = list(csv.DictReader(report.to_csv().splitlines()))
    labels = [r for r in rows if r["finding"] == "label"][:2]
    for r in labels:
        r["action"] = "move"
    reviewed = tmp_path / "reviewed.csv"
    with open(reviewed, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(labels)
    edited = copy / labels[1]["file"]
    edited.write_bytes(edited.read_bytes() + b"\0")  # changed after the doctor looked
    batch = apply_fixes(copy, read_fixes(reviewed))
    assert [m["from"] for m in batch.moves] == [labels[0]["file"]]
    assert len(batch.problems) == 1 and "changed since the doctor looked" in batch.problems[0] and edited.exists()
    (tmp_path / "bad.csv").write_text("file,action\nx.png,delete\n")
    with pytest.raises(DoctorError, match="nothing was moved"):
        read_fixes(tmp_path / "bad.csv")
