"""The explorer's and the classify table's connections to their controllers, kept beside the window so it
stays a shell: a dropped image goes to the inspection controller, several files or a folder to the
classify controller, and what each computes goes back to the view that shows it."""

from __future__ import annotations


def connect_explorer(window) -> None:
    explorer, inspection, classify, table = window.explorer, window.inspection, window.classify, window.classify_view
    prediction = explorer.prediction_view

    def classify_files(paths: list) -> None:
        window.status.show_error("")
        if classify.classify([str(p) for p in paths]):
            window.centre_tabs.setCurrentWidget(table)

    window.classify_files = classify_files
    from .attribution_wiring import connect_attribution

    window.attribution = connect_attribution(window)
    from .controllers.conv_step import ConvStepController

    window.conv_step = step = ConvStepController(window.session, window.jobs, window)
    step_view = explorer.conv_step_view

    def pixel(layer, channel, row, col, shown) -> None:
        step.step(layer, channel, row, col, shown)

    def shown(result) -> None:
        step_view.show_step(result)
        if not step_view.isVisible():  # below the channel, which stays on show to click the next pixel in
            step_view.show()
            splitter = step_view.parentWidget()
            splitter.setSizes([max(1, s) for s in (splitter.sizes()[0] // 2, splitter.sizes()[1], 300)])

    def move(channel, row, col) -> None:
        if step.last is not None:
            step.step(step.last[0], channel, row, col, None)
    for signal, slot in (
        (explorer.drop_zone.imageDropped, window.classify_file),
        (explorer.drop_zone.filesDropped, classify_files),
        (prediction.preparationChanged, inspection.set_preparation),
        (explorer.filtersWanted, inspection.show_filters),
        (inspection.filtersReady, explorer.show_filters),
        (inspection.predictionsReady, prediction.show_predictions),
        (inspection.warningsReady, prediction.show_warnings),
        (inspection.mapsReady, explorer.show_maps),
        (classify.started, table.started),
        (classify.rowsReady, table.add_rows),
        (classify.progress, table.show_progress),
        (classify.finished, table.finished),
        (classify.failed, window.status.show_error),
        (table.filesChosen, classify_files),
        (table.cancelRequested, classify.cancel),
        (table.imageOpened, window.classify_file),
        (table.exported, lambda path: window.statusBar().showMessage(f"Saved {path}", 8000)),
        (table.failed, window.status.show_error),
        (explorer.channel_view.pixelClicked, pixel),
        (step_view.stepRequested, move),
        (step.stepReady, shown),
        (step.failed, window.status.show_error),
        (window.model.weightsChanged, step.weights_changed),
    ):
        signal.connect(slot)
