"""``cnn-workbench explain`` (issue #17): for a trained run and for a zoo model (untrained, and with
"ImageNet" weights in torchvision's format in a temporary TORCH_HOME), an overlay PNG on the photo as given,
the raw map as .npy and a JSON naming the layer and the rule that chose it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from resources import resource_path
from workbench.cli.main import main

RESNET18_FILE = "resnet18-f37072fd.pth"  # torchvision's name for ResNet18_Weights.IMAGENET1K_V1


def test_explain_a_trained_run(tmp_path, capsys, digits):
    run = tmp_path / "run"
    assert main(["train", "--model", "resnet20", "--dataset", "digits", "--epochs", "1", "--out", str(run)]) == 0
    images, labels = digits.test.tensors
    photo = tmp_path / "digit.png"
    Image.fromarray((images[0, 0] * 255).round().byte().numpy() if images.is_floating_point()
                    else images[0, 0].numpy(), mode="L").resize((64, 64)).save(photo)
    out = tmp_path / "maps"
    assert main(["explain", str(run), str(photo), "--class", "3", "--out", str(out)]) == 0
    record = json.loads((out / "digit-gradcam-3.json").read_text())
    assert record["class"] == "3" and record["layer"] and "spatial" in record["layer_rule"]
    assert Image.open(out / "digit-gradcam-3.png").size == (64, 64)  # the photo as given, not the 8×8 input
    raw = np.load(out / "digit-gradcam-3.npy")
    assert list(raw.shape) == record["raw_shape"] == [8, 8]  # ResNet-20's last maps for its 32×32 input
    assert main(["explain", str(run), str(photo), "--method", "occlusion", "--layer", "layer2",
                 "--out", str(out)]) == 0
    predicted = [p for p in out.glob("digit-occlusion-*.json")]
    assert len(predicted) == 1 and json.loads(predicted[0].read_text())["layer"] is None
    assert main(["explain", str(run), str(photo), "--class", "cat", "--out", str(out)]) == 1
    assert "'cat' is not one of the model's classes" in capsys.readouterr().err


def test_explain_a_zoo_model_untrained_and_with_imagenet_weights(tmp_path, capsys, monkeypatch):
    photo = resource_path("photos", "chelsea.jpg")
    out = tmp_path / "untrained"
    assert main(["explain", "--model", "resnet18", str(photo), "--out", str(out)]) == 0
    assert "untrained" in capsys.readouterr().err
    (record,) = [json.loads(p.read_text()) for p in out.glob("*.json")]
    assert record["layer"] == "layer4" and record["raw_shape"] == [7, 7] and record["untrained"] is True
    assert Image.open(out / record["overlay"]).size == Image.open(photo).size

    home = tmp_path / "torch"
    monkeypatch.setenv("TORCH_HOME", str(home))
    torch.manual_seed(123)
    state = torchvision.models.resnet18().state_dict()
    (home / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(state, home / "hub" / "checkpoints" / RESNET18_FILE)
    out = tmp_path / "imagenet"
    assert main(["explain", "--model", "resnet18", "--pretrained", str(photo), "--method", "layercam",
                 "--out", str(out)]) == 0
    (record,) = [json.loads(p.read_text()) for p in out.glob("*.json")]
    categories = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    net = torchvision.models.resnet18()
    net.load_state_dict(state)
    net.eval()
    from workbench.core.explain import imagenet_predictor

    predictor = imagenet_predictor("resnet18", pretrained=True)
    with torch.no_grad():
        expected = int(net(predictor.prepare(predictor.decode(photo)).unsqueeze(0)).argmax())
    assert record["class"] == categories[expected] and record["untrained"] is False
    assert record["method_name"] == "LayerCAM"


def test_explain_says_what_is_wrong(tmp_path, capsys):
    assert main(["explain", "--model", "nosuchnet", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    assert "unknown model 'nosuchnet'" in capsys.readouterr().err
    assert main(["explain", "--model", "resnet18", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    assert "no image files found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["explain", "--model", "resnet18", str(tmp_path), "--method", "magic", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        main(["explain", "--model", "resnet18", str(tmp_path), "--opacity", "2", "--out", str(tmp_path)])
    assert "--opacity: expected a number from 0 to 1, not '2'" in capsys.readouterr().err
