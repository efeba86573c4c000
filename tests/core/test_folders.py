"""Image folders as datasets: real folders with every kind of hostile and odd file, checked by
what a user would check: which images were used, which were skipped and why, the split, the
health report's figures and what the network is fed."""

import collections
import hashlib
import math
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from fake_folders import photo, write_hostile_folder, write_photo_folder
from workbench.cli import main
from workbench.core.data.augment import BatchAugment
from workbench.core.data.decode import DecodeError, decode
from workbench.core.data import load_folder
from workbench.core.data.image_folder import FolderError, scan_folder, split_folder


@pytest.fixture
def hostile(tmp_path):
    root = tmp_path / "hostile"
    return root, write_hostile_folder(root)


def test_a_hostile_folder_is_scanned_file_by_file(hostile):
    root, expected = hostile
    scan = scan_folder(root)
    assert sorted(f.path for f in scan.files) == expected["usable"]
    assert scan.classes == ["cats", "dogs"]
    assert {p: r.split(" (")[0] for p, r in scan.skipped} == expected["skipped"]
    assert sorted(p for p, _ in scan.ignored) == expected["ignored"]
    assert dict(scan.left_out_classes) == expected["left_out"]
    # Classes are the folder names, nested images belong to their top folder.
    nested = next(f for f in scan.files if f.path == "dogs/nested/deeper/puppy.jpeg")
    assert scan.classes[nested.label] == "dogs"


