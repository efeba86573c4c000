"""Training: the config and recipes, optimisers and schedules, the loop, its callbacks,
checkpoints, loggers and torchrun support.

The names below load their modules on first use (PEP 562): ``workbench.core.train.config`` needs
no torch, and the form reads it while torch loads."""

from importlib import import_module

_WHERE = {
    "Callback": "callbacks", "EventListener": "callbacks", "CheckpointError": "checkpointing",
    "build_from_checkpoint": "checkpointing", "check_compatible": "checkpointing", "load_checkpoint": "checkpointing",
    "save_checkpoint": "checkpointing", "RECIPES": "config", "ConfigError": "config", "TrainConfig": "config",
    "resolve": "config", "Trainer": "loop", "training_loss": "loop", "MIN_INPUT": "setup", "build_model": "setup",
    "decode_size": "setup", "resolve_input_size": "setup",
}
__all__ = sorted([*_WHERE, "TrainingFault"])


def __getattr__(name: str):
    if name == "TrainingFault":
        from ..errors import TrainingFault as value
    elif name in _WHERE:
        value = getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
