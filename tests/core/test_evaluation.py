"""Evaluating any run with a checkpoint (issue #21): a stopped run gets its test on request."""

import json

from fake_folders import photo, write_photo_folder
from reference import accuracy_by_hand, loss_by_hand
from workbench.cli import main
from workbench.core.events import EpochEnded
from workbench.core.predict import load_predictor
from workbench.core.train import TrainConfig, Trainer
from workbench.core.train.checkpointing import load_checkpoint


def stopped_run(run_dir, bundle, epochs=3):
    """A run stopped during its second epoch: best.pt of epoch 1, no test."""
    trainer = Trainer(TrainConfig(epochs=epochs, tensorboard=False), [], run_dir=run_dir, bundle=bundle)
    trainer.add_listener(lambda event: trainer.request_stop() if isinstance(event, EpochEnded) else None)
    summary = trainer.run()
    assert summary["status"] == "stopped" and summary["test_acc"] is None
    assert not (run_dir / "test_eval.json").exists()
    return summary


def test_a_stopped_run_is_evaluated_on_request_with_its_best_weights(tmp_path, small_digits, digits, capsys):
    run_dir = tmp_path / "run"
    stopped_run(run_dir, small_digits)
    assert main(["evaluate", str(run_dir)]) == 0
    out = capsys.readouterr().out
    payload = load_checkpoint(run_dir / "best.pt")
    model = load_predictor(run_dir).model.eval()
    size = payload["input_size"][1:]
    by_hand = accuracy_by_hand(model, digits.test, size, payload["mean"], payload["std"])
    report = json.loads((run_dir / "test_eval.json").read_text())
    n = len(digits.test)
    assert report["images"] == n and round(report["accuracy"] * n) == round(by_hand * n)  # the same images right
    assert abs(report["loss"] - loss_by_hand(model, digits.test, size, payload["mean"], payload["std"])) < 1e-4
    assert sum(map(sum, report["matrix"])) == len(digits.test)
    assert report["checkpoint"] == "best.pt" and report["epoch"] == 1
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["test_acc"] == report["accuracy"]
    assert summary["tested_with"] == "best.pt" and summary["tested_epoch"] == 1
    assert f"test accuracy {round(by_hand * n) / n:.4f}" in out and f"on {len(digits.test)} images (best.pt, epoch 1)" in out


def test_evaluate_takes_last_pt_when_there_is_no_best(tmp_path, small_digits):
    run_dir = tmp_path / "run"
    stopped_run(run_dir, small_digits)
    (run_dir / "best.pt").unlink()
    assert main(["evaluate", str(run_dir)]) == 0
    assert json.loads((run_dir / "test_eval.json").read_text())["checkpoint"] == "last.pt"


def test_evaluating_on_changed_data_is_refused_unless_accepted(tmp_path, capsys):
    root = write_photo_folder(tmp_path / "pokemon", per_class=14, classes=3)
    run_dir = tmp_path / "run"
    Trainer(TrainConfig(model="lenet5", dataset=str(root), epochs=1, image_size=32, tensorboard=False), [],
            run_dir=run_dir).run()
    before = (run_dir / "test_eval.json").read_bytes()
    photo(1, (80, 80), 4321).save(root / "bulbasaur" / "late.png")  # where it lands, the test set is the same
    assert main(["evaluate", str(run_dir)]) == (0 if "bulbasaur/late.png" not in _test_files(run_dir, root) else 1)
    capsys.readouterr()
    (run_dir / "test_eval.json").write_bytes(before)
    tested = json.loads((run_dir / "split.json").read_text())["test"][0]
    photo(2, (90, 90), 999).save(root / tested)  # a test image replaced by another picture
    assert main(["evaluate", str(run_dir)]) == 1
    assert tested in capsys.readouterr().err
    assert (run_dir / "test_eval.json").read_bytes() == before
    assert main(["evaluate", str(run_dir), "--accept-data-change"]) == 0
    report = json.loads((run_dir / "test_eval.json").read_text())
    assert tested in " ".join(report["data_changes"])


def _test_files(run_dir, root):
    from workbench.core.data.image_folder import scan_folder, split_folder

    scan = scan_folder(root)
    return split_folder(scan).paths(scan)["test"]
