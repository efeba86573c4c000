"""Feature maps and predictions, checked against forward hooks and softmax written out here."""

import pytest
import torch
from PIL import Image

import models
from reference import hook_output, preprocess_by_hand
from workbench.core.inspect import feature_maps, grid_shape, tile_maps
from workbench.core.predict import Predictor


@pytest.mark.parametrize("name,layer,shape", [
    ("lenet5", "c1", (6, 28, 28)),  # Sequential(conv, act): its first child's output is not its own
    ("lenet5", "c3", (16, 10, 10)),
    ("lenet5", "f6", (84, 1, 1)),  # a flat layer comes back as F×1×1
    ("resnet20", "layer2", (32, 16, 16)),  # a stage of residual blocks
    ("resnet20", "layer2.0", (32, 16, 16)),
    ("googlenet", "inception3a", (256, 32, 32)),  # four branches concatenated
    ("densenet_bc_100", "features.denseblock1", (216, 32, 32)),
])
def test_feature_maps_are_that_modules_output(name, layer, shape):
    torch.manual_seed(0)
    in_channels = 1 if name == "lenet5" else 3
    model = models.create_model(name, num_classes=10, in_channels=in_channels, input_size=32).eval()
    x = torch.randn(in_channels, 32, 32)
    maps = feature_maps(model, x, layer)
    expected = hook_output(model, layer, x)
    assert maps.shape == shape
    torch.testing.assert_close(maps, expected.reshape(shape))


def test_feature_maps_are_eval_mode_maps_and_leave_a_training_model_training():
    torch.manual_seed(0)
    model = models.create_model("resnet20", num_classes=10, input_size=32).train()
    model(torch.randn(8, 3, 32, 32))  # running statistics that differ from one image's own
    x = torch.randn(3, 32, 32)
    maps = feature_maps(model, x, "layer1")
    assert model.training and all(m.training for m in model.modules())
    torch.testing.assert_close(maps, hook_output(model, "layer1", x))  # the hook runs in eval mode


def test_classifier_gives_softmax_of_the_preprocessed_image(tmp_path):
    torch.manual_seed(0)
    model = models.create_model("lenet5_relu", num_classes=5, in_channels=3, input_size=32).eval()
    classes = ["ant", "bee", "cat", "dog", "eel"]
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    clf = Predictor(model, classes, (3, 32, 32), (16, 16), mean, std)
    image = torch.rand(3, 16, 16)
    with torch.no_grad():
        expected = torch.softmax(model(preprocess_by_hand(image.unsqueeze(0), (32, 32), mean, std))[0], 0)
    torch.testing.assert_close(clf.probabilities(image), expected)
    order = expected.argsort(descending=True).tolist()
    top = clf.top_k(image, 3)
    assert [c for c, _ in top] == [classes[i] for i in order[:3]]
    assert [p for _, p in top] == pytest.approx(expected[order[:3]].tolist())
    assert len(clf.top_k(image, 10)) == 5  # no more than there are classes

    # A file goes through the same path: a 16×16 RGB PNG is exactly that tensor (up to 8 bits).
    pixels = (image * 255).round().byte()
    path = tmp_path / "x.png"
    Image.fromarray(pixels.permute(1, 2, 0).numpy(), "RGB").save(path)
    torch.testing.assert_close(clf.probabilities(path), clf.probabilities(pixels.float() / 255))
    maps = clf.feature_maps(path, "conv1")
    net_input = preprocess_by_hand((pixels.float() / 255).unsqueeze(0), (32, 32), mean, std)[0]
    torch.testing.assert_close(maps, hook_output(model, "conv1", net_input))


def test_grid_and_tiles():
    # Near-square grids, by hand: 6 maps in 2×3, 16 in 4×4, 84 in 9×10, 1 in 1×1.
    assert [grid_shape(n) for n in (1, 6, 16, 84)] == [(1, 1), (2, 3), (4, 4), (9, 10)]
    maps = torch.stack([torch.full((4, 4), float(i)) for i in range(5)])
    maps[:, 0, 0] = -10.0 * torch.arange(1, 6)  # each tile has its own range
    mosaic, grid = tile_maps(maps, padding=1)
    assert grid == (2, 3) and mosaic.shape == (2 * 5 + 1, 3 * 5 + 1)
    for i in range(5):
        r, c = divmod(i, 3)
        tile = mosaic[1 + 5 * r:5 + 5 * r, 1 + 5 * c:5 + 5 * c]
        assert tile[0, 0] == 0.0 and tile.max() == 1.0  # each tile scaled on its own to [0, 1]


