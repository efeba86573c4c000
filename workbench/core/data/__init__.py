"""Datasets: the types and registry (``registry``), their sources (``sources``: bundled,
torchvision, image folders), one decoder (``decode``), image → network input (``transforms``),
folder scan and split, cache, health report, augmentation and batches."""

from .registry import (DataBundle, DatasetError, DatasetInfo, ImageTensorDataset, default_data_root,
                       get_dataset_info, is_folder_dataset, list_datasets, stratified_split)
from .sources import DEFAULT_IMAGE_SIZE, load_dataset, load_folder
from .transforms import Preprocess, image_to_tensor

__all__ = ["DEFAULT_IMAGE_SIZE", "DataBundle", "DatasetError", "DatasetInfo", "ImageTensorDataset", "Preprocess",
           "default_data_root", "get_dataset_info", "image_to_tensor", "is_folder_dataset", "list_datasets",
           "load_dataset", "load_folder", "stratified_split"]
