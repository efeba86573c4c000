"""Knock-outs, branch shares and top images (issue #17), each checked against the same computed by hand with
forward hooks on the modules themselves: a residual branch, a skip connection, an inception branch and a
channel switched off; each branch's share at a merge; the receptive fields of VGG-16 (Simonyan & Zisserman,
2015) measured; the nine strongest images per channel, cached with the run."""

from __future__ import annotations

import pytest
import torch

import models
from workbench.core.inspect.ablation import (KnockOut, accuracy_with, branch_shares, branches, graph_for,
                                             knock_out, replay)
from workbench.core.inspect.top_images import cached_top_images, receptive_field, top_images


def _zeroed(module, channel=None):
    def hook(m, args, out):
        out = out.clone()
        if channel is None:
            out.zero_()
        else:
            out[:, channel] = 0
        return out
    return module.register_forward_hook(hook)


def _by_hand(model, x, module, channel=None):
    handle = _zeroed(module, channel)
    try:
        with torch.no_grad():
            return torch.softmax(model(x), 1)
    finally:
        handle.remove()


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return models.create_model("resnet18", num_classes=10, input_size=64).eval()


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "densenet_bc_100", "dpn26", "fractalnet", "se_resnet18",
                                  "resnext29_8x64d", "nin", "lenet5"])
def test_the_replayed_graph_is_the_network_on_a_new_image(name):
    torch.manual_seed(0)
    model = models.create_model(name, num_classes=10, input_size=32).eval()
    graph = graph_for(model, (2, 3, 32, 32))
    x = torch.randn(2, 3, 32, 32)  # not the input the graph was captured with
    with torch.no_grad():
        torch.testing.assert_close(replay(graph, x), model(x))


def test_switching_off_a_residual_branch_a_skip_connection_or_a_channel(resnet):
    x = torch.randn(1, 3, 64, 64)
    graph = graph_for(resnet, x.shape)
    found = branches(graph, "layer2.0:add")
    assert [b.words for b in found] == ["the residual branch (layer2.0.bn2)",
                                        "the skip connection (layer2.0.downsample.1)"]
    block = resnet.layer2[0]
    torch.testing.assert_close(knock_out(resnet, x, KnockOut("layer2.0:add", branch=0)), _by_hand(resnet, x, block.bn2))
    torch.testing.assert_close(knock_out(resnet, x, KnockOut("layer2.0:add", branch=1)),
                               _by_hand(resnet, x, block.downsample))
    torch.testing.assert_close(knock_out(resnet, x, KnockOut("layer3.1.conv1", channel=5)),
                               _by_hand(resnet, x, resnet.layer3[1].conv1, channel=5))
    assert not torch.allclose(knock_out(resnet, x, None), knock_out(resnet, x, KnockOut("layer2.0:add", branch=0)))
    with pytest.raises(ValueError, match="no channel 512"):
        knock_out(resnet, x, KnockOut("layer4.1.conv2", channel=512))


def test_switching_off_an_inception_branch():
    torch.manual_seed(0)
    net = models.create_model("googlenet", num_classes=10, input_size=64).eval()
    x = torch.randn(1, 3, 64, 64)
    found = branches(graph_for(net, x.shape), "inception4c:cat")
    assert len(found) == 4 and found[1].words.startswith("branch 2")  # Szegedy et al. 2015: four branches
    torch.testing.assert_close(knock_out(net, x, KnockOut("inception4c:cat", branch=1)),
                               _by_hand(net, x, net.inception4c.branch2))


def test_branch_shares_at_an_addition_and_a_concatenation(resnet):
    x = torch.randn(1, 3, 64, 64)
    shares = branch_shares(resnet, x, "layer2.0:add", 3)
    assert sum(shares.magnitude) == pytest.approx(1.0)
    # By hand: both branches caught as leaves where their modules return them, the sum formed by the block.
    caught = {}

    def leaf(name):
        def hook(m, a, out):
            caught[name] = out.detach().requires_grad_(True)
            return caught[name].clone()
        return hook
    block = resnet.layer2[0]
    handles = [block.bn2.register_forward_hook(leaf("branch")), block.downsample.register_forward_hook(leaf("skip"))]
    try:
        score = resnet(x)[0, 3]
    finally:
        for h in handles:
            h.remove()
    g_branch, g_skip = torch.autograd.grad(score, [caught["branch"], caught["skip"]])
    evidence = [float((g_branch * caught["branch"].detach()).sum()), float((g_skip * caught["skip"].detach()).sum())]
    assert shares.raw_evidence == pytest.approx(evidence, rel=1e-4, abs=1e-6)
    sizes = [float(caught[k].detach().abs().sum()) for k in ("branch", "skip")]
    assert shares.magnitude == pytest.approx([s / sum(sizes) for s in sizes], rel=1e-5)
    torch.testing.assert_close(shares.maps[0], caught["branch"].detach()[0])

    torch.manual_seed(0)
    net = models.create_model("googlenet", num_classes=10, input_size=64).eval()
    outputs = {}
    handles = [getattr(net.inception4c, f"branch{i}").register_forward_hook(
        lambda m, a, out, i=i: outputs.__setitem__(i, out.detach().abs().sum())) for i in range(1, 5)]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    cat = branch_shares(net, x, "inception4c:cat", 0)
    total = sum(float(v) for v in outputs.values())
    assert cat.magnitude == pytest.approx([float(outputs[i]) / total for i in range(1, 5)], rel=1e-5)


