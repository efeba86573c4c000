"""The zoo: registry, the papers' numbers, and one interface on every model.

Tests iterate ``models.list_models()``, so a model is covered the day it is registered."""

import pytest
import torch
import torchvision
from torch import nn
from torch.nn import functional as F

import models

ALL = models.list_models()
SHAPES = [(1, 28, 28), (3, 32, 32), (3, 224, 224)]


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_registry_lists_and_filters():
    assert {"lenet5", "resnet18"} <= set(ALL)
    assert sorted(ALL) == sorted(set(ALL))  # each once
    by_depth = [n for n in ALL if n in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")]
    assert by_depth == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]  # natural order
    assert models.list_models("resnet*") == [n for n in ALL if n.startswith("resnet")]
    assert "lenet5" not in models.list_models(exclude="lenet*")
    assert models.list_models(family="LeNet")[0].startswith("lenet")


def test_registry_refuses_duplicates_and_unknown_names():
    with pytest.raises(ValueError, match="already registered"):
        models.register_model(family="x", year=1, paper="p", url="u", idea="i", name="lenet5")(lambda **k: None)
    with pytest.raises(KeyError, match="Unknown model 'nope'"):
        models.create_model("nope")


@pytest.mark.parametrize("name", ALL)
def test_model_card_is_complete(name):
    info = models.get_model_info(name)
    assert info.family and info.paper and info.url.startswith("http") and len(info.idea) > 60
    assert 1980 < info.year < 2030
    assert len(info.input_size) == 3


def test_lenet5_parameters_per_layer_match_the_paper():
    net = models.create_model("lenet5", num_classes=10, in_channels=1)
    per_layer = {name: n_params(child) for name, child in net.named_children()}
    assert per_layer == {"stem": 0, "c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164,
                         "output": 850}


# LeCun et al. 1998, Table I: "Each column indicates which feature map in S2 are combined by the
# units in a particular feature map of C3." Rows are the six S2 maps, columns the sixteen C3 maps.
PAPER_TABLE_I = """
X . . . X X X . . X X X X . X X
X X . . . X X X . . X X X X . X
X X X . . . X X X . . X . X X X
. X X X . . X X X X . . X . X X
. . X X X . . X X X X . X X . X
. . . X X X . . X X X X . X X X
"""


def test_lenet5_squashing_and_subsampling_are_the_papers():
    from models.lenet import ScaledTanh, Subsampling

    # Appendix A: f(a) = A tanh(S a) with A = 1.7159 and S = 2/3, chosen so that f(±1) = ±1.
    f = ScaledTanh()
    x = torch.tensor([-1.0, 0.5, 1.0, 3.0])
    torch.testing.assert_close(f(x), 1.7159 * torch.tanh(x * 2 / 3))
    assert f(torch.tensor(1.0)).item() == pytest.approx(1.0, abs=1e-3)
    # Section II.B: S2 adds its four inputs, multiplies by a trainable coefficient, adds a bias.
    s2 = Subsampling(2)
    with torch.no_grad():
        s2.weight.copy_(torch.tensor([1.0, 0.5]))
        s2.bias.copy_(torch.tensor([0.0, 1.0]))
    x = torch.arange(32.0).view(1, 2, 4, 4)
    out = s2(x)
    assert out.shape == (1, 2, 2, 2)
    assert out[0, 0, 0, 0].item() == 0 + 1 + 4 + 5  # top-left 2×2 of map 0, summed
    assert out[0, 1, 1, 1].item() == 0.5 * (26 + 27 + 30 + 31) + 1.0


