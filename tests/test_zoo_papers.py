"""The numbers the papers (and torchvision) publish, reproduced by the zoo and the summary."""

import pytest
import torch
import torchvision
from torch import nn

import models
from models.cifar_resnet import CifarBasicBlock, ZeroPadShortcut
from workbench.core.inspection import summarize

TORCHVISION = {
    "alexnet": "alexnet", "vgg11": "vgg11", "vgg11_bn": "vgg11_bn", "vgg13": "vgg13", "vgg13_bn": "vgg13_bn",
    "vgg16": "vgg16", "vgg16_bn": "vgg16_bn", "vgg19": "vgg19", "vgg19_bn": "vgg19_bn",
    "googlenet": "googlenet", "inception_v3": "inception_v3",
    "resnet18": "resnet18", "resnet34": "resnet34", "resnet50": "resnet50", "resnet101": "resnet101",
    "resnet152": "resnet152", "densenet121": "densenet121", "densenet169": "densenet169",
    "densenet201": "densenet201", "resnext50_32x4d": "resnext50_32x4d", "wide_resnet50_2": "wide_resnet50_2",
}


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_every_torchvision_architecture_is_reused():
    assert set(TORCHVISION) <= set(models.list_models())


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_models_match_torchvision_exactly(name):
    kwargs = {"init_weights": True} if name in ("googlenet", "inception_v3") else {}
    theirs = getattr(torchvision.models, TORCHVISION[name])(**kwargs)
    ours = models.create_model(name)
    assert n_params(ours) == n_params(theirs)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    ours.load_state_dict(theirs.state_dict())  # pretrained weights load as they are
    size = 299 if name == "inception_v3" else 224
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), theirs.eval()(x), atol=1e-4, rtol=1e-4)


def test_alexnet2012_per_layer_parameters_match_the_paper():
    net = models.create_model("alexnet2012")
    counts = [n_params(getattr(net, name)) for name in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")]
    # The paper's conv1 figure, 34,848, is its 11×11×3×96 weights; the 96 biases make 34,944.
    assert net.conv1.conv.weight.numel() == 34_848 and counts[0] == 34_944
    assert counts[1:] == [307_456, 885_120, 663_936, 442_624, 37_752_832, 16_781_312, 4_097_000]
    assert net.conv2.conv.groups == net.conv4.conv.groups == net.conv5.conv.groups == 2
    assert net.conv3.conv.groups == 1
    assert isinstance(net.conv1.lrn, nn.LocalResponseNorm) and isinstance(net.conv2.lrn, nn.LocalResponseNorm)
    s = summarize(net, (3, 227, 227))
    assert [s.layer(f"conv{i}").output_shape for i in range(1, 6)] == [
        (96, 27, 27), (256, 13, 13), (384, 13, 13), (384, 13, 13), (256, 6, 6)]


def test_lenet_relu_is_the_tutorial_network():
    net = models.create_model("lenet5_relu", num_classes=10, in_channels=3)
    s = summarize(net, (3, 32, 32))
    assert s.layer("conv1").output_shape == (16, 28, 28) and s.layer("conv2").output_shape == (32, 10, 10)
    assert net.fc1.in_features == 800 and net.fc1.out_features == 32 and net.fc2.in_features == 32


def test_googlenet_inception_widths_and_auxiliary_heads():
    net = models.create_model("googlenet")
    s = summarize(net, (3, 224, 224))
    assert s.layer("inception3a").output_shape == (256, 28, 28)
    assert s.layer("inception3b").output_shape == (480, 28, 28)
    net.train()
    out = net(torch.randn(2, 3, 224, 224))
    assert isinstance(out, tuple) and len(out) == 3  # main + two auxiliary classifiers
    net.eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 224, 224)).shape == (1, 1000)  # dropped at inference


def test_inception_v3_auxiliary_head_needs_299():
    assert models.create_model("inception_v3").AuxLogits is not None
    small = models.create_model("inception_v3", num_classes=10, input_size=224)
    assert small.AuxLogits is None and "auxiliary classifier off" in small.stem_info


def test_resnet18_stages_on_grey_224():
    s = summarize(models.create_model("resnet18", in_channels=1), (1, 224, 224))
    assert [s.layer(f"layer{i}").output_shape for i in range(1, 5)] == [
        (64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7)]