def test_a_layer_before_an_in_place_activation_is_recorded_as_it_computed():
    """ResNet-18's ``bn1`` is followed by an in-place ReLU: its maps keep their negative values."""
    torch.manual_seed(0)
    model = models.create_model("resnet18", num_classes=10, input_size=64).eval()
    assert model.relu.inplace
    x = torch.randn(3, 64, 64)
    maps = feature_maps(model, x, "bn1")
    with torch.no_grad():
        by_hand = model.bn1(model.conv1(x[None]))[0]  # the BatchNorm's own output, computed here
    assert float(by_hand.min()) < 0
    torch.testing.assert_close(maps, by_hand)


def test_channel_statistics_order_and_pages_by_hand():
    from workbench.core.inspect.activations import channel_order, channel_stats, page_count, tile_page
    maps = torch.zeros(4, 2, 2)
    maps[1] = torch.tensor([[1.0, 0.0], [3.0, 0.0]])  # mean 1, max 3, half zeros, strength 1
    maps[2] = torch.tensor([[-4.0, 4.0], [2.0, 2.0]])  # a BatchNorm-like channel: mean 1, strength 3
    maps[3] = 0.5  # flat but alive
    stats = channel_stats(maps)
    assert stats.mean.tolist() == [0.0, 1.0, 1.0, 0.5]
    assert stats.max.tolist() == [0.0, 3.0, 4.0, 0.5] and stats.min.tolist() == [0.0, 0.0, -4.0, 0.5]
    assert stats.zeros.tolist() == [1.0, 0.5, 0.0, 0.0]
    assert stats.dead.tolist() == [True, False, False, False] and stats.flat.tolist() == [True, False, False, True]
    assert stats.layer() == {"mean": 0.625, "min": -4.0, "max": 4.0, "zeros": 0.375, "dead": 1}
    assert channel_order(stats, "index") == [0, 1, 2, 3]
    assert channel_order(stats, "strength") == [2, 1, 3, 0]  # mean |value|: 3, 1, 0.5, 0
    assert [page_count(n, 64) for n in (1, 64, 65, 2048)] == [1, 1, 2, 32]
    # Shared scale: symmetric about zero (the page holds -4..4), values kept; per channel: each its own 0..1.
    shared = tile_page(maps, [2, 1], shared=True, padding=1)
    assert shared.levels == (-4.0, 4.0) and shared.grid == (1, 2)
    assert shared.image[1:3, 1:3].tolist() == maps[2].tolist() and shared.image[1:3, 4:6].tolist() == maps[1].tolist()
    own = tile_page(maps, [2, 3], shared=False, padding=1)
    assert own.levels == (0.0, 1.0)
    assert own.image[1:3, 1:3].tolist() == [[0.0, 1.0], [0.75, 0.75]]  # (v + 4) / 8
    assert own.image[1:3, 4:6].tolist() == [[0.5, 0.5], [0.5, 0.5]]  # a flat tile mid-scale
    assert own.channel_at(1.5, 1.5) == 2 and own.channel_at(4.5, 2.0) == 3 and own.channel_at(30, 1) is None
    assert own.origin(1) == (4, 1)


def test_filters_of_the_first_convolution_and_a_pointwise_one():
    import numpy as np
    from workbench.core.inspect.filters import convolutions, filter_page, filters_of, weight_histogram
    model = models.create_model("resnet18", num_classes=10, input_size=224)  # the paper's 7×7 stem
    names = convolutions(model)
    assert names[0] == "conv1" and len(names) == 20  # 17 3×3/7×7 and 3 1×1 downsampling shortcuts (He et al.)
    first = filters_of(model, "conv1")
    assert first.rgb and first.weight.shape == (64, 3, 7, 7)
    torch.testing.assert_close(first.norms, model.conv1.weight.detach().flatten(1).norm(dim=1))
    by_norm = first.order("norm")
    assert first.norms[by_norm[0]] == first.norms.max() and sorted(by_norm) == list(range(64))
    image, grid, scale = filter_page(first, [0, 1], padding=1)
    assert grid == (1, 2) and image.shape == (8 + 1, 2 * 8 + 1, 3)
    w0 = model.conv1.weight.detach()[0]
    assert scale == pytest.approx(float(model.conv1.weight.detach()[[0, 1]].abs().max()))
    # Tile 0 in colour: red is input channel 0, zero is mid-grey.
    np.testing.assert_allclose(image[1:8, 1:8, 0], (w0[0] / (2 * scale) + 0.5).numpy(), atol=1e-6)
    second = filters_of(model, "layer1.0.conv1")
    assert not second.rgb
    grey, _, s = filter_page(second, [5], input_channel=3, padding=0)
    np.testing.assert_allclose(grey, model.layer1[0].conv1.weight.detach()[5, 3].numpy(), atol=1e-6)
    shortcut = filters_of(model, "layer2.0.downsample.0")
    matrix, grid, _ = filter_page(shortcut, [2, 0])
    assert shortcut.pointwise and grid == (2, 64)
    np.testing.assert_allclose(matrix[0], model.layer2[0].downsample[0].weight.detach()[2, :, 0, 0].numpy())
    counts, edges = weight_histogram(first.weight, bins=10)
    assert counts.sum() == 64 * 3 * 49 and edges[0] == pytest.approx(float(first.weight.min()))
    with pytest.raises(ValueError, match="not a convolution"):
        filters_of(model, "bn1")


