"""The numbers the papers (and torchvision) publish, reproduced by the zoo and the summary."""

import pytest
import torch
import torchvision
from torch import nn

import models
from models.cifar_resnet import CifarBasicBlock, ZeroPadShortcut
from workbench.core.inspect import summarize

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


# --- the zoo, part 2 ----------------------------------------------------------------------------------

# Ioffe & Szegedy 2015, Figure 5: #1×1, #3×3 reduce, #3×3, double #3×3 reduce, double #3×3, pool
# projection (None: the max-pool's output passes through), and the output grid at 224×224.
BN_INCEPTION_FIGURE_5 = {
    "inception3a": (64, 64, 64, 64, 96, 32, 28),
    "inception3b": (64, 64, 96, 64, 96, 64, 28),
    "inception3c": (0, 128, 160, 64, 96, None, 14),
    "inception4a": (224, 64, 96, 96, 128, 128, 14),
    "inception4b": (192, 96, 128, 96, 128, 128, 14),
    "inception4c": (160, 128, 160, 128, 160, 128, 14),
    "inception4d": (96, 128, 192, 160, 192, 128, 14),
    "inception4e": (0, 128, 192, 192, 256, None, 7),
    "inception5a": (352, 192, 320, 160, 224, 128, 7),
    "inception5b": (352, 192, 320, 192, 224, 128, 7),
}


def test_bn_inception_reproduces_figure_5():
    net = models.create_model("bn_inception")
    s = summarize(net, (3, 224, 224))
    assert s.layer("conv1").output_shape == (64, 112, 112) and s.layer("conv2").output_shape == (192, 56, 56)
    channels = 192  # into inception 3a
    for name, (n1, _, n3, _, d3, proj, grid) in BN_INCEPTION_FIGURE_5.items():
        channels = n1 + n3 + d3 + (proj if proj is not None else channels)  # concatenated branches, by hand
        assert s.layer(name).output_shape == (channels, grid, grid), name
    assert channels == 1024
    # Batch normalisation after every convolution, and no 5×5 convolution left.
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == len(bns) and not any(m.kernel_size == (5, 5) for m in convs)
    assert round(n_params(net) / 1e6, 1) == 11.3  # the figure quoted for BN-Inception's ports


def test_inception_v4_reproduces_figures_3_and_9():
    net = models.create_model("inception_v4")
    assert round(n_params(net) / 1e6, 2) == 42.68  # timm / Cadene's port: 42.68 M at 1,000 classes
    s = summarize(net, (3, 299, 299))
    stem = [s.layer(f"stem.{n}").output_shape for n in ("conv1", "conv2", "conv3", "mixed_3a", "mixed_4a", "mixed_5a")]
    assert stem == [(32, 149, 149), (32, 147, 147), (64, 147, 147), (160, 73, 73), (192, 71, 71), (384, 35, 35)]
    assert [s.layer(n).output_shape for n in ("inception_a", "reduction_a", "inception_b", "reduction_b",
                                               "inception_c")] == [
        (384, 35, 35), (1024, 17, 17), (1024, 17, 17), (1536, 8, 8), (1536, 8, 8)]
    assert [len(getattr(net, n)) for n in ("inception_a", "inception_b", "inception_c")] == [4, 7, 3]


def test_inception_resnet_v2_reproduces_the_reference_model():
    net = models.create_model("inception_resnet_v2")
    assert round(n_params(net) / 1e6, 2) == 55.84  # timm / Cadene's port: 55.84 M at 1,000 classes
    s = summarize(net, (3, 299, 299))
    assert [s.layer(n).output_shape for n in ("stem", "inception_resnet_a", "reduction_a", "inception_resnet_b",
                                               "reduction_b", "inception_resnet_c", "conv_7b")] == [
        (320, 35, 35), (320, 35, 35), (1088, 17, 17), (1088, 17, 17), (2080, 8, 8), (2080, 8, 8), (1536, 8, 8)]
    assert [len(getattr(net, n)) for n in ("inception_resnet_a", "inception_resnet_b", "inception_resnet_c")] == [10, 20, 10]


@pytest.mark.parametrize("stage,scale,relu", [("inception_resnet_a.0", 0.17, True), ("inception_resnet_b.0", 0.10, True),
                                             ("inception_resnet_c.0", 0.20, True), ("inception_resnet_c.9", 1.0, False)])
