"""Training: the config and recipes, optimisers and schedules, the loop, its callbacks,
checkpoints, loggers and torchrun support."""

from .callbacks import Callback, EventListener
from .checkpointing import CheckpointError, build_from_checkpoint, check_compatible, load_checkpoint, save_checkpoint
from .config import RECIPES, ConfigError, TrainConfig, resolve
from .loop import MIN_INPUT, Trainer, TrainingFault, resolve_input_size, training_loss

__all__ = ["Callback", "CheckpointError", "ConfigError", "EventListener", "MIN_INPUT", "RECIPES", "TrainConfig",
           "Trainer", "TrainingFault", "build_from_checkpoint", "check_compatible", "load_checkpoint",
           "resolve", "resolve_input_size", "save_checkpoint", "training_loss"]
