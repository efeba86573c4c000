"""The drop zone: one image dropped (or chosen) goes to the explorer; several files or a folder go to
the classify table. It shows the photo as it was dropped; the prediction view beside it shows what the
network is given."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFileDialog, QLabel

from .text import tip

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp *.pgm *.ppm)"


def tensor_to_pixmap(image: torch.Tensor, size: int) -> QPixmap:
    """A ``C×H×W`` tensor in [0, 1] as a pixmap scaled (blocky, to show real pixels) to ``size``."""
    array = (image.clamp(0, 1) * 255).byte()
    if array.shape[0] == 1:
        data = array[0].contiguous().numpy()
        qimage = QImage(data.data, data.shape[1], data.shape[0], data.strides[0], QImage.Format.Format_Grayscale8)
    else:
        data = array[:3].permute(1, 2, 0).contiguous().numpy()
        qimage = QImage(data.data, data.shape[1], data.shape[0], data.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(qimage.copy()).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                                  Qt.TransformationMode.FastTransformation)


def photo_to_pixmap(photo: Image.Image, size: int) -> QPixmap:
    """A PIL image (RGB or L) as a smoothly scaled pixmap at most ``size`` on a side."""
    rgb = photo.convert("RGB")
    data = rgb.tobytes()
    qimage = QImage(data, rgb.width, rgb.height, rgb.width * 3, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(qimage).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.SmoothTransformation)


def local_paths(mime) -> list[str]:
    return [url.toLocalFile() for url in (mime.urls() if mime.hasUrls() else []) if url.isLocalFile()]


def local_folder(mime) -> str | None:
    """The first local folder a drag carries (the window takes a dropped folder as the dataset)."""
    return next((path for path in local_paths(mime) if Path(path).is_dir()), None)


class DropZone(QLabel):
    """Takes image files dragged from the file manager (or picked with a click): one file is explored,
    several files or a folder are classified in a table."""

    imageDropped = Signal(str)
    filesDropped = Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setTextFormat(Qt.TextFormat.PlainText)  # a dropped file's name is the user's
        self.setAcceptDrops(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(130, 130)
        self.setWordWrap(True)
        self.setToolTip("Drop an image to explore it; drop several images or a folder to classify them all.\n"
                        "Or click to choose.")
        self._set_style(False)
        self.setText("Drop an image here\n(or click)\n\nseveral, or a folder:\nclassified in a table")

    def _set_style(self, hover: bool) -> None:
        colour = "#1f77b4" if hover else "#999"
        self.setStyleSheet(f"QLabel#dropZone {{ border: 2px dashed {colour}; border-radius: 8px; "
                           f"background: {'#eef5fb' if hover else '#fafafa'}; color: #555; }}")

    def dragEnterEvent(self, event) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
            self._set_style(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self._set_style(False)

    def dropEvent(self, event) -> None:
        self._set_style(False)
        paths = local_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.take(paths)

    def take(self, paths: list[str]) -> None:
        """One file: explored; more, or any folder: classified in the table."""
        if len(paths) == 1 and not Path(paths[0]).is_dir():
            self.imageDropped.emit(paths[0])
        elif paths:
            self.filesDropped.emit(list(paths))

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            paths, _ = QFileDialog.getOpenFileNames(self, "Classify images", "", IMAGE_FILTER)
            self.take(paths)

    def show_image(self, image: torch.Tensor, caption: str, photo: Image.Image | None = None) -> None:
        """The photo as dropped when there is one, else the image itself (a test image)."""
        self.setPixmap(photo_to_pixmap(photo, 124) if photo is not None else tensor_to_pixmap(image, 124))
        self.setToolTip(tip(caption))
