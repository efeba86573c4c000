"""Training: the config and recipes, optimisers and schedules, the loop, its callbacks,
checkpoints, loggers and torchrun support.

The names below load their modules on first use (PEP 562): ``workbench.core.train.config`` needs
no torch, and the form reads it while torch loads."""

from ..lazy import exports

_WHERE = {
    "Callback": "callbacks", "EventListener": "callbacks", "CheckpointError": "checkpointing",
    "build_from_checkpoint": "checkpointing", "check_compatible": "checkpointing", "load_checkpoint": "checkpointing",
    "save_checkpoint": "checkpointing", "RECIPES": "config", "ConfigError": "config", "TrainConfig": "config",
    "resolve": "config", "Trainer": "loop", "training_loss": "loop", "MIN_INPUT": "setup", "build_model": "setup",
    "decode_size": "setup", "resolve_input_size": "setup", "TrainingFault": "..errors",
}
__all__ = sorted(_WHERE)


__getattr__, __dir__ = exports(__name__, _WHERE, globals())
