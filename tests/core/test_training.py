"""The engine people can trust: recipes and schedules, exact resume, killed saves, safe and clear
checkpoint loading, faults, metrics and evaluation reports. Trained for real on the digits."""

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

import models
from workbench.core.data import DataBundle
from workbench.core.events import EpochEnded, Notice, RunFailed, RunStarted, StepEnded
from workbench.core.runs import RunStore
from workbench.core.train import TrainConfig, Trainer, resolve
from workbench.core.train.checkpointing import (CheckpointError, build_from_checkpoint, check_compatible,
                                                load_checkpoint, save_checkpoint)
from workbench.core.train.optim import build_optimizer, lr_factor
from reference import preprocess_by_hand, split_tensors

ROOT = Path(__file__).resolve().parents[2]
META = dict(model="lenet5", num_classes=10, in_channels=1, input_size=[1, 32, 32], classes=list("0123456789"))


# -- recipes and schedules -----------------------------------------------------------------
def test_he_recipe_is_the_papers_iterations_on_cifar10():
    """He et al. 2015, Sec. 4.2: lr 0.1, ÷10 at 32k and 48k iterations, stop at 64k, batch 128,
    weight decay 1e-4, momentum 0.9. CIFAR-10 here trains on 45,000 images (5,000 kept for val):
    ceil(45000 / 128) = 352 iterations an epoch."""
    config = resolve(TrainConfig(model="resnet20", dataset="cifar10", recipe="he2015-cifar"), train_size=45000)
    assert (config.optimizer, config.lr, config.momentum, config.weight_decay, config.batch_size) == \
        ("sgd", 0.1, 0.9, 1e-4, 128)
    assert config.max_steps == 64000 and config.epochs == math.ceil(64000 / 352) == 182
    assert config.augment == "cifar" and config.schedule == "multistep"
    factor = lr_factor(config, 352, 64000)
    lrs = {step: 0.1 * factor(step) for step in (0, 31999, 32000, 47999, 48000, 63999)}
    assert lrs == pytest.approx({0: 0.1, 31999: 0.1, 32000: 0.01, 47999: 0.01, 48000: 0.001, 63999: 0.001})
    # Explicit settings beat the recipe, and the recipe beats the family defaults.
    mine = resolve(TrainConfig(model="resnet20", recipe="he2015-cifar", lr=0.05, epochs=3), train_size=45000)
    assert (mine.lr, mine.epochs, mine.batch_size) == (0.05, 3, 128)


def test_family_defaults_fill_what_is_not_given():
    vgg = resolve(TrainConfig(model="vgg11"))
    lenet = resolve(TrainConfig(model="lenet5"))
    assert lenet.optimizer == "adam" and lenet.lr == 1e-3
    assert vgg.optimizer != "adam" or vgg.lr < 1e-3  # Adam at 1e-3 leaves VGG-11 at chance (the issue)
    assert resolve(TrainConfig(model="vgg11", optimizer="adam", lr=1e-3)).lr == 1e-3


def test_warmup_and_cosine_follow_their_formulas():
    config = resolve(TrainConfig(schedule="cosine", warmup=1.0, epochs=5))
    factor = lr_factor(config, steps_per_epoch=10, total_steps=50)
    assert factor(0) == pytest.approx(0.01) and factor(5) == pytest.approx(0.01 + 0.99 * 5 / 10)
    for step in (10, 20, 30, 49):
        assert factor(step) == pytest.approx(0.5 * (1 + math.cos(math.pi * (step - 10) / 40)))
    step = resolve(TrainConfig(schedule="step", step_size=2, gamma=0.5))
    assert [lr_factor(step, 10, 100)(s) for s in (0, 19, 20, 40)] == pytest.approx([1, 1, 0.5, 0.25])


def test_no_weight_decay_on_norms_and_biases_when_asked():
    model = models.create_model("resnet20", num_classes=10, in_channels=1)
    optimizer = build_optimizer(list(model.parameters()),
                                resolve(TrainConfig(model="resnet20", weight_decay=5e-4, decay_norm_and_bias=False)))
    bn = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)][0]
    conv = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][0]
    decay_of = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    assert decay_of[id(bn.weight)] == 0 and decay_of[id(bn.bias)] == 0 and decay_of[id(conv.weight)] == 5e-4
    assert len(decay_of) == sum(1 for _ in model.parameters())
    everywhere = build_optimizer(list(model.parameters()), resolve(TrainConfig(model="resnet20", weight_decay=5e-4)))
    assert {g["weight_decay"] for g in everywhere.param_groups} == {5e-4}


