"""The engine, trained for real on the bundled digits."""

import json
import math

import pytest
import torch
from torch.utils.data import TensorDataset

import models
from workbench.core import devices
from workbench.core.train.checkpointing import CheckpointError, build_from_checkpoint, load_checkpoint, save_checkpoint
from workbench.core.data import DataBundle
from workbench.core.train import TrainConfig, Trainer
from workbench.core.data import Preprocess
from workbench.core.events import EpochEnded, RunFailed, RunFinished, RunStarted, StepEnded
from workbench.core.runs import RunStore
from reference import accuracy_by_hand, loss_by_hand, preprocess_by_hand


def test_training_run_writes_a_complete_run_folder(tmp_path, digits):
    events = []
    run_dir = tmp_path / "run"
    summary = Trainer(TrainConfig(epochs=3), [events.append], run_dir=run_dir, bundle=digits).run()

    assert summary["status"] == "completed" and summary["epochs"] == 3
    kinds = [type(e) for e in events]
    assert kinds[0] is RunStarted and kinds[-1] is RunFinished
    assert kinds.count(EpochEnded) == 3
    steps_per_epoch = -(-1248 // 32)  # 1,248 training digits in batches of 32: 39 steps
    assert kinds.count(StepEnded) == 3 * steps_per_epoch
    assert {p.name for p in run_dir.iterdir()} == {"config.json", "metrics.csv", "steps.csv", "best.pt", "last.pt",
                                                   "val_eval.json", "test_eval.json", "summary.json", "tensorboard",
                                                   "dataset.json", "run.lock", "init_filters.pt", "timelapse"}
    from workbench.core.train.checkpointing import load_initial_filters
    assert set(load_initial_filters(run_dir)) == {"c1.conv", "c3.conv", "c5.conv"}  # the kernels it started from

    on_disk = json.loads((run_dir / "summary.json").read_text())
    for key in ("model", "dataset", "epochs", "best_val_acc", "test_acc", "device", "seconds"):
        assert key in on_disk
    assert on_disk["model"] == "lenet5" and on_disk["dataset"] == "digits" and on_disk["device"] == "cpu"
    assert on_disk["test_acc"] > 0.85 and on_disk["best_val_acc"] > 0.85
    metrics = RunStore.read_metrics(run_dir)
    assert [row["epoch"] for row in metrics] == [1, 2, 3]
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"]
    assert max(row["val_acc"] for row in metrics) == pytest.approx(on_disk["best_val_acc"], abs=1e-6)

    for row in metrics:
        steps = [e for e in events if isinstance(e, StepEnded) and e.epoch == row["epoch"]]
        assert [e.step for e in steps] == list(range(1, steps_per_epoch + 1))

    # The checkpoints hold what they claim, checked by evaluating them by hand.
    config = json.loads((run_dir / "config.json").read_text())
    assert config["input_size"] == [1, 32, 32] and config["classes"] == digits.classes
    last = load_checkpoint(run_dir / "last.pt")
    assert last["epoch"] == 3 and "optimizer" in last
    size = last["input_size"][1:]
    val_last = accuracy_by_hand(build_from_checkpoint(last), digits.val, size, digits.mean, digits.std)
    assert val_last == pytest.approx(metrics[-1]["val_acc"], abs=1e-6)
    loss_last = loss_by_hand(build_from_checkpoint(last), digits.val, size, digits.mean, digits.std)
    assert loss_last == pytest.approx(metrics[-1]["val_loss"], abs=1e-4)
    best = load_checkpoint(run_dir / "best.pt")
    assert best["epoch"] == on_disk["best_epoch"] and best["classes"] == digits.classes
    assert list(best["mean"]) == pytest.approx(digits.mean) and list(best["std"]) == pytest.approx(digits.std)
    model = build_from_checkpoint(best)
    assert accuracy_by_hand(model, digits.val, size, digits.mean, digits.std) == pytest.approx(
        on_disk["best_val_acc"], abs=1e-6)
    assert accuracy_by_hand(model, digits.test, size, digits.mean, digits.std) == pytest.approx(
        on_disk["test_acc"], abs=1e-6)


def test_the_test_pass_uses_the_best_weights_not_the_last(tmp_path, digits):
    """A run whose last epoch is its worst: the weights are wiped after the final training step,
    so validation collapses in epoch 3 and only the best epoch's weights score well on test."""
    steps_per_epoch = -(-1248 // 32)

    def wipe_after_last_step(event):
        if isinstance(event, StepEnded) and event.epoch == 3 and event.step == steps_per_epoch:
            with torch.no_grad():
                for p in trainer.model.parameters():
                    p.zero_()

    events = []
    trainer = Trainer(TrainConfig(epochs=3), [wipe_after_last_step, events.append], run_dir=tmp_path / "r",
                      bundle=digits)
    summary = trainer.run()
    epochs = [e for e in events if isinstance(e, EpochEnded)]
    assert epochs[-1].val_acc < 0.2 and not epochs[-1].is_best  # all logits equal: one class for every image
    assert summary["best_epoch"] in (1, 2) and summary["best_val_acc"] > 0.85
    assert summary["best_val_acc"] == pytest.approx(max(e.val_acc for e in epochs))
    assert summary["test_acc"] > 0.85
    best = load_checkpoint(tmp_path / "r" / "best.pt")
    assert best["epoch"] == summary["best_epoch"]
    size = best["input_size"][1:]
    assert accuracy_by_hand(build_from_checkpoint(best), digits.test, size, digits.mean, digits.std) == \
        pytest.approx(summary["test_acc"], abs=1e-6)
    assert load_checkpoint(tmp_path / "r" / "last.pt")["epoch"] == 3


def test_epoch_figures_are_means_over_images(tmp_path, small_digits):
    """An epoch's train loss and accuracy are the means over its images of what each step reported:
    320 images in batches of 50 make six full batches and one of 20, which counts for 20, not 50."""
    events = []
    Trainer(TrainConfig(epochs=2, batch_size=50), [events.append], run_dir=tmp_path / "r", bundle=small_digits).run()
    sizes = [50] * 6 + [20]
    for row in RunStore.read_metrics(tmp_path / "r"):
        steps = [e for e in events if isinstance(e, StepEnded) and e.epoch == row["epoch"]]
        assert len(steps) == 7 and all(e.steps_per_epoch == 7 for e in steps)
        assert row["train_loss"] == pytest.approx(sum(e.loss * n for e, n in zip(steps, sizes)) / 320, abs=1e-5)
        assert row["train_acc"] == pytest.approx(sum(e.accuracy * n for e, n in zip(steps, sizes)) / 320, abs=1e-5)


def test_same_seed_same_run_other_seed_other_run(tmp_path, small_digits):
    def metrics(seed, name):
        Trainer(TrainConfig(epochs=2, seed=seed), [], run_dir=tmp_path / name, bundle=small_digits).run()
        return [(r["train_loss"], r["val_loss"]) for r in RunStore.read_metrics(tmp_path / name)]

    first = metrics(0, "a")
    assert metrics(0, "b") == first
    assert metrics(1, "c") != first

    def first_loss(seed):
        events = []
        Trainer(TrainConfig(epochs=1, batch_size=320, seed=seed), [events.append], run_dir=tmp_path / f"w{seed}",
                bundle=small_digits).run()
        return next(e.loss for e in events if isinstance(e, StepEnded))

    # One batch of all 320 images: its mean loss cannot depend on the order, only on the initial
    # weights, which the seed draws.
    assert abs(first_loss(0) - first_loss(1)) > 1e-4


def test_batches_are_shuffled_anew_each_epoch(tmp_path, small_digits):
    firsts = []

    def watch(event):
        if isinstance(event, RunStarted):
            trainer.model.register_forward_pre_hook(lambda m, args: firsts.append(args[0].clone()) if m.training else None)

    trainer = Trainer(TrainConfig(epochs=2, batch_size=320), [watch], run_dir=tmp_path / "r", bundle=small_digits)
    trainer.run()
    assert len(firsts) == 2  # one batch an epoch: all 320 images
    assert not torch.equal(firsts[0], firsts[1])  # in another order in epoch 2
    in_file_order = preprocess_by_hand(small_digits.train.tensors[0], (32, 32), small_digits.mean, small_digits.std)
    assert not torch.allclose(firsts[0], in_file_order)
    # ...but the same images: sorting by content gives the same set.
    key = lambda t: sorted(t.flatten(1).sum(1).tolist())  # noqa: E731
    assert key(firsts[0]) == pytest.approx(key(in_file_order), abs=1e-3)


def test_validation_runs_batch_norm_in_eval_mode(tmp_path, small_digits):
    """A network with batch normalisation: the validation figures are those of the model in eval
    mode (running statistics), as evaluated here by hand from last.pt."""
    Trainer(TrainConfig(model="resnet20", epochs=1, batch_size=64), [], run_dir=tmp_path / "r",
            bundle=small_digits).run()
    row = RunStore.read_metrics(tmp_path / "r")[-1]
    last = load_checkpoint(tmp_path / "r" / "last.pt")
    model = build_from_checkpoint(last)
    size = last["input_size"][1:]
    assert accuracy_by_hand(model, small_digits.val, size, small_digits.mean, small_digits.std) == \
        pytest.approx(row["val_acc"], abs=1e-6)
    assert loss_by_hand(model, small_digits.val, size, small_digits.mean, small_digits.std) == \
        pytest.approx(row["val_loss"], abs=1e-4)


def test_sgd_has_the_momentum_it_promises(tmp_path, small_digits):
    Trainer(TrainConfig(epochs=1, optimizer="sgd", lr=0.05, weight_decay=1e-4), [], run_dir=tmp_path / "r",
            bundle=small_digits).run()
    group = load_checkpoint(tmp_path / "r" / "last.pt")["optimizer"]["param_groups"][0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.05, 0.9, 1e-4)
    summary = Trainer(TrainConfig(epochs=1, optimizer="rmsprop"), [], run_dir=tmp_path / "x",
                      bundle=small_digits).run()
    assert summary["status"] == "failed" and "optimizer 'rmsprop' is not valid" in summary["error"]


def test_auxiliary_heads_add_three_tenths_of_their_loss(tmp_path, digits):
    """GoogLeNet trained for real: the loss each step reports is the main head's cross-entropy plus
    0.3 × each auxiliary head's (Szegedy et al. 2015, section 5), computed here from the heads'
    own outputs caught with a hook."""
    label = 3
    images = digits.train.tensors[0][digits.train.tensors[1] == label][:8]
    bundle = DataBundle("one-class", digits.classes, 1, (8, 8), TensorDataset(images, torch.full((8,), label)),
                        digits.val, digits.test, digits.mean, digits.std)
    outputs, reported = [], []

    def watch(event):
        if isinstance(event, RunStarted):
            trainer.model.register_forward_hook(
                lambda m, a, out: outputs.append([o.detach() for o in out]) if m.training else None)
        if isinstance(event, StepEnded):
            reported.append(event.loss)
            trainer.request_stop()  # one step is enough

    trainer = Trainer(TrainConfig(model="googlenet", epochs=1, batch_size=8), [watch], run_dir=tmp_path / "r",
                      bundle=bundle)
    trainer.run()
    assert len(outputs) == 1 and len(outputs[0]) == 3  # main + aux1 + aux2
    target = torch.full((8,), label)
    main, aux1, aux2 = (torch.nn.functional.cross_entropy(o, target).item() for o in outputs[0])
    assert reported[0] == pytest.approx(main + 0.3 * aux1 + 0.3 * aux2, rel=1e-5)
    assert abs(aux1 + aux2) > 1e-3  # so a weight of 1.0 (or 0) would give another number


def test_stop_is_honoured_within_one_batch(tmp_path, digits):
    steps = []

    def stop_mid_second_epoch(event):
        if isinstance(event, StepEnded):
            steps.append((event.epoch, event.step))
            if (event.epoch, event.step) == (2, 5):
                trainer.request_stop()

    trainer = Trainer(TrainConfig(epochs=50), [stop_mid_second_epoch], run_dir=tmp_path / "r", bundle=digits)
    summary = trainer.run()
    assert steps[-1] == (2, 5)  # not one batch more
    assert summary["status"] == "stopped" and summary["epochs"] == 1 and summary["test_acc"] is None
    assert RunStore.read_summary(tmp_path / "r")["status"] == "stopped"
    assert [row["epoch"] for row in RunStore.read_metrics(tmp_path / "r")] == [1]


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


def test_checkpoints_round_trip_and_refuse_what_is_not_theirs(tmp_path):
    model = models.create_model("lenet5", num_classes=10, in_channels=1)
    meta = dict(model="lenet5", num_classes=10, in_channels=1, input_size=[1, 32, 32], classes=list("0123456789"))
    path = save_checkpoint(tmp_path / "c.pt", {**meta, "state_dict": model.state_dict()})
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left behind
    rebuilt = build_from_checkpoint(load_checkpoint(path))
    assert rebuilt.state_dict().keys() == model.state_dict().keys()
    assert all(torch.equal(rebuilt.state_dict()[k], v) for k, v in model.state_dict().items())

    torch.save({"format": "cnn-workbench/1", "evil": NotAllowed()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="cannot be loaded safely"):
        load_checkpoint(tmp_path / "evil.pt")
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not written by CNN Workbench"):
        load_checkpoint(tmp_path / "plain.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="junk.pt is corrupt"):
        load_checkpoint(tmp_path / "junk.pt")
    partial = {k: v for k, v in meta.items() if k != "classes"}
    torch.save({"format": "cnn-workbench/1", **partial, "state_dict": {}}, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="lacks classes"):
        load_checkpoint(tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="No checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    wrong = {**meta, "model": "resnet18", "state_dict": model.state_dict()}
    with pytest.raises(CheckpointError, match="not those of resnet18"):
        build_from_checkpoint(wrong)


def test_a_save_interrupted_mid_write_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    from workbench.core.train import checkpointing as checkpoints

    meta = dict(model="lenet5", num_classes=10, in_channels=1, input_size=[1, 32, 32], classes=list("0123456789"))
    first = models.create_model("lenet5", num_classes=10, in_channels=1)
    path = save_checkpoint(tmp_path / "best.pt", {**meta, "epoch": 1, "state_dict": first.state_dict()})
    before = path.read_bytes()

    real_save = torch.save

    def crash_half_way(obj, fh, *args, **kwargs):
        real_save(obj, fh, *args, **kwargs)
        fh.truncate(len(before) // 2)  # half the file is on disk...
        raise KeyboardInterrupt  # ...when the process is interrupted

    monkeypatch.setattr(checkpoints.torch, "save", crash_half_way)
    second = models.create_model("lenet5", num_classes=10, in_channels=1)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {**meta, "epoch": 2, "state_dict": second.state_dict()})
    monkeypatch.undo()

    assert path.read_bytes() == before  # the previous checkpoint, byte for byte
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]  # and no half-written leftovers


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


def test_best_epoch_ties_go_to_the_lower_validation_loss():
    """Equal validation accuracy: the epoch with the lower validation loss is the better one."""
    from workbench.core.train.checkpointing import CheckpointSaver

    saver = CheckpointSaver(write=False)
    verdicts = [saver.judge(epoch, acc, loss) for epoch, acc, loss in
                [(1, 0.50, 1.00), (2, 0.50, 0.80), (3, 0.50, 0.90), (4, 0.60, 2.00), (5, 0.40, 0.10)]]
    assert verdicts == [True, True, False, True, False]
    assert (saver.best_epoch, saver.best_acc, saver.best_loss) == (4, 0.60, 2.00)
    restored = CheckpointSaver(write=False)
    restored.load_state_dict(saver.state_dict())  # what last.pt keeps for a resume
    assert not restored.judge(6, 0.60, 2.50) and restored.judge(7, 0.60, 1.50)
