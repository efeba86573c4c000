"""Trust nothing on disk (issue #20): every case of damaged, moved, shared and hostile files that
once gave a silent wrong result, lost data or hid other runs, each as a user meets it."""

import errno
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from fake_folders import photo, write_photo_folder
from workbench.cli import main
from workbench.core import paths
from workbench.core.data import load_folder
from workbench.core.data.cache import decode_file
from workbench.core.data.image_folder import FolderError, scan_folder, split_folder
from workbench.core.events import Notice
from workbench.core.runs import Run, claim
from workbench.core.train import TrainConfig, Trainer
from workbench.core.train.checkpointing import load_checkpoint, save_checkpoint


def folder_run(root, out, epochs=2, **extra):
    """A LeNet-5 run on an image folder, as the command line starts one."""
    config = TrainConfig(model="lenet5", dataset=str(root), epochs=epochs, image_size=32, tensorboard=False, **extra)
    events = []
    summary = Trainer(config, [events.append], run_dir=out).run()
    return summary, events


def resume(out, epochs, accept=False):
    events = []
    summary = Trainer(callbacks=[events.append], resume=out, epochs=epochs, accept_data_change=accept).run()
    return summary, events


@pytest.fixture
def photos(tmp_path):
    return write_photo_folder(tmp_path / "pokemon", per_class=14, classes=3)


# -- a run knows its data -------------------------------------------------------------------
def test_a_renamed_class_is_refused_on_resume_and_accepted_only_when_asked(photos, tmp_path):
    out = tmp_path / "run"
    assert folder_run(photos, out)[0]["status"] == "completed"
    before = (out / "summary.json").read_bytes()
    (photos / "mewtwo").rename(photos / "zubat")  # the same images, under another label
    summary, _ = resume(out, 3)
    assert summary["status"] == "failed"
    assert "mewtwo is gone" in summary["error"] and "zubat is new" in summary["error"]
    assert "--accept-data-change" in summary["error"]
    assert (out / "summary.json").read_bytes() == before  # the refused resume wrote nothing
    assert load_checkpoint(out / "last.pt")["epoch"] == 2

    summary, events = resume(out, 3, accept=True)
    assert summary["status"] == "completed" and summary["epochs"] == 3
    assert summary["classes"] == ["bulbasaur", "charmander", "zubat"]
    record = json.loads((out / "dataset.json").read_text())
    assert record["classes"] == ["bulbasaur", "charmander", "zubat"]
    assert record["changes"][0]["at_epoch"] == 3 and "mewtwo is gone" in record["changes"][0]["changes"][0]
    assert any(isinstance(e, Notice) and "Going on with the data as it is now" in e.message for e in events)
    assert load_checkpoint(out / "best.pt")["classes"] == load_checkpoint(out / "last.pt")["classes"]


def test_an_added_file_is_refused_on_resume_with_its_name(photos, tmp_path):
    out = tmp_path / "run"
    folder_run(photos, out)
    photo(0, (120, 90), 999).save(photos / "bulbasaur" / "late.png")
    summary, _ = resume(out, 3)
    assert summary["status"] == "failed" and "1 file added (bulbasaur/late.png)" in summary["error"]
    (photos / "bulbasaur" / "late.png").unlink()  # put back as it was: the resume goes on
    assert resume(out, 3)[0]["status"] == "completed"


