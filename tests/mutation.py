"""Mutation testing of the core behaviour: does the suite notice when the code is wrong?

Each mutant below is a realistic one-line bug (a few touch two lines) in splitting, decoding and
preprocessing, the training loop and its loss, checkpoints, feature maps and prediction, or the
drop path. For each one the script copies the repository, puts the bug in, runs the fast tests
that cover that code, and records whether they failed (the mutant is *killed*) or passed (it
*survived*). Mutants marked ``equivalent`` change nothing a user or test could observe; they are
listed but left out of the score.

Not part of the normal test run (pytest collects ``test_*.py`` only). Run it from the repository
root with the project's environment:

    .venv/bin/python tests/mutation.py            # all mutants, about 50 minutes on 2 cores
    .venv/bin/python tests/mutation.py E1 C1      # just these
    .venv/bin/python tests/mutation.py --list     # what each mutant does
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DATA = ["tests/core/test_datasets.py", "tests/core/test_prepare.py"]
ENGINE = ["tests/core/test_engine.py", "tests/core/test_training.py", "-k", "not torchrun"]
DDP = ["tests/core/test_training.py", "-k", "torchrun"]
CLI = ["tests/core/test_cli.py", "-k", "predict or export or bad_values or resume"]
LOOP = "workbench/core/train/loop.py"
RESUME = "workbench/core/train/resume.py"
TRUST = ["tests/core/test_trust.py"]
DOCTOR = ["tests/core/test_doctor.py"]
OPTIM = "workbench/core/train/optim.py"
CONFIG = "workbench/core/train/config.py"
CHECKPOINTS = "workbench/core/train/checkpointing.py"
EVALUATE = "workbench/core/evaluate.py"
INSPECT = ["tests/core/test_inspection.py"]
DROP = ["tests/ui/test_window.py", "-k", "train_live or bad_drop"]
LENET = ["tests/models/test_models.py", "-k", "lenet"]
FOLDERS = ["tests/core/test_folders.py"]
TRANSFER = ["tests/core/test_transfer.py"]


@dataclass
class Mutant:
    id: str
    path: str
    what: str
    edits: list[tuple[str, str]]
    tests: list[str]
    equivalent: str = ""
    """Why no test can tell it apart, when that is so."""
    extra_tests: list[str] = field(default_factory=list)


MUTANTS = [
    # --- splitting, decoding, preprocessing (workbench/core/datasets.py) -------------------------------
    Mutant("D1", "workbench/core/data/sources/bundled.py", "digits: validation drawn from the training images",
           [("val=subset(val_idx),", "val=subset(train_idx[:len(val_idx)]),")], DATA),
    Mutant("D2", "workbench/core/data/registry.py", "split: off-by-one in the test slots",
           [("(test if slot < n_test else", "(test if slot <= n_test else")], DATA),
    Mutant("D3", "workbench/core/data/registry.py", "split: the per-class counter never advances",
           [("seen[label] = k + 1", "seen[label] = k")], DATA),
    Mutant("D4", "workbench/core/data/registry.py", "split: one running counter instead of one per class (not stratified)",
           [("k = seen.get(label, 0)", "k = index")], DATA),
    Mutant("D5", "workbench/core/data/sources/bundled.py", "digits: normalisation statistics from every split (a leak)",
           [("mean, std = channel_stats(images[torch.tensor(train_idx)])", "mean, std = channel_stats(images)")],
           DATA),
    Mutant("D6", "workbench/core/data/sources/bundled.py", "digits: pixels scaled by 15 instead of 16",
           [("images = (data[:, :64] / 16.0)", "images = (data[:, :64] / 15.0)")], DATA),
    Mutant("D7", "workbench/core/data/sources/torchvision_sets.py", "torchvision sets: an 80/20 train/val split instead of 90/10",
           [("stratified_split(labels.tolist(), (0.9, 0.1, 0.0))", "stratified_split(labels.tolist(), (0.8, 0.2, 0.0))")],
           DATA),
    Mutant("D8", "workbench/core/data/sources/torchvision_sets.py", "torchvision sets: validation drawn from the training images",
           [("val=pick(torch.tensor(val_idx))", "val=pick(torch.tensor(train_idx[:len(val_idx)]))")], DATA),
    Mutant("D9", "workbench/core/data/sources/torchvision_sets.py", "CIFAR: height and width swapped when converting HWC to CHW",
           [("tensor.permute(0, 3, 1, 2)", "tensor.permute(0, 3, 2, 1)")], DATA),
    Mutant("D10", "workbench/core/data/transforms.py", "Preprocess: multiplies by std instead of dividing",
           [("return (x - self.mean) / self.std", "return (x - self.mean) * self.std")], DATA),
    Mutant("D11", "workbench/core/data/transforms.py", "Preprocess: nearest-neighbour resize instead of bilinear",
           [('mode="bilinear", align_corners=False)', 'mode="nearest")')], DATA),
    Mutant("D12", "workbench/core/data/transforms.py", "decode: dark-on-light images no longer inverted for MNIST-like sets",
           [("return share > 0.5, share", "return share < 0.5, share")], DATA),
    Mutant("D17", "workbench/core/data/transforms.py", "inversion guess: the border alone decides (a tight crop fools it)",
           [("if abs(share - 0.5) > GUESS_MARGIN:", "if False:")], DATA),
    Mutant("D18", "workbench/core/data/transforms.py", "grey: one channel (green) instead of the luminance",
           [('picture = photo.convert("L")', 'picture = photo.getchannel("G")')], DATA),
    Mutant("D19", "workbench/core/data/transforms.py", "pad: black bands instead of the border's colour",
           [("colour = tuple(int(v) for v in np.median(border, axis=0))", "colour = (0, 0, 0)")], DATA),
    Mutant("D20", "workbench/core/data/transforms.py", "the user's \"don't invert\" ignored",
           [("done.inverted = bool(done.guess if invert is None else invert)", "done.inverted = bool(done.guess or invert)")],
           DATA),
    Mutant("D13", "workbench/core/data/transforms.py", "decode: transparency composited on the wrong ground",
           [("ground = (0, 0, 0) if dark_background else (255, 255, 255)",
             "ground = (255, 255, 255) if dark_background else (0, 0, 0)")], DATA),
    Mutant("D14", "workbench/core/data/transforms.py", "decode: shrinks by sampling a pixel, not averaging the block",
           [("picture.resize((native_size[1], native_size[0]), Image.Resampling.BOX)",
             "picture.resize((native_size[1], native_size[0]), Image.Resampling.NEAREST)")], DATA),
    Mutant("D15", "workbench/core/data/decode.py", "decode: EXIF orientation ignored",
           [("image = ImageOps.exif_transpose(image)", "image = image")], DATA),
    Mutant("D16", "workbench/core/data/transforms.py", "decode: width and height swapped when resizing",
           [("picture.resize((native_size[1], native_size[0]),", "picture.resize((native_size[0], native_size[1]),")],
           DATA),
    # --- the training loop and its loss (workbench/core/train/loop.py, evaluate.py, optim.py) -------------
    Mutant("E1", LOOP, "test pass with the last weights instead of the best",
           [('self.model.load_state_dict(best["state_dict"])', "pass")], ENGINE),
    Mutant("E2", CHECKPOINTS, "best.pt rewritten every epoch, not only when validation improves",
           [("        if event.is_best:\n            save_checkpoint(", "        if True:\n            save_checkpoint(")],
           ENGINE),
    Mutant("E3", LOOP, "GoogLeNet's auxiliary losses weighted 1.0 instead of 0.3",
           [("AUX_WEIGHT = 0.3", "AUX_WEIGHT = 1.0")], ENGINE),
    Mutant("E4", LOOP, "main and auxiliary outputs unpacked the wrong way round",
           [("main, *aux = output", "*aux, main = output")], ENGINE),
    Mutant("E5", LOOP, "epoch train loss sums batch means without weighting by batch size",
           [("loss_sum += batch_loss * n", "loss_sum += batch_loss * cfg.batch_size")],
           ENGINE),
    Mutant("E6", EVALUATE, "the last, smaller evaluation batch dropped (drop_last on validation)",
           [("    return Predictions.cat(parts)\n", "    return Predictions.cat(parts[:-1] or parts)\n")], ENGINE),
    Mutant("E7", EVALUATE, "validation in training mode (batch statistics, dropout)",
           [("    model.eval()\n    parts = []", "    model.train()\n    parts = []")], ENGINE),
    Mutant("E8", LOOP, "gradients never cleared between steps",
           [("self.optimizer.zero_grad(set_to_none=True)", "pass")], ENGINE),
    Mutant("E9", LOOP, "stop checked only between epochs, not between batches",
           [("if self.stop_requested or self.global_step >= self.total_steps:", "if self.global_step >= self.total_steps:")],
           ENGINE),
    Mutant("E10", LOOP, "only infinite losses stop the run; NaN slips through",
           [("            if not math.isfinite(loss):", "            if math.isinf(loss):")], ENGINE),
    Mutant("E11", LOOP, "training batches never shuffled",
           [("return epoch_order(len(self.bundle.train), shuffle=True,", "return epoch_order(len(self.bundle.train), shuffle=False,")],
           ENGINE),
    Mutant("E12", LOOP, "the final test pass runs on the validation set",
           [("test = self._predict(self.test_data)", "test = self._predict(self.val_data)")], ENGINE),
    Mutant("E13", CHECKPOINTS, "checkpoints record the wrong epoch",
           [('"epoch": epoch,\n            "val_acc": val_acc,', '"epoch": epoch - 1,\n            "val_acc": val_acc,')],
           ENGINE),
    Mutant("E14", LOOP, "the seed is ignored",
           [("torch.manual_seed(cfg.seed + self.ctx.rank)", "torch.manual_seed(0)")], ENGINE),
    Mutant("E15", OPTIM, "SGD without momentum",
           [("lr=config.lr, momentum=config.momentum,", "lr=config.lr, momentum=0.0,")], ENGINE),
    Mutant("E16", CHECKPOINTS, "ties of validation accuracy go to the earlier epoch, not the lower validation loss",
           [("val_acc > self.best_acc or (val_acc == self.best_acc and val_loss < self.best_loss)",
             "val_acc > self.best_acc")], ENGINE),
    Mutant("E17", LOOP, "train accuracy counted against the wrong batch size",
           [("                seen += n\n", "                seen += cfg.batch_size\n")],
           ENGINE),
    # --- recipes, schedules and the step (optim.py, loop.py) ---------------------------------------------
    Mutant("S1", OPTIM, "warm-up never applied", [("        if step < warmup:", "        if False:")], ENGINE),
    Mutant("S2", OPTIM, "weight decay stays on norms and biases when asked off",
           [("decayed = [p for p in params if p.ndim > 1]", "decayed = [p for p in params if p.ndim >= 1]")], ENGINE),
    Mutant("S3", LOOP, "gradient clipping skipped",
           [("nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)", "pass")], ENGINE),
    Mutant("S4", LOOP, "label smoothing ignored",
           [("nn.functional.cross_entropy(logits, targets, label_smoothing=label_smoothing)",
             "nn.functional.cross_entropy(logits, targets)")], ENGINE),
    Mutant("S5", OPTIM, "a milestone acts one iteration late",
           [("sum(step >= m for m in milestones)", "sum(step > m for m in milestones)")], ENGINE),
    Mutant("S6", CONFIG, "the recipe loses to the family defaults",
           [("        if value is None and f.name in recipe:", "        if False:")], ENGINE),
    # --- exact resume (loop.py, data/loader.py) ------------------------------------------------------------
    Mutant("R1", CHECKPOINTS, "the random state is not restored on resume",
           [('    torch.set_rng_state(state["torch"])', "    pass")], ENGINE),
    Mutant("R2", RESUME, "the schedule is not restored on resume",
           [('        trainer.scheduler.load_state_dict(payload["scheduler"])', "        pass")], ENGINE),
    Mutant("R3", RESUME, "the optimiser state is not restored on resume",
           [('        trainer.optimizer.load_state_dict(payload["optimizer"])', "        pass")], ENGINE),
    Mutant("R4", RESUME, "resume repeats the last finished epoch",
           [('trainer.start_epoch = payload["epoch"] + 1', 'trainer.start_epoch = payload["epoch"]')], ENGINE),
    Mutant("R5", "workbench/core/data/loader.py", "every epoch draws the same order",
           [("sampler.set_epoch(epoch)", "sampler.set_epoch(0)")], ENGINE),
    # --- checkpoints and run folders (checkpointing.py, paths.py, runs.py) --------------------------------
    Mutant("C1", "workbench/core/paths.py", "files written in place instead of atomically",
           [("        fd = _unnamed_file(path.parent)", "        fd = None"),
            ('            with open(tmp, "xb") as fh:', '            with open(path, "wb") as fh:'),
            ("        os.replace(tmp, path)", "        pass")], ENGINE),
    Mutant("C2", CHECKPOINTS, "checkpoints unpickled with weights_only=False",
           [("map_location=map_location, weights_only=True)", "map_location=map_location, weights_only=False)")], ENGINE),
    Mutant("C3", CHECKPOINTS, "the format marker is not checked",
           [('if not isinstance(payload, dict) or payload.get("format") != FORMAT:', "if not isinstance(payload, dict):")],
           ENGINE),
    Mutant("C4", "workbench/core/paths.py", "a named temporary instead of an unnamed file: a kill leaves it behind",
           [("        fd = _unnamed_file(path.parent)", "        fd = None")], ENGINE),
    Mutant("C5", "workbench/core/paths.py", "no fsync before the rename",
           [("    os.fsync(fh.fileno())", "    pass")], ENGINE,
           equivalent="fsync only matters when the machine loses power between write and rename; a test process "
                      "cannot observe the page cache being lost"),
    Mutant("C6", CHECKPOINTS, "required keys not checked",
           [("missing = [k for k in REQUIRED if k not in payload]", "missing = []")], ENGINE),
    Mutant("C7", CHECKPOINTS, "the checksum is not verified",
           [('if checksum(body) != payload["checksum"]:', "if False:")], ENGINE),
    Mutant("C8", CHECKPOINTS, "random bytes are called unsafe",
           [('if "GLOBAL" in text or "Unsupported global" in text or "Unsupported class" in text:', "if True:")], ENGINE),
    Mutant("C9", "workbench/core/paths.py", "temporaries of killed writers never swept",
           [("    sweep_temporaries(path.parent)\n    tmp =", "    tmp =")], ENGINE),
    Mutant("C10", "workbench/core/runs.py", "a new run writes into a folder holding another run",
           [("    if entries:\n        shown", "    if False:\n        shown")], ENGINE),
    Mutant("C11", CHECKPOINTS, "weights of other shapes reach load_state_dict",
           [("    if shapes:\n        key, theirs, ours", "    if False:\n        key, theirs, ours")], ENGINE),
    # --- faults (loop.py, data/loader.py) ------------------------------------------------------------------
    Mutant("F13", LOOP, "a throttled read checks only its last step for NaN",
           [("            if not math.isfinite(loss):", "            if not math.isfinite(values[-1][0]):")], ENGINE),
    Mutant("F14", "workbench/core/errors.py", "a failed CPU allocation reaches the user as allocator text",
           [('OOM_TEXT = ("can\'t allocate memory", "not enough memory", "DefaultCPUAllocator", "out of memory")',
             "OOM_TEXT = ()")], ENGINE),
    Mutant("F15", "workbench/core/data/loader.py", "a dead loader worker ends the run",
           [('if self.workers == 0 or "DataLoader worker" not in str(exc):', "if True:")], ENGINE),
    Mutant("F16", LOOP, "pause ignored",
           [("            if not self._running.is_set():\n                self._running.wait()\n", "")], ENGINE),
    # --- evaluation reports, torchrun, predict, export ---------------------------------------------------
    Mutant("M1", EVALUATE, "confusion matrix transposed", [("matrix[t][p] += 1", "matrix[p][t] += 1")], ENGINE),
    Mutant("M2", EVALUATE, "precision divided by the class's images instead of its predictions",
           [('"precision": true_positive / claimed if claimed else None,', '"precision": true_positive / actual if actual else None,')],
           ENGINE),
    Mutant("M3", EVALUATE, "least confident mistakes listed first",
           [("argsort(descending=True)", "argsort()")], ENGINE),
    Mutant("M4", "workbench/core/data/loader.py", "every process evaluates every image (counted twice under torchrun)",
           [("return torch.arange(rank, size, world)", "return torch.arange(0, size)")], DDP),
    Mutant("M5", "workbench/core/train/distributed.py", "train metrics not summed across processes",
           [("        dist.all_reduce(tensor)\n        return tensor.tolist()", "        return tensor.tolist()")], DDP),
    Mutant("P1", "workbench/cli/commands.py", "predict exits 0 when files failed",
           [("return 1 if failed else 0", "return 0")], CLI),
    Mutant("P2", "workbench/cli/main.py", "--resume accepts settings it will ignore",
           [("        if given:\n            print(", "        if False:\n            print(")],
           ["tests/core/test_training.py", "-k", "resume_from_the_cli"]),
    Mutant("X1", "workbench/core/export.py", "ONNX metadata left out",
           [("        entry.key, entry.value = key, value", "        pass")], CLI),
    # --- feature maps and prediction (workbench/core/inspection.py) -------------------------------------
    Mutant("I1", "workbench/core/inspect/hooks.py", "feature maps from the layer's first child instead of the layer",
           [("                module = self.model.get_submodule(name)\n",
             "                module = next(self.model.get_submodule(name).children(), self.model.get_submodule(name))\n")],
           INSPECT, extra_tests=DROP),
    Mutant("I2", "workbench/core/inspect/hooks.py", "feature maps computed in the model's current (training) mode",
           [("    with eval_mode(model), ActivationRecorder(model, names) as recorder:",
             "    with ActivationRecorder(model, names) as recorder:")], INSPECT),
    Mutant("I3", "workbench/core/predict.py", "softmax over the batch instead of the classes",
           [("torch.softmax(logits[0].float(), 0)", "torch.softmax(logits.float(), 0)[0]")], INSPECT),
    Mutant("I4", "workbench/core/predict.py", "top-k returns the least likely classes",
           [("values, indices = probs.topk(min(k, len(probs)))", "values, indices = probs.topk(min(k, len(probs)), largest=False)")],
           INSPECT),
    Mutant("I5", "workbench/core/predict.py", "top-k names classes by rank instead of by index",
           [("top = [(self.classes[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]",
             "top = [(self.classes[j], float(v)) for j, v in enumerate(values.tolist())]")], INSPECT),
    Mutant("I6", "workbench/core/predict.py", "a dropped image reaches the network without preprocessing",
           [("return self.preprocess.to(self.device)(image.unsqueeze(0).to(self.device))[0]",
             "return image.to(self.device)")], INSPECT),
    Mutant("I7", "workbench/core/inspect/activations.py", "feature-map tiles share one scale",
           [("scale_each=True", "scale_each=False")], INSPECT),
    Mutant("I8", "workbench/core/inspect/activations.py", "grid rounds the columns down",
           [("cols = max(1, int(count**0.5 + 0.999999))", "cols = max(1, int(count**0.5))")], INSPECT),
    # --- the drop path (workbench/ui/main_window.py) ------------------------------------------------------
    Mutant("W1", "workbench/ui/controllers/inspection.py", "a drop that keeps the old image",
           [("lambda image: self.session.set(image=image, caption=Path(path).name)",
             "lambda image: self.session.set(caption=Path(path).name)")], DROP),
    Mutant("W2", "workbench/ui/controllers/inspection.py", "a drop that does not re-classify",
           [('        if {"predictor", "image"} & changed:', '        if {"predictor"} & changed:')], DROP),
    Mutant("W3", "workbench/core/predict.py", "dropped images decoded without the dataset's background rule",
           [("image_to_tensor(image, self.input_shape[0], self.native_size, self.dark_background, self.crop)",
             "image_to_tensor(image, self.input_shape[0], self.native_size, False, self.crop)")], DROP),
    Mutant("W4", "workbench/core/inspect/hooks.py", "a recording kept by reference: an in-place activation after "
           "the layer overwrites it", [("    return tensor.detach().clone()", "    return tensor.detach()")],
           INSPECT, extra_tests=DROP),
    # --- image folders, augmentation and transfer learning (workbench/core/data, pretrained) ----------------
    Mutant("F1", "workbench/core/data/image_folder.py", "split: a file's draw depends on its rank, not its content",
           [("draws = [_content_draw(seed, f.sha1) for f in scan.files]",
             "draws = [_content_draw(seed, str(i)) for i, f in enumerate(scan.files)]")], FOLDERS, extra_tests=TRUST),
    Mutant("F2", "workbench/core/data/image_folder.py", "scan: dot-files no longer count as hidden",
           [('return name.startswith(".") or name.startswith("__MACOSX")', 'return name.startswith("__MACOSX")')],
           FOLDERS),
    Mutant("F3", "workbench/core/data/decode.py", "decode: 16-bit and float images scaled from zero, not their own range",
           [("lo, hi = (float(finite.min()), float(finite.max()))", "lo, hi = (0.0, float(finite.max()))")], FOLDERS),
    Mutant("F4", "workbench/core/data/decode.py", "decode: transparency always composited on white",
           [("ground = Image.new(\"RGBA\", rgba.size, (*background, 255))",
             "ground = Image.new(\"RGBA\", rgba.size, (255, 255, 255, 255))")], FOLDERS),
    Mutant("F5", "workbench/core/data/decode.py", "decode: a truncated file reported as corrupt",
           [('reason = "truncated" if "truncated" in text', 'reason = "corrupt" if "truncated" in text')], FOLDERS),
    Mutant("F6", "workbench/core/data/augment.py", "augmentation also applied in eval mode",
           [('if not self.training or self.preset == "none":', 'if self.preset == "none":')], FOLDERS),
    Mutant("F7", "workbench/core/data/augment.py", "one random draw for the whole batch",
           [("flip = rand(n) < 0.5\n            scale = 0.875 + 0.125 * rand(n)",
             "flip = rand(1).expand(n) < 0.5\n            scale = 0.875 + 0.125 * rand(1).expand(n)")], FOLDERS),
    Mutant("F8", "workbench/core/data/health.py", "leaks counted between train and val instead of train and test",
           [('if len(g) > 1 and {"train", "test"} <= {which[i] for i in g}]',
             'if len(g) > 1 and {"train", "val"} <= {which[i] for i in g}]')], FOLDERS),
    Mutant("F9", "workbench/core/pretrained.py", "feature extraction lets BatchNorm statistics drift",
           [("            m.train = types.MethodType(_frozen_train, m)\n", "")], TRANSFER),
    Mutant("F10", "workbench/core/pretrained.py", "fine-tuning runs the backbone at the head's learning rate",
           [('"lr": lr / 10,', '"lr": lr,')], TRANSFER),
    Mutant("F11", "models/_pretrained.py", "grey inputs get the mean of the RGB kernels instead of their sum",
           [("return weight.sum(1, keepdim=True)", "return weight.mean(1, keepdim=True)")], TRANSFER),
    Mutant("F12", "workbench/core/pretrained.py", "a download that stopped early is accepted",
           [("if total and len(data) != total:", "if False:")], TRANSFER),
    # --- LeNet-5 (models/lenet.py) -------------------------------------------------------------------------
    Mutant("L1", "models/lenet.py", "C3's connection table changed (same parameter count)",
           [("(0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),", "(0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 4, 5),")], LENET),
    Mutant("L2", "models/lenet.py", "the squashing function without its 2/3 slope",
           [("return 1.7159 * torch.tanh(x * (2.0 / 3.0))", "return 1.7159 * torch.tanh(x)")], LENET),
    Mutant("L3", "models/lenet.py", "subsampling averages instead of adding the four inputs",
           [("summed = F.avg_pool2d(x, 2) * 4.0", "summed = F.avg_pool2d(x, 2)")], LENET),
    # --- trust nothing on disk (issue #20: runs.py, identity.py, image_folder.py, cache.py, resume.py) ----
    Mutant("T1", RESUME, "a resume does not compare the data with dataset.json",
           [("    changes = differences(before, trainer._data_identity)", "    changes = []")], TRUST),
    Mutant("T2", "workbench/core/runs.py", "a run's lock is never taken",
           [("        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", "        pass")], TRUST),
    Mutant("T3", "workbench/core/runs.py", "links in a run folder are followed",
           [("    if stat.S_ISLNK(st.st_mode):", "    if False:")], TRUST),
    Mutant("T4", "workbench/core/data/cache.py", "the cache's checksum is not checked",
           [('    if cached.get("sha256") != _digest(images):', "    if False:")], TRUST),
    Mutant("T5", "workbench/core/data/image_folder.py", "the index trusts size and mtime alone",
           [('                old["ctime_ns"] == stat.st_ctime_ns and old["ino"] == stat.st_ino and \\\n'
             '                stat.st_ctime_ns / 1e9 < racy_after:', "                True:")], TRUST),
    Mutant("T6", RESUME, "a lost best.pt keeps the old best score",
           [("    if trainer._best_lost:  # nothing", "    if False:  # nothing")], TRUST),
    Mutant("T7", "workbench/core/train/loop.py", "a relative dataset path is recorded as given",
           [("            cfg.dataset = str(Path(cfg.dataset).expanduser().resolve())", "            pass")], TRUST),
    Mutant("T8", "workbench/core/runs.py", "a damaged CSV row stops the reader",
           [("            problems.append(str(exc))\n            rows = exc.rows",
             "            raise\n            rows = exc.rows")], TRUST),
    Mutant("T9", "workbench/core/train/checkpointing.py", "a checkpoint's stated input size is not bounded",
           [("    if size[0] not in (1, 3) or not all(1 <= v <= MAX_IMAGE_SIZE for v in size[1:]):", "    if False:")],
           TRUST),
    Mutant("T10", "workbench/core/pretrained.py", "weights files are unpickled",
           [("data = torch.load(path, map_location=\"cpu\", weights_only=True)",
             "data = torch.load(path, map_location=\"cpu\", weights_only=False)")], TRANSFER),
    Mutant("T11", "workbench/core/train/resume.py", "a resume forgets its best score",
           [("            callback.load_state_dict(states[type(callback).__name__])",
             "            callback.load_state_dict(states[type(callback).__name__]) if type(callback).__name__ != "
             "\"CheckpointSaver\" else None")], TRUST),
    # --- what a newcomer touches first (issue #21) -----------------------------------------------------
    Mutant("N1", LOOP, "a run stopped in its first epoch is kept, empty",
           [('        return summary.get("status") == "stopped" and not summary.get("epochs") and self._resume is None',
             '        return False')], ["tests/core/test_newcomer.py"]),
    Mutant("N2", LOOP, "a run stopped after an epoch is thrown away",
           [('        return summary.get("status") == "stopped" and not summary.get("epochs") and self._resume is None',
             '        return summary.get("status") == "stopped" and self._resume is None')], ["tests/core/test_newcomer.py"]),
    Mutant("N3", "workbench/core/cost.py", "extracting features is costed as training",
           [('    return 1 if config.pretrained and config.transfer == "extract" else 3', "    return 3")],
           ["tests/core/test_newcomer.py"]),
    Mutant("N4", "workbench/core/errors.py", "a long estimate drops its hours",
           [('    return f"{counted(days, \'day\')} {hours} h" if hours else counted(days, "day")',
             '    return counted(days, "day")')], ["tests/core/test_newcomer.py"]),
    Mutant("N5", "workbench/ui/settings.py", "a gone folder is restored as the dataset",
           [('    if isinstance(dataset, str) and catalog.is_folder_dataset(dataset) and not Path(dataset).is_dir():',
             '    if False:')], ["tests/ui/test_window_newcomer.py", "-k", "settings"]),
    Mutant("N6", "workbench/ui/views/experiment_form.py", "Start is enabled while torch loads",
           [('        self.start_button.setEnabled(False)\n        self.start_button.setText("Start (loading PyTorch…)")',
             '        self.start_button.setText("Start (loading PyTorch…)")')],
           ["tests/ui/test_window_newcomer.py", "-k", "moves_into"]),
    Mutant("N7", "workbench/ui/main_window.py", "closing mid-run asks nothing",
           [("        if self.training and not self.status.ask_close():", "        if False:")],
           ["tests/ui/test_window_newcomer.py", "-k", "closing_while"]),
    Mutant("N8", "workbench/core/catalog.py", "the catalogue lists the datasets as the zoo",
           [('    sets = {d["name"]: DatasetCard(**d) for d in data["datasets"]}',
             '    sets = {d["name"]: DatasetCard(**d) for d in data["datasets"][:1]}')],
           ["tests/ui/test_window_newcomer.py", "-k", "catalogue"]),
    # --- the dataflow graph (issue #16) -------------------------------------------------------------------
    Mutant("G1", "workbench/core/inspect/graph.py", "an in-place add is not a merge",
           [('        base = name.strip("_")  # __iadd__, add_ → iadd, add', '        base = name')],
           ["tests/core/test_graph.py", "-k", "merges or recorded"]),
    Mutant("G2", "workbench/core/inspect/graph.py", "a node is wired to its first input only",
           [("        node = Node(len(self.nodes), name, op, kind, self._sources([refs, krefs]),",
             "        node = Node(len(self.nodes), name, op, kind, self._sources([refs, krefs])[:1],")],
           ["tests/core/test_graph.py", "-k", "merges"]),
    Mutant("G3", "workbench/core/inspect/graph.py", "a module's output is not its producer",
           [("            self.producer[id(output)] = (node.index, None)", "            pass")],
           ["tests/core/test_graph.py", "-k", "resnet18 or googlenet or lenet5"]),
    # --- readable maps, filters, folders (issue #16) --------------------------------------------------------
    Mutant("V1", "workbench/core/inspect/activations.py", "by strength: the weakest channels first",
           [("torch.sort(stats.strength, descending=True, stable=True)", "torch.sort(stats.strength, descending=False, stable=True)")],
           INSPECT),
    Mutant("V2", "workbench/core/inspect/activations.py", "a channel half zeros counts as dead",
           [("        return self.zeros >= 1.0", "        return self.zeros >= 0.5")], INSPECT),
    Mutant("V3", "workbench/core/inspect/activations.py", "a shared scale cut at zero: negative values lost",
           [("        if lo < 0 < hi:\n            lo, hi = -max(-lo, hi), max(-lo, hi)", "        if lo < 0 < hi:\n            lo = 0.0")],
           INSPECT),
    Mutant("V4", "workbench/core/inspect/activations.py", "a tile clicked names the channel one row down",
           [("        index = row * self.grid[1] + col", "        index = (row + 1) * self.grid[1] + col")], INSPECT),
    Mutant("V5", "workbench/core/inspect/filters.py", "colour kernels with rows and columns swapped",
           [("(w / (2 * scale) + 0.5).clamp(0, 1).permute(0, 2, 3, 1)", "(w / (2 * scale) + 0.5).clamp(0, 1).permute(0, 3, 2, 1)")],
           INSPECT),
    Mutant("V6", "workbench/core/inspect/filters.py", "C3's connection table ignored: every kernel in a row",
           [("    for out, ins in enumerate(module.connections):\n        for i in ins:",
             "    for out, ins in enumerate(module.connections):\n        for i in range(len(ins)):")], INSPECT),
    Mutant("V7", "workbench/core/predict.py", "a folder's batch: softmax over the images, not the classes",
           [("probs = torch.softmax(logits.float(), 1).cpu()", "probs = torch.softmax(logits.float(), 0).cpu()")],
           ["tests/core/test_predict_folders.py"]),
    Mutant("V8", "workbench/core/predict.py", "the last batch of a folder is never classified",
           [("    flush()\n    return results", "    return results")],
           ["tests/core/test_predict_folders.py"]),
    Mutant("V10", "workbench/core/predict.py", "a merge's maps are its first input's, not the sum",
           [("        return as_maps(kept[node.index][0])", "        return as_maps(kept[node.inputs[0]][0])")],
           ["tests/ui/test_explorer.py", "-k", "merges"]),
    Mutant("V11", "workbench/core/inspect/hooks.py", "a recording never reuses the last one's memory",
           [("        spares = self._spare.get((tensor.numel(), tensor.dtype, tensor.device))", "        spares = None")],
           ["tests/ui/test_explorer.py", "-k", "reuses"]),
    Mutant("V12", "workbench/ui/controllers/inspection.py", "a recording reuses the maps a view still shows",
           [("        held = {t.data_ptr() for t in self.handed if isinstance(t, torch.Tensor)}", "        held = set()")],
           ["tests/ui/test_explorer.py", "-k", "reuses"]),
    Mutant("V9", "workbench/core/predict.py", "no warning for a colour photo on a grey model",
           [("    if prepared.grey and prepared.colourfulness > 0.04:", "    if False:")],
           ["tests/core/test_predict_folders.py"]),
    Mutant("G4", "workbench/ui/controllers/inspection.py", "a layer switch runs a forward pass again",
           [("        held = self._recorded(layer)", "        held = None")],
           ["tests/ui/test_explorer.py", "-k", "no_forward"]),
    # --- why the network decided (issue #17) ---------------------------------------------------------
    Mutant("Y1", "workbench/core/inspect/attribution.py", "a target layer's output is handed on itself: an in-place "
           "ReLU after it changes the activations read",
           [("        return _replace_first(output, tensor.clone())  # what follows may change it in place: not ours",
             "        return _replace_first(output, tensor)")], ["tests/core/test_attribution.py", "-k", "by_hand"]),
    Mutant("Y2", "workbench/core/inspect/attribution.py", "Grad-CAM without its ReLU",
           [("        return F.relu((weights[:, None, None] * a).sum(0))\n    if method == \"gradcam++\"",
             "        return (weights[:, None, None] * a).sum(0)\n    if method == \"gradcam++\"")],
           ["tests/core/test_attribution.py", "-k", "by_hand"]),
    Mutant("Y3", "workbench/core/inspect/attribution.py", "the default layer is the first spatial one, not the last",
           [("    return layers[-1][0]", "    return layers[0][0]")],
           ["tests/core/test_attribution.py", "-k", "default_layer or object"]),
    Mutant("Y4", "workbench/core/inspect/ablation.py", "a knock-out always drops a merge's first input",
           [("            dropped = graph.nodes[target].inputs[knock.branch]", "            dropped = graph.nodes[target].inputs[0]")],
           ["tests/core/test_ablation.py", "-k", "switching"]),
    Mutant("Y5", "workbench/core/inspect/ablation.py", "a channel knock-out zeroes the whole layer",
           [("            out[:, knock.channel] = 0", "            out.zero_()")], ["tests/core/test_ablation.py", "-k", "switching"]),
    Mutant("Y6", "workbench/core/inspect/ablation.py", "a branch's evidence is its gradient alone, not gradient × activation",
           [("    evidence = [0.0 if g is None else float((g[0].cpu() * t).sum()) for g, t in zip(grads, tensors)]",
             "    evidence = [0.0 if g is None else float(g[0].cpu().sum()) for g, t in zip(grads, tensors)]")],
           ["tests/core/test_ablation.py", "-k", "shares"]),
    Mutant("Y7", "workbench/core/inspect/top_images.py", "the top images are the weakest",
           [("            best_v, order = best_v.topk(keep, 0)", "            best_v, order = best_v.topk(keep, 0, largest=False)")],
           ["tests/core/test_ablation.py", "-k", "top_images"]),
    Mutant("Y8", "workbench/core/inspect/top_images.py", "the cache ignores the weights",
           [("    path = Path(run_dir) / \"explain\" / f\"top-{split}-{safe}-{weights_digest(model)}.pt\"",
             "    path = Path(run_dir) / \"explain\" / f\"top-{split}-{safe}.pt\"")], ["tests/core/test_ablation.py", "-k", "top_images"]),
    Mutant("Y9", "workbench/core/inspect/overlay.py", "a cropped photo's map stretched over the whole photo",
           [("    if prepared.fit == \"crop\" and w != h:", "    if False:")], ["tests/core/test_attribution.py", "-k", "photo"]),
    Mutant("Y10", "workbench/core/inspect/attribution.py", "the class chosen to compare is ignored",
           [("    targets = [order[0], second if second is not None and second != order[0] else order[min(1, len(order) - 1)]]",
             "    targets = [order[0], order[min(1, len(order) - 1)]]")], ["tests/core/test_attribution.py", "-k", "drop"]),
    Mutant("Y11", "workbench/core/inspect/top_images.py", "the receptive field measured on one channel only",
           [("            grad, = torch.autograd.grad(out[0, :, ci, cj].sum(), x, allow_unused=True)",
             "            grad, = torch.autograd.grad(out[0, 0, ci, cj].sum(), x, allow_unused=True)")],
           ["tests/core/test_ablation.py", "-k", "receptive"]),
    # the dataset doctor (issue #18)
    Mutant("DR1", "workbench/core/doctor/moves.py", "a move to a taken name overwrites the file there",
           [("    candidate = path\n    while os.path.lexists(candidate):", "    candidate = path\n    while False:"),
            ("        os.link(src, dst, follow_symlinks=False)", "        os.replace(src, dst)\n        return")],
           DOCTOR + ["-k", "byte_for_byte"]),
    Mutant("DR2", "workbench/core/doctor/moves.py", "undo leaves the folders the fix made",
           [("            (root / rel).rmdir()  # only when empty", "            pass")], DOCTOR + ["-k", "byte_for_byte"]),
    Mutant("DR3", "workbench/core/data/cache.py", "a fixed folder decodes every image again",
           [("        if f.sha1 in earlier:", "        if False:")], DOCTOR + ["-k", "untouched"]),
    Mutant("DR4", "workbench/core/doctor/report.py", "findings listed least sure first",
           [("    report.findings = sorted(kept, key=lambda f: (order.index(f.kind), not f.flagged, -f.score, f.file))",
             "    report.findings = sorted(kept, key=lambda f: (order.index(f.kind), not f.flagged, f.score, f.file))")],
           DOCTOR + ["-k", "swapped_labels_rank"]),
    Mutant("DR5", "workbench/core/doctor/report.py", "the same bytes under two classes are not a conflict",
           [("        if len(labels) < 2:\n            continue", "        if len(labels) < 3:\n            continue")],
           DOCTOR + ["-k", "conflicting"]),
    Mutant("DR6", "workbench/core/doctor/findings.py", "no pair of thumbnails is ever alike enough",
           [("            if alike >= (LOOKS_ALIKE if d < NEAR_DUPLICATE * median else LOOKS_THE_SAME):",
             "            if alike >= 2:")], DOCTOR + ["-k", "near_duplicates"]),
    Mutant("LL1", "workbench/core/inspect/conv_step.py", "the patch window ignores the stride",
           [("        rows = _window(h, row * s[0] - p[0], kh, d[0])\n        cols = _window(w, col * s[1] - p[1], kw, d[1])\n        patch = _gather(rec.input.cpu(), inputs",
             "        rows = _window(h, row - p[0], kh, d[0])\n        cols = _window(w, col - p[1], kw, d[1])\n        patch = _gather(rec.input.cpu(), inputs")],
           ["tests/core/test_conv_step.py"]),
    Mutant("LL2", "workbench/core/inspect/receptive_field.py", "max pooling left in the receptive-field copy",
           [("        elif isinstance(module, nn.MaxPool2d):", "        elif False:")],
           ["tests/core/test_conv_step.py", "-k", "theoretical"]),
    Mutant("LL3", "workbench/core/train/timelapse.py", "every frame is the run's first (the frame kept once)",
           [("        frame = capture(trainer.model, self.x, self.layers, self.first)",
             "        frame = self.__dict__.setdefault('_first', capture(trainer.model, self.x, self.layers, self.first))")],
           ["tests/core/test_timelapse.py", "-k", "three_epoch"]),
    Mutant("LL4", "workbench/core/inspect/lineage.py", "a stage's parameters are the whole network's",
           [("            sum(p.numel() for leaf in ran for p in modules[leaf].parameters(recurse=False)),",
             "            summary.total_params,")], ["tests/core/test_lineage.py"]),
    Mutant("LL5", "workbench/core/papers.py", "the gap to the paper with its sign turned",
           [("        return None if self.accuracy is None else 100 * (self.accuracy - self.figure.accuracy)",
             "        return None if self.accuracy is None else 100 * (self.figure.accuracy - self.accuracy)")],
           ["tests/core/test_papers.py", "-k", "gap"]),
    Mutant("LL6", "workbench/core/papers.py", "a figure found for the model on any dataset",
           [("    return next((f for f in _load()[0] if f.model == model and f.dataset == key), None)",
             "    return next((f for f in _load()[0] if f.model == model), None)")],
           ["tests/core/test_papers.py", "-k", "gap"]),
    Mutant("DR7", "workbench/core/doctor/moves.py", "a file changed since the doctor looked is moved anyway",
           [("    if fix.sha1 and digest != fix.sha1:", "    if False:")], DOCTOR + ["-k", "as_the_doctor_saw"]),
]


def apply(mutant: Mutant, tree: Path) -> str:
    """Put the bug into ``tree``; returns the original text to restore."""
    target = tree / mutant.path
    original = target.read_text(encoding="utf-8")
    text = original
    for old, new in mutant.edits:
        count = text.count(old)
        if count != 1:
            raise SystemExit(f"{mutant.id}: expected the text once in {mutant.path}, found it {count} times: {old!r}")
        text = text.replace(old, new)
    target.write_text(text, encoding="utf-8")
    return original


def run_tests(tree: Path, tests: list[str], timeout: int) -> tuple[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree), "QT_QPA_PLATFORM": "offscreen", "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                              cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - started
    outcome = {0: "passed", 1: "failed"}.get(done.returncode, f"error {done.returncode}")
    if outcome.startswith("error"):
        print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
    return outcome, time.perf_counter() - started


def copy_tree(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in files:
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="mutant ids to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per test run; a mutant that hangs is killed")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.ids or m.id in args.ids]
    if args.list:
        for m in chosen:
            print(f"{m.id:4} {m.path:32} {m.what}{'  [equivalent]' if m.equivalent else ''}")
        return 0

    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        tree = copy_tree(Path(tmp))
        for m in chosen:  # every mutant must still apply to the code as it is now
            (tree / m.path).write_text(apply(m, tree), encoding="utf-8")
        check = subprocess.run([sys.executable, "-c", "import workbench, models; print(workbench.__file__, models.__file__)"],
                               cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True)
        if str(tree) not in check.stdout:
            raise SystemExit(f"the copy does not import itself: {check.stdout} {check.stderr}")
        # The covering tests must pass on the code as it is, or every mutant would look killed.
        suites = {tuple(m.tests) for m in chosen} | {tuple(m.extra_tests) for m in chosen if m.extra_tests}
        for suite in sorted(suites):
            outcome, seconds = run_tests(tree, list(suite), args.timeout)
            print(f"baseline {' '.join(suite)}: {outcome} ({seconds:.0f}s)", flush=True)
            if outcome != "passed":
                raise SystemExit("the covering tests fail without any mutant: fix them first")

        results = []
        for m in chosen:
            original = apply(m, tree)
            try:
                outcome, seconds = run_tests(tree, m.tests, args.timeout)
                if outcome == "passed" and m.extra_tests:
                    outcome, more = run_tests(tree, m.extra_tests, args.timeout)
                    seconds += more
            finally:
                (tree / m.path).write_text(original, encoding="utf-8")
            killed = outcome != "passed"
            results.append((m, killed))
            verdict = "killed" if killed else ("survived (equivalent)" if m.equivalent else "SURVIVED")
            print(f"{m.id:4} {verdict:22} {seconds:5.0f}s  {m.what}", flush=True)

    scored = [(m, k) for m, k in results if not m.equivalent]
    killed = sum(k for _, k in scored)
    print(f"\nmutation score: {killed}/{len(scored)} non-equivalent mutants killed "
          f"({100 * killed / max(1, len(scored)):.0f} %); {len(results) - len(scored)} judged equivalent")
    for m, k in results:
        if m.equivalent:
            print(f"  equivalent {m.id} ({'killed' if k else 'survived'}): {m.equivalent}")
    for m, k in scored:
        if not k:
            print(f"  survivor {m.id}: {m.what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
