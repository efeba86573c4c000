"""Datasets: the types and registry (``registry``), their sources (``sources``: bundled,
torchvision, image folders), one decoder (``decode``), image → network input (``transforms``),
folder scan and split, cache, health report, augmentation and batches.

The names below load their modules on first use (PEP 562), so ``workbench.core.data.choices``
and the others that need no torch can be imported while torch is still loading."""

from ..lazy import exports

_WHERE = {
    "DataBundle": "registry", "DatasetError": "registry", "DatasetInfo": "registry", "ImageTensorDataset": "registry",
    "default_data_root": "registry", "get_dataset_info": "sources", "is_folder_dataset": "sources",
    "list_datasets": "sources", "stratified_split": "registry", "DEFAULT_IMAGE_SIZE": "sources",
    "load_dataset": "sources", "load_folder": "sources", "Preprocess": "transforms", "image_to_tensor": "transforms",
}
__all__ = sorted(_WHERE)


__getattr__, __dir__ = exports(__name__, _WHERE, globals())
