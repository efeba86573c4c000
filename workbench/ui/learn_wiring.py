"""The learning views' connections (issue #19): the training time-lapse follows the run on show and grows at
each epoch's end; the lineage view puts one image through several architectures."""

from __future__ import annotations


def connect_learning(window) -> None:
    from .controllers.timelapse import TimelapseController

    session, view = window.session, window.centre_tabs.timelapse_view
    window.timelapse = lapse = TimelapseController(window.io_jobs, window)
    window.timelapse_view = view

    def run_changed(changed: set[str]) -> None:
        if "run" not in changed:
            return
        if session.run is None:
            lapse.show_run(None)
            view.clear("No run on show: train one, or open one in Runs, to play its time-lapse.")
        else:
            lapse.show_run(session.run.dir)
    session.subscribe(run_changed)
    lapse.ready.connect(view.show_timelapse)
    lapse.failed.connect(window.status.show_error)
    window.training_controller.epochEnded.connect(
        lambda event, weights: session.run is not None and lapse.show_run(session.run.dir))

    from workbench.core import catalog

    from .controllers.lineage import LineageController

    lineage_view = window.centre_tabs.lineage_view
    window.lineage_view = lineage_view
    window.lineage = lineage = LineageController(session, window.jobs, window)
    models = catalog.model_names()
    lineage_view.set_choices(models, [])
    window.runs.runsRead.connect(lambda rows: lineage_view.set_choices(
        models, [(row["name"], row["dir"]) for row in rows if row["summary"].get("best_epoch")]))
    for signal, slot in ((lineage_view.compareRequested, lineage.compare), (lineage.ready, lineage_view.show_columns),
                         (lineage.progress, lineage_view.busy), (lineage.failed, window.status.show_error)):
        signal.connect(slot)
