"""One image through several architectures (issue #19, part 4): each network's stages with their shapes and the
parameters and multiply-adds spent to reach them, against the papers' layer tables and torchvision's totals."""

from __future__ import annotations

import torch

import models
from workbench.core.inspect.lineage import MAX_CHANNELS, lineage_column


def _column(name, classes, channels, size):
    torch.manual_seed(0)
    net = models.create_model(name, num_classes=classes, in_channels=channels).eval()
    return net, lineage_column(net, torch.randn(1, channels, size, size), name, [str(i) for i in range(classes)])


def test_resnet18_stages_against_torchvision():
    from torchvision.models import ResNet18_Weights

    net, column = _column("resnet18", 1000, 3, 224)
    meta = ResNet18_Weights.IMAGENET1K_V1.meta
    assert column.params == meta["num_params"] == 11_689_512
    assert round(column.macs / 1e9, 3) == meta["_ops"]  # 1.814 GFLOPS in torchvision's words (multiply-adds)
    assert [(s.module, s.shape) for s in column.stages] == [
        ("relu", (64, 112, 112)), ("layer1", (64, 56, 56)), ("layer2", (128, 28, 28)), ("layer3", (256, 14, 14)),
        ("layer4", (512, 7, 7))]
    stem = column.stages[0]
    assert stem.params == 64 * 3 * 7 * 7 + 2 * 64  # conv1 and bn1
    assert stem.macs == 64 * 3 * 7 * 7 * 112 * 112
    last = column.stages[-1]
    assert last.params == 11_689_512 - (512 * 1000 + 1000)  # everything but the classifier
    assert last.macs == column.macs - 512 * 1000
    assert last.maps.shape == (MAX_CHANNELS, 7, 7)
    seen = {}
    net.layer2.register_forward_hook(lambda m, i, o: seen.setdefault("layer2", o))
    x = torch.randn(1, 3, 224, 224)
    column = lineage_column(net, x, "resnet18")
    with torch.no_grad():
        net(x)
    assert torch.equal(column.stages[2].maps, seen["layer2"][0, :MAX_CHANNELS])


def test_lenet5_and_vgg11_stages_from_their_papers():
    _, lenet = _column("lenet5", 10, 1, 32)
    # LeCun et al. 1998, Sec. II.B: C1 156 parameters, S2 12, C3 1,516, S4 32, C5 48,120.
    assert [(s.module, s.shape, s.params) for s in lenet.stages] == [
        ("c1", (6, 28, 28), 156), ("s2", (6, 14, 14), 156 + 12), ("c3", (16, 10, 10), 168 + 1516),
        ("s4", (16, 5, 5), 1684 + 32), ("c5", (120, 1, 1), 1716 + 48120)]
    assert lenet.stages[0].macs == 6 * 25 * 28 * 28  # 122,304 connections, less the 4,704 biases
    assert len(lenet.top) == 3 and abs(sum(p for _, p in lenet.top)) <= 1
    _, vgg = _column("vgg11", 1000, 3, 224)
    # Simonyan & Zisserman 2014, Table 1 (A): 64, 128, 256, 512, 512 channels, halved by each max-pool.
    assert [s.shape for s in vgg.stages] == [(64, 224, 224), (128, 112, 112), (256, 56, 56), (512, 28, 28),
                                            (512, 14, 14)]
    assert vgg.stages[0].params == 3 * 64 * 9 + 64 and vgg.stages[0].macs == 64 * 3 * 9 * 224 * 224
    from torchvision.models import VGG11_Weights

    assert vgg.params == VGG11_Weights.IMAGENET1K_V1.meta["num_params"]
