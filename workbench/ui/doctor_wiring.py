"""The doctor view's connections to its controller, kept beside the window so it stays a shell: the folder
on show is the one examined; a fix is refused while a run trains on the folder, and is followed by the folder
read again (the cache and split keep the untouched files where they were), the doctor's tab staying in front."""

from __future__ import annotations

from .controllers.doctor import DoctorController


def connect_doctor(window) -> DoctorController:
    view, doctor = window.centre_tabs.doctor_view, DoctorController(window.session, window.io_jobs, window.runs_root,
                                                                     window)
    window.doctor, window.doctor_view = doctor, view
    back_to_doctor = []

    def folder():
        bundle = window.datasets.bundle
        return bundle.name if bundle is not None and bundle.health else None

    def examine() -> None:
        if folder():
            doctor.examine(folder(), view.method)

    def refuse_while_training() -> bool:
        if window.training:
            view.show_fixed("Stop the run first: it reads these files while it trains.", view._can_undo)
        return window.training

    def fixed(batch, text: str) -> None:
        from workbench.core.doctor import read_log

        view.show_fixed(text, any(not b.undone for b in read_log(doctor.report.root)[0]))
        back_to_doctor.append(True)
        window.open_folder(doctor.report.root)  # read again: the next run trains on the cleaned set

    def loaded(bundle) -> None:  # after the window showed the folder (and its health report)
        view.set_folder(folder())
        if back_to_doctor and bundle:
            back_to_doctor.clear()
            window.centre_tabs.setCurrentWidget(view)

    def preview(path: str) -> None:
        def small():
            from workbench.core.data.decode import decode

            image = decode(path)
            image.thumbnail((240, 240))
            return image
        window.io_jobs.submit("doctor-preview", small, view.show_preview, lambda _: view.show_preview(None))

    for signal, slot in (
        (view.previewWanted, preview),
        (view.examineRequested, examine),
        (view.cancelRequested, doctor.cancel),
        (view.fixRequested, lambda findings, action: refuse_while_training() or doctor.fix(findings, action)),
        (view.undoRequested, lambda: refuse_while_training() or doctor.undo()),
        (view.imageOpened, window.classify_file),
        (doctor.progress, view.show_progress),
        (doctor.busyChanged, view.busy),
        (doctor.reportReady, view.show_report),
        (doctor.failed, view.show_failure),
        (doctor.fixed, fixed),
        (window.folderLoaded, loaded),
    ):
        signal.connect(slot)
    view.set_folder(folder())
    return doctor
