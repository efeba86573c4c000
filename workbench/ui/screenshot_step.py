"""The step-by-step screenshot (``python -m workbench.ui.screenshot resources/screenshots --only step``): LeNet-5
trained on the bundled digits, C1's third channel enlarged and one of its values computed by hand below it, with
the unit's receptive field: ``conv-step.png`` (the explorer)."""

from __future__ import annotations

from pathlib import Path


def step_shots(window, wait, out: Path, epochs: int) -> list[Path]:
    window.form.select(window.model_combo, "lenet5")
    wait(lambda: not window.idle)
    window.epochs_spin.setValue(epochs)
    window.start_training()
    wait(lambda: window.training or not window.idle)
    explorer = window.explorer
    window.resize(1800, 1150)  # room for the maps, the channel and the step below it
    window.splitter.setSizes([330, 620, 850])
    explorer.setSizes([200, 120, 830])
    explorer.select_layer("c1")
    wait(lambda: not window.idle or window.feature_map_view.layer != "c1")
    window.feature_map_view.channelClicked.emit(2)
    wait(lambda: not window.idle)
    results = []
    window.conv_step.stepReady.connect(results.append)
    channel = explorer.channel_view
    channel.pixelClicked.emit("c1", 2, 12, 9, float(channel.values[12, 9]))
    wait(lambda: not results)
    wait(lambda: not window.idle)
    path = out / "conv-step.png"
    explorer.grab().save(str(path))
    return [path]