def test_a_relative_dataset_is_recorded_absolute_and_resumed_from_anywhere(tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    write_photo_folder(first / "set", per_class=14, classes=3)
    write_photo_folder(second / "set", per_class=14, classes=2, seed=5)  # another folder of the same name
    monkeypatch.chdir(first)
    out = tmp_path / "run"
    summary, _ = folder_run("set", out)
    assert summary["dataset"] == str(first / "set")
    assert json.loads((out / "config.json").read_text())["dataset"] == str(first / "set")
    monkeypatch.chdir(second)
    summary, _ = resume(out, 3)
    assert summary["status"] == "completed" and summary["dataset"] == str(first / "set")
    assert summary["classes"] == ["bulbasaur", "charmander", "mewtwo"]


# -- a run folder is the run's alone -----------------------------------------------------
def test_a_symlinked_metrics_file_is_refused_and_its_target_untouched(photos, tmp_path):
    out = tmp_path / "run"
    folder_run(photos, out)
    target = tmp_path / "precious.csv"
    target.write_text("my own data\n")
    (out / "metrics.csv").unlink()
    (out / "metrics.csv").symlink_to(target)
    summary, _ = resume(out, 3)
    assert summary["status"] == "failed" and "metrics.csv" in summary["error"] and "symbolic link" in summary["error"]
    assert target.read_text() == "my own data\n"
    assert load_checkpoint(out / "last.pt")["epoch"] == 2


def test_a_folder_held_by_a_live_run_is_refused_and_names_the_holder(tmp_path, small_digits):
    out = tmp_path / "run"
    lock = claim(out, new=True)  # another run holds it
    try:
        summary = Trainer(TrainConfig(epochs=1), [], run_dir=out, bundle=small_digits).run()
        assert summary["status"] == "failed" and "in use by another run" in summary["error"]
        assert f"process {os.getpid()}" in summary["error"]
        assert sorted(p.name for p in out.iterdir()) == ["run.lock"]
    finally:
        lock.release()
    # the lock of a run that ended (or was killed) does not stand in the way
    assert Trainer(TrainConfig(epochs=1), [], run_dir=out, bundle=small_digits).run()["status"] == "completed"


def test_two_processes_on_one_out_folder_one_is_refused_the_other_intact(tmp_path):
    out = tmp_path / "shared"
    command = [sys.executable, "-m", "workbench", "train", "--model", "lenet5", "--epochs", "3", "--out", str(out),
               "--no-tensorboard"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(command + ["--seed", str(seed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for seed in (1, 2)]
    results = [(p.wait(timeout=600), p.stdout.read(), p.stderr.read()) for p in procs]
    codes = sorted(r[0] for r in results)
    assert codes == [0, 1], results
    refused = next(r for r in results if r[0] == 1)
    assert "in use by another run" in refused[2] or "already holds files" in refused[2]
    winner = 1 + [r[0] for r in results].index(0)
    config = json.loads((out / "config.json").read_text())
    assert config["seed"] == winner
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 3
    assert [m["epoch"] for m in Run(out).metrics] == [1, 2, 3]
    assert load_checkpoint(out / "last.pt")["epoch"] == 3


def test_a_missing_best_checkpoint_is_chosen_anew_and_nothing_good_is_overwritten(photos, tmp_path):
    out = tmp_path / "run"
    folder_run(photos, out)
    (out / "best.pt").unlink()
    summary, events = resume(out, 3)
    assert summary["status"] == "completed" and summary["best_epoch"] == 3 and summary["test_acc"] is not None
    assert "best.pt could not be used" in summary["best_note"]
    assert load_checkpoint(out / "best.pt")["epoch"] == 3
    assert any(isinstance(e, Notice) and "the best is chosen anew from epoch 3" in e.message for e in events)


def test_a_resume_that_fails_keeps_the_scores_the_summary_had(photos, tmp_path, monkeypatch):
    out = tmp_path / "run"
    good = folder_run(photos, out)[0]
    import workbench.core.train.loop as loop

    def broken(self, epoch):
        raise RuntimeError("a fault in the middle of epoch 3")
    monkeypatch.setattr(loop.Trainer, "_train_epoch", broken)
    summary, _ = resume(out, 3)
    assert summary["status"] == "failed"
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["status"] == "failed" and "epoch 3" in on_disk["error"]
    assert on_disk["test_acc"] == good["test_acc"] and on_disk["best_val_acc"] == good["best_val_acc"]


# -- a damaged run is one bad row ---------------------------------------------------------
def test_damaged_run_files_are_reported_not_raised(tmp_path, small_digits):
    root = tmp_path / "runs"
    for name in ("a", "b", "c", "d"):
        Trainer(TrainConfig(epochs=1, tensorboard=False), [], run_dir=root / name, bundle=small_digits).run()
    with open(root / "b" / "metrics.csv", "ab") as fh:
        fh.write(b"\0" * 300)
    summary = json.loads((root / "c" / "summary.json").read_text())
    summary["best_val_acc"] = "very good"
    (root / "c" / "summary.json").write_text(json.dumps(summary))
    (root / "d" / "test_eval.json").write_text("[1, 2")
    records = {name: Run(root / name).read() for name in "abcd"}
    assert records["a"].problems == [] and records["d"].problems == []
    assert "metrics.csv is damaged at line 3" in records["b"].problems[0], records["b"].problems
    assert [m["epoch"] for m in records["b"].metrics] == [1]  # the rows before the damage
    assert "best_val_acc is str" in records["c"].problems[0] and "best_val_acc" not in records["c"].summary
    assert records["c"].summary["status"] == "completed"
    with pytest.raises(ValueError, match="test_eval.json is damaged"):
        Run(root / "d").evaluation("test")


# -- caches that verify themselves --------------------------------------------------------
def test_a_wrong_shaped_index_and_a_corrupted_cache_are_rebuilt_with_a_notice(photos, workbench_home):
    first = load_folder(photos, size=24)
    assert first.notices == []
    index = next((workbench_home / "cache" / "folders").glob("*.json"))
    index.write_text(json.dumps({"root": str(photos), "files": {"not": "a list"}}))
    tensor_file = next((workbench_home / "cache" / "tensors").glob("*.pt"))
    data = bytearray(tensor_file.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = os.urandom(4096)  # 4 KiB overwritten in the middle
    tensor_file.write_bytes(bytes(data))

    again = load_folder(photos, size=24)
    assert any(f"The folder index {index} was damaged" in n for n in again.notices), again.notices
    assert any(f"The image cache {tensor_file} was damaged" in n for n in again.notices), again.notices
    for name in ("train", "val", "test"):
        assert torch.equal(again_images(again, name), again_images(first, name))
    assert load_folder(photos, size=24).notices == []  # rebuilt: trusted the next time


def again_images(bundle, name):
    return getattr(bundle, name).images


def test_a_cached_image_replaced_by_another_shows_the_new_pixels(photos):
    bundle = load_folder(photos, size=24)
    rel = bundle.split_files["train"][0]
    old_pixels = bundle.train.images[0].clone()
    photo(2, (100, 100), 4242).save(photos / rel)  # another picture under the same name: the same count
    again = load_folder(photos, size=24)
    part = next(name for name in ("train", "val", "test") if rel in again.split_files[name])
    shown = getattr(again, part).images[again.split_files[part].index(rel)]
    assert torch.equal(shown, decode_file(photos, rel, 24, 3))  # decoded afresh from the file, no cache
    assert not torch.equal(shown, old_pixels)


def test_an_edit_that_keeps_size_and_mtime_is_seen(photos):
    path = photos / "bulbasaur" / "edited.bmp"  # uncompressed: one pixel changed keeps the size
    image = photo(0, (64, 48), 31)
    image.save(path)
    scan = scan_folder(photos)
    stat = path.stat()
    image.putpixel((10, 10), (255, 0, 255))
    image.save(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    again = scan_folder(photos)
    assert "1 file changed (bulbasaur/edited.bmp)" in again.changes
    sha = {f.path: f.sha1 for f in again.files}["bulbasaur/edited.bmp"]
    assert sha == hashlib.sha1(path.read_bytes()).hexdigest() != {f.path: f.sha1 for f in scan.files}["bulbasaur/edited.bmp"]


def test_the_cache_keeps_under_its_cap_dropping_the_least_recently_used(tmp_path, monkeypatch, workbench_home, capsys):
    a = write_photo_folder(tmp_path / "a", per_class=10, classes=2, seed=1)
    b = write_photo_folder(tmp_path / "b", per_class=10, classes=2, seed=2)
    load_folder(a, size=32)
    one = next((workbench_home / "cache" / "tensors").glob("*.pt")).stat().st_size
    monkeypatch.setenv("CNN_WORKBENCH_CACHE_MB", str(1.5 * one / 1024**2))  # room for one folder's tensor
    load_folder(b, size=32)
    left = list((workbench_home / "cache" / "tensors").glob("*.pt"))
    assert len(left) == 1 and left[0].stat().st_size <= 1.5 * one
    assert main(["cache"]) == 0
    shown = capsys.readouterr().out
    assert "decoded images: 1 files" in shown and left[0].name in shown
    assert main(["cache", "--clear"]) == 0
    assert "removed 3 cache files" in capsys.readouterr().out  # one tensor, two folder indexes
    assert not list((workbench_home / "cache").rglob("*.pt")) and not list((workbench_home / "cache").rglob("*.json"))


# -- a split that never moves an unchanged file --------------------------------------------
def where_each_file_is(root):
    scan = scan_folder(root)
    split = split_folder(scan)
    return {scan.files[i].path: name for name in ("train", "val", "test") for i in getattr(split, name)}


def test_adding_removing_and_renaming_never_moves_another_file(photos):
    before = where_each_file_is(photos)
    photo(1, (100, 120), 777).save(photos / "charmander" / "added.png")
    (photos / "bulbasaur" / "003.jpg").unlink()
    after = where_each_file_is(photos)
    assert {p: s for p, s in after.items() if p != "charmander/added.png"} == \
        {p: s for p, s in before.items() if p != "bulbasaur/003.jpg"}
    (photos / "charmander" / "004.png").rename(photos / "charmander" / "renamed.png")
    (photos / "mewtwo").rename(photos / "zubat")
    renamed = where_each_file_is(photos)
    assert renamed.pop("charmander/renamed.png") == after.pop("charmander/004.png")
    assert renamed == {p.replace("mewtwo/", "zubat/"): s for p, s in after.items()}


def test_a_run_from_before_the_content_split_keeps_its_split(photos, tmp_path):
    out = tmp_path / "run"
    folder_run(photos, out, split_method="rank")
    config = json.loads((out / "config.json").read_text())
    recorded = json.loads((out / "split.json").read_text())
    assert config["split_method"] == "rank" and recorded["method"] == "rank"
    del config["split_method"]  # as a run of the first version wrote it
    (out / "config.json").write_text(json.dumps(config))
    scan = scan_folder(photos)
    by_rank = split_folder(scan, method="rank").paths(scan)
    assert {k: sorted(recorded[k]) for k in ("train", "val", "test")} == {k: sorted(v) for k, v in by_rank.items()}
    summary, _ = resume(out, 3)
    assert summary["status"] == "completed"


# -- guards with clear words ------------------------------------------------------------------
def test_a_system_folder_or_one_too_big_to_be_an_image_set_is_refused_before_the_scan(tmp_path, monkeypatch):
    with pytest.raises(FolderError, match="is a system folder"):
        scan_folder("/")
    import workbench.core.data.image_folder as image_folder

    root = tmp_path / "many"
    for i in range(12):
        (root / f"c{i}").mkdir(parents=True)
    monkeypatch.setattr(image_folder, "MAX_CLASSES", 10)
    with pytest.raises(FolderError, match="has 12 sub-folders, more than any image set has classes"):
        scan_folder(root)


def test_sizes_and_splits_are_bounded_before_anything_is_allocated(tmp_path, capsys, small_digits):
    assert main(["train", "--image-size", "100000", "--dataset", str(tmp_path), "--out", str(tmp_path / "r")]) == 1
    assert "image_size 100000 is not valid: expected at most 1024 pixels" in capsys.readouterr().err
    assert main(["train", "--split", "1,0,0", "--out", str(tmp_path / "s")]) == 1
    assert "validation and test both need a share" in capsys.readouterr().err
    # a checkpoint that claims a 50000² input
    Trainer(TrainConfig(epochs=1, tensorboard=False), [], run_dir=tmp_path / "ok", bundle=small_digits).run()
    payload = load_checkpoint(tmp_path / "ok" / "best.pt")
    payload["input_size"] = [1, 50000, 50000]
    save_checkpoint(tmp_path / "huge.pt", payload)
    image = tmp_path / "x.png"
    Image.new("L", (8, 8)).save(image)
    assert main(["predict", str(tmp_path / "huge.pt"), str(image)]) == 1
    assert "claims an input of 50000x50000" in capsys.readouterr().err


def test_predict_on_a_folder_reports_every_skipped_file_and_fails(tmp_path, small_digits, capsys):
    Trainer(TrainConfig(epochs=1, tensorboard=False), [], run_dir=tmp_path / "r", bundle=small_digits).run()
    images = tmp_path / "images"
    images.mkdir()
    Image.new("L", (8, 8), 200).save(images / "a.png")
    (images / "notes.txt").write_text("not an image")
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert main(["predict", str(tmp_path / "r"), str(images)]) == 1
    captured = capsys.readouterr()
    assert "a.png:" in captured.out and "notes.txt: error: skipped: not an image file (.txt)" in captured.out
    assert "2 of 3 files could not be classified or were skipped" in captured.err
    assert "notes.txt" in captured.err and "broken.png" in captured.err


def test_a_full_disk_says_so_and_keeps_the_earlier_checkpoints(small_digits, tmp_path, monkeypatch):
    """A simulated ENOSPC on every write of 10 kB or more once epoch 2 has ended (its checkpoints)."""
    out = tmp_path / "run"
    ended = []
    real = paths._write_synced

    def filling_up(fh, write):
        if len(ended) >= 2 and getattr(write, "size", 0) > 10_000:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fh, write)
    monkeypatch.setattr(paths, "_write_synced", filling_up)
    summary = Trainer(TrainConfig(epochs=3, tensorboard=False),
                      [lambda e: ended.append(e) if type(e).__name__ == "EpochEnded" else None],
                      run_dir=out, bundle=small_digits).run()
    assert summary["status"] == "failed"
    assert summary["error"].startswith(f"Disk full: could not write {out}") and " free)" in summary["error"]
    assert load_checkpoint(out / "last.pt")["epoch"] == 1  # epoch 1's, whole
    assert load_checkpoint(out / "best.pt")["epoch"] == 1
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert json.loads((out / "summary.json").read_text())["error"] == summary["error"]


# -- the window's settings live with the app's home ---------------------------------------
def test_settings_live_under_the_apps_home(workbench_home):
    assert paths.settings_path() == workbench_home / "settings.ini"


# -- guarantees that held but that no test held ------------------------------------------------
def test_a_resumed_run_keeps_its_best_score_so_a_worse_epoch_does_not_replace_best_pt(tmp_path, small_digits):
    """SGD at lr 0.3 on 320 digits: validation peaks at epoch 2 (0.70) and falls after (0.49, 0.45)."""
    config = dict(epochs=4, optimizer="sgd", lr=0.3, tensorboard=False)
    whole = Trainer(TrainConfig(**config), [], run_dir=tmp_path / "whole", bundle=small_digits).run()
    assert whole["best_epoch"] == 2  # the fixture: the best is not the last
    Trainer(TrainConfig(**{**config, "epochs": 2}), [], run_dir=tmp_path / "split", bundle=small_digits).run()
    resumed = Trainer(resume=tmp_path / "split", epochs=4, bundle=small_digits).run()
    assert resumed["status"] == "completed"
    assert [m["val_acc"] for m in Run(tmp_path / "split").metrics] == [m["val_acc"] for m in Run(tmp_path / "whole").metrics]
    assert resumed["best_epoch"] == 2 and resumed["best_val_acc"] == whole["best_val_acc"]
    assert load_checkpoint(tmp_path / "split" / "best.pt")["epoch"] == 2
    assert resumed["test_acc"] == whole["test_acc"]


def test_a_best_checkpoint_linked_to_another_file_is_not_read(tmp_path, small_digits, capsys):
    run_dir = tmp_path / "r"
    Trainer(TrainConfig(epochs=1, tensorboard=False), [], run_dir=run_dir, bundle=small_digits).run()
    (run_dir / "best.pt").unlink()
    (run_dir / "best.pt").symlink_to("/etc/hostname" if Path("/etc/hostname").exists() else "/etc/passwd")
    image = tmp_path / "x.png"
    Image.new("L", (8, 8)).save(image)
    assert main(["predict", str(run_dir), str(image)]) == 1
    err = capsys.readouterr().err
    assert "best.pt in" in err and "symbolic link" in err and "bytes" not in err
