"""The torchvision sets (MNIST, Fashion-MNIST, CIFAR-10/100): downloaded on first use into the
app's data folder, then a fixed stratified 90/10 train/val split of the official training set."""

from __future__ import annotations

from pathlib import Path

import torch

from ..registry import DataBundle, DatasetError, DatasetInfo, ImageTensorDataset, default_data_root, \
    get_dataset_info, register, stratified_split


KNOWN_CLASSES = {
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
}
"""torchvision's class names of the sets, known before their download (CIFAR-100's are numbered until then)."""


def _as_nchw_uint8(data) -> torch.Tensor:
    tensor = torch.as_tensor(data)
    if tensor.dim() == 3:  # N×H×W (MNIST)
        return tensor.unsqueeze(1).contiguous()
    return tensor.permute(0, 3, 1, 2).contiguous()  # N×H×W×C (CIFAR)


def _torchvision_loader(info_name: str, class_name: str, class_names=None):
    """Loader for a torchvision dataset: downloads on first use, then a fixed stratified 90/10
    train/val split of the official training set; the official test set is the test split."""

    def load(root=None, download=True) -> DataBundle:
        from torchvision import datasets as tv_datasets

        info = get_dataset_info(info_name)
        root = Path(root).expanduser() if root else default_data_root()
        cls = getattr(tv_datasets, class_name)
        try:
            root.mkdir(parents=True, exist_ok=True)
            train = cls(str(root), train=True, download=download)
            test = cls(str(root), train=False, download=download)
        except RuntimeError as exc:
            hint = ("it downloads on first use: check the internet connection"
                    if download else "download it first (Start in the window, or `cnn-workbench train`)")
            raise DatasetError(f"{info.title} is not in {root} ({exc}); {hint}.") from exc
        except Exception as exc:  # no network, a proxy, a full disk...
            raise DatasetError(
                f"Could not download {info.title} into {root}: {exc}. Connect to the internet once, "
                f"or copy the files there by hand."
            ) from exc
        images, labels = _as_nchw_uint8(train.data), torch.as_tensor(train.targets)
        train_idx, val_idx, _ = stratified_split(labels.tolist(), (0.9, 0.1, 0.0))
        pick = lambda idx: ImageTensorDataset(images[idx], labels[idx])  # noqa: E731
        classes = list(class_names) if class_names else [str(c) for c in train.classes]
        return DataBundle(
            name=info.name, classes=classes, in_channels=info.in_channels, native_size=info.native_size,
            train=pick(torch.tensor(train_idx)), val=pick(torch.tensor(val_idx)),
            test=ImageTensorDataset(_as_nchw_uint8(test.data), torch.as_tensor(test.targets)),
            mean=info.mean, std=info.std, dark_background=info.dark_background,
        )

    return load


for _name, _cls, _title, _desc, _ch, _size, _n, _mean, _std, _dark, _classes in (
    ("mnist", "MNIST", "MNIST (28×28)", "70,000 grey 28×28 handwritten digits; 11 MB download.",
     1, (28, 28), 10, (0.1307,), (0.3081,), True, [str(d) for d in range(10)]),
    ("fashion_mnist", "FashionMNIST", "Fashion-MNIST (28×28)", "70,000 grey 28×28 images of clothes (Zalando); 30 MB download.",
     1, (28, 28), 10, (0.2860,), (0.3530,), True, None),
    ("cifar10", "CIFAR10", "CIFAR-10 (32×32)", "60,000 colour images of 10 classes; 163 MB download.",
     3, (32, 32), 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), False, None),
    ("cifar100", "CIFAR100", "CIFAR-100 (32×32)", "60,000 colour images of 100 classes; 161 MB download.",
     3, (32, 32), 100, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), False, None),
):
    register(DatasetInfo(_name, _title, _desc, _ch, _size, _n, _mean, _std, True,
                         _torchvision_loader(_name, _cls, _classes), _dark, tuple(_classes or KNOWN_CLASSES.get(_name, ()))))
