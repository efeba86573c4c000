"""A convolution step by step and receptive fields (issue #19, parts 1 and 2): the arithmetic of one output value
ends at exactly what the network computed there, for a plain, a strided (with its batch norm and ReLU), a
grouped and a partial convolution and for pooling; the theoretical receptive fields are those worked out by
hand below from each paper's layer table."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import models
from workbench.core.inspect.conv_step import record_layer, step_at
from workbench.core.inspect.receptive_field import effective_field, theoretical_field


def _model(name: str, shape: tuple[int, int, int]) -> nn.Module:
    torch.manual_seed(0)
    model = models.create_model(name, num_classes=10, in_channels=shape[0], input_size=shape[1:]).eval()
    for m in model.modules():  # batch norm as after training: its statistics and affine terms not the defaults
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model


def _check(step, atol=1e-5):
    assert step.value == pytest.approx(step.recorded, abs=atol, rel=1e-5)
    for s in step.steps:
        assert s.value == pytest.approx(s.recorded, abs=atol, rel=1e-5), s


def test_lenet5_c1_one_value_by_hand_and_by_the_step():
    model = _model("lenet5", (1, 32, 32))
    x = torch.randn(1, 1, 32, 32)
    rec = record_layer(model, x, "c1.conv")
    step = step_at(rec, 3, 10, 20)
    # by hand: C1 is 6 maps of 5×5 kernels, no padding, stride 1 (LeCun et al. 1998, §II.B)
    patch = x[0, 0, 10:15, 20:25].double()
    weight, bias = model.c1.conv.weight[3, 0].detach().double(), float(model.c1.conv.bias[3].detach())
    assert step.rows == list(range(10, 15)) and step.cols == list(range(20, 25)) and step.inputs == [0]
    assert torch.allclose(step.patch[0], patch) and torch.allclose(step.products[0], patch * weight)
    assert step.total == pytest.approx(float((patch * weight).sum())) and step.bias == pytest.approx(bias)
    _check(step)
    assert [s.name for s in step.steps] == ["c1.act"]  # the scaled tanh, f(a) = 1.7159 tanh(2a/3)
    assert step.steps[0].value == pytest.approx(1.7159 * torch.tanh(torch.tensor(step.value * 2 / 3)).item(), rel=1e-6)


def test_resnet18_strided_stem_at_the_border_then_batch_norm_and_relu():
    model = _model("resnet18", (3, 224, 224))
    rec = record_layer(model, torch.randn(1, 3, 224, 224), "conv1")
    assert rec.output.shape == (64, 112, 112)  # 7×7, stride 2, padding 3 (He et al. 2016, Table 1)
    step = step_at(rec, 5, 0, 111)
    assert step.stride == (2, 2) and step.padding == (3, 3)
    assert step.rows == [-3, -2, -1, 0, 1, 2, 3] and step.cols == list(range(219, 226))
    assert (step.patch[:, :3, :] == 0).all() and (step.patch[:, :, -2:] == 0).all()  # the zero padding
    _check(step)
    assert [s.name for s in step.steps][:2] == ["bn1", "relu"]
    assert step.steps[1].value == max(0.0, step.steps[0].value)


def test_alexnet_2012_grouped_conv2_reads_only_its_half_of_the_maps():
    model = _model("alexnet2012", (3, 227, 227))
    rec = record_layer(model, torch.randn(1, 3, 227, 227), "conv2.conv")
    # conv2: 256 kernels of 5×5×48 in two groups (Krizhevsky et al. 2012, §3.5): map 200 is of the second
    first, second = step_at(rec, 10, 13, 13), step_at(rec, 200, 13, 13)
    assert first.inputs == list(range(0, 48)) and second.inputs == list(range(48, 96)) and second.groups == 2
    assert second.kernel.shape == (48, 5, 5)
    _check(first, 1e-4)
    _check(second, 1e-4)


def test_lenet5_c3_follows_its_connection_table():
    model = _model("lenet5", (1, 32, 32))
    rec = record_layer(model, torch.randn(1, 1, 32, 32), "c3.conv")
    # Table I of the paper: map 0 reads maps 0, 1, 2; map 15 all six
    assert step_at(rec, 0, 4, 4).inputs == [0, 1, 2] and step_at(rec, 15, 4, 4).inputs == [0, 1, 2, 3, 4, 5]
    _check(step_at(rec, 9, 7, 2))


def test_pooling_max_average_and_lenet_subsampling():
    model = _model("resnet18", (3, 224, 224))
    rec = record_layer(model, torch.randn(1, 3, 224, 224), "maxpool")
    step = step_at(rec, 7, 0, 0)
    assert step.kind == "max pooling" and step.rows == [-1, 0, 1]
    assert step.value == pytest.approx(float(step.patch[0][step.patch[0] > float("-inf")].max()))
    _check(step)
    lenet = _model("lenet5", (1, 32, 32))
    step = step_at(record_layer(lenet, torch.randn(1, 1, 32, 32), "s2.pool"), 2, 5, 9)
    coefficient, bias = float(lenet.s2.pool.weight[2].detach()), float(lenet.s2.pool.bias[2].detach())
    assert step.kind == "subsampling" and step.value == pytest.approx(step.total * coefficient + bias)
    _check(step)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AvgPool2d(3, 2, padding=1, count_include_pad=False)).eval()
    step = step_at(record_layer(net, torch.randn(1, 1, 12, 12), "1"), 1, 0, 0)
    assert step.kind == "average pooling" and step.value == pytest.approx(step.total / 4)  # 2×2 of the 3×3 inside
    _check(step)
    with pytest.raises(ValueError, match="step by step works for"):
        record_layer(nn.Sequential(nn.Linear(3, 3)), torch.randn(1, 3), "0")


# Receptive fields worked out by hand: r_out = r_in + (k − 1) × j_in, j_out = j_in × s.
LENET = {"c1": (5, 1), "s2": (6, 2), "c3": (14, 2), "s4": (16, 4)}  # 5×5 convs, 2×2 subsampling
VGG16 = {"features.3": (5, 1), "features.4": (6, 2), "features.8": (14, 2), "features.9": (16, 4),
         "features.15": (40, 4), "features.16": (44, 8), "features.22": (92, 8), "features.23": (100, 16),
         "features.29": (196, 16), "features.30": (212, 32)}  # 3×3 convs, 2×2 pools (Simonyan & Zisserman, D)
RESNET18 = {"conv1": (7, 2), "maxpool": (11, 4), "layer1": (43, 4), "layer2": (99, 8)}
# 7×7/2 stem, 3×3/2 max pool, four 3×3 convs at stride 4, then 3×3/2 + three 3×3 at stride 8; the 1×1
# shortcut sees less than the main path, and a field is the union of its paths


@pytest.mark.parametrize("name,shape,expected", [("lenet5", (1, 32, 32), LENET), ("vgg16", (3, 224, 224), VGG16),
                                                 ("resnet18", (3, 224, 224), RESNET18)])
def test_theoretical_receptive_fields_are_those_worked_out_by_hand(name, shape, expected):
    model = models.create_model(name, num_classes=10, in_channels=shape[0], input_size=shape[1:])
    for layer, (size, stride) in expected.items():
        field = theoretical_field(model, shape, layer)
        assert field.size == (size, size) and field.stride == (stride, stride), (layer, field)


def test_the_effective_field_lies_inside_the_theoretical_one():
    model = _model("resnet18", (3, 224, 224))
    x = torch.randn(1, 3, 224, 224)
    field = theoretical_field(model, (3, 224, 224), "layer1")
    heat = effective_field(model, x, "layer1", 3, 20, 30)
    top, left, bottom, right = field.box(20, 30, 224, 224)
    inside = torch.zeros_like(heat, dtype=torch.bool)
    inside[top:bottom, left:right] = True
    assert float(heat.max()) == pytest.approx(1.0) and float(heat[~inside].abs().sum()) == 0.0
    assert float(heat[inside].gt(0).float().mean()) > 0.5
