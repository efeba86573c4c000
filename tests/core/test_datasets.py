import collections

import numpy as np

import pytest
import torch
from PIL import Image

from reference import split_tensors
from workbench.core.data import DatasetError, Preprocess, image_to_tensor, load_dataset, stratified_split


def _source_digits():
    """The bundled file read here, independently of the loader: 64 pixels (0..16) and the label."""
    import csv
    import gzip

    from resources import resource_path

    with gzip.open(resource_path("data", "digits.csv.gz"), "rt") as fh:
        rows = [[int(v) for v in row] for row in csv.reader(fh) if row]
    return [(tuple(r[:64]), r[64]) for r in rows]


def _as_source_rows(split):
    images, labels = split_tensors(split)
    pixels = (images.reshape(len(images), 64) * 16).round().int().tolist()
    return [(tuple(p), int(y)) for p, y in zip(pixels, labels.tolist())]


def test_digits_is_bundled_and_split_fixed_and_stratified(digits):
    sizes = len(digits.train), len(digits.val), len(digits.test)
    assert sum(sizes) == 1797 and sizes == (1248, 270, 279)
    assert digits.classes == [str(d) for d in range(10)]
    assert digits.in_channels == 1 and digits.native_size == (8, 8)
    image, label = digits.train[0]
    assert image.shape == (1, 8, 8) and 0.0 <= image.min() and image.max() <= 1.0 and 0 <= label < 10
    for split in (digits.train, digits.val, digits.test):
        counts = collections.Counter(int(y) for y in split.tensors[1])
        share = {c: n / len(split) for c, n in counts.items()}
        assert set(counts) == set(range(10)) and max(share.values()) - min(share.values()) < 0.03
    again = load_dataset("digits")
    for a, b in ((again.train, digits.train), (again.val, digits.val), (again.test, digits.test)):
        assert torch.equal(a.tensors[0], b.tensors[0]) and torch.equal(a.tensors[1], b.tensors[1])

    # Every source row lands in exactly one split, with its own label: the three splits are a
    # partition of the file, so no split (validation included) is built from another's images.
    source = collections.Counter(_source_digits())
    rows = {name: _as_source_rows(split) for name, split in
            (("train", digits.train), ("val", digits.val), ("test", digits.test))}
    assert collections.Counter(rows["train"] + rows["val"] + rows["test"]) == source
    # A few digits are pixel-identical in the source; apart from those, the splits share no image.
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        shared = {p for p, _ in rows[a]} & {p for p, _ in rows[b]}
        assert len(shared) <= 3, (a, b, len(shared))


def test_digits_are_normalised_with_the_training_images_statistics(digits):
    """Mean and std come from the training split alone (hand arithmetic over its pixels), so no
    validation or test image leaks into preprocessing."""
    rows = _as_source_rows(digits.train)
    pixels = torch.tensor([p for p, _ in rows], dtype=torch.float64) / 16
    assert digits.mean[0] == pytest.approx(float(pixels.mean()), abs=1e-6)
    assert digits.std[0] == pytest.approx(float(pixels.std()), abs=1e-6)
    everything = torch.tensor([p for p, _ in _source_digits()], dtype=torch.float64) / 16
    assert abs(digits.mean[0] - float(everything.mean())) > 1e-5  # the two really differ


def test_stratified_split_fractions():
    labels = [0] * 40 + [1] * 20
    train, val, test = stratified_split(labels)
    assert sorted(train + val + test) == list(range(60))
    # 70/15/15 in slots of 20: 3 of every 20 samples of a class to test, 3 to val, 14 to train.
    assert [sum(labels[i] == c for i in test) for c in (0, 1)] == [6, 3]
    assert [sum(labels[i] == c for i in val) for c in (0, 1)] == [6, 3]
    assert [sum(labels[i] == c for i in train) for c in (0, 1)] == [28, 14]
    # Within a class: samples 0-2 of each block of 20 are test, 3-5 val, the rest train.
    assert test[:3] == [0, 1, 2] and val[:3] == [3, 4, 5] and train[0] == 6
    train, val, test = stratified_split([7] * 20, (0.9, 0.1, 0.0))
    assert (len(train), len(val), len(test)) == (18, 2, 0)


def test_unknown_dataset_says_which_exist():
    with pytest.raises(DatasetError, match="known datasets: digits"):
        load_dataset("imagenet-42")


def test_image_to_tensor_matches_the_dataset_form(tmp_path, digits):
    sample, _ = digits.test[0]
    # The digit drawn dark on white at 64×64, as a user might save it: inverted back to bright-on-dark.
    big = Image.fromarray(((1 - sample[0]) * 255).byte().numpy(), "L").resize((64, 64), Image.Resampling.NEAREST)
    path = tmp_path / "digit.png"
    big.convert("RGB").save(path)
    tensor = image_to_tensor(path, 1, (8, 8), dark_background=True)
    assert tensor.shape == (1, 8, 8)
    assert torch.allclose(tensor, sample, atol=1 / 255 + 1e-6)


def test_shrinking_averages_whole_blocks(tmp_path):
    """A 16×16 image brought to 8×8 becomes the mean of each 2×2 block (how the UCI digits were
    made from 32×32 bitmaps), not a sample of one pixel in four."""
    torch.manual_seed(0)
    pixels = torch.randint(0, 256, (16, 16), dtype=torch.uint8)
    tensor = image_to_tensor(Image.fromarray(pixels.numpy(), "L"), 1, (8, 8))
    blocks = pixels.float().view(8, 2, 8, 2).mean(dim=(1, 3)) / 255
    assert torch.allclose(tensor[0], blocks, atol=1 / 255 + 1e-6)


