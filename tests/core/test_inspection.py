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