def test_inception_resnet_scales_its_residuals(stage, scale, relu):
    """Section 3.3: the residual is scaled down (by 0.1-0.3) before it is added. Seen from outside:
    make a block's residual exactly 1 everywhere (last 1×1 convolution: zero weights, bias 1), feed
    it -0.05, and the block must output -0.05 + scale (then ReLU, except in the very last block)."""
    block = models.create_model("inception_resnet_v2", num_classes=10, input_size=32).get_submodule(stage).eval()
    last = [m for m in block.modules() if isinstance(m, nn.Conv2d)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(1.0)
        x = torch.full((1, last.out_channels, 5, 5), -0.05)
        out = block(x)
    expected = torch.tensor(-0.05 + scale)
    expected = expected.clamp_min(0) if relu else expected
    torch.testing.assert_close(out, expected.expand_as(out))


def test_fractalnet_follows_the_expansion_rule():
    net = models.create_model("fractalnet", num_classes=10, input_size=32)
    # Figure 1: "Stacking B such blocks yields a network whose total depth, measured in terms of
    # convolution layers, is B · 2^(C-1). This example has depth 40 (B = 5, C = 4)."
    assert net.depth == 40
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 5 * (1 + 2 + 4 + 8)  # columns of 1, 2, 4 and 8 convolutions in each block
    # Parameters by hand: per block, C = 4 convolutions read the block's input, 11 its own width;
    # 3×3 kernels without bias, then batch normalisation (scale and shift per channel).
    widths = [3, 64, 128, 256, 512, 512]
    per_block = [4 * (a * b * 9 + 2 * b) + 11 * (b * b * 9 + 2 * b) for a, b in zip(widths, widths[1:])]
    assert n_params(net) == sum(per_block) + 512 * 10 + 10 == 76_106_634
    s = summarize(net, (3, 32, 32))
    assert [s.layer(f"blocks.{i}").output_shape for i in range(5)] == [
        (64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4), (512, 2, 2)]  # each then pooled 2×2


def test_fractal_joins_average_and_columns_run_alone():
    from models.fractalnet import FractalBlock

    torch.manual_seed(0)
    block = FractalBlock(3, 4, num_columns=2).eval()
    (shallow,), (deep1, deep2) = block.columns
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        # f_2(z) = join(f_1(f_1(z)), f_1(z)) with join the element-wise mean.
        torch.testing.assert_close(block(x), (deep2(deep1(x)) + shallow(x)) / 2)
        torch.testing.assert_close(block(x, column=1), deep2(deep1(x)))
        # C = 3: f_3(z) = join(f_2(f_2(z)), conv(z)), the last join meeting three columns at once.
        big = FractalBlock(3, 4, num_columns=3).eval()
        c0, c1, c2 = big.columns
        y = (c2[1](c2[0](x)) + c1[0](x)) / 2
        expected = (c2[3](c2[2](y)) + c1[1](y) + c0[0](x)) / 3
        torch.testing.assert_close(big(x), expected)


def test_fractalnet_drop_path():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 32, 32)
    # Global drop-path: one column is the whole network, so only that column's weights learn this step.
    net = models.create_model("fractalnet", num_classes=10, input_size=32, global_drop=1.0, dropout=None).train()
    net(x).sum().backward()
    used = [{c for c, col in enumerate(block.columns) if any(p.grad is not None for p in col.parameters())}
            for block in net.blocks]
    assert all(len(u) == 1 for u in used) and len({min(u) for u in used}) == 1, used
    # Local drop-path: a join drops each input with the given probability but always keeps one.
    from models.fractalnet import FractalBlock

    outs = [torch.full((1,), float(i)) for i in range(3)]
    assert all(FractalBlock.join(outs, 0.999).item() in (0.0, 1.0, 2.0) for _ in range(20))
    assert FractalBlock.join(outs, 0.0).item() == 1.0
    # At inference: every column, deterministic; or the deepest column alone, as the paper evaluates it.
    net = models.create_model("fractalnet", num_classes=10, input_size=32).eval()
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(x))
        both = net(x)
        net.inference_column = 3
        deepest = net(x)
        by_hand = x
        for block, pool in zip(net.blocks, net.pools):
            for layer in block.columns[3]:
                by_hand = layer(by_hand)
            by_hand = pool(by_hand)
        torch.testing.assert_close(deepest, net.fc(torch.flatten(by_hand.mean((2, 3), keepdim=True), 1)))
        assert not torch.allclose(deepest, both)


@pytest.mark.parametrize("name", ["inception_v4", "inception_resnet_v2"])
def test_inception_v4_family_trains_at_299(name):
    net = models.create_model(name, num_classes=5).train()
    out = net(torch.randn(2, 3, 299, 299))
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 4])).backward()
    assert out.shape == (2, 5) and all(torch.isfinite(p.grad).all() for p in net.parameters())