def test_schedule_reaches_the_optimizer_every_step(tmp_path, small_digits):
    """A step schedule of one epoch with gamma 0.5 and a half-epoch warm-up, read off the steps."""
    events = []
    Trainer(TrainConfig(epochs=2, batch_size=32, optimizer="sgd", lr=0.1, schedule="step", step_size=1, gamma=0.5,
                        warmup=0.5), [events.append], run_dir=tmp_path / "r", bundle=small_digits).run()
    steps = [e for e in events if isinstance(e, StepEnded)]
    assert len(steps) == 20
    lrs = [e.lr for e in steps]
    assert lrs[:5] == pytest.approx([0.1 * (0.01 + 0.99 * s / 5) for s in range(5)])
    assert lrs[5:10] == pytest.approx([0.1] * 5) and lrs[10:] == pytest.approx([0.05] * 10)
    rows = RunStore.read_steps(tmp_path / "r")
    assert [r["lr"] for r in rows] == pytest.approx(lrs, rel=1e-5)
    assert all(r["images_per_sec"] > 0 for r in rows)


def test_label_smoothing_and_clipping_act_on_the_step(tmp_path, small_digits):
    """One SGD step without momentum moves the weights by lr × the clipped gradient, so the whole
    move is at most lr × clip; the loss reported is the smoothed cross-entropy."""
    outputs, reported = [], []

    def watch(event):
        if isinstance(event, RunStarted):
            trainer.model.register_forward_hook(lambda m, a, out: outputs.append(out.detach()) if m.training else None)
            watch.before = [p.detach().clone() for p in trainer.model.parameters()]
        if isinstance(event, StepEnded):
            reported.append(event.loss)
            trainer.request_stop()

    trainer = Trainer(TrainConfig(epochs=1, batch_size=64, optimizer="sgd", momentum=0.0, lr=1.0, clip=1e-3,
                                  label_smoothing=0.1), [watch], run_dir=tmp_path / "r", bundle=small_digits)
    trainer.run()
    moved = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(trainer.model.parameters(), watch.before)))
    assert 0.5e-3 < float(moved) <= 1e-3 * 1.0001
    order = trainer.train_order(1)[:64]
    targets = split_tensors(small_digits.train)[1][order]
    log_p = outputs[0].double().log_softmax(1)
    plain = -log_p[torch.arange(64), targets].mean()
    smoothed = 0.9 * plain + 0.1 * (-log_p.mean(1)).mean()  # Szegedy et al. 2016, Sec. 7, by hand
    assert reported[0] == pytest.approx(float(smoothed), rel=2e-7) and abs(float(smoothed - plain)) > 1e-5


# -- exact resume --------------------------------------------------------------------------
RESUME_CONFIG = dict(epochs=3, batch_size=32, optimizer="sgd", lr=0.05, schedule="cosine", warmup=0.5,
                     augment="flip_crop", seed=7)


def _comparable(rows):
    return [{k: v for k, v in r.items() if k not in ("seconds", "images_per_sec")} for r in rows]


