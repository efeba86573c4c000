"""Issue #21 in the core: a run stopped before its first epoch leaves nothing behind, estimates in words,
and the extract-mode cost."""

from workbench.core.cost import epoch_seconds, passes
from workbench.core.errors import human_duration
from workbench.core.events import StepEnded
from workbench.core.train import TrainConfig, Trainer


def _stopped_at_step(trainer, step):
    trainer.add_listener(lambda e: trainer.request_stop() if isinstance(e, StepEnded) and e.global_step == step
                         else None)
    return trainer.run()


def test_a_run_stopped_in_its_first_epoch_leaves_no_folder(tmp_path, small_digits):
    root = tmp_path / "runs"
    summary = _stopped_at_step(Trainer(TrainConfig(epochs=3), [], runs_root=root, bundle=small_digits), 2)
    assert summary["status"] == "stopped" and summary["epochs"] == 0 and summary["discarded"]
    assert not any(root.iterdir())  # the folder the trainer made is gone, lock and all
    given = tmp_path / "mine"  # a folder the user named stays, empty
    summary = _stopped_at_step(Trainer(TrainConfig(epochs=3), [], run_dir=given, bundle=small_digits), 2)
    assert summary["discarded"] and given.is_dir() and not any(given.iterdir())


def test_a_run_stopped_after_an_epoch_is_kept(tmp_path, small_digits):
    trainer = Trainer(TrainConfig(epochs=3), [], run_dir=tmp_path / "run", bundle=small_digits)
    steps = -(-len(small_digits.train) // 32)
    summary = _stopped_at_step(trainer, steps + 1)  # in the second epoch
    assert summary["status"] == "stopped" and summary["epochs"] == 1 and "discarded" not in summary
    assert (tmp_path / "run" / "best.pt").is_file() and (tmp_path / "run" / "summary.json").is_file()


def test_durations_read_as_an_estimate_deserves():
    assert [human_duration(s) for s in (0.2, 40, 59.6, 61, 3599, 3600, 7500, 86_400, 158_269, 356_861)] == [
        "1 s", "40 s", "1 min", "1 min", "1 h", "1 h", "2 h 5 min", "1 day", "1 day 20 h", "4 days 3 h"]


def test_extracting_features_costs_one_forward_pass_at_the_forward_rate():
    scratch, extract = TrainConfig(model="resnet18"), TrainConfig(model="resnet18", pretrained=True, transfer="extract")
    finetune = TrainConfig(model="resnet18", pretrained=True, transfer="finetune")
    assert (passes(scratch), passes(finetune), passes(extract)) == (3, 3, 1)
    macs, images, rate = 1_814_073_344, 1000, 1e10  # ResNet-18 at 224×224
    train = epoch_seconds(macs, images, 1000, rate, 0.0, passes(scratch))
    frozen = epoch_seconds(macs, images, 1000, rate, 0.0, passes(extract))
    assert train == 3 * macs * images / (rate * 0.5) and frozen == macs * images / (rate * 0.7)
