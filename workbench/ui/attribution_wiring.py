"""The connections of "why the network decided": the explorer's Why, Knock-out and Top images tabs and the
evaluation view's galleries to the attribution controller, kept beside the window so it stays a shell."""

from __future__ import annotations

from workbench.core.predict import is_merge

from .controllers.attribution import AttributionController


def channels_of(session, layer: str | None) -> int:
    """How many channels ``layer``'s output has (a module's from the summary, a merge's from the graph)."""
    summary = session.summary
    if summary is None or not layer:
        return 0
    graph = getattr(summary, "graph", None)
    if is_merge(layer) and graph is not None:
        node = next((n for n in graph.nodes if n.name == layer), None)
        return node.shape[0] if node is not None and node.shape else 0
    try:
        shape = summary.layer(layer).output_shape
    except (KeyError, ValueError):
        return 0
    return shape[0] if shape else 0


def connect_attribution(window) -> AttributionController:
    explorer, session = window.explorer, window.session
    cam, knock, top = explorer.gradcam_view, explorer.ablation_view, explorer.top_images_view
    control = AttributionController(session, window.jobs, lambda: window.datasets.bundle, lambda: window.training,
                                    window)

    def follow_tab(_=None) -> None:
        control.active = explorer.detail_tabs.currentWidget() is cam
        if control.active:
            control.refresh()
        elif explorer.detail_tabs.currentWidget() is knock:
            control.prime()  # the prediction as it is, ready for the first knock-out
            if is_merge(session.layer):
                control.shares()

    def follow_session(changed: set) -> None:
        predictor = session.predictor
        if "predictor" in changed and predictor is not None:
            control.layer = control.second = None  # another model: its own layers and classes
            cam.set_classes(predictor.classes)
            stages = [f["module"] for f in getattr(predictor.model, "feature_info", []) or []]
            cam.set_layers(stages, None)
        if {"image", "photo", "predictor"} & changed:
            cam.set_base(session.photo, session.image)
        if {"layer", "summary", "predictor"} & changed:
            layer = session.layer
            stages = [f["module"] for f in getattr(predictor.model, "feature_info", []) or []] if predictor else []
            cam.set_layers(stages, layer)
            count = channels_of(session, layer)
            knock.show_layer(layer, count, control.branches_of(layer) if is_merge(layer) else [])
            top.show_layer(layer, count)
            if explorer.detail_tabs.currentWidget() is knock:
                control.prime()
                if is_merge(layer):
                    control.shares(layer)

    session.subscribe(follow_session)
    window.model.weightsChanged.connect(lambda *_: control.active and control.refresh())  # each epoch's end
    explorer.detail_tabs.currentChanged.connect(follow_tab)
    explorer.feature_map_view.channelClicked.connect(top.set_channel)
    explorer.feature_map_view.channelClicked.connect(knock.channel_spin.setValue)
    for signal, slot in (
        (cam.chosen, lambda method, layer, second: control.choose(method, layer or None, second)),
        (cam.cancelRequested, control.cancel),
        (cam.opacityChanged, control.set_opacity),
        (control.camsReady, cam.show_cams),
        (control.previewReady, cam.show_cams),  # emitted in the job's thread: a view's slot, queued to the UI
        (control.stripReady, cam.show_strip),
        (control.camCancelled, cam.show_cancelled),
        (control.progress, lambda which, *a: {"cam": cam, "knock": knock, "top": top}[which].show_progress(*a)),
        (knock.knockRequested, control.knock),
        (knock.branchOpened, lambda layer: (explorer.detail_tabs.setCurrentIndex(0), explorer.select_layer(layer))),
        (knock.accuracyRequested, control.knock_accuracy),
        (control.knockReady, knock.show_knock),
        (control.accuracyReady, knock.show_accuracy),
        (control.sharesReady, knock.show_shares),
        (top.topRequested, control.top_images),
        (top.cancelRequested, lambda: window.jobs.cancel("top-images")),
        (control.topReady, top.show_top),
        (control.failed, window.status.show_error),
        (window.evaluation_view.mapsWanted, control.gallery),
        (control.galleryReady, window.evaluation_view.show_gallery_maps),
    ):
        signal.connect(slot)
    knock.knockRequested.connect(lambda k: is_merge(k.node) and control.shares(k.node))
    return control
