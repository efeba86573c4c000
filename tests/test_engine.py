"""The engine, trained for real on the bundled digits."""

import json
import math

import pytest
import torch
from torch.utils.data import TensorDataset

import models
from workbench.core import devices
from workbench.core.checkpoints import CheckpointError, build_from_checkpoint, load_checkpoint, save_checkpoint
from workbench.core.datasets import DataBundle
from workbench.core.engine import TrainConfig, Trainer, evaluate
from workbench.core.datasets import Preprocess
from workbench.core.events import EpochEnded, RunFailed, RunFinished, RunStarted, StepEnded
from workbench.core.runstore import RunStore


def test_training_run_writes_a_complete_run_folder(tmp_path, digits):
    events = []
    run_dir = tmp_path / "run"
    summary = Trainer(TrainConfig(epochs=3), [events.append], run_dir=run_dir, bundle=digits).run()

    assert summary["status"] == "completed" and summary["epochs"] == 3
    kinds = [type(e) for e in events]
    assert kinds[0] is RunStarted and kinds[-1] is RunFinished
    assert kinds.count(EpochEnded) == 3
    assert kinds.count(StepEnded) == 3 * math.ceil(len(digits.train) / 32)
    assert {p.name for p in run_dir.iterdir()} == {"config.json", "metrics.csv", "best.pt", "last.pt", "summary.json"}

    on_disk = json.loads((run_dir / "summary.json").read_text())
    for key in ("model", "dataset", "epochs", "best_val_acc", "test_acc", "device", "seconds"):
        assert key in on_disk
    assert on_disk["model"] == "lenet5" and on_disk["dataset"] == "digits" and on_disk["device"] == "cpu"
    assert on_disk["test_acc"] > 0.85 and on_disk["best_val_acc"] > 0.85
    metrics = RunStore.read_metrics(run_dir)
    assert [row["epoch"] for row in metrics] == [1, 2, 3]
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"]
    assert max(row["val_acc"] for row in metrics) == pytest.approx(on_disk["best_val_acc"], abs=1e-6)

    # best.pt loads safely and reproduces the test accuracy the run reported.
    payload = load_checkpoint(run_dir / "best.pt")
    model = build_from_checkpoint(payload).eval()
    pre = Preprocess(payload["input_size"][1:], payload["mean"], payload["std"])
    loader = torch.utils.data.DataLoader(digits.test, batch_size=64)
    _, test_acc = evaluate(model, loader, pre, torch.device("cpu"))
    assert test_acc == pytest.approx(on_disk["test_acc"])
    assert "optimizer" in load_checkpoint(run_dir / "last.pt")


def test_stop_is_honoured_within_one_batch(tmp_path, digits):
    steps = []

    def stop_at_first_step(event):
        if isinstance(event, StepEnded):
            steps.append(event)
            trainer.request_stop()

    trainer = Trainer(TrainConfig(epochs=50), [stop_at_first_step], run_dir=tmp_path / "r", bundle=digits)
    summary = trainer.run()
    assert len(steps) == 1
    assert summary["status"] == "stopped" and summary["epochs"] == 0 and summary["test_acc"] is None
    assert RunStore.read_summary(tmp_path / "r")["status"] == "stopped"


def test_nan_loss_fails_the_run_with_a_clear_message(tmp_path, digits):
    poisoned = DataBundle("poison", digits.classes, 1, (8, 8),
                          TensorDataset(torch.full((8, 1, 8, 8), float("nan")), torch.zeros(8, dtype=torch.long)),
                          digits.val, digits.test, digits.mean, digits.std)
    events = []
    summary = Trainer(TrainConfig(epochs=1, dataset="poison"), [events.append], run_dir=tmp_path / "r",
                      bundle=poisoned).run()
    failed = [e for e in events if isinstance(e, RunFailed)]
    assert summary["status"] == "failed" and len(failed) == 1
    assert "loss became nan" in failed[0].message and "learning rate" in failed[0].message
    assert "Traceback" in failed[0].details


def test_unknown_dataset_fails_without_raising(tmp_path):
    events = []
    summary = Trainer(TrainConfig(dataset="nope"), [events.append], runs_root=tmp_path).run()
    assert summary["status"] == "failed" and "Unknown dataset 'nope'" in summary["error"]
    assert isinstance(events[-1], RunFailed)


def test_device_preference_order(monkeypatch):
    assert devices.pick_device("cpu").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert devices.available_devices()[0] == "cuda:0" and devices.pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert devices.available_devices() == ["mps", "cpu"]
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert devices.pick_device().type == "cpu"
    with pytest.raises(ValueError, match="CUDA was asked for"):
        devices.pick_device("cuda")


class NotAllowed:
    pass


def test_checkpoints_are_atomic_and_safe(tmp_path):
    model = models.create_model("lenet5", num_classes=10, in_channels=1)
    meta = dict(model="lenet5", num_classes=10, in_channels=1, input_size=[1, 32, 32], classes=list("0123456789"))
    path = save_checkpoint(tmp_path / "c.pt", {**meta, "state_dict": model.state_dict()})
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left behind
    rebuilt = build_from_checkpoint(load_checkpoint(path))
    assert all(torch.equal(a, b) for a, b in zip(rebuilt.state_dict().values(), model.state_dict().values()))

    torch.save({"format": "cnn-workbench/1", "evil": NotAllowed()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="cannot be loaded safely"):
        load_checkpoint(tmp_path / "evil.pt")
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not written by CNN Workbench"):
        load_checkpoint(tmp_path / "plain.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "junk.pt")
    wrong = {**meta, "model": "resnet18", "state_dict": model.state_dict()}
    with pytest.raises(CheckpointError, match="do not fit resnet18"):
        build_from_checkpoint(wrong)


def test_out_of_memory_fails_the_run_with_advice(tmp_path, digits):
    def run_out_of_memory(event):
        if isinstance(event, RunStarted):
            def boom(module, args):
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            trainer.model.register_forward_pre_hook(boom)

    events = []
    trainer = Trainer(TrainConfig(epochs=1, batch_size=64), [run_out_of_memory, events.append],
                      run_dir=tmp_path / "r", bundle=digits)
    summary = trainer.run()
    assert summary["status"] == "failed"
    assert "ran out of memory with batch size 64" in summary["error"] and "smaller batch size" in summary["error"]
    assert RunStore.read_summary(tmp_path / "r")["status"] == "failed"
    assert isinstance(events[-1], RunFailed)
