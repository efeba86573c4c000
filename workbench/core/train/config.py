"""What a run is asked to do: ``TrainConfig``, the papers' recipes and the per-family defaults.

A field left at ``None`` is filled, in this order, from the chosen recipe, from the model
family's defaults and from the general defaults (``resolve``). The resolved config is what the
run records in ``config.json``, so a run always says exactly how it was trained.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

from .. import catalog

from ..data.choices import MAX_IMAGE_SIZE, PRESETS, SPLIT_METHODS
from ..errors import UserError

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "multistep", "cosine", "onecycle")
AMP_MODES = ("off", "bf16", "fp16")
TRANSFER_MODES = ("finetune", "extract")


class ConfigError(UserError, ValueError):
    """A setting that cannot work; the message names the setting and the bad value."""


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    source: str
    """The paper (and section) the numbers come from."""
    settings: dict
    """TrainConfig fields. ``max_steps`` and ``milestone_steps`` are in iterations, as the
    paper gives them; they become epochs once the training set's size is known."""
    label: str = ""
    """A name short enough for a picker ("ResNet, CIFAR (2015)"); ``title`` names the paper's authors."""


RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("he2015-cifar", "He et al. 2015, CIFAR",
           "Deep Residual Learning for Image Recognition, Sec. 4.2: SGD, batch 128, lr 0.1 divided by 10 at 32k and "
           "48k iterations, stop at 64k, weight decay 1e-4, momentum 0.9, 4-pixel padding + random crop + flip",
           dict(optimizer="sgd", lr=0.1, momentum=0.9, nesterov=False, weight_decay=1e-4, batch_size=128,
                schedule="multistep", milestone_steps=(32000, 48000), gamma=0.1, max_steps=64000, augment="cifar",
                warmup=0.0, label_smoothing=0.0), label="ResNet, CIFAR (2015)"),
    Recipe("he2015-imagenet", "He et al. 2015, ImageNet (torchvision reference)",
           "Sec. 3.4: SGD, batch 256, lr 0.1 divided by 10 every 30 epochs, weight decay 1e-4, momentum 0.9, 90 epochs",
           dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4, batch_size=256, schedule="step",
                step_size=30, gamma=0.1, epochs=90, augment="flip_crop"), label="ResNet, ImageNet (2015)"),
    Recipe("krizhevsky2012", "Krizhevsky et al. 2012 (AlexNet)",
           "Sec. 5: SGD, batch 128, momentum 0.9, weight decay 5e-4, lr 0.01 divided by 10 three times in 90 epochs",
           dict(optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=5e-4, batch_size=128, schedule="step",
                step_size=30, gamma=0.1, epochs=90, augment="flip_crop"), label="AlexNet (2012)"),
    Recipe("simonyan2014", "Simonyan & Zisserman 2014 (VGG)",
           "Sec. 3.1: SGD, batch 256, momentum 0.9, weight decay 5e-4, lr 0.01 divided by 10 three times, 74 epochs",
           dict(optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=5e-4, batch_size=256, schedule="multistep",
                milestones=(30.0, 50.0, 65.0), gamma=0.1, epochs=74, augment="flip_crop"), label="VGG (2014)"),
    Recipe("huang2016-cifar", "Huang et al. 2016, CIFAR (DenseNet)",
           "Sec. 4.2: SGD with Nesterov momentum 0.9, batch 64, lr 0.1 divided by 10 at 50% and 75% of 300 epochs, "
           "weight decay 1e-4",
           dict(optimizer="sgd", lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4, batch_size=64,
                schedule="multistep", milestones=(150.0, 225.0), gamma=0.1, epochs=300, augment="cifar"), label="DenseNet, CIFAR (2016)"),
    Recipe("zagoruyko2016-cifar", "Zagoruyko & Komodakis 2016, CIFAR (WideResNet)",
           "Sec. 3: SGD with Nesterov momentum 0.9, batch 128, lr 0.1 multiplied by 0.2 at epochs 60, 120 and 160 "
           "of 200, weight decay 5e-4",
           dict(optimizer="sgd", lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4, batch_size=128,
                schedule="multistep", milestones=(60.0, 120.0, 160.0), gamma=0.2, epochs=200, augment="cifar"), label="WideResNet, CIFAR (2016)"),
    Recipe("modern-short", "A modern short schedule",
           "Not from one paper: AdamW, one-cycle schedule, label smoothing 0.1, no decay on norms and biases; "
           "a good first try on a small dataset",
           dict(optimizer="adamw", lr=3e-3, weight_decay=0.05, decay_norm_and_bias=False, schedule="onecycle",
                label_smoothing=0.1), label="Modern short schedule"),
)}

