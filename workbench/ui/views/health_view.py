"""The health report of an image folder: classes and their sizes, what was skipped or ignored
and why, duplicates and leaks, image sizes and the normalisation the run will use."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QTextBrowser

from workbench.core.errors import counted


class HealthReportView(QTextBrowser):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("healthReportView")
        self.setOpenExternalLinks(False)
        self.report = None
        self.setHtml("<p style='color:#666'>Choose <b>Image folder…</b> in the dataset list, or drop a folder on "
                     "the window, to see its health report here.</p>")

    def show_report(self, report) -> None:
        self.report = report
        esc = html.escape
        rows = "".join(
            f"<tr><td>{esc(c)}</td><td align=right>{n}</td>"
            + "".join(f"<td align=right>{report.split_counts[s][i]}</td>" for s in ("train", "val", "test")) + "</tr>"
            for i, (c, n) in enumerate(zip(report.classes, report.counts)))
        total = (f"<tr><td><b>total</b></td><td align=right><b>{report.usable}</b></td>"
                 + "".join(f"<td align=right>{sum(report.split_counts[s])}</td>" for s in ("train", "val", "test")) + "</tr>")
        s = report.sizes
        parts = [
            f"<h3 style='margin:0'>{esc(report.root)}</h3>",
            f"<p>{report.usable} usable images in {len(report.classes)} classes · imbalance "
            f"<b>{report.imbalance:.2f}×</b> (largest / smallest class)</p>",
            "<table cellspacing=0 cellpadding=3 border=1 style='border-collapse:collapse'>"
            "<tr><th>class</th><th>images</th><th>train</th><th>val</th><th>test</th></tr>" + rows + total + "</table>",
            f"<p>Image sizes: {s['min_w']:.0f}–{s['max_w']:.0f} × {s['min_h']:.0f}–{s['max_h']:.0f} px "
            f"(median {s['median_w']:.0f} × {s['median_h']:.0f}); aspect ratio {s['min_aspect']:.2f}–{s['max_aspect']:.2f}<br>"
            f"Training images: mean {', '.join(f'{m:.3f}' for m in report.mean)}; "
            f"std {', '.join(f'{v:.3f}' for v in report.std)} (a run from scratch normalises with these; "
            f"pretrained weights bring their own)</p>",
        ]
        if report.changes:
            parts.append(f"<p style='color:#8a5a00'>{esc(report.changes)}</p>")
        if report.leaks:
            parts.append(f"<p style='color:#8a1c13'><b>Leak:</b> {counted(len(report.leaks), 'duplicate image')} {'is' if len(report.leaks) == 1 else 'are'} in both "
                         "train and test:<br>" + "<br>".join(esc(" = ".join(g)) for g in report.leaks) + "</p>")
        for title, items, colour in (("Skipped: cannot be used", report.skipped, "#8a1c13"),
                                     ("Ignored: not images, or hidden", report.ignored, "#555"),
                                     ("Classes left out", report.left_out_classes, "#8a5a00")):
            if items:
                parts.append(f"<p><b>{title} ({len(items)})</b><br><span style='color:{colour}'>"
                             + "<br>".join(f"{esc(p)} — {esc(r)}" for p, r in items) + "</span></p>")
        if report.duplicates:
            parts.append(f"<p><b>Exact duplicates ({len(report.duplicates)})</b><br>"
                         + "<br>".join(esc(" = ".join(g)) for g in report.duplicates) + "</p>")
        parts += [f"<p>{esc(n)}</p>" for n in report.notes]
        self.setHtml("".join(parts))