def test_a_killed_run_resumes_to_the_uninterrupted_runs_numbers(tmp_path, small_digits, workbench_home):
    """Run A trains 3 epochs. Run B is the same run killed with SIGKILL in the middle of epoch 3,
    then resumed from the command line: its metrics, steps and weights equal A's exactly."""
    Trainer(TrainConfig(**RESUME_CONFIG), [], run_dir=tmp_path / "a", bundle=small_digits).run()

    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT / 'tests')!r})
        import torch
        from torch.utils.data import TensorDataset
        from workbench.core.data import DataBundle, load_dataset
        from workbench.core.events import StepEnded
        from workbench.core.train import TrainConfig, Trainer
        torch.set_num_threads({torch.get_num_threads()})
        d = load_dataset("digits")
        images, labels = d.train.tensors
        small = DataBundle("digits", d.classes, 1, (8, 8), TensorDataset(images[:320], labels[:320]),
                           d.val, d.test, d.mean, d.std, dark_background=True)
        def kill(event):
            if isinstance(event, StepEnded) and (event.epoch, event.step) == (3, 4):
                os.kill(os.getpid(), signal.SIGKILL)
        Trainer(TrainConfig(**{RESUME_CONFIG!r}), [kill], run_dir={str(tmp_path / 'b')!r}, bundle=small).run()
    """)
    killed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    b = tmp_path / "b"
    assert load_checkpoint(b / "last.pt")["epoch"] == 2
    assert not [p.name for p in b.iterdir() if p.name.endswith(".tmp")]
    assert [r["epoch"] for r in RunStore.read_metrics(b)] == [1, 2]

    # The resumed run needs the same data; the bundled digits reach it through the dataset name,
    # so the small set is passed the way the CLI's --resume would build it: from the run's config.
    events = []
    summary = Trainer(callbacks=[events.append], resume=b, bundle=small_digits).run()
    assert summary["status"] == "completed" and summary["resumed_at_epoch"] == 3
    started = [e for e in events if isinstance(e, RunStarted)][0]
    assert started.start_epoch == 3 and [e.epoch for e in events if isinstance(e, EpochEnded)] == [3]

    a = tmp_path / "a"
    assert _comparable(RunStore.read_metrics(b)) == _comparable(RunStore.read_metrics(a))
    assert _comparable(RunStore.read_steps(b)) == _comparable(RunStore.read_steps(a))
    last_a, last_b = load_checkpoint(a / "last.pt"), load_checkpoint(b / "last.pt")
    assert all(torch.equal(last_a["state_dict"][k], last_b["state_dict"][k]) for k in last_a["state_dict"])
    assert RunStore.read_summary(b)["test_acc"] == RunStore.read_summary(a)["test_acc"]


def test_resume_from_the_cli_trains_more_epochs(tmp_path, capsys):
    from workbench.cli import main

    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--out", str(out), "--no-tensorboard"]) == 0
    assert main(["train", "--resume", str(out)]) == 1
    assert "already trained 1 of 1 epoch:" in capsys.readouterr().err
    assert main(["train", "--resume", str(out), "--epochs", "2"]) == 0
    assert [r["epoch"] for r in RunStore.read_metrics(out)] == [1, 2]
    assert RunStore.read_config(out)["epochs"] == 2
    assert main(["train", "--resume", str(out), "--epochs", "3", "--lr", "0.5"]) == 2
    assert "only --epochs and --workers" in capsys.readouterr().err


# -- checkpoints: kills, corruption, foreign files ---------------------------------------------
def test_a_process_killed_mid_save_leaves_a_loadable_checkpoint_and_no_temporary(tmp_path):
    model = models.create_model("lenet5", num_classes=10, in_channels=1)
    path = save_checkpoint(tmp_path / "best.pt", {**META, "epoch": 1, "state_dict": model.state_dict()})
    before = path.read_bytes()
    script = textwrap.dedent(f"""
        import time, torch, models
        from pathlib import Path
        from workbench.core.train import checkpointing
        real = torch.save
        def half_then_hang(obj, fh, *a, **k):
            real(obj, fh, *a, **k)
            fh.flush()
            Path({str(tmp_path / 'writing')!r}).touch()
            time.sleep(60)
        checkpointing.torch.save = half_then_hang
        model = models.create_model("lenet5", num_classes=10, in_channels=1)
        checkpointing.save_checkpoint({str(path)!r}, {{**{META!r}, "epoch": 2, "state_dict": model.state_dict()}})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        for _ in range(600):
            if (tmp_path / "writing").exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert (tmp_path / "writing").exists(), "the writer never reached the middle of its save"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert path.read_bytes() == before and load_checkpoint(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "writing"]


