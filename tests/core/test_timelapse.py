"""The training time-lapse (issue #19, part 3): a run keeps, at its start and after each epoch, the probe
image's maps, its first kernels and its Grad-CAM; the frames differ from epoch to epoch and equal what the
epoch's own weights give when recomputed by hand."""

from __future__ import annotations

import torch

import models
from workbench.core.events import Notice
from workbench.core.train import TrainConfig, Trainer
from workbench.core.train.checkpointing import load_checkpoint
from workbench.core.train.timelapse import FOLDER, read_timelapse


def _run(tmp_path, bundle, **options):
    notices = []
    config = TrainConfig(model="lenet5", epochs=3, batch_size=32, tensorboard=False, **options)
    summary = Trainer(config, [lambda e: notices.append(e) if isinstance(e, Notice) else None],
                      run_dir=tmp_path / "run", bundle=bundle).run()
    assert summary["status"] == "completed"
    return tmp_path / "run", notices


def test_a_three_epoch_run_keeps_three_frames_that_differ_and_match_the_epoch_s_weights(tmp_path, small_digits):
    run, notices = _run(tmp_path, small_digits, keep_epoch_weights=True)
    lapse = read_timelapse(run)
    assert not lapse.notes and not notices
    assert [f.epoch for f in lapse.frames] == [0, 1, 2, 3]  # the untrained network, then each epoch
    assert lapse.caption == "test image 0 (label %s)" % small_digits.classes[int(small_digits.test[0][1])]
    assert torch.equal(lapse.image, small_digits.test[0][0].float() / 255 if small_digits.test[0][0].dtype ==
                       torch.uint8 else small_digits.test[0][0].float())
    assert lapse.layers == ["c1.conv", "c1", "s2", "c3", "s4"]  # the first convolution, then LeNet-5's stages
    frames = lapse.frames[1:]
    for a, b in zip(frames, frames[1:]):
        assert not torch.allclose(a.maps["c1"], b.maps["c1"]) and not torch.allclose(a.filters, b.filters)
        assert not torch.allclose(a.probs, b.probs)
    # Each frame is what that epoch's weights give: the probe through a fresh LeNet-5, hooked by hand.
    for frame in frames:
        weights = load_checkpoint(run / FOLDER / f"weights-{frame.epoch:03d}.pt")  # a whole checkpoint
        net = models.create_model("lenet5", num_classes=10, in_channels=1).eval()
        net.load_state_dict(weights["state_dict"])
        x = (lapse.image[None] - torch.tensor(small_digits.mean).view(1, -1, 1, 1)) / \
            torch.tensor(small_digits.std).view(1, -1, 1, 1)
        x = torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
        seen = {}
        net.c3.register_forward_hook(lambda m, i, o: seen.setdefault("c3", o.detach()))
        with torch.no_grad():
            probs = torch.softmax(net(x), 1)[0]
        assert torch.allclose(frame.maps["c3"], seen["c3"][0], atol=2e-3, rtol=2e-3)
        assert torch.allclose(frame.probs, probs, atol=1e-4)
        assert frame.predicted == int(probs.argmax())
        assert torch.allclose(frame.filters, net.c1.conv.weight.detach(), atol=1e-3)
        assert frame.cam.shape == (32, 32) and 0 <= float(frame.cam.min()) and float(frame.cam.max()) <= 1
        assert frame.weights and frame.cam_layer


def test_a_damaged_frame_is_left_out_and_named_and_no_timelapse_is_kept_when_asked(tmp_path, small_digits):
    run, _ = _run(tmp_path, small_digits)
    assert not list((run / FOLDER).glob("weights-*.pt"))  # whole weights only when asked
    (run / FOLDER / "epoch-002.pt").write_bytes(b"not a frame")
    lapse = read_timelapse(run)
    assert [f.epoch for f in lapse.frames] == [0, 1, 3]
    assert len(lapse.notes) == 1 and "epoch-002.pt was left out" in lapse.notes[0]
    other = tmp_path / "other"
    other.mkdir()
    run2, _ = _run(other, small_digits, timelapse=False)
    assert not (run2 / FOLDER).exists() and "kept no time-lapse" in read_timelapse(run2).notes[0]


def test_a_frame_that_fails_never_stops_the_run(tmp_path, small_digits, monkeypatch):
    import workbench.core.train.timelapse as timelapse

    def broken(*args, **kwargs):
        raise RuntimeError("no memory for the probe")
    monkeypatch.setattr(timelapse, "capture", broken)
    run, notices = _run(tmp_path, small_digits)
    assert [n.message for n in notices] == ["The training time-lapse stopped keeping frames: RuntimeError: no memory "
                                            "for the probe"]
    assert (run / "best.pt").is_file()


def test_a_resumed_run_goes_on_with_its_own_probe(tmp_path, small_digits):
    config = TrainConfig(model="lenet5", epochs=2, batch_size=32, tensorboard=False)
    Trainer(config, [], run_dir=tmp_path / "run", bundle=small_digits).run()
    probe = (tmp_path / "run" / FOLDER / "probe.pt").read_bytes()
    summary = Trainer(resume=tmp_path / "run", epochs=3, bundle=small_digits).run()
    assert summary["status"] == "completed" and summary["epochs"] == 3
    lapse = read_timelapse(tmp_path / "run")
    assert [f.epoch for f in lapse.frames] == [0, 1, 2, 3] and not lapse.notes
    assert (tmp_path / "run" / FOLDER / "probe.pt").read_bytes() == probe  # not taken again
    assert not torch.allclose(lapse.frames[2].filters, lapse.frames[3].filters)
