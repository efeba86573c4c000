"""Attribution (issue #17): Grad-CAM and LayerCAM checked against numbers worked out by hand on a tiny network,
a map for two classes from every model of the zoo, Grad-CAM finding the object that decides the class,
Captum's input methods with progress, preview and cancel, and hooks that leave nothing behind."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import models
from workbench.core.inspect.attribution import (LAYER_RULE, cam_maps, default_layer, explain, stage_cams,
                                                stage_layers)
from workbench.core.inspect.input_attribution import attribute

ALL = models.list_models()


class Tiny(nn.Module):
    """x → 1×1 conv with kernels +1 and −1 (so A₀ = x, A₁ = −x) → in-place ReLU → global mean → fc."""

    def __init__(self):
        super().__init__()
        self.feat = nn.Conv2d(1, 2, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.feat.weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
            self.fc.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, -1.0]]))

    def forward(self, x):
        return self.fc(self.relu(self.feat(x)).mean((2, 3)))


X = torch.tensor([[1.0, -2.0], [3.0, 0.5]]).view(1, 1, 2, 2)


def test_grad_cam_is_the_relu_of_the_gradient_weighted_maps_by_hand():
    # dS_c/dA_k = W[c,k]/4 where A_k > 0 (the ReLU after the layer), 0 elsewhere. A₀ = x is positive at 3 of
    # 4 places, A₁ = −x at 1: α = W[c]·(3/16, 1/16) → class 0: α = (3/16, 2/16), Grad-CAM = ReLU(x/16);
    # class 1: α = (9/16, −1/16), Grad-CAM = ReLU(10x/16). An in-place ReLU must not change A (it would
    # give (3/16, 4/16; 9/16, 1.5/16) for class 0).
    maps = cam_maps(Tiny().eval(), X, [0, 1], ["feat"], "gradcam")["feat"]
    torch.testing.assert_close(maps[0].raw, torch.tensor([[1.0, 0.0], [3.0, 0.5]]) / 16)
    torch.testing.assert_close(maps[1].raw, torch.tensor([[10.0, 0.0], [30.0, 5.0]]) / 16)
    torch.testing.assert_close(maps[1].map, torch.tensor([[1 / 3, 0.0], [1.0, 1 / 6]]))  # scaled by its max
    assert maps[0].layer == "feat" and maps[0].rule == ""


def test_layer_cam_weighs_each_position_by_its_own_positive_gradient_by_hand():
    # class 0: ReLU(G₀)·A₀ + ReLU(G₁)·A₁ = ¼[1,0;1,1]·x + ½[0,1;0,0]·(−x) = [¼, 1; ¾, ⅛].
    layer_cam = cam_maps(Tiny().eval(), X, [0], ["feat"], "layercam")["feat"][0]
    torch.testing.assert_close(layer_cam.raw, torch.tensor([[0.25, 1.0], [0.75, 0.125]]))
    plus = cam_maps(Tiny().eval(), X, [0], ["feat"], "gradcam++")["feat"][0]
    assert plus.raw.shape == (2, 2) and bool((plus.raw >= 0).all())


def test_no_hook_is_left_and_memory_stays_flat_over_a_thousand_calls():
    model = models.create_model("resnet20", num_classes=10, input_size=32).eval()
    x = torch.randn(1, 3, 32, 32)

    def resident() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096

    for _ in range(50):
        cam_maps(model, x, [1], None)
    before = resident()
    for i in range(1000):
        cam_maps(model, x, [i % 10], ["layer2", "layer2.0:add"] if i % 100 == 0 else None)
    assert resident() - before < 30 * 2**20
    assert all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks for m in model.modules())
    assert model.training is False and all(p.grad is None for p in model.parameters())
    assert all(getattr(m, "inplace", True) for m in model.modules() if isinstance(m, nn.ReLU))


def test_the_default_layer_is_where_forward_features_ends():
    resnet = models.create_model("resnet18", num_classes=10).eval()
    x = torch.randn(1, 3, 224, 224)
    assert default_layer(resnet, x) == "layer4"  # 7×7 at 224 (He et al. 2015, table 1: conv5_x)
    assert stage_layers(resnet, x) == ["relu", "layer1", "layer2", "layer3", "layer4"]
    strip = stage_cams(resnet, x, 3)
    assert [tuple(a.raw.shape) for a in strip] == [(112, 112), (56, 56), (28, 28), (14, 14), (7, 7)]
    assert all(a.map.shape == (224, 224) for a in strip)
    vgg = models.create_model("vgg16", num_classes=10).eval()
    assert default_layer(vgg, x) == "features"  # its last max pool: 7×7×512 (Simonyan & Zisserman, table 1)
    assert LAYER_RULE.startswith("the last layer whose output is spatial")


def _input(name: str) -> torch.Tensor:
    info = models.get_model_info(name)
    shape = (3, 32, 32) if not info.fixed_input else info.input_size
    generator = torch.Generator().manual_seed(7)
    # A smooth image, not white noise: a random network's maps then still have structure to differ in.
    small = torch.rand(1, 3, 4, 4, generator=generator)
    return nn.functional.interpolate(small, size=shape[1:], mode="bilinear", align_corners=False) * 2 - 1


@pytest.mark.parametrize("name", ALL)
def test_every_model_maps_two_classes_at_the_input_size(name):
    torch.manual_seed(0)
    x = _input(name)
    model = models.create_model(name, num_classes=5, input_size=tuple(x.shape[1:])).eval()
    with torch.no_grad():
        order = model(x)[0].argsort(descending=True).tolist()
    maps = cam_maps(model, x, [order[0], order[-1]], None, "gradcam")
    (first, second), = maps.values()
    assert first.map.shape == second.map.shape == x.shape[-2:]
    assert first.raw.dim() == 2 and first.raw.numel() > 1
    # Scaled by its peak (GoogLeNet's untrained raw maps are ~1e-12); an untrained DPN's map for its top class
    # can be all zero (every channel weighted negatively), its last class's then is not.
    assert max(float(first.map.max()), float(second.map.max())) == 1.0
    assert float((first.map - second.map).abs().max()) > 1e-3  # the most and the least likely class differ


def _objects(n: int, generator: torch.Generator):
    """32×32 noise with one 6×6 object at a random place: a filled square (class 0) or a hollow one (1)."""
    images = torch.rand(n, 1, 32, 32, generator=generator) * 0.3
    labels = torch.randint(0, 2, (n,), generator=generator)
    boxes = []
    for i in range(n):
        top, left = (int(v) for v in torch.randint(0, 26, (2,), generator=generator))
        images[i, 0, top:top + 6, left:left + 6] = 1.0
        if labels[i] == 1:
            images[i, 0, top + 2:top + 4, left + 2:left + 4] = 0.0
        boxes.append((top, left))
    return images, labels, boxes


def test_grad_cam_peaks_on_the_object_that_decides_the_class():
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(32, 2))
    images, labels, _ = _objects(1200, generator)
    optimiser = torch.optim.Adam(net.parameters(), 3e-3)
    for epoch in range(4):
        for i in range(0, len(images), 50):
            optimiser.zero_grad()
            nn.functional.cross_entropy(net(images[i:i + 50]), labels[i:i + 50]).backward()
            optimiser.step()
    test, test_labels, boxes = _objects(200, generator)
    net.eval()
    with torch.no_grad():
        accuracy = float((net(test).argmax(1) == test_labels).float().mean())
    assert accuracy > 0.9
    hits = 0
    for i in range(len(test)):
        found = explain(net, test[i:i + 1], int(test_labels[i]), "gradcam")
        peak = int(found.map.argmax())
        row, col = divmod(peak, 32)
        top, left = boxes[i]
        hits += top - 2 <= row < top + 8 and left - 2 <= col < left + 8  # the object, and a 2-pixel margin
    chance = (10 * 10) / (32 * 32)
    assert hits / len(test) > 0.8 and hits / len(test) > 5 * chance


def test_captum_methods_report_progress_a_preview_and_stop_when_cancelled():
    model = models.create_model("resnet20", num_classes=10, input_size=32).eval()
    x = torch.randn(1, 3, 32, 32)
    in_place = [m for m in model.modules() if getattr(m, "inplace", False) is True]
    assert in_place  # ResNet's ReLUs: Guided Backprop needs them out of place for its pass
    for method in ("saliency", "guided_backprop", "integrated_gradients", "smoothgrad", "occlusion"):
        seen, previews = [], []
        found = attribute(model, x, 2, method, progress=lambda d, t: seen.append((d, t)), preview=previews.append)
        assert found.map.shape == (32, 32) and found.raw.shape == (32, 32) and found.layer is None
        assert seen[-1][0] == seen[-1][1]
        assert len(previews) == (method in ("integrated_gradients", "smoothgrad", "occlusion"))
    assert all(m.inplace is True for m in in_place)  # set back after each pass

    class Stop(Exception):
        pass

    calls = []

    def progress(done, total):
        calls.append(done)
        if len(calls) > 2:
            raise Stop

    with pytest.raises(Stop):
        attribute(model, x, 2, "integrated_gradients", progress=progress)
    assert len(calls) == 3 and all(not m._forward_hooks for m in model.modules())


def test_integrated_gradients_add_up_to_the_change_of_the_score():
    # IG's completeness (Sundararajan et al. 2017, §3): Σ attributions = F(x) − F(baseline).
    import captum.attr as ca

    model = models.create_model("lenet5_relu", num_classes=10, in_channels=1, input_size=32).eval()
    x = torch.randn(1, 1, 32, 32)
    attr = ca.IntegratedGradients(lambda t: model(t)).attribute(x, torch.zeros_like(x), target=4, n_steps=200)
    with torch.no_grad():
        change = float(model(x)[0, 4] - model(torch.zeros_like(x))[0, 4])
    assert float(attr.sum()) == pytest.approx(change, rel=0.02, abs=1e-3)
    ours = explain(model, x, 4, "integrated_gradients", steps=200)
    torch.testing.assert_close(ours.raw, attr[0].sum(0).clamp_min(0), rtol=1e-3, atol=1e-5)


def test_after_a_drop_one_pass_gives_both_classes_and_the_strip():
    from workbench.core.inspect.attribution import why

    torch.manual_seed(0)
    model = models.create_model("resnet20", num_classes=10, input_size=32).eval()
    x = _input("resnet20")
    maps, strip = why(model, x)
    with torch.no_grad():
        order = model(x)[0].argsort(descending=True).tolist()
    assert [a.target for a in maps] == order[:2] and maps[0].rule == LAYER_RULE
    alone = cam_maps(model, x, order[:2], None)
    for ours, theirs in zip(maps, next(iter(alone.values()))):
        torch.testing.assert_close(ours.raw, theirs.raw)
    for ours, theirs in zip(strip, stage_cams(model, x, order[0])):
        assert ours.layer == theirs.layer
        torch.testing.assert_close(ours.raw, theirs.raw)
    chosen, _ = why(model, x, second=order[-1], layer="layer2")
    assert [a.target for a in chosen] == [order[0], order[-1]] and chosen[0].layer == "layer2"
    assert chosen[0].rule == ""


def test_the_map_lies_on_the_photo_as_dropped_for_each_fit():
    from PIL import Image

    from workbench.core.data.transforms import prepare_image
    from workbench.core.inspect.overlay import photo_overlay

    photo = Image.new("RGB", (200, 100), (0, 255, 0))
    heat = torch.zeros(32, 32)
    heat[:, :16] = 1.0  # the left half of the network's input
    red = lambda p: p[0] > p[2] + 40  # noqa: E731 - the hot end of the scale (dark red), not the cold (dark blue)
    # Stretch: the input is the whole photo, so the left half of the photo is hot.
    stretched = photo_overlay(prepare_image(photo, 3, (32, 32), fit="stretch"), heat, 0.7)
    assert stretched.size == (200, 100) and red(stretched.getpixel((40, 50))) and not red(stretched.getpixel((160, 50)))
    # Crop: the input is the centre 100×100 square (x 50–150); outside it the photo is untouched.
    cropped = photo_overlay(prepare_image(photo, 3, (32, 32), fit="crop"), heat, 0.7)
    assert cropped.getpixel((20, 50)) == (0, 255, 0) and cropped.getpixel((180, 50)) == (0, 255, 0)
    assert red(cropped.getpixel((70, 50))) and not red(cropped.getpixel((130, 50)))
    # Pad: the photo sits in the middle of a 200×200 square; the map's left half is the photo's left half.
    padded = photo_overlay(prepare_image(photo, 3, (32, 32), fit="pad"), heat, 0.7)
    assert padded.size == (200, 100) and red(padded.getpixel((40, 50))) and not red(padded.getpixel((160, 50)))


@pytest.mark.parametrize("name, merge", [("resnet20", "layer2.0:add"), ("googlenet", "inception4c:cat")])
def test_a_merge_as_the_layer_with_the_strip_beside_it(name, merge):
    # The merge is tapped through the graph capture while the stages are tapped by module hooks, in one pass.
    from workbench.core.inspect.attribution import why

    torch.manual_seed(0)
    model = models.create_model(name, num_classes=10, input_size=64).eval()
    x = torch.randn(1, 3, 64, 64)
    maps, strip = why(model, x, None, merge)
    alone = cam_maps(model, x, [maps[0].target], [merge])[merge][0]
    torch.testing.assert_close(maps[0].raw, alone.raw)
    assert maps[0].layer == merge and len(strip) == len(stage_layers(model, x))