def test_temporaries_of_dead_writers_are_swept_on_the_next_save(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".best.pt.{int(dead.stdout)}.0123abcd.tmp"
    stale.write_bytes(b"half a checkpoint")
    mine = tmp_path / f".best.pt.{os.getpid()}.0123abcd.tmp"  # a live writer's: kept
    mine.write_bytes(b"being written")
    model = models.create_model("lenet5", num_classes=10, in_channels=1)
    save_checkpoint(tmp_path / "best.pt", {**META, "state_dict": model.state_dict()})
    assert not stale.exists() and mine.exists()


class RunsCode:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


def test_bad_files_each_get_their_own_message(tmp_path):
    model = models.create_model("lenet5", num_classes=10, in_channels=1)
    good = save_checkpoint(tmp_path / "good.pt", {**META, "state_dict": model.state_dict()})
    raw = good.read_bytes()

    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "half.pt").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "random.pt").write_bytes(os.urandom(4096))
    torch.save({"format": "cnn-workbench/1", **META, "state_dict": RunsCode(tmp_path / "pwned")}, tmp_path / "code.pt")
    expected = {"empty.pt": "empty (0 bytes)", "half.pt": "truncated", "random.pt": "corrupt",
                "code.pt": "cannot be loaded safely"}
    for name, phrase in expected.items():
        with pytest.raises(CheckpointError) as caught:
            load_checkpoint(tmp_path / name)
        assert phrase in str(caught.value), (name, str(caught.value))
        assert "safely" not in str(caught.value) or name == "code.pt"  # corrupt files are not called unsafe
    assert not (tmp_path / "pwned").exists()

    # Bytes changed after saving: a flipped byte inside a stored tensor loads as a valid file,
    # and only the checksum notices.
    import struct
    import zipfile

    record = max(zipfile.ZipFile(good).infolist(), key=lambda i: i.file_size)
    offset = record.header_offset
    name_len, extra_len = struct.unpack("<HH", raw[offset + 26: offset + 30])
    flipped = bytearray(raw)
    flipped[offset + 30 + name_len + extra_len + record.file_size // 2] ^= 0x01
    (tmp_path / "flipped.pt").write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="checksum does not match"):
        load_checkpoint(tmp_path / "flipped.pt")


def test_foreign_checkpoints_get_one_clear_error(tmp_path):
    lenet = models.create_model("lenet5", num_classes=10, in_channels=1).state_dict()
    resnet = models.create_model("resnet20", num_classes=10, in_channels=1).state_dict()
    five = models.create_model("lenet5", num_classes=5, in_channels=1).state_dict()
    cases = {
        "another architecture": ({**META, "state_dict": resnet}, "another architecture"),
        "another class count": ({**META, "state_dict": five}, "other shapes"),
        "an unknown model": ({**META, "model": "lenet9000", "state_dict": lenet}, "does not know: 'lenet9000'"),
    }
    for what, (payload, phrase) in cases.items():
        path = save_checkpoint(tmp_path / f"{what}.pt", payload)
        with pytest.raises(CheckpointError, match=phrase):
            build_from_checkpoint(load_checkpoint(path))
    payload = load_checkpoint(save_checkpoint(tmp_path / "ok.pt", {**META, "state_dict": lenet}))
    check_compatible(payload, model="lenet5", num_classes=10, input_size=[1, 32, 32])
    with pytest.raises(CheckpointError, match="it has 10 classes, not 5; it takes input 1x32x32, not 1x64x64"):
        check_compatible(payload, num_classes=5, input_size=[1, 64, 64])


def test_a_run_never_writes_into_another_runs_folder(tmp_path, small_digits):
    first = tmp_path / "out"
    Trainer(TrainConfig(epochs=1), [], run_dir=first, bundle=small_digits).run()
    before = {p.name: p.stat().st_mtime_ns for p in first.iterdir()}
    events = []
    summary = Trainer(TrainConfig(model="resnet20", epochs=1), [events.append], run_dir=first, bundle=small_digits).run()
    assert summary["status"] == "failed" and "already holds files" in summary["error"] and "--resume" in summary["error"]
    assert {p.name: p.stat().st_mtime_ns for p in first.iterdir()} == before
    assert load_checkpoint(first / "best.pt")["model"] == "lenet5"