def test_lenet5_c3_filters_show_the_connection_table():
    """LeCun et al. 1998, table I: C3's map 0 sees S2's maps 0, 1, 2; map 15 sees all six. The kernels a
    map lacks are zero."""
    from workbench.core.inspect.filters import convolutions, filters_of
    model = models.create_model("lenet5", num_classes=10)
    assert "c3.conv" in convolutions(model)
    c3 = filters_of(model, "c3.conv")
    assert c3.weight.shape == (16, 6, 5, 5) and not c3.rgb
    seen = (c3.weight.abs().sum(dim=(2, 3)) > 0)
    assert seen[0].tolist() == [True, True, True, False, False, False]
    assert seen[3].tolist() == [False, False, False, True, True, True]  # table I, column 3: maps 3, 4, 5
    assert seen[13].tolist() == [False, True, True, False, True, True]  # column 13: maps 1, 2, 4, 5
    assert seen[15].all() and int(seen.sum()) == 60
    # Column 3's kernels are the module's 10th to 12th (after three columns of three), on inputs 3, 4 and 5.
    torch.testing.assert_close(c3.weight[3, 3:], model.c3.conv.weight.detach()[9:12])


def test_a_run_keeps_its_initial_kernels_and_they_come_back_beside_the_trained_ones(tmp_path):
    from workbench.core.inspect.filters import filters_of
    from workbench.core.train.checkpointing import INITIAL_FILTERS, load_initial_filters, save_initial_filters
    torch.manual_seed(0)
    model = models.create_model("lenet5", num_classes=10)
    start = {n: m.weight.detach().clone() for n, m in model.named_modules() if hasattr(m, "weight") and
             m.weight is not None and m.weight.dim() in (3, 4)}
    save_initial_filters(tmp_path / INITIAL_FILTERS, "lenet5", model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # "training"
    kept = load_initial_filters(tmp_path)
    assert set(kept) == {"c1.conv", "c3.conv", "c5.conv"} and torch.equal(kept["c1.conv"], start["c1.conv"])
    c1 = filters_of(model, "c1.conv", initial=kept)
    torch.testing.assert_close(c1.initial, start["c1.conv"])
    torch.testing.assert_close(c1.weight, start["c1.conv"] + 1.0)
    c3 = filters_of(model, "c3.conv", initial=kept)  # the connection table, at the start too
    assert c3.initial.shape == (16, 6, 5, 5) and int((c3.initial.abs().sum(dim=(2, 3)) > 0).sum()) == 60
    assert load_initial_filters(tmp_path / "elsewhere") == {}
    (tmp_path / INITIAL_FILTERS).write_bytes(b"damaged")
    with pytest.raises(Exception, match="corrupt|truncated"):
        load_initial_filters(tmp_path)


def test_one_recording_of_every_layer_keeps_what_each_computed_and_shares_what_is_the_same():
    """The window's recording (``look(every_layer=True)``): ResNet-18's BatchNorm keeps its negative values
    though an in-place ReLU follows it; a stage, whose output is its last block's very tensor, shares that
    clone instead of holding a second copy."""
    torch.manual_seed(0)
    model = models.create_model("resnet18", num_classes=10, input_size=64).eval()
    predictor = Predictor(model, [str(i) for i in range(10)], (3, 64, 64), (64, 64), (0.5,) * 3, (0.25,) * 3)
    image = torch.rand(3, 64, 64)
    _, maps = predictor.look(image, ["bn1"], every_layer=True)
    net_input = predictor.prepare(image)
    with torch.no_grad():
        by_hand = model.bn1(model.conv1(net_input[None]))[0]
    torch.testing.assert_close(maps["bn1"], by_hand)
    assert maps["bn1"].min() < 0 and maps["relu"].min() >= 0
    torch.testing.assert_close(maps["layer1.0"], hook_output(model, "layer1.0", net_input))
    assert maps["layer1"].data_ptr() == maps["layer1.1"].data_ptr()  # one clone for both
    torch.testing.assert_close(maps["layer1"], hook_output(model, "layer1", net_input))
    assert maps["layer1.0.bn2"].data_ptr() != maps["layer1.0"].data_ptr()  # the add came between: its own