def test_accuracy_with_a_knock_out_against_by_hand(resnet):
    torch.manual_seed(1)
    data = [(torch.randn(8, 3, 64, 64), torch.randint(0, 10, (8,))) for _ in range(3)] + \
        [(torch.randn(5, 3, 64, 64), torch.randint(0, 10, (5,)))]  # a last batch of another size
    knock = KnockOut("layer1.0:add", branch=1)
    on, off, n = accuracy_with(resnet, data, knock)
    images, labels = torch.cat([d[0] for d in data]), torch.cat([d[1] for d in data])
    with torch.no_grad():
        plain = float((resnet(images).argmax(1) == labels).float().mean())
    # The skip connection of layer1.0 is its input, the stem's max pool: zero it at the add only, by hand.
    block = resnet.layer1[0]
    original = type(block).forward

    def without_skip(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out)
    block.forward = without_skip.__get__(block)
    try:
        with torch.no_grad():
            by_hand = float((resnet(images).argmax(1) == labels).float().mean())
    finally:
        block.forward = original.__get__(block)
    assert (on, off, n) == (pytest.approx(plain), pytest.approx(by_hand), 29)


def test_receptive_fields_of_vgg16_as_the_arithmetic_of_its_layers_gives():
    # 3×3 convolutions add 2 pixels each, 2×2 pools double the step: conv1_2 5, pool1 6, pool2 16, pool3 44,
    # pool4 100 (Simonyan & Zisserman 2015, table 1, configuration D).
    vgg = models.create_model("vgg16", num_classes=10).eval()
    sizes = [receptive_field(vgg, (3, 224, 224), f"features.{i}").size[0] for i in (2, 4, 9, 16, 23)]
    assert sizes == [5, 6, 16, 44, 100]
    field = receptive_field(vgg, (3, 224, 224), "features.9")
    assert field.stride == (4.0, 4.0) and field.box(0, 0, 224, 224) == (0, 0, 10, 10)
    # The corner unit's field reaches 6 pixels into the padding: its crop keeps the field's 16×16, padded grey.
    box = field.box(0, 0, 224, 224, clip=False)
    assert box == (-6, -6, 10, 10)
    from workbench.core.inspect.top_images import crop_field

    crop = crop_field(torch.ones(3, 224, 224), box)
    assert crop.shape == (3, 16, 16) and float(crop[:, :6].mean()) == 0.5 and float(crop[:, 6:, 6:].min()) == 1.0


def test_top_images_are_the_strongest_and_come_back_from_the_run_folder(resnet, tmp_path):
    torch.manual_seed(2)
    images = torch.randn(40, 3, 64, 64)
    batches = lambda: [(torch.arange(i, i + 16).clamp_max(39)[: len(images[i:i + 16])], images[i:i + 16])
                       for i in range(0, 40, 16)]
    found = top_images(resnet, batches(), "layer2", (3, 64, 64))
    caught = []
    handle = resnet.layer2.register_forward_hook(lambda m, a, out: caught.append(out.detach().amax((2, 3))))
    with torch.no_grad():
        resnet(images)
    handle.remove()
    strongest = caught[0]  # 40 × channels
    for channel in (0, 17, 127):
        assert [i for i, _, _ in found.channel(channel)] == strongest[:, channel].topk(9).indices.tolist()
    # At a merge too: the residual sum of layer2.0 before its ReLU, the input of the block's second ReLU call.
    merged = top_images(resnet, batches(), "layer2.0:add", (3, 64, 64))
    sums = []
    handle = resnet.layer2[0].relu.register_forward_pre_hook(lambda m, a: sums.append(a[0].detach().amax((2, 3))))
    with torch.no_grad():
        resnet(images)
    handle.remove()
    assert [i for i, _, _ in merged.channel(7)] == sums[1][:, 7].topk(9).indices.tolist()
    calls = []

    def compute():
        calls.append(1)
        return top_images(resnet, batches(), "layer2", (3, 64, 64))
    first, cached = cached_top_images(tmp_path, resnet, "layer2", compute)
    again, cached_again = cached_top_images(tmp_path, resnet, "layer2", compute)
    assert (cached, cached_again, len(calls)) == (False, True, 1)
    assert torch.equal(first.indices, again.indices) and again.field == first.field
    for path in (tmp_path / "explain").iterdir():
        path.write_bytes(b"not a tensor file")  # damaged: computed again, not an error
    _, cached = cached_top_images(tmp_path, resnet, "layer2", compute)
    assert cached is False and len(calls) == 2
    import copy

    other = copy.deepcopy(resnet)  # other weights (a later epoch): not the cached result
    with torch.no_grad():
        other.layer2[0].conv1.weight.mul_(-1)
    _, cached = cached_top_images(tmp_path, other, "layer2", compute)
    assert cached is False and len(calls) == 3
