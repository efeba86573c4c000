"""A folder classified in batches: the same answers as one image at a time, the true class from the
folder, every unusable file with its reason, progress, partial results and cancel."""

from __future__ import annotations

import pytest
import torch

import models
from fake_folders import NAMES, write_photo_folder
from resources import resource_path
from workbench.core.predict import Predictor, input_warnings, predict_files


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    model = models.create_model("resnet20", num_classes=5, in_channels=3).eval()
    return Predictor(model, NAMES, (3, 32, 32), (32, 32), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), crop=True)


def test_batches_give_the_answers_of_one_image_at_a_time(tmp_path, predictor):
    root = write_photo_folder(tmp_path / "set", per_class=3, classes=3)
    (root / NAMES[0] / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / NAMES[1] / "notes.txt").write_text("not an image")
    told: list[list] = []
    progress: list[tuple[int, int]] = []
    results = predict_files(predictor, [root], k=5, batch_size=4, finished=lambda done: told.append(list(done)),
                            progress=lambda done, total, name: progress.append((done, total)), thumbnail=48)
    assert len(results) == 11  # 9 photos, the broken one, the text file
    skipped = [r for r in results if r.error and r.error.startswith("skipped")]
    assert [r.path.endswith("notes.txt") for r in skipped] == [True]
    broken = [r for r in results if r.path.endswith("broken.png")][0]
    assert "Cannot read broken.png" in broken.error and broken.top == []
    good = [r for r in results if not r.error]
    assert len(good) == 9
    for r in good:
        one_by_one = predictor.top_k(r.path, 5)
        assert [c for c, _ in r.top] == [c for c, _ in one_by_one]
        assert [p for _, p in r.top] == pytest.approx([p for _, p in one_by_one], abs=1e-5)
        assert r.truth == r.path.split("/")[-2] and r.truth in NAMES
        assert max(r.thumbnail.size) == 48
    assert sum(len(batch) for batch in told) == 11 and len(told) >= 3  # filled in batches, each result once
    assert progress[-1] == (10, 10)


def test_cancel_stops_with_what_it_has(tmp_path, predictor):
    root = write_photo_folder(tmp_path / "set", per_class=4, classes=2)
    seen = []
    results = predict_files(predictor, [root], batch_size=2, progress=lambda done, total, name: seen.append(done),
                            cancelled=lambda: len(seen) >= 3)
    assert len(results) == 3 and all(r.top for r in results)


def test_warnings_for_the_astronaut_on_the_digits(predictor):
    digits = Predictor(predictor.model, [str(i) for i in range(10)], (1, 8, 8), (8, 8), (0.3,), (0.3,),
                       dark_background=True)
    prepared = digits.decode_photo(resource_path("photos", "astronaut.jpg"))
    said = " ".join(input_warnings(digits, prepared, [("7", 0.89)]))
    assert "colour photo" in said and "512×512 to 8×8" in said and "4,096 pixels" in said
    assert "89% is not a confidence to trust" in said
    assert "untrained" in " ".join(input_warnings(digits, prepared, [("7", 0.3)], trained=False))
    wide = digits.decode_photo(resource_path("photos", "rocket.jpg"))
    assert "Stretched from 300×200" in " ".join(input_warnings(digits, wide))
    assert not any("Stretched" in w for w in input_warnings(digits, digits.decode_photo(
        resource_path("photos", "rocket.jpg"), fit="pad")))


def test_a_drawn_digit_gets_no_warning(predictor):
    """A 128×128 grey drawing brought to the digits' 8×8 is what the model is for: nothing to warn about."""
    from PIL import Image, ImageDraw
    digits = Predictor(predictor.model, [str(i) for i in range(10)], (1, 8, 8), (8, 8), (0.3,), (0.3,),
                       dark_background=True)
    drawing = Image.new("L", (128, 128), 255)
    ImageDraw.Draw(drawing).ellipse((30, 20, 98, 108), outline=0, width=14)  # a "0", dark on white
    prepared = digits.decode_photo(drawing)
    assert prepared.inverted and input_warnings(digits, prepared, [("0", 0.99)]) == []