def test_exif_orientation_is_applied(tmp_path):
    """A phone photo stored sideways with an EXIF orientation is seen the way it is shown."""
    image = Image.new("L", (2, 1))
    image.putpixel((0, 0), 255)  # white on the left
    exif = Image.Exif()
    exif[0x0112] = 3  # orientation 3: rotate 180°
    path = tmp_path / "rotated.png"
    image.save(path, exif=exif)
    tensor = image_to_tensor(path, 1, (1, 2))
    assert tensor[0, 0].tolist() == [0.0, 1.0]  # white on the right once upright


def test_transparent_and_colour_images(tmp_path):
    rgba = Image.new("RGBA", (20, 10), (255, 0, 0, 0))
    t = image_to_tensor(rgba, 3, (5, 10))
    assert t.shape == (3, 5, 10) and torch.allclose(t, torch.ones_like(t))  # transparent → white ground
    t1 = image_to_tensor(rgba, 1, (8, 8), dark_background=True)
    assert torch.allclose(t1, torch.zeros_like(t1))  # transparent → dark ground


def test_bad_image_files_get_a_clear_error(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DatasetError, match="Cannot read broken.png"):
        image_to_tensor(bad, 1, (8, 8))
    with pytest.raises(DatasetError, match="Cannot read missing.png"):
        image_to_tensor(tmp_path / "missing.png", 1, (8, 8))


def test_preprocess_resizes_and_normalises():
    pre = Preprocess((32, 32), (0.5,), (0.25,))
    out = pre(torch.full((2, 1, 8, 8), 0.75))
    assert out.shape == (2, 1, 32, 32) and torch.allclose(out, torch.ones_like(out))
    # Bilinear, half-pixel centres, by hand: a 0-1 edge of width 2 becomes 0, 0.25, 0.75, 1.
    edge = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).view(1, 1, 2, 2)
    out = Preprocess((4, 4), (0.0,), (1.0,))(edge)
    assert torch.allclose(out[0, 0], torch.tensor([0.0, 0.25, 0.75, 1.0]).expand(4, 4))
    # Per-channel mean and std, each to its own channel.
    rgb = torch.tensor([0.2, 0.5, 0.8]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    out = Preprocess((2, 2), (0.1, 0.3, 0.5), (0.1, 0.2, 0.3))(rgb)
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([1.0, 1.0, 1.0]))


def test_mnist_from_idx_files(tmp_path):
    from fake_datasets import write_mnist

    write_mnist(tmp_path, n_train=200, n_test=50)
    bundle = load_dataset("mnist", root=tmp_path, download=False)
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (180, 20, 50)
    image, label = bundle.train[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32 and 0 <= image.min() <= image.max() <= 1
    assert bundle.classes == [str(d) for d in range(10)] and bundle.dark_background
    # Read the idx files here, by their format: train and val split the training file between them,
    # each image keeps its label, and test is the test file in order.
    raw = tmp_path / "MNIST" / "raw"

    def idx(prefix):
        images = np.frombuffer((raw / f"{prefix}-images-idx3-ubyte").read_bytes()[16:], np.uint8).reshape(-1, 28, 28)
        labels = np.frombuffer((raw / f"{prefix}-labels-idx1-ubyte").read_bytes()[8:], np.uint8)
        return [(img.tobytes(), int(y)) for img, y in zip(images, labels)]

    def pairs(split):
        images, labels = split_tensors(split)
        return [((img[0] * 255).round().byte().numpy().tobytes(), int(y)) for img, y in zip(images, labels)]

    train, val = pairs(bundle.train), pairs(bundle.val)
    assert sorted(train + val) == sorted(idx("train")) and not set(train) & set(val)
    assert pairs(bundle.test) == idx("t10k")


def test_cifar10_from_pickle_batches(tmp_path, monkeypatch):
    from fake_datasets import write_cifar10

    write_cifar10(tmp_path, monkeypatch, n_train=500, n_test=100)
    # download=True finds the verified files and fetches nothing.
    bundle = load_dataset("cifar10", root=tmp_path, download=True)
    # 50 images a class: slots 0-1 of every 20 go to val, 6 a class (real CIFAR-10: exactly 10 %).
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (440, 60, 100)
    assert bundle.classes[0] == "airplane" and bundle.in_channels == 3 and bundle.native_size == (32, 32)
    assert bundle.train[0][0].shape == (3, 32, 32)
    # CIFAR stores each image as 1,024 red, then green, then blue values, row by row.
    import pickle

    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "rb") as fh:
        batch = pickle.load(fh)
    images, labels = split_tensors(bundle.test)
    expected = torch.from_numpy(batch["data"]).view(-1, 3, 32, 32).float() / 255
    assert torch.allclose(images, expected) and labels.tolist() == batch["labels"]


def test_missing_dataset_without_network_says_what_to_do(tmp_path, monkeypatch):
    import urllib.request

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DatasetError, match="CIFAR-10.*into .*Connect to the internet once"):
        load_dataset("cifar10", root=tmp_path, download=True)
    with pytest.raises(DatasetError, match="MNIST.*is not in"):
        load_dataset("mnist", root=tmp_path, download=False)