def test_nin_stages_on_grey_224():
    s = summarize(models.create_model("nin", num_classes=10, in_channels=1), (1, 224, 224))
    assert [s.layer(f"mlpconv{i}").output_shape for i in range(1, 5)] == [
        (96, 55, 55), (256, 27, 27), (384, 13, 13), (10, 6, 6)]
    assert s.layer("global_pool").output_shape == (10, 1, 1)
    assert not any(isinstance(m, nn.Linear) for m in models.create_model("nin").modules())


@pytest.mark.parametrize("name,millions", [("resnet20", 0.27), ("resnet32", 0.46), ("resnet44", 0.66),
                                           ("resnet56", 0.85), ("resnet110", 1.7)])
def test_cifar_resnet_parameters_match_the_paper(name, millions):
    net = models.create_model(name, num_classes=10, input_size=32)
    assert round(n_params(net) / 1e6, 2 if millions < 1 else 1) == millions
    assert n_params(models.create_model(name.replace("resnet", "plain"), num_classes=10)) == n_params(net) \
        if name != "resnet110" else True


def test_shortcut_options():
    a = models.create_model("resnet20", num_classes=10, shortcut="A")
    b = models.create_model("resnet20", num_classes=10, shortcut="B")
    c = models.create_model("resnet20", num_classes=10, shortcut="C")
    blocks = lambda net: [m for m in net.modules() if isinstance(m, CifarBasicBlock)]  # noqa: E731
    assert sum(isinstance(blk.shortcut, ZeroPadShortcut) for blk in blocks(a)) == 2
    assert sum(isinstance(blk.shortcut, nn.Sequential) for blk in blocks(b)) == 2  # only where shapes change
    assert all(isinstance(blk.shortcut, nn.Sequential) for blk in blocks(c))  # everywhere
    assert n_params(a) < n_params(b) < n_params(c)
    assert all(blk.shortcut is None for blk in blocks(models.create_model("plain20", num_classes=10)))
    # Option A really is zero padding: the new channels of the shortcut are zeros.
    pad = ZeroPadShortcut(16, 32, 2)
    out = pad(torch.randn(1, 16, 8, 8))
    assert out.shape == (1, 32, 4, 4) and out[:, 16:].abs().sum() == 0
    with pytest.raises(ValueError, match="shortcut must be"):
        models.create_model("resnet20", shortcut="D")


@pytest.mark.parametrize("name,millions", [("densenet_bc_100", 0.8), ("resnext29_8x64d", 34.4), ("wrn28_10", 36.5)])
def test_cifar_family_sizes_match_the_papers(name, millions):
    net = models.create_model(name, num_classes=10, input_size=32)
    assert round(n_params(net) / 1e6, 1) == millions


def test_preact_resnet18_has_resnet18s_weights_in_another_order():
    pre = models.create_model("preact_resnet18", num_classes=10, input_size=32)
    post = models.create_model("resnet18", num_classes=10, input_size=32)
    convs = lambda net: sorted(m.weight.shape for m in net.modules() if isinstance(m, nn.Conv2d))  # noqa: E731
    assert convs(pre) == convs(post)
    first_block = pre.layer1[0]
    assert list(dict(first_block.named_children()))[:2] == ["bn1", "conv1"]  # BN before the convolution


@pytest.mark.parametrize("name,millions", [("se_resnet50", 28.1), ("dpn92", 37.7), ("densenet121", 8.0)])
def test_imagenet_family_sizes_match_the_papers(name, millions):
    assert round(n_params(models.create_model(name)) / 1e6, 1) == millions


def test_small_inputs_get_small_stems_and_the_summary_says_so():
    for name in ("resnet50", "densenet121", "googlenet", "se_resnet18", "resnext50_32x4d", "dpn92", "alexnet"):
        net = models.create_model(name, num_classes=10, input_size=32)
        assert "small input" in net.stem_info or "CIFAR" in net.stem_info, name
        assert "ImageNet" in models.create_model(name, num_classes=10, input_size=224).stem_info, name


@pytest.mark.parametrize("name,gmacs", [("alexnet", 0.71), ("vgg16", 15.47), ("googlenet", 1.50), ("resnet18", 1.81),
                                        ("resnet50", 4.09), ("densenet121", 2.83), ("inception_v3", 5.71)])
def test_multiply_adds_match_torchvisions_published_figures(name, gmacs):
    size = 299 if name == "inception_v3" else 224
    s = summarize(models.create_model(name), (3, size, size))
    assert round(s.total_macs / 1e9, 2) == pytest.approx(gmacs, abs=0.01)
