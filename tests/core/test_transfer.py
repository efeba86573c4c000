"""Transfer learning from torchvision's ImageNet weights, with a weights file written in
torchvision's format and file name into a temporary TORCH_HOME (no network here)."""

import io
import json
import urllib.request

import pytest
import torch
import torchvision

from fake_folders import write_photo_folder
from workbench.core import pretrained
from workbench.core.train.checkpointing import load_checkpoint
from workbench.cli import main
from workbench.core.events import DataProgress

RESNET18_FILE = "resnet18-f37072fd.pth"  # torchvision's name for ResNet18_Weights.IMAGENET1K_V1


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    home = tmp_path / "torch"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


@pytest.fixture
def resnet18_weights(torch_home):
    """'ImageNet' weights for resnet18 where torchvision keeps them (random, but in the real format)."""
    torch.manual_seed(123)
    state = torchvision.models.resnet18().state_dict()
    for key, value in state.items():  # BN statistics that differ from a fresh model's, to see them kept
        if key.endswith("running_mean"):
            value.uniform_(-0.1, 0.1)
    path = torch_home / "hub" / "checkpoints" / RESNET18_FILE
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return state


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return write_photo_folder(tmp_path_factory.mktemp("photos"), per_class=6, classes=5)


def test_weights_are_found_where_torchvision_keeps_them(resnet18_weights, torch_home):
    info = pretrained.weights_for("resnet18")
    assert info.file_name == RESNET18_FILE and info.crop_size == 224
    assert info.mean == pytest.approx((0.485, 0.456, 0.406)) and info.std == pytest.approx((0.229, 0.224, 0.225))
    assert pretrained.fetch(info) == torch_home / "hub" / "checkpoints" / RESNET18_FILE
    assert pretrained.weights_for("inception_v3").crop_size == 299
    for name in models_with_weights():
        assert pretrained.weights_for(name).url.startswith("https://download.pytorch.org/models/")
    with pytest.raises(pretrained.PretrainedError, match="lenet5 has no ImageNet weights"):
        pretrained.weights_for("lenet5")


def models_with_weights():
    from models._pretrained import TORCHVISION_WEIGHTS

    return sorted(TORCHVISION_WEIGHTS)


def test_grey_inputs_get_the_summed_rgb_kernels(resnet18_weights):
    model = pretrained.pretrained_model("resnet18", num_classes=4, in_channels=1)
    expected = resnet18_weights["conv1.weight"].sum(1, keepdim=True)  # timm's adapt_input_conv, by hand
    torch.testing.assert_close(model.conv1.weight, expected)
    torch.testing.assert_close(model.layer3[1].conv2.weight, resnet18_weights["layer3.1.conv2.weight"])
    assert model.fc.out_features == 4 and {id(p) for p in model.head_parameters} == {id(model.fc.weight), id(model.fc.bias)}
    # A grey image seen by the summed kernels is the RGB image with R = G = B seen by the originals.
    grey = torch.rand(1, 1, 224, 224)
    rgb_model = pretrained.pretrained_model("resnet18", num_classes=4, in_channels=3)
    rgb_model.fc = model.fc
    torch.testing.assert_close(model.eval()(grey), rgb_model.eval()(grey.expand(1, 3, -1, -1)), atol=1e-4, rtol=1e-4)


def test_feature_extraction_trains_only_the_head(resnet18_weights, photos, tmp_path):
    out = tmp_path / "extract"
    code = main(["train", "--model", "resnet18", "--dataset", str(photos), "--pretrained", "--transfer", "extract",
                 "--epochs", "1", "--batch-size", "9", "--out", str(out)])
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["pretrained"] and config["transfer"] == "extract" and config["input_size"] == [3, 224, 224]
    assert config["normalisation"]["mean"] == pytest.approx([0.485, 0.456, 0.406])  # the weights' preprocessing
    state = load_checkpoint(out / "last.pt")["state_dict"]
    for key in ("conv1.weight", "layer4.1.conv2.weight", "layer2.0.bn1.running_mean", "layer2.0.bn1.running_var"):
        torch.testing.assert_close(state[key], resnet18_weights[key])  # frozen, BatchNorm statistics included
    assert state["fc.weight"].shape == (5, 512)
    groups = load_checkpoint(out / "last.pt")["optimizer"]["param_groups"]
    assert len(groups) == 1 and groups[0]["lr"] == pytest.approx(1e-3)


