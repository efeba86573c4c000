"""How a dropped image becomes the network's input, against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from resources import resource_path
from workbench.core.data.transforms import light_background, prepare_image


def test_a_colour_image_turns_grey_by_luminance_not_by_one_channel():
    # Pure red, green, blue and a mixed pixel. ITU-R 601 luminance, worked out by hand:
    # 0.299·255 = 76.2 → 76; 0.587·255 = 149.7 → 150; 0.114·255 = 29.1 → 29;
    # (200, 100, 50): 59.8 + 58.7 + 5.7 = 124.2 → 124.
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [200, 100, 50]]], dtype=np.uint8)
    done = prepare_image(Image.fromarray(rgb, "RGB"), 1, (1, 4))
    assert done.tensor.shape == (1, 1, 4)
    assert (done.tensor[0, 0] * 255).round().tolist() == [76.0, 150.0, 29.0, 124.0]
    assert done.grey and "made grey (luminance)" in done.steps
    assert done.colourfulness == pytest.approx((255 + 255 + 255 + 150) / 4 / 255, abs=1e-6)


def tight_three() -> Image.Image:
    """A tightly cropped dark-on-light "3", 16×16: three bars and the right-hand stroke, all touching
    the border. 61 of the 256 pixels are dark; of the four edges (corners counted twice) 13 of 64 are light."""
    pixels = np.full((16, 16), 255, dtype=np.uint8)
    pixels[[0, 7, 15], :] = 0
    pixels[:, 15] = 0
    return Image.fromarray(pixels, "L")


def test_the_inversion_guess_reads_the_whole_image_not_only_its_border():
    three = tight_three()
    border = np.concatenate([np.asarray(three)[0], np.asarray(three)[-1], np.asarray(three)[:, 0],
                             np.asarray(three)[:, -1]])
    assert border.mean() / 255 == pytest.approx(13 / 64)  # the border alone says "dark background"
    light, share = light_background(three)
    assert light and share == pytest.approx(195 / 256)
    done = prepare_image(three, 1, (16, 16), dark_background=True)
    assert done.guess is True and done.inverted
    expected = 1.0 - torch.from_numpy(np.asarray(three).astype(np.float32) / 255.0)
    assert torch.equal(done.tensor[0], expected)
    assert done.tensor[0, 1, 1] == 0.0 and done.tensor[0, 0, 0] == 1.0


def test_light_on_dark_is_left_alone_and_the_choice_can_be_overridden():
    three = Image.fromarray(255 - np.asarray(tight_three()), "L")  # the same "3", light on dark
    done = prepare_image(three, 1, (16, 16), dark_background=True)
    assert done.guess is False and not done.inverted
    assert torch.equal(done.tensor[0], torch.from_numpy(np.asarray(three).astype(np.float32) / 255.0))
    forced = prepare_image(three, 1, (16, 16), dark_background=True, invert=True)
    assert forced.inverted and torch.equal(forced.tensor, 1.0 - done.tensor)
    kept = prepare_image(tight_three(), 1, (16, 16), dark_background=True, invert=False)
    assert not kept.inverted and kept.guess is True  # the guess is still shown
    # A dataset drawn dark on light (CIFAR, a folder) is never inverted by a guess.
    assert prepare_image(tight_three(), 1, (16, 16)).guess is None


def test_a_near_even_split_is_decided_by_the_border():
    # Left half light, right half dark: the share is a half, so the border (half light) decides... by its
    # mean, 0.5 of the border is light: 127.5 is not above 127.5, so "dark background".
    pixels = np.zeros((8, 8), dtype=np.uint8)
    pixels[:, :4] = 255
    light, share = light_background(Image.fromarray(pixels, "L"))
    assert share == 0.5 and not light
    pixels[0, 4:] = 255  # a light top row: the border is now mostly light
    light, _ = light_background(Image.fromarray(pixels, "L"))
    assert light


def test_stretch_pad_and_crop_of_a_wide_image():
    # A 4×2 grey image, brought to 2×2 three ways. By hand:
    wide = Image.fromarray(np.array([[10, 20, 30, 40], [50, 60, 70, 80]], dtype=np.uint8), "L")
    stretched = prepare_image(wide, 1, (2, 2), fit="stretch").tensor[0] * 255
    assert stretched.round().tolist() == [[15.0, 35.0], [55.0, 75.0]]  # means of two columns
    cropped = prepare_image(wide, 1, (2, 2), fit="crop").tensor[0] * 255
    assert cropped.round().tolist() == [[20.0, 30.0], [60.0, 70.0]]  # the centre two columns
    # Pad: the border's median is 45, so rows of 45 above and below make a 4×4 square; then 2×2 block means:
    # (45 + 45 + 10 + 20) / 4 = 30, (45 + 45 + 30 + 40) / 4 = 40, (50 + 60 + 45 + 45) / 4 = 50, 60.
    padded = prepare_image(wide, 1, (2, 2), fit="pad")
    assert "padded to a square" in padded.steps
    assert (padded.tensor[0] * 255).round().tolist() == [[30.0, 40.0], [50.0, 60.0]]


def test_the_bundled_photograph_turns_grey_and_small_for_the_digits():
    done = prepare_image(resource_path("photos", "astronaut.jpg"), 1, (8, 8), dark_background=True)
    assert done.source_size == (512, 512) and done.tensor.shape == (1, 8, 8)
    assert done.grey and done.colourfulness > 0.05
    assert "resized from 512×512 to 8×8" in done.steps
