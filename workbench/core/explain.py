"""Attribution through the one predictor: an image (a file, a photo already prepared, or a dataset's tensor)
reaches the network exactly as for a prediction, and the map comes back at the network's input, ready to be
laid over the photo as dropped. Used by the window's Grad-CAM view and by ``cnn-workbench explain``."""

from __future__ import annotations

import torch

from .data.transforms import Prepared
from .inspect.attribution import CAM_METHODS, Attribution, cam_maps, explain
from .inspect.hooks import eval_mode, first_tensor
from .predict import Predictor

__all__ = ["class_index", "explain_classes", "explain_image", "imagenet_predictor", "network_input", "test_batches"]


def network_input(predictor: Predictor, image: torch.Tensor | Prepared) -> torch.Tensor:
    """``1×C×H×W``: the normalised input the predictor gives the network for ``image``."""
    tensor = image.tensor if isinstance(image, Prepared) else image
    return predictor.prepare(tensor).unsqueeze(0)


def class_index(predictor: Predictor, which: str | int) -> int:
    """A class given by name or by number."""
    if isinstance(which, int) or (isinstance(which, str) and which.isdigit() and which not in predictor.classes):
        index = int(which)
        if not 0 <= index < len(predictor.classes):
            raise ValueError(f"class {index} is out of range: this model has {len(predictor.classes)} classes")
        return index
    if which not in predictor.classes:
        shown = ", ".join(predictor.classes[:12]) + (" ..." if len(predictor.classes) > 12 else "")
        raise ValueError(f"{which!r} is not one of the model's classes ({shown})")
    return predictor.classes.index(which)


@torch.no_grad()
def predicted(predictor: Predictor, x: torch.Tensor) -> int:
    with eval_mode(predictor.model):
        return int(first_tensor(predictor.model(x))[0].argmax())


def explain_image(predictor: Predictor, image: torch.Tensor | Prepared, method: str = "gradcam",
                  target: int | None = None, layer: str | None = None, **options) -> Attribution:
    """``method``'s map of ``image`` for class ``target`` (default: the predicted class)."""
    x = network_input(predictor, image)
    if target is None:
        target = predicted(predictor, x)
    if method not in CAM_METHODS:
        tensor = image.tensor if isinstance(image, Prepared) else image
        options.setdefault("baseline", predictor.prepare(torch.zeros_like(tensor)).unsqueeze(0))
    return explain(predictor.model, x, target, method, layer, **options)


def explain_classes(predictor: Predictor, image: torch.Tensor | Prepared, targets: list[int],
                    method: str = "gradcam", layer: str | None = None) -> list[Attribution]:
    """CAMs of one image for several classes, from one forward pass."""
    maps = cam_maps(predictor.model, network_input(predictor, image), targets, [layer] if layer else None, method)
    return next(iter(maps.values()))


def test_batches(predictor: Predictor, dataset, batch_size: int = 64):
    """``(indices, images, labels)`` of a dataset in order, ``batch_size`` at a time, read by the loader evaluation
    uses, the images as the network takes them (resized, normalised, on its device)."""
    from .data.loader import IndexedBatches
    from .evaluate import to_float

    device = predictor.device
    preprocess = predictor.preprocess.to(device)
    for indices, images, labels in IndexedBatches(dataset, batch_size).batches(torch.arange(len(dataset))):
        yield indices, preprocess(to_float(images.to(device))), labels


def imagenet_predictor(name: str, pretrained: bool = False, weights_file: str | None = None) -> Predictor:
    """``name`` as an ImageNet classifier (1,000 classes, torchvision's input size and normalisation): with
    torchvision's weights when ``pretrained`` (downloaded once, or ``weights_file``), else untrained."""
    import models

    from .pretrained import fetch, load_weights_file, weights_for
    from .threads import seeded

    if pretrained or weights_file:
        info = weights_for(name)
        from torchvision.models import get_model_weights

        from models._pretrained import TORCHVISION_WEIGHTS

        classes = list(get_model_weights(TORCHVISION_WEIGHTS[name]).DEFAULT.meta["categories"])
        size, mean, std = info.crop_size, info.mean, info.std
        state = load_weights_file(weights_file or fetch(info))
    else:
        classes, size, mean, std, state = [str(i) for i in range(1000)], 224, (0.485, 0.456, 0.406), \
            (0.229, 0.224, 0.225), None
    with seeded():
        model = models.create_model(name, num_classes=1000, in_channels=3, input_size=size)
    if state is not None:
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise ValueError(f"the weights do not fit {name}: {str(exc).splitlines()[0]}") from exc
    return Predictor(model.eval(), classes, (3, size, size), (size, size), mean, std, crop=True)
