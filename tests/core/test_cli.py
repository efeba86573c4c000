import json
import subprocess
import sysconfig
from pathlib import Path

import models
import pytest
from workbench.cli import main


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
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["model", "family", "year"] and set(lines[1].strip()) == {"─"}  # header, rule
    assert [line.split()[0] for line in lines[2:]] == models.list_models()


def test_summary_prints_totals(capsys):
    assert main(["summary", "resnet18", "--input", "3x224x224", "--classes", "1000"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 11,689,512" in out and "layer4" in out


def test_entry_point_runs_headless(tmp_path):
    """The installed ``cnn-workbench`` command (the gui-scripts entry point), as a user runs it."""
    scripts = Path(sysconfig.get_path("scripts"))
    exe = next((scripts / n for n in ("cnn-workbench", "cnn-workbench.exe") if (scripts / n).is_file()), None)
    assert exe is not None, f"cnn-workbench is not installed in {scripts}: pip install -e ."
    done = subprocess.run([str(exe), "models"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "lenet5" in done.stdout
    done = subprocess.run([str(exe), "summary", "lenet5", "--input", "1x32x32", "--classes", "10"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Total params: 60,850" in done.stdout  # LeNet-5 with 10 linear outputs
    done = subprocess.run([str(exe), "train", "--dataset", "nope", "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Unknown dataset 'nope'" in done.stderr


def _rows(out: str) -> dict[str, list[str]]:
    """Summary table rows by layer path (the first column, indentation stripped)."""
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[-1].replace(",", "").isdigit():
            rows.setdefault(parts[0], parts)
    return rows


def test_summary_reproduces_the_papers_figures(capsys):
    def summary(*args):
        assert main(["summary", *args, "--depth", "1"]) == 0
        return capsys.readouterr().out

    rows = _rows(summary("lenet5", "--input", "1x32x32", "--classes", "10"))
    assert rows["c1"][3] == "156" and rows["c3"][3] == "1,516" and rows["c3"][2] == "16×10×10"

    out = summary("alexnet2012", "--input", "3x227x227", "--classes", "1000")
    rows = _rows(out)
    assert [rows[n][3] for n in ("conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")] == [
        "307,456", "885,120", "663,936", "442,624", "37,752,832", "16,781,312", "4,097,000"]
    assert rows["conv1"][3] == "34,944"  # 34,848 weights + 96 biases

    rows = _rows(summary("googlenet", "--input", "3x224x224"))
    assert rows["inception3a"][2] == "256×28×28" and rows["inception3b"][2] == "480×28×28"

    out = summary("resnet18", "--input", "1x224x224")
    rows = _rows(out)
    assert [rows[f"layer{i}"][2] for i in range(1, 5)] == ["64×56×56", "128×28×28", "256×14×14", "512×7×7"]
    assert "Stem: ImageNet stem" in out

    rows = _rows(summary("nin", "--input", "1x224x224", "--classes", "10"))
    assert [rows[f"mlpconv{i}"][2] for i in range(1, 5)] == ["96×55×55", "256×27×27", "384×13×13", "10×6×6"]

    out = summary("resnet18", "--input", "3x32x32", "--classes", "10")
    assert "Stem: CIFAR stem" in out and "Total mult-adds: 555,422,720 " in out


def test_summary_reproduces_the_zoo_part_2_figures(capsys):
    def summary(*args):
        assert main(["summary", *args, "--depth", "1"]) == 0
        return capsys.readouterr().out

    out = summary("inception_v4", "--input", "3x299x299")
    rows = _rows(out)
    assert "Total params: 42,679,816" in out  # timm's and Cadene's ports: 42.68 M
    assert [rows[n][2] for n in ("stem", "inception_a", "inception_b", "inception_c")] == [
        "384×35×35", "384×35×35", "1024×17×17", "1536×8×8"]
    out = summary("inception_resnet_v2", "--input", "3x299x299")
    rows = _rows(out)
    assert "Total params: 55,843,464" in out  # timm's and Cadene's ports: 55.84 M
    assert [rows[n][2] for n in ("inception_resnet_a", "inception_resnet_b", "inception_resnet_c", "conv_7b")] == [
        "320×35×35", "1088×17×17", "2080×8×8", "1536×8×8"]
    rows = _rows(summary("bn_inception", "--input", "3x224x224"))
    assert [rows[n][2] for n in ("inception3c", "inception4e", "inception5b")] == ["576×14×14", "1056×7×7", "1024×7×7"]
    out = summary("fractalnet", "--input", "3x32x32", "--classes", "10")
    assert "Total params: 76,106,634" in out and "as in the paper" in out


def test_summary_rejects_a_bad_shape(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["summary", "resnet18", "--input", "224x224"])
    assert "expected CxHxW" in capsys.readouterr().err


def test_degradation_demo_trains_from_the_cli(tmp_path, monkeypatch, capsys):
    """plain20, plain56, resnet20 and resnet56 on CIFAR-shaped data (CIFAR-10's on-disk format)."""
    from fake_datasets import write_cifar10

    write_cifar10(tmp_path / "data", monkeypatch, n_train=500, n_test=100)
    accuracy = {}
    for name in ("plain20", "plain56", "resnet20", "resnet56"):
        out = tmp_path / name
        code = main(["train", "--model", name, "--dataset", "cifar10", "--data-root", str(tmp_path / "data"),
                     "--epochs", "2", "--batch-size", "25", "--out", str(out)])
        assert code == 0, capsys.readouterr().err
        summary = json.loads((out / "summary.json").read_text())
        assert summary["status"] == "completed" and summary["input_size"] == [3, 32, 32]
        assert len((out / "metrics.csv").read_text().splitlines()) == 3
        accuracy[name] = summary["test_acc"]
    # Ten classes: chance is 0.1. The shallow plain net and both residual nets learn the set; the deep
    # plain net is the one the paper's Figure 1 says may lag behind (here it stays at chance).
    assert min(accuracy["plain20"], accuracy["resnet20"], accuracy["resnet56"]) > 0.5, accuracy
    assert accuracy["resnet56"] >= accuracy["plain56"], accuracy


def test_bad_values_are_named_before_anything_is_written(tmp_path, capsys, workbench_home):
    cases = {
        ("summary", "resnet18", "--classes", "0"): "--classes: expected a whole number of at least 1, not '0'",
        ("train", "--input-size", "0"): "--input-size: expected a whole number of at least 8, not '0'",
        ("train", "--input-size", "-5"): "not '-5'",
        ("train", "--epochs", "0"): "--epochs: expected a whole number of at least 1, not '0'",
        ("train", "--lr", "-0.1"): "--lr: expected a number above 0, not '-0.1'",
        ("train", "--lr", "nan"): "not 'nan'",
        ("train", "--momentum", "1.5"): "--momentum: expected a number at least 0 and at most 1, not '1.5'",
        ("train", "--model", "resnet9000"): "unknown model 'resnet9000'; did you mean",
        ("train", "--split", "0/0/1"): "not '0/0/1'",
        ("train", "--schedule", "linear"): "invalid choice: 'linear'",
        ("summary", "lenet6"): "unknown model 'lenet6'",
    }
    for argv, message in cases.items():
        with pytest.raises(SystemExit) as exit_:
            main(["train" if argv[0] == "train" else argv[0], *argv[1:], *(
                ["--runs-root", str(tmp_path / "runs")] if argv[0] == "train" else [])])
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err, argv
    assert not (tmp_path / "runs").exists() and not (workbench_home / "runs").exists()

    assert main(["models", "zzz*"]) == 1
    assert "no model matches 'zzz*'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    helptext = capsys.readouterr().out
    assert "models: alexnet" in helptext and "wrn28_10" in helptext and "datasets: digits, mnist" in helptext
    assert "he2015-cifar" in helptext and "--label-smoothing" in helptext


def _digit_files(folder, digits, count=6):
    """Test digits written as 8×8 PNG files, with their labels."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    images, labels = digits.test.tensors
    paths = []
    for i in range(count):
        pixels = images[i, 0]
        if pixels.is_floating_point():
            pixels = (pixels * 255).round()
        Image.fromarray(pixels.byte().numpy(), mode="L").save(folder / f"d{i}.png")
        paths.append(folder / f"d{i}.png")
    return paths, labels[:count].tolist()


def test_predict_prints_top_k_per_file_and_fails_on_bad_ones(tmp_path, capsys, digits):
    import torch

    from reference import predictions_by_hand
    from workbench.core.train.checkpointing import build_from_checkpoint, load_checkpoint

    run = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--out", str(run), "--no-tensorboard"]) == 0
    capsys.readouterr()
    files, labels = _digit_files(tmp_path / "images", digits)
    best = load_checkpoint(run / "best.pt")
    images = digits.test.tensors[0][: len(files)]
    images = images.float() / 255 if images.dtype == torch.uint8 else images
    expected = predictions_by_hand(build_from_checkpoint(best), images, best["input_size"][1:], best["mean"],
                                   best["std"]).tolist()

    assert main(["predict", str(run), str(tmp_path / "images"), "--top-k", "2", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [Path(r["path"]).name for r in rows] == [f.name for f in files]
    assert [int(r["top"][0]["class"]) for r in rows] == expected
    assert all(len(r["top"]) == 2 and r["top"][0]["probability"] >= r["top"][1]["probability"] for r in rows)
    assert sum(e == y for e, y in zip(expected, labels)) >= 4

    (tmp_path / "images" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    assert main(["predict", str(run), *map(str, files[:2]), str(tmp_path / "images" / "broken.png"),
                 str(tmp_path / "missing.png")]) == 1
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines[0].startswith(f"{files[0]}: {expected[0]} ") and "broken.png: error:" in lines[2]
    assert "missing.png: error: no such file" in lines[3] and "2 of 4 files could not be classified" in captured.err
    assert main(["predict", str(tmp_path / "nowhere"), str(files[0])]) == 1
    assert "error:" in capsys.readouterr().err

    # A folder with a sub-folder per class, classified three at a time: the same answers, each with its
    # true class, and the share right counted by hand.
    by_class = tmp_path / "by_class"
    for f, y in zip(files, labels):
        (by_class / str(int(y))).mkdir(parents=True, exist_ok=True)
        f.rename(by_class / str(int(y)) / f.name)
    assert main(["predict", str(run), str(by_class), "--batch-size", "3", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    answer = {Path(r["path"]).name: (int(r["top"][0]["class"]), r["true_class"]) for r in rows}
    assert {f.name: (e, str(int(y))) for f, e, y in zip(files, expected, labels)} == answer
    assert main(["predict", str(run), str(by_class), "--batch-size", "3"]) == 0
    right = sum(e == y for e, y in zip(expected, labels))
    assert f"top-1 right on {right} of the {len(files)} images" in capsys.readouterr().out


def test_export_onnx_matches_pytorch_on_real_images(tmp_path, capsys, digits):
    import numpy as np
    import onnxruntime as ort
    import torch

    from reference import preprocess_by_hand
    from workbench.core.export import read_metadata
    from workbench.core.train.checkpointing import build_from_checkpoint, load_checkpoint

    run = tmp_path / "run"
    assert main(["train", "--model", "resnet20", "--epochs", "1", "--out", str(run), "--no-tensorboard"]) == 0
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    out = capsys.readouterr().out
    assert "checked with onnxruntime on 32 images" in out

    best = load_checkpoint(run / "best.pt")
    images = digits.test.tensors[0][:64]
    images = images.float() / 255 if images.dtype == torch.uint8 else images
    inputs = preprocess_by_hand(images, best["input_size"][1:], best["mean"], best["std"])
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {session.get_inputs()[0].name: inputs.numpy()})[0]
    with torch.no_grad():
        ours = build_from_checkpoint(best).eval()(inputs).numpy()
    assert theirs.shape == (64, 10)  # a batch size other than the export's
    assert np.abs(theirs - ours).max() < 1e-4 and (theirs.argmax(1) == ours.argmax(1)).all()
    meta = read_metadata(tmp_path / "m.onnx")
    assert json.loads(meta["classes"]) == digits.classes and json.loads(meta["mean"]) == pytest.approx(best["mean"])
    assert json.loads(meta["input_size"]) == [1, 32, 32]

    assert main(["export", str(run), "--format", "state_dict", "--out", str(tmp_path / "w.pt")]) == 0
    state = torch.load(tmp_path / "w.pt", weights_only=True)
    model = models.create_model("resnet20", num_classes=10, in_channels=1)
    model.load_state_dict(state)


def test_version_answers_without_loading_torch_and_counts_are_plural_right(tmp_path):
    """Issue #21: `--version` needs neither torch nor Qt; "1 epoch", never "1 epochs"."""
    import subprocess
    import sys as _sys

    probe = ("import sys; from workbench.__main__ import main; code = main(['--version']); "
             "print('torch' in sys.modules, 'PySide6' in sys.modules); sys.exit(code)")
    done = subprocess.run([_sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    version = __import__("importlib.metadata").metadata.version("cnn-workbench")
    assert done.stdout.splitlines() == [f"cnn-workbench {version}", "False False"]
    out = subprocess.run([_sys.executable, "-m", "workbench", "train", "--epochs", "1", "--out", str(tmp_path / "r"),
                          "--no-tensorboard"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert ", 1 epoch, best val_acc" in out.stdout and "1 epochs" not in out.stdout + out.stderr
