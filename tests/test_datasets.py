import collections

import pytest
import torch
from PIL import Image

from workbench.core.datasets import DatasetError, Preprocess, image_to_tensor, load_dataset, stratified_split


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
    # Disjoint: no image appears in two splits, and the split is the same on a second load.
    again = load_dataset("digits")
    assert torch.equal(again.test.tensors[0], digits.test.tensors[0])
    train = {tuple(x.flatten().tolist()) for x in digits.train.tensors[0]}
    test = {tuple(x.flatten().tolist()) for x in digits.test.tensors[0]}
    assert len(train & test) <= 3  # a few digits are pixel-identical duplicates in the source


def test_stratified_split_fractions():
    labels = [0] * 40 + [1] * 20
    train, val, test = stratified_split(labels)
    assert sorted(train + val + test) == list(range(60))
    assert [sum(labels[i] == c for i in test) for c in (0, 1)] == [6, 3]
    assert [sum(labels[i] == c for i in val) for c in (0, 1)] == [6, 3]


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


def test_mnist_from_idx_files(tmp_path):
    from fake_datasets import write_mnist

    write_mnist(tmp_path, n_train=200, n_test=50)
    bundle = load_dataset("mnist", root=tmp_path, download=False)
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (180, 20, 50)
    image, label = bundle.train[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32 and 0 <= image.min() <= image.max() <= 1
    assert bundle.classes == [str(d) for d in range(10)] and bundle.dark_background


def test_cifar10_from_pickle_batches(tmp_path, monkeypatch):
    from fake_datasets import write_cifar10

    write_cifar10(tmp_path, monkeypatch, n_train=500, n_test=100)
    # download=True finds the verified files and fetches nothing.
    bundle = load_dataset("cifar10", root=tmp_path, download=True)
    # 50 images a class: slots 0-1 of every 20 go to val, 6 a class (real CIFAR-10: exactly 10 %).
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (440, 60, 100)
    assert bundle.classes[0] == "airplane" and bundle.in_channels == 3 and bundle.native_size == (32, 32)
    assert bundle.train[0][0].shape == (3, 32, 32)


def test_missing_dataset_without_network_says_what_to_do(tmp_path, monkeypatch):
    import urllib.request

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DatasetError, match="CIFAR-10.*into .*Connect to the internet once"):
        load_dataset("cifar10", root=tmp_path, download=True)
    with pytest.raises(DatasetError, match="MNIST.*is not in"):
        load_dataset("mnist", root=tmp_path, download=False)