FAMILY_DEFAULTS: dict[str, dict] = {
    # Measured on the digits (2 epochs, batch 32; chance is 0.1): VGG-11 reaches 0.19 with Adam at
    # 1e-3 and 0.11 with the paper's SGD at 0.01 (both too hot for a plain 11-layer stack without
    # batch normalisation over 78 steps), 0.36 with Adam at 1e-4; AlexNet 0.82 with Adam at 1e-4.
    "LeNet": dict(optimizer="adam", lr=1e-3, weight_decay=0.0),
    "AlexNet": dict(optimizer="adam", lr=1e-4, weight_decay=0.0),
    "VGG": dict(optimizer="adam", lr=1e-4, weight_decay=0.0),
    "NIN": dict(optimizer="adam", lr=1e-4, weight_decay=0.0),
}
"""Families not listed use ``BN_DEFAULTS``: they all normalise their batches, and Adam at 1e-3
trains them quickly on small sets (the papers' SGD recipes are one ``--recipe`` away)."""
BN_DEFAULTS = dict(optimizer="adam", lr=1e-3, weight_decay=0.0)

GENERAL_DEFAULTS = dict(epochs=10, batch_size=32, optimizer="adam", lr=1e-3, momentum=0.9, nesterov=False,
                        weight_decay=0.0, decay_norm_and_bias=True, schedule="constant", step_size=30.0,
                        milestones=(), gamma=0.1, warmup=0.0, label_smoothing=0.0, augment="none")


@dataclass
class TrainConfig:
    model: str = "lenet5"
    dataset: str = "digits"
    recipe: str | None = None
    """A key of ``RECIPES``; its settings fill the fields left at ``None``."""
    epochs: int | None = None
    batch_size: int | None = None
    """Per process: under torchrun every process takes a batch of this size."""
    optimizer: str | None = None
    """``sgd``, ``adam`` or ``adamw``."""
    lr: float | None = None
    momentum: float | None = None
    nesterov: bool | None = None
    weight_decay: float | None = None
    decay_norm_and_bias: bool | None = None
    """``False`` keeps weight decay off BatchNorm weights and biases."""
    schedule: str | None = None
    """``constant``, ``step`` (× gamma every ``step_size`` epochs), ``multistep`` (× gamma at each
    of ``milestones``, in epochs), ``cosine`` or ``onecycle``. Applied every iteration."""
    step_size: float | None = None
    milestones: tuple[float, ...] | None = None
    gamma: float | None = None
    warmup: float | None = None
    """Epochs of linear warm-up from 1 % of the learning rate (not with ``onecycle``, which has its own)."""
    max_steps: int | None = None
    """Stop after this many iterations even if epochs remain (the He et al. recipe stops at 64k)."""
    label_smoothing: float | None = None
    clip: float = 0.0
    """Clip the gradients' global norm to this value; 0 turns clipping off."""
    amp: str = "off"
    """Mixed precision: ``off``, ``bf16`` (CUDA or CPU) or ``fp16`` (CUDA, with a gradient scaler)."""
    channels_last: bool = False
    compile: bool = False
    seed: int = 0
    device: str = "auto"
    input_size: int | None = None
    """Height and width the model sees; ``None`` picks one from the model and dataset."""
    data_root: str | None = None
    num_workers: int = 0
    """Loader processes for image folders read from disk; 0 picks up to 4."""
    augment: str | None = None
    """A preset of ``data.augment.PRESETS``; training batches only."""
    image_size: int | None = None
    """Image folders: the side of the square images they are decoded to (default 64, or the
    pretrained weights' crop size)."""
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)
    split_seed: int = 0
    split_method: str = "content"
    """How an image folder is split (``data.image_folder.SPLIT_METHODS``); runs recorded before
    the content split have none in their config.json and keep the ``rank`` split."""
    pretrained: bool = False
    transfer: str = "finetune"
    """With ``pretrained``: ``finetune`` (all layers; the backbone at a tenth of the head's
    learning rate) or ``extract`` (frozen backbone and BatchNorm statistics, new head only)."""
    weights: str | None = None
    """A weights file to start from instead of torchvision's download."""
    tensorboard: bool = True
    """Write TensorBoard event files when the ``tensorboard`` package is installed."""
    timelapse: bool = True
    """Keep the probe image's maps, the first kernels and Grad-CAM at every epoch (``timelapse/``)."""
    keep_epoch_weights: bool = False
    """With ``timelapse``: keep every epoch's whole weights too (``timelapse/weights-NNN.pt``)."""
    milestone_steps: tuple[int, ...] | None = field(default=None, repr=False)
    """Set by recipes written in iterations; ``resolve`` turns them into ``milestones``."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if isinstance(values.get("input_size"), list):  # a run's config.json records the resolved C×H×W
            values["input_size"] = values["input_size"][-1]
        if "split_method" not in values and "model" in data:  # a run from before the content split
            values["split_method"] = "rank"
        for key in ("split", "milestones", "milestone_steps"):
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        return cls(**values)


def _family(model: str) -> str | None:
    """The model's family from the catalogue (no torch); a model registered by the user's own code
    is looked up in the zoo's registry."""
    if not isinstance(model, str):
        return None
    card = catalog.model_card(model)
    if card is not None:
        return card.family
    import models

    return models.get_model_info(model).family if model in models.list_models() else None


