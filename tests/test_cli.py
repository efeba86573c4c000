import json
import subprocess
import sys

import models
from workbench.core.cli import main


def test_train_reaches_095_on_digits(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "lenet5", "--dataset", "digits", "--epochs", "5", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_acc"] >= 0.95 and summary["epochs"] == 5
    captured = capsys.readouterr()
    assert "epoch 5/5" in captured.err
    last = captured.out.strip().splitlines()[-1]
    assert last.startswith("completed: lenet5 on digits") and f"test_acc {summary['test_acc']:.4f}" in last


def test_train_failure_exits_non_zero(tmp_path, capsys):
    assert main(["train", "--dataset", "nope", "--out", str(tmp_path / "r")]) == 1
    assert "Unknown dataset 'nope'" in capsys.readouterr().err


def test_models_lists_the_registry(capsys):
    assert main(["models"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == models.list_models()


def test_summary_prints_totals(capsys):
    assert main(["summary", "resnet18", "--input", "3x224x224", "--classes", "1000"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 11,689,512" in out and "layer4" in out


def test_entry_point_runs_headless(tmp_path):
    """The installed ``cnn-workbench`` command, as a user runs it."""
    exe = [sys.executable, "-m", "workbench"]
    done = subprocess.run([*exe, "models"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "lenet5" in done.stdout
    done = subprocess.run([*exe, "summary", "lenet5", "--input", "1x32x32", "--classes", "10"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Total params: 60,850" in done.stdout