def test_lenet5_c3_is_the_papers_partial_connection():
    """C3 probed from outside with unit impulses: the kernel it really applies from each S2 map
    to each C3 map is zero exactly where the paper's Table I has no X."""
    table = torch.tensor([[c == "X" for c in row.split()] for row in PAPER_TABLE_I.strip().splitlines()])
    assert table.shape == (6, 16) and int(table.sum()) == 60
    c3 = models.create_model("lenet5", num_classes=10, in_channels=1).c3.conv
    with torch.no_grad():
        bias = c3(torch.zeros(1, 6, 5, 5))[0, :, 0, 0]  # a 5×5 input gives one output per map
        impulses = torch.eye(6 * 25).view(6 * 25, 6, 5, 5)
        dense = (c3(impulses)[:, :, 0, 0] - bias).T.reshape(16, 6, 5, 5)  # out × in × 5 × 5
        connected = dense.abs().amax(dim=(2, 3)) > 0  # 16 × 6
        assert connected.T.tolist() == table.tolist()
        # And C3 is exactly that convolution (linear, shift-invariant) on a real-sized input.
        x = torch.randn(3, 6, 14, 14)
        torch.testing.assert_close(c3(x), F.conv2d(x, dense, bias), atol=1e-5, rtol=1e-5)
    assert sum(p.numel() for p in c3.parameters()) == 60 * 25 + 16  # 1,516, as in the paper


def test_resnet18_is_torchvisions():
    ours, theirs = models.create_model("resnet18"), torchvision.models.resnet18()
    assert n_params(ours) == n_params(theirs) == 11_689_512
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(1, 3, 224, 224)
    torch.testing.assert_close(ours.eval()(x), theirs.eval()(x))


def test_resnet_stem_adapts_to_small_inputs():
    small = models.create_model("resnet18", num_classes=10, in_channels=1, input_size=32)
    assert small.conv1.kernel_size == (3, 3) and small.conv1.stride == (1, 1)
    assert isinstance(small.maxpool, nn.Identity) and "CIFAR" in small.stem_info
    big = models.create_model("resnet18", num_classes=10, in_channels=1, input_size=224)
    assert big.conv1.kernel_size == (7, 7) and big.conv1.in_channels == 1 and "ImageNet" in big.stem_info


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", ALL)
def test_forward_backward_at_every_shape(name, shape):
    torch.manual_seed(0)
    # Drop-path leaves the columns it drops without a gradient in that step, by design (tested on its own).
    kwargs = dict(local_drop=0.0, global_drop=0.0) if name == "fractalnet" else {}
    net = models.create_model(name, num_classes=7, in_channels=shape[0], input_size=shape, **kwargs)
    net.train()
    out = net(torch.randn(2, *shape))
    outputs = list(out) if isinstance(out, (tuple, list)) else [out]  # main logits, then auxiliary ones
    assert all(o.shape == (2, 7) for o in outputs)
    sum(F.cross_entropy(o, torch.tensor([0, 3])) for o in outputs).backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", ALL)
def test_common_interface(name):
    info = models.get_model_info(name)
    shape = (3, 32, 32) if not info.fixed_input else info.input_size
    net = models.create_model(name, num_classes=5, in_channels=shape[0], input_size=shape).eval()
    x = torch.randn(2, *shape)
    with torch.no_grad():
        features = net.forward_features(x)
        torch.testing.assert_close(net.forward_head(features), net(x))
        assert net.forward_head(features, pre_logits=True).shape[0] == 2
    assert net.num_classes == 5
    # feature_info names real modules whose outputs have the stated channels and reduction.
    shapes = {}

    def record(key):
        def hook(module, args, output):
            shapes.setdefault(key, output.shape)
        return hook

    hooks = [net.get_submodule(f["module"]).register_forward_hook(record(f["module"])) for f in net.feature_info]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    model_input = x.shape[-1] if not info.fixed_input else info.input_size[-1]
    for f in net.feature_info:
        assert shapes[f["module"]][1] == f["num_chs"], f
        # reduction is the stride so far: 'valid' convolutions may shave a few pixels more.
        size = shapes[f["module"]][-1]
        assert model_input / (2 * f["reduction"]) < size <= model_input / f["reduction"], (f, size)
    net.reset_classifier(3)
    assert net.num_classes == 3 and net(x).shape == (2, 3)