def family_defaults(model: str) -> dict:
    return FAMILY_DEFAULTS.get(_family(model), BN_DEFAULTS)


def resolve(config: TrainConfig, train_size: int | None = None) -> TrainConfig:
    """A copy with every ``None`` filled (explicit > recipe > family > general) and checked.
    ``train_size`` (images per epoch, all processes together) turns iteration counts into epochs."""
    validate(config)
    recipe = RECIPES[config.recipe].settings if config.recipe else {}
    filled = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if value is None and f.name in recipe:
            value = recipe[f.name]
        if value is None and f.name in GENERAL_DEFAULTS:
            value = family_defaults(config.model).get(f.name, GENERAL_DEFAULTS[f.name])
        filled[f.name] = value
    out = replace(config, **filled)
    if train_size:
        steps = math.ceil(train_size / out.batch_size)
        if out.milestone_steps and config.milestones is None:
            out.milestones = tuple(round(s / steps, 4) for s in out.milestone_steps)
        if out.max_steps and config.epochs is None:
            out.epochs = math.ceil(out.max_steps / steps)
    out.milestone_steps = None
    validate(out)
    return out


def validate(config: TrainConfig) -> None:
    """Raise ``ConfigError`` naming the first bad value; ``None`` fields pass (they are filled later)."""
    def bad(name, value, want):
        raise ConfigError(f"{name} {value!r} is not valid: {want}")

    if _family(config.model) is None:
        close = [n for n in catalog.model_names() if str(config.model) in n]
        bad("model", config.model, f"expected one of the zoo ({', '.join(close[:8]) or 'see cnn-workbench models'})")
    if config.recipe is not None and config.recipe not in RECIPES:
        bad("recipe", config.recipe, f"expected one of {', '.join(RECIPES)}")
    for name in ("epochs", "batch_size"):
        value = getattr(config, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            bad(name, value, "expected a whole number of at least 1")
    for name in ("input_size", "image_size", "max_steps"):
        value = getattr(config, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            bad(name, value, "expected a whole number of at least 1")
    if config.input_size is not None and config.input_size < 8:
        bad("input_size", config.input_size, "expected at least 8 pixels")
    for name in ("input_size", "image_size"):
        value = getattr(config, name)
        if isinstance(value, int) and value > MAX_IMAGE_SIZE:
            bad(name, value, f"expected at most {MAX_IMAGE_SIZE} pixels (the largest network input of the zoo "
                             f"is 299; one {value}x{value} image alone would take {3 * value * value * 4 / 1e9:.1f} GB)")
    if config.lr is not None and not (math.isfinite(config.lr) and config.lr > 0):
        bad("lr", config.lr, "expected a learning rate above 0")
    for name in ("momentum", "gamma", "label_smoothing"):
        value = getattr(config, name)
        if value is not None and not 0 <= value <= 1 and not (name == "gamma" and 0 < value):
            bad(name, value, "expected a value from 0 to 1")
    if config.label_smoothing is not None and config.label_smoothing >= 1:
        bad("label_smoothing", config.label_smoothing, "expected a value below 1")
    for name in ("weight_decay", "warmup", "clip", "step_size"):
        value = getattr(config, name)
        if value is not None and not (math.isfinite(value) and value >= 0):
            bad(name, value, "expected a number of at least 0")
    if config.step_size is not None and config.step_size <= 0:
        bad("step_size", config.step_size, "expected a number of epochs above 0")
    if config.milestones is not None and any(not m > 0 for m in config.milestones):
        bad("milestones", config.milestones, "expected epochs above 0")
    if config.optimizer is not None and config.optimizer not in OPTIMIZERS:
        bad("optimizer", config.optimizer, f"expected one of {', '.join(OPTIMIZERS)}")
    if config.schedule is not None and config.schedule not in SCHEDULES:
        bad("schedule", config.schedule, f"expected one of {', '.join(SCHEDULES)}")
    if config.amp not in AMP_MODES:
        bad("amp", config.amp, f"expected one of {', '.join(AMP_MODES)}")
    if config.transfer not in TRANSFER_MODES:
        bad("transfer", config.transfer, f"expected one of {', '.join(TRANSFER_MODES)}")
    if config.augment is not None and config.augment not in PRESETS:
        bad("augment", config.augment, f"expected one of {', '.join(PRESETS)}")
    if config.num_workers < 0:
        bad("num_workers", config.num_workers, "expected 0 or more")
    if len(config.split) != 3 or min(config.split) < 0 or config.split[0] <= 0:
        bad("split", config.split, "expected three fractions train/val/test with train above 0")
    if min(config.split[1:]) <= 0:
        bad("split", config.split, "validation and test both need a share (without validation there is no best "
                                   "checkpoint, without test no test score), such as 60/20/20")
    if config.split_method not in SPLIT_METHODS:
        bad("split_method", config.split_method, f"expected one of {', '.join(SPLIT_METHODS)}")
    if config.schedule == "onecycle" and config.warmup:
        bad("warmup", config.warmup, "the one-cycle schedule warms up by itself; leave warm-up at 0")
