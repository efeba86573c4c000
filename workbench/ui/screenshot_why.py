"""The README's screenshots of "why the network decided" (``python -m workbench.ui.screenshot OUT --only why``):
ResNet-20 trained on the digits, a drawn digit dropped; the Why tab (two classes and the strip), a knock-out
of a residual branch with its branch shares, the top images of a channel, and a confusion-matrix cell with each
image's maps."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


def open_worst_cell(window) -> None:
    """The evaluation view on show with its most crowded off-diagonal cell opened."""
    window.centre_tabs.setCurrentWidget(window.evaluation_view)
    matrix = window.evaluation_view.matrix
    n = len(matrix.matrix)
    worst = max(((t, p) for t in range(n) for p in range(n) if t != p), key=lambda tp: matrix.matrix[tp[0]][tp[1]])
    matrix.setCurrentCell(*worst)
    window.evaluation_view.show_cell(*worst)


def _central_channel(window, layer: str) -> int:
    """A channel whose strongest responses lie inside the image, not on its border (many channels of a small
    network answer the zero padding at a corner best: honest, but not what the view is for)."""
    from workbench.core.explain import test_batches
    from workbench.core.inspect.top_images import top_images

    predictor = window.session.predictor
    batches = ((indices, images) for indices, images, _ in test_batches(predictor, window.bundle.test))
    found = top_images(predictor.model, batches, layer, predictor.input_shape)
    h, w = predictor.input_shape[1:]
    distance = (found.rows.float() - (h - 1) / 2).abs() + (found.cols.float() - (w - 1) / 2).abs()
    return int(distance.mean(0).argmin())


def why_shots(window, wait, out: Path, tmp: Path, epochs: int) -> list[Path]:
    saved = []

    def grab(widget, name):
        widget.grab().save(str(out / name))
        saved.append(out / name)

    window.form.select(window.model_combo, "resnet20")
    wait(lambda: not window.idle)
    window.epochs_spin.setValue(epochs)
    window.start_training()
    wait(lambda: window.training or not window.idle)
    sample, _ = window.bundle.test[13]
    drawn = Image.fromarray(((1 - sample[0]) * 255).byte().numpy(), "L").resize((160, 160), Image.Resampling.BICUBIC)
    drawn.save(tmp / "drawn.png")
    window.classify_file(str(tmp / "drawn.png"))
    wait(lambda: not window.idle)
    explorer = window.explorer
    explorer.setSizes([230, 120, 640])
    explorer.detail_tabs.setCurrentWidget(explorer.gradcam_view)
    wait(lambda: not window.idle)
    grab(explorer, "explorer-why.png")

    explorer.select_layer("layer1.0:add")
    explorer.detail_tabs.setCurrentWidget(explorer.ablation_view)
    wait(lambda: not window.idle)
    explorer.ablation_view.branch_list.setCurrentRow(0)
    window.attribution.knock(explorer.ablation_view.current())
    wait(lambda: not window.idle)
    window.attribution.knock_accuracy(explorer.ablation_view.current())
    wait(lambda: not window.idle)
    grab(explorer, "explorer-knockout.png")

    channel = _central_channel(window, "layer1")
    explorer.select_layer("layer1")
    explorer.detail_tabs.setCurrentWidget(explorer.top_images_view)
    wait(lambda: not window.idle)
    explorer.top_images_view.set_channel(channel)
    window.attribution.top_images("layer1", channel)
    wait(lambda: not window.idle)
    grab(explorer, "explorer-top-images.png")

    open_worst_cell(window)
    wait(lambda: not window.idle)
    grab(window, "evaluation-maps.png")
    return saved