def test_odd_images_are_converted_by_their_real_values(tmp_path):
    base = Image.new("RGB", (4, 2), (200, 100, 50))
    rgba = base.convert("RGBA")
    rgba.putalpha(128)
    assert decode(rgba).getpixel((0, 0)) == pytest.approx((228, 178, 153), abs=1)  # 50 % over white, by hand
    assert decode(rgba, background=(0, 0, 0)).getpixel((0, 0)) == pytest.approx((100, 50, 25), abs=1)
    # 16-bit grey from 1,000 to 3,000: stretched from its own range, not clipped to black or white.
    values = np.array([[1000, 2000], [3000, 1500]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    assert np.asarray(decode(path, channels=1)).tolist() == [[0, 128], [255, 64]]
    floats = np.array([[-1.0, 0.0], [1.0, 3.0]], dtype=np.float32)
    Image.fromarray(floats).save(tmp_path / "f.tif")
    assert np.asarray(decode(tmp_path / "f.tif", channels=1)).tolist() == [[0, 64], [128, 255]]
    # CMYK becomes RGB; the first frame of an animation is used.
    assert decode(Image.new("CMYK", (2, 2), (0, 255, 255, 0))).getpixel((0, 0)) == (255, 0, 0)
    frames = [Image.new("RGB", (3, 3), c) for c in ((255, 0, 0), (0, 255, 0))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    assert decode(tmp_path / "a.gif").getpixel((1, 1)) == pytest.approx((255, 0, 0), abs=2)
    # EXIF orientation 6: the camera was turned, the picture is shown upright (4×2 becomes 2×4).
    exif = Image.Exif()
    exif[0x0112] = 6
    base.save(tmp_path / "turned.jpg", exif=exif)
    assert decode(tmp_path / "turned.jpg").size == (2, 4)


@pytest.mark.parametrize("content,reason", [(b"", "zero bytes"), (b"hello, not a picture", "not an image")])
def test_unusable_files_say_why(tmp_path, content, reason):
    path = tmp_path / "x.png"
    path.write_bytes(content)
    with pytest.raises(DecodeError) as info:
        decode(path)
    assert info.value.reason == reason and "x.png" in str(info.value)


def test_folders_without_two_usable_classes_get_a_clear_error(tmp_path):
    with pytest.raises(FolderError, match="No folder at"):
        scan_folder(tmp_path / "missing")
    (tmp_path / "only").mkdir()
    photo(0, (20, 20), 0).save(tmp_path / "only" / "a.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FolderError, match="at least two classes.*empty: empty folder"):
        scan_folder(tmp_path)


def test_the_cli_trains_on_a_hostile_folder_and_names_every_skipped_file(hostile, tmp_path, capsys):
    root, expected = hostile
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(root), "--epochs", "2", "--batch-size", "8", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for path, reason in expected["skipped"].items():
        assert f"{path} ({reason}" in err, path
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["classes"] == ["cats", "dogs"]
    split = json.loads((out / "split.json").read_text())
    assert sorted(split["train"] + split["val"] + split["test"]) == expected["usable"]  # every usable image
    health = json.loads((out / "health.json").read_text())
    assert sum(health["counts"]) == len(expected["usable"])
    assert main(["data", str(root)]) == 0
    report = capsys.readouterr().out
    assert "Skipped (cannot be used): 5" in report and "dogs/copy_of_plain0.png = dogs/plain0.png" in report


def test_the_split_follows_each_files_content_and_is_kept_when_the_folder_is_unchanged(tmp_path):
    root = write_photo_folder(tmp_path / "pokemon", per_class=40, classes=3)
    scan = scan_folder(root)
    split = split_folder(scan)
    assert not (set(split.train) & set(split.val) or set(split.train) & set(split.test) or set(split.val) & set(split.test))
    assert sorted(split.train + split.val + split.test) == list(range(120))
    for part, share in (("train", 0.6), ("val", 0.2), ("test", 0.2)):  # 60/20/20 up to a binomial spread
        counts = collections.Counter(scan.files[i].label for i in getattr(split, part))
        for label in range(3):  # 40 images a class: within 3.3 standard deviations of the share
            assert abs(counts[label] - 40 * share) <= 3.3 * math.sqrt(40 * share * (1 - share)), (part, label, counts)
    # by hand: test below 0.2, val below 0.4, of sha256("seed:sha1 of the file's bytes")
    for i, f in enumerate(scan.files):
        digest = hashlib.sha1((root / f.path).read_bytes()).hexdigest()
        u = int(hashlib.sha256(f"0:{digest}".encode()).hexdigest()[:15], 16) / 16 ** 15
        want = "test" if u < 0.2 else "val" if u < 0.4 else "train"
        assert i in getattr(split, want), f.path

    again = scan_folder(root)  # a second scan: nothing decoded again, the same split
    assert again.reused == 120 and again.changes == ""
    assert split_folder(again).paths(again) == split.paths(scan)
    assert split_folder(again, seed=1).paths(again) != split.paths(scan)

    photo(0, (50, 50), 12345).save(root / "bulbasaur" / "new.png")
    (root / "mewtwo" / "000.png").unlink()
    changed = scan_folder(root)
    assert "1 file added (bulbasaur/new.png)" in changed.changes and "1 file removed (mewtwo/000.png)" in changed.changes
    assert split_folder(changed).paths(changed) != split.paths(scan)


def test_duplicates_stay_together_and_leaks_are_flagged(tmp_path):
    root = write_photo_folder(tmp_path / "set", per_class=10, classes=2)
    originals = sorted((root / "bulbasaur").iterdir())
    for i, original in enumerate(originals[:6]):  # the same picture filed under both classes: unavoidable leaks
        shutil.copy(original, root / "charmander" / f"dup{i}{original.suffix}")
    shutil.copy(root / "bulbasaur" / "002.png", root / "bulbasaur" / "again.png")  # a duplicate within a class
    bundle = load_folder(root, size=32)
    report = bundle.health
    split = {name: set(bundle.split_files[name]) for name in ("train", "val", "test")}
    where = lambda p: next(n for n, files in split.items() if p in files)  # noqa: E731
    assert where("bulbasaur/again.png") == where("bulbasaur/002.png")  # kept in one split
    by_hand = [g for g in report.duplicates if {"train", "test"} <= {where(p) for p in g}]
    assert sorted(map(sorted, report.leaks)) == sorted(map(sorted, by_hand))
    assert len(report.duplicates) == 6


def test_health_figures_and_normalisation(tmp_path):
    root = write_photo_folder(tmp_path / "set", per_class=9, classes=2)
    (root / "mewtwo").mkdir()
    for i in range(3):
        photo(2, (64, 32), 500 + i).save(root / "mewtwo" / f"{i}.png")
    bundle = load_folder(root, size=24)
    report = bundle.health
    assert report.counts == [9, 9, 3] and report.imbalance == pytest.approx(3.0)
    train = bundle.train.images.double() / 255  # what the network is fed, as uint8 in the bundle
    assert train.shape[1:] == (3, 24, 24)
    assert list(report.mean) == pytest.approx(train.mean((0, 2, 3)).tolist(), abs=1e-6)
    assert list(bundle.mean) == list(report.mean)
    sizes = [Image.open(p).size for p in root.rglob("*.*")]
    assert report.sizes["max_aspect"] == pytest.approx(max(w / h for w, h in sizes))
    assert report.sizes["min_w"] == min(w for w, _ in sizes) and report.sizes["max_h"] == max(h for _, h in sizes)


def test_the_decoded_folder_is_cached(tmp_path, monkeypatch):
    root = write_photo_folder(tmp_path / "set", per_class=5, classes=2)
    first = load_folder(root, size=16)
    from workbench.core.data import cache

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(cache, "decode_file", no_decoding)
    monkeypatch.setattr("workbench.core.data.image_folder.decode", no_decoding)
    second = load_folder(root, size=16)
    assert torch.equal(first.train.images, second.train.images)


def test_a_set_beyond_the_memory_budget_streams_from_disk(tmp_path):
    root = write_photo_folder(tmp_path / "set", per_class=5, classes=2)
    in_memory = load_folder(root, size=16)
    streamed = load_folder(root, size=16, memory_budget=100)
    assert not hasattr(streamed.train, "images")
    images = torch.stack([streamed.train[i][0] for i in range(len(streamed.train))])
    assert torch.equal(images, in_memory.train.images)


def test_augmentation_draws_per_image_and_leaves_evaluation_alone():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 16, 16).repeat(16, 1, 1, 1)  # one image sixteen times
    for preset in ("flip_crop", "pokemon", "cifar", "color_jitter"):
        aug = BatchAugment(preset).train()
        out = aug(x)
        distinct = {tuple(o.flatten()[:40].tolist()) for o in out}
        assert len(distinct) > 4, preset  # each copy got its own transform
        assert torch.equal(aug.eval()(x), x)
    # Flips are drawn per image too: a picture dark on the left comes out flipped in some copies only.
    halves = torch.zeros(32, 1, 16, 16)
    halves[..., 8:] = 1.0
    for preset in ("flip_crop", "cifar", "color_jitter"):
        out = BatchAugment(preset).train()(halves)
        flipped = out[..., :4].mean((1, 2, 3)) > out[..., -4:].mean((1, 2, 3))
        assert 0 < int(flipped.sum()) < 32, preset
    # CIFAR's pad-4 crop moves by whole pixels: every value is an input value or padding.
    out = BatchAugment("cifar").train()(x)
    assert set(out.unique().tolist()) <= set(x.unique().tolist()) | {0.0}
    with pytest.raises(ValueError, match="Unknown augmentation 'warp'"):
        BatchAugment("warp")


def test_validation_is_never_augmented(tmp_path, small_digits):
    from reference import accuracy_by_hand
    from workbench.core.train.checkpointing import build_from_checkpoint, load_checkpoint
    from workbench.core.train import TrainConfig, Trainer
    from workbench.core.runs import RunStore

    Trainer(TrainConfig(epochs=1, augment="flip_crop"), [], run_dir=tmp_path / "r", bundle=small_digits).run()
    assert json.loads((tmp_path / "r" / "config.json").read_text())["augment"] == "flip_crop"
    last = load_checkpoint(tmp_path / "r" / "last.pt")
    val = accuracy_by_hand(build_from_checkpoint(last), small_digits.val, (32, 32), small_digits.mean, small_digits.std)
    assert val == pytest.approx(RunStore.read_metrics(tmp_path / "r")[-1]["val_acc"], abs=1e-6)


def test_a_dropped_image_is_seen_as_the_training_set_saw_it(tmp_path):
    """The window decodes a dropped file exactly as the folder's training images were decoded."""
    from workbench.core.data import image_to_tensor

    root = write_photo_folder(tmp_path / "set", per_class=10, classes=2)
    bundle = load_folder(root, size=24)
    assert bundle.crop
    for i, rel in enumerate(bundle.split_files["train"]):
        dropped = image_to_tensor(root / rel, 3, (24, 24), crop=bundle.crop)
        assert torch.equal((dropped * 255).round().byte(), bundle.train.images[i]), rel