# -- faults -----------------------------------------------------------------------------------
def test_nan_is_caught_at_its_step_even_when_reads_are_throttled(tmp_path, digits):
    """As on a GPU, the losses are read every 8 steps; the message still names the first bad step."""
    images, labels = digits.train.tensors
    images = images[:320].clone().float() / 255 if images.dtype == torch.uint8 else images[:320].clone()
    images[13 * 16:] = float("nan")  # batches of 16: step 14 is the first to see NaN
    bundle = DataBundle("poison", digits.classes, 1, (8, 8), TensorDataset(images, labels[:320]),
                        digits.val, digits.test, digits.mean, digits.std)

    class Ordered(Trainer):
        def train_order(self, epoch):
            return torch.arange(len(self.bundle.train))

    def throttle(event):
        if isinstance(event, RunStarted):
            trainer.sync_every = 8

    events = []
    trainer = Ordered(TrainConfig(epochs=1, batch_size=16), [throttle, events.append], run_dir=tmp_path / "r",
                      bundle=bundle)
    summary = trainer.run()
    assert summary["status"] == "failed"
    assert "loss became nan at epoch 1, batch 14" in summary["error"] and "learning rate" in summary["error"]
    assert [e.step for e in events if isinstance(e, StepEnded)] == list(range(1, 14))


