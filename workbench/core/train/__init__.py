"""Training: the config and recipes, optimisers and schedules, the loop, its callbacks,
checkpoints, loggers and torchrun support."""

from .callbacks import Callback, EventListener
from .checkpointing import CheckpointError, build_from_checkpoint, check_compatible, load_checkpoint, save_checkpoint
from .config import RECIPES, ConfigError, TrainConfig, resolve
from ..errors import TrainingFault
from .loop import Trainer, training_loss
from .setup import MIN_INPUT, build_model, decode_size, resolve_input_size

__all__ = ["Callback", "CheckpointError", "ConfigError", "EventListener", "MIN_INPUT", "RECIPES", "TrainConfig",
           "Trainer", "TrainingFault", "build_from_checkpoint", "check_compatible", "load_checkpoint",
           "build_model", "decode_size", "resolve", "resolve_input_size", "save_checkpoint", "training_loss"]