def test_fine_tuning_trains_the_backbone_ten_times_slower(resnet18_weights, photos, tmp_path):
    out = tmp_path / "finetune"
    assert main(["train", "--model", "resnet18", "--dataset", str(photos), "--pretrained", "--lr", "0.01",
                 "--optimizer", "sgd", "--epochs", "1", "--batch-size", "9", "--image-size", "96",
                 "--out", str(out)]) == 0
    last = load_checkpoint(out / "last.pt")
    lrs = sorted(g["lr"] for g in last["optimizer"]["param_groups"])
    assert lrs == pytest.approx([0.001, 0.01])
    assert not torch.equal(last["state_dict"]["conv1.weight"], resnet18_weights["conv1.weight"])


def test_offline_without_the_file_says_which_file_and_where(torch_home, photos, tmp_path, monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    code = main(["train", "--model", "resnet18", "--dataset", str(photos), "--pretrained", "--epochs", "1",
                 "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert RESNET18_FILE in err and str(torch_home / "hub" / "checkpoints") in err and "--weights" in err
    assert "error: Could not download the ImageNet weights for resnet18" in err  # the message, no class names


def test_a_missing_file_is_downloaded_with_progress(torch_home, monkeypatch):
    state = torchvision.models.resnet18().state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()

    class Response(io.BytesIO):
        headers = {"Content-Length": str(len(payload))}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    asked = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: asked.append(url) or Response(payload))
    events = []
    model = pretrained.pretrained_model("resnet18", 3, 3,
                                        progress=lambda d, t, w: events.append(DataProgress("download", d, t, w)))
    assert asked == ["https://download.pytorch.org/models/" + RESNET18_FILE]
    done = [e.done for e in events]
    assert done == sorted(done) and done[-1] == len(payload) and len(done) >= 2 and events[-1].total == len(payload)
    saved = torch_home / "hub" / "checkpoints" / RESNET18_FILE
    assert saved.read_bytes() == payload and [p.name for p in saved.parent.iterdir()] == [RESNET18_FILE]
    torch.testing.assert_close(model.layer1[0].conv1.weight, state["layer1.0.conv1.weight"])


def test_a_download_that_stops_early_is_not_kept(torch_home, monkeypatch):
    class Cut(io.BytesIO):
        headers = {"Content-Length": "5000000"}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: Cut(b"x" * 1000))
    with pytest.raises(pretrained.PretrainedError, match="stopped at 1,000 of 5,000,000 bytes"):
        pretrained.fetch(pretrained.weights_for("resnet18"))
    assert not (torch_home / "hub" / "checkpoints" / RESNET18_FILE).exists()


def test_a_chosen_weights_file_must_fit(tmp_path, torch_home):
    other = tmp_path / "vgg.pth"
    torch.save(torchvision.models.vgg11().state_dict(), other)
    with pytest.raises(pretrained.PretrainedError, match="vgg.pth does not fit resnet18"):
        pretrained.pretrained_model("resnet18", 3, 3, weights_file=str(other))
    (tmp_path / "junk.pth").write_bytes(b"not a weights file")
    with pytest.raises(pretrained.PretrainedError, match="junk.pth is not a weights file"):
        pretrained.pretrained_model("resnet18", 3, 3, weights_file=str(tmp_path / "junk.pth"))
    mine = tmp_path / "mine.pth"
    torch.save(torchvision.models.resnet18().state_dict(), mine)
    assert pretrained.pretrained_model("resnet18", 3, 3, weights_file=str(mine)).fc.out_features == 3


class _RunsCode:
    """Unpickling this calls ``open(marker, "w")``: what a malicious weights file does."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_weights_file_that_would_run_code_is_refused_unopened(torch_home, tmp_path, photos):
    marker = tmp_path / "code-ran"
    path = torch_home / "hub" / "checkpoints" / RESNET18_FILE  # where the download would be
    path.parent.mkdir(parents=True)
    torch.save({"conv1.weight": torch.zeros(1), "payload": _RunsCode(marker)}, path)
    with pytest.raises(pretrained.PretrainedError, match="cannot be loaded safely|not a weights file"):
        pretrained.pretrained_model("resnet18", 5, 3)
    assert not marker.exists()
    chosen = tmp_path / "chosen.pth"
    torch.save(_RunsCode(marker), chosen)  # the same through --weights
    assert main(["train", "--model", "resnet18", "--pretrained", "--weights", str(chosen), "--dataset", str(photos),
                 "--epochs", "1", "--out", str(tmp_path / "run")]) == 1
    assert not marker.exists()