def test_running_out_of_cpu_memory_names_the_batch_size(tmp_path):
    """A real failed allocation: a process whose address space is capped at 6 GB once torch is loaded
    trains ResNet-20 at 1024×1024 (batch 32: 2 GB for each 16-channel activation), and the message
    names the batch size."""
    script = (
        "import json, resource, sys\n"
        "import torch\n"
        "from workbench.core.data import load_dataset\n"
        "from workbench.core.train import TrainConfig, Trainer\n"
        "bundle = load_dataset('digits')\n"
        "resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))\n"
        "summary = Trainer(TrainConfig(model='resnet20', epochs=1, batch_size=32, input_size=1024, tensorboard=False),"
        " [], run_dir=sys.argv[1], bundle=bundle).run()\n"
        "print(json.dumps(summary))\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "r")], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "failed"
    assert "ran out of memory with batch size 32" in summary["error"] and "(16)" in summary["error"]
    assert "DefaultCPUAllocator" not in summary["error"] and "allocate" not in summary["error"]


class DiesInWorkers(Dataset):
    """Images read 'from disk': a loader worker process dies on the first image it reads."""

    def __init__(self, images, labels):
        self._images, self._labels = images, labels  # not .images/.labels: those mark in-memory sets

    def __len__(self):
        return len(self._labels)

    def __getitem__(self, i):
        if torch.utils.data.get_worker_info() is not None:
            os._exit(1)
        return self._images[i], int(self._labels[i])


def test_a_dead_loader_worker_falls_back_to_the_main_process(tmp_path, small_digits):
    images, labels = small_digits.train.tensors
    bundle = DataBundle("disk", small_digits.classes, 1, (8, 8), DiesInWorkers(images, labels),
                        small_digits.val, small_digits.test, small_digits.mean, small_digits.std)
    events = []
    summary = Trainer(TrainConfig(epochs=2, num_workers=2), [events.append], run_dir=tmp_path / "r",
                      bundle=bundle).run()
    assert summary["status"] == "completed", summary.get("error")
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("worker process died" in n and "main process" in n for n in notices)
    steps = [e for e in events if isinstance(e, StepEnded)]
    assert len(steps) == 2 * 10  # nothing skipped: 320 images in batches of 32, twice
    assert [r["train_images"] for r in RunStore.read_metrics(tmp_path / "r")] == [320, 320]


def test_pause_holds_the_loop_within_one_batch(tmp_path, small_digits):
    seen = []

    def pause_at_three(event):
        if isinstance(event, StepEnded):
            seen.append((event.epoch, event.step, time.monotonic()))
            if (event.epoch, event.step) == (1, 3):
                trainer.request_pause()
                threading.Timer(0.6, trainer.request_resume).start()

    trainer = Trainer(TrainConfig(epochs=1), [pause_at_three], run_dir=tmp_path / "r", bundle=small_digits)
    assert trainer.run()["status"] == "completed"
    third, fourth = seen[2], seen[3]
    assert fourth[2] - third[2] >= 0.5  # the fourth step waited for the resume
    assert len(seen) == 10


def test_mixed_precision_and_channels_last_train_on_cpu(tmp_path, small_digits):
    """bf16 autocast on the CPU: the convolutions really run in bf16, in channels-last layout,
    and the run learns about as well as in fp32."""
    dtypes, layouts = set(), set()

    def record(module, args, out):
        if module.training:
            dtypes.add(out.dtype)
            layouts.add(out.is_contiguous(memory_format=torch.channels_last))

    def watch(event):
        if isinstance(event, RunStarted):
            next(m for m in trainer.model.modules() if isinstance(m, torch.nn.Conv2d)).register_forward_hook(record)

    trainer = Trainer(TrainConfig(epochs=2, amp="bf16", channels_last=True), [watch], run_dir=tmp_path / "r",
                      bundle=small_digits)
    mixed = trainer.run()
    plain = Trainer(TrainConfig(epochs=2), [], run_dir=tmp_path / "p", bundle=small_digits).run()
    assert dtypes == {torch.bfloat16} and layouts == {True}
    assert mixed["status"] == "completed" and mixed["best_val_acc"] > plain["best_val_acc"] - 0.1, (mixed, plain)
    refused = Trainer(TrainConfig(epochs=1, amp="fp16", device="cpu"), [], run_dir=tmp_path / "f",
                      bundle=small_digits).run()
    assert "needs a CUDA device" in refused["error"]


# -- metrics and evaluation -----------------------------------------------------------------
def test_the_confusion_matrix_keeps_the_images_behind_every_cell(tmp_path, digits):
    summary = Trainer(TrainConfig(epochs=1), [], run_dir=tmp_path / "r", bundle=digits).run()
    report = json.loads((tmp_path / "r" / "test_eval.json").read_text())
    images, labels = split_tensors(digits.test)
    matrix = torch.tensor(report["matrix"])
    assert int(matrix.sum()) == len(labels) == report["images"]
    assert float(matrix.diag().sum()) / len(labels) == pytest.approx(summary["test_acc"])
    # By hand from best.pt: every cell lists exactly the images of that true and predicted class.
    best = load_checkpoint(tmp_path / "r" / "best.pt")
    model = build_from_checkpoint(best).eval()
    with torch.no_grad():
        logits = model(preprocess_by_hand(images.float() / 255 if images.dtype == torch.uint8 else images,
                                          best["input_size"][1:], best["mean"], best["std"]))
    predicted = logits.argmax(1)
    for t in range(10):
        for p in range(10):
            expected = ((labels == t) & (predicted == p)).nonzero().flatten().tolist()
            assert report["cells"][t][p] == expected
            assert report["matrix"][t][p] == len(expected)  # rows are true classes, columns predictions
    for c, row in enumerate(report["per_class"]):
        tp = int(((labels == c) & (predicted == c)).sum())
        assert row["support"] == int((labels == c).sum())
        assert row["recall"] == pytest.approx(tp / int((labels == c).sum()))
        if (predicted == c).any():
            assert row["precision"] == pytest.approx(tp / int((predicted == c).sum()))
    mistakes = report["most_confident_mistakes"]
    confidences = [m["confidence"] for m in mistakes]
    assert confidences == sorted(confidences, reverse=True) and mistakes
    probabilities = logits.softmax(1)
    for m in mistakes:
        assert labels[m["index"]] != predicted[m["index"]]
        assert probabilities[m["index"]].max().item() == pytest.approx(m["confidence"], abs=1e-5)
    assert json.loads((tmp_path / "r" / "val_eval.json").read_text())["images"] == len(digits.val)


def test_top5_is_reported_for_more_than_ten_classes(tmp_path):
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(12).repeat(20)
    images = (torch.rand(240, 1, 8, 8, generator=generator) * 0.2 + (labels.float() / 12).view(-1, 1, 1, 1))
    data = TensorDataset(images, labels)
    bundle = DataBundle("twelve", [str(i) for i in range(12)], 1, (8, 8), data, data, data, (0.5,), (0.3,))
    events = []
    summary = Trainer(TrainConfig(epochs=1), [events.append], run_dir=tmp_path / "r", bundle=bundle).run()
    epoch = [e for e in events if isinstance(e, EpochEnded)][0]
    assert epoch.val_top5 is not None and epoch.val_top5 >= epoch.val_acc
    row = RunStore.read_metrics(tmp_path / "r")[0]
    assert row["val_top5"] == pytest.approx(epoch.val_top5, abs=1e-5)
    assert "test_top5" in summary and summary["test_top5"] >= summary["test_acc"]


def test_tensorboard_reads_the_runs_event_files(tmp_path, small_digits):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    Trainer(TrainConfig(epochs=2), [], run_dir=tmp_path / "r", bundle=small_digits).run()
    accumulator = EventAccumulator(str(tmp_path / "r" / "tensorboard"))
    accumulator.Reload()
    tags = accumulator.Tags()["scalars"]
    assert {"loss/train", "loss/val", "accuracy/val", "step/loss", "step/lr"} <= set(tags)
    val = [s.value for s in accumulator.Scalars("accuracy/val")]
    assert val == pytest.approx([r["val_acc"] for r in RunStore.read_metrics(tmp_path / "r")], abs=1e-5)
    assert len(accumulator.Scalars("step/loss")) == 20


# -- torchrun ---------------------------------------------------------------------------------
def _torchrun(*args, cwd=ROOT):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "workbench", "train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def test_torchrun_trains_on_two_gloo_processes_and_resumes(tmp_path):
    """Two CPU processes (gloo): each takes half of every epoch (624 of the 1,248 training digits,
    20 steps of 32 instead of 39), validation counts every image once, rank 0 alone writes."""
    out = tmp_path / "ddp"
    first = _torchrun("--epochs", "1", "--out", str(out), "--no-tensorboard")
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.count("completed:") == 1  # rank 1 keeps quiet
    summary = RunStore.read_summary(out)
    assert summary["world_size"] == 2 and summary["status"] == "completed" and summary["test_acc"] > 0.6
    steps = RunStore.read_steps(out)
    assert [r["step"] for r in steps] == list(range(1, 21))
    assert RunStore.read_metrics(out)[0]["train_images"] == 1248  # both halves counted in the epoch's figures
    val = json.loads((out / "val_eval.json").read_text())
    assert val["images"] == 270 and sum(map(sum, val["matrix"])) == 270
    assert sorted(i for row in val["cells"] for cell in row for i in cell) == list(range(270))
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]

    again = _torchrun("--resume", str(out), "--epochs", "2")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming at epoch 2" in again.stderr
    assert [r["epoch"] for r in RunStore.read_metrics(out)] == [1, 2]
    assert load_checkpoint(out / "last.pt")["epoch"] == 2 and len(load_checkpoint(out / "last.pt")["rng"]) == 2


