"""Datasets: the types and registry (``registry``), their sources (``sources``: bundled,
torchvision, image folders), one decoder (``decode``), image → network input (``transforms``),
folder scan and split, cache, health report, augmentation and batches.

The names below load their modules on first use (PEP 562), so ``workbench.core.data.choices``
and the others that need no torch can be imported while torch is still loading."""

from importlib import import_module

_WHERE = {
    "DataBundle": "registry", "DatasetError": "registry", "DatasetInfo": "registry", "ImageTensorDataset": "registry",
    "default_data_root": "registry", "get_dataset_info": "sources", "is_folder_dataset": "sources",
    "list_datasets": "sources", "stratified_split": "registry", "DEFAULT_IMAGE_SIZE": "sources",
    "load_dataset": "sources", "load_folder": "sources", "Preprocess": "transforms", "image_to_tensor": "transforms",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
