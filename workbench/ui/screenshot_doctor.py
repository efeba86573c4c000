"""The doctor's screenshots (``python -m workbench.ui.screenshot resources/screenshots --only doctor``): the real
digits written as a folder with faults planted (``core.doctor.benchmark``), LeNet-5 trained on it in the window,
the folder examined, the surest label error selected: ``doctor.png`` (the window) and ``doctor-view.png``
(the findings and the embedding map)."""

from __future__ import annotations

from pathlib import Path


def doctor_shots(window, wait, out: Path, tmp: Path, epochs: int) -> list[Path]:
    from workbench.core.doctor.benchmark import write_digits_folder

    root = tmp / "digits-folder"
    write_digits_folder(root)
    window.open_folder(str(root))
    wait(lambda: not window.idle or window.bundle is None)
    window.form.select(window.model_combo, "lenet5")
    wait(lambda: not window.idle)
    window.epochs_spin.setValue(epochs)
    window.start_training()
    wait(lambda: window.training or not window.idle)
    window.centre_tabs.setCurrentWidget(window.doctor_view)
    reports = []
    window.doctor.reportReady.connect(lambda report, _: reports.append(report))
    window.doctor_view.examine_button.click()
    wait(lambda: not reports)
    view = window.doctor_view
    labels = [i for i, f in enumerate(view.report.findings) if f.kind == "label"]
    if labels:
        view.table.selectRow(labels[0])
        view._point_clicked(view.report.findings[labels[0]].index)
    wait(lambda: not window.idle)
    saved = []
    for name, widget in (("doctor.png", window), ("doctor-view.png", view)):
        widget.grab().save(str(out / name))
        saved.append(out / name)
    return saved