def test_callbacks_get_every_hook_and_their_state_survives_a_resume(tmp_path, small_digits):
    from workbench.core.train import Callback

    class Counter(Callback):
        def __init__(self):
            self.calls, self.epochs_seen = [], 0

        def on_run_start(self, trainer, event):
            self.calls.append("run_start")

        def on_epoch_start(self, trainer, event):
            self.calls.append("epoch_start")

        def on_batch_end(self, trainer, event):
            self.calls.append("batch_end")

        def on_epoch_end(self, trainer, event):
            self.calls.append("epoch_end")
            self.epochs_seen += 1

        def on_evaluated(self, trainer, event):
            self.calls.append(f"evaluated:{event.split}")

        def on_run_end(self, trainer, event):
            self.calls.append("run_end")

        def state_dict(self):
            return {"epochs_seen": self.epochs_seen}

        def load_state_dict(self, state):
            self.epochs_seen = state["epochs_seen"]

    first = Counter()
    Trainer(TrainConfig(epochs=1), [first], run_dir=tmp_path / "r", bundle=small_digits).run()
    assert first.calls == ["run_start", "epoch_start"] + ["batch_end"] * 10 + \
        ["evaluated:val", "epoch_end", "evaluated:test", "run_end"]
    second = Counter()
    Trainer(callbacks=[second], resume=tmp_path / "r", epochs=2, bundle=small_digits).run()
    assert second.epochs_seen == 2 and second.calls.count("epoch_end") == 1
