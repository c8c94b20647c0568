"""The report as a PDF: A4 pages laid out with matplotlib's PDF backend (text, tables, the figures).

Page 1: the recording and the list of tracks. Per track: one page with its silhouettes, gallery
match and parameter table, one with its plots. The figures are rasterised into the page at
150 dpi (they are the same figures the HTML shows).
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any

A4 = (8.27, 11.69)  # inches, portrait
MARGIN = 0.06  # of the page, each side


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _num(v: Any, digits: int = 2) -> str:
    if v is None:
        return "–"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _raster(fig: Any) -> Any:
    """A figure as an image array (the figure is closed)."""
    import matplotlib.image as mpimg

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150)
    _plt().close(fig)
    buf.seek(0)
    return mpimg.imread(buf, format="png")


class _Page:
    """A page filled top-down: text lines, tables and images, each taking the height it needs."""

    def __init__(self, title: str) -> None:
        self.fig = _plt().figure(figsize=A4)
        self.y = 1 - MARGIN
        self.text(title, size=15, weight="bold", gap=0.012)

    def text(self, s: str, size: float = 9, weight: str = "normal", gap: float = 0.004, colour: str = "#222",
             width: int = 110) -> None:
        for line in textwrap.wrap(s, width) or [""]:
            self.fig.text(MARGIN, self.y, line, fontsize=size, weight=weight, color=colour, va="top")
            self.y -= size / 72 / A4[1] * 1.35
        self.y -= gap

    def table(self, header: list[str], rows: list[list[str]], widths: list[float], size: float = 7.5) -> None:
        line = size / 72 / A4[1] * 1.5
        h = line * (len(rows) + 1)
        ax = self.fig.add_axes((MARGIN, self.y - h, 1 - 2 * MARGIN, h))
        ax.axis("off")
        tab = ax.table(cellText=rows, colLabels=header, colWidths=widths, loc="upper left", cellLoc="left")
        tab.auto_set_font_size(False)
        tab.set_fontsize(size)
        for (r, _), cell in tab.get_celld().items():
            cell.set_height(1 / (len(rows) + 1))
            cell.set_edgecolor("#dddddd")
            if r == 0:
                cell.set_facecolor("#f0f0f0")
        self.y -= h + 0.012

    def image(self, fig: Any, width: float = 1 - 2 * MARGIN) -> None:
        img = _raster(fig)
        h = width * A4[0] / A4[1] * img.shape[0] / img.shape[1]
        ax = self.fig.add_axes((MARGIN, self.y - h, width, h))
        ax.imshow(img, interpolation="antialiased")
        ax.axis("off")
        self.y -= h + 0.012


def _param_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    out = []
    for r in rows:
        iqr = f"{_num(r['q1'])}–{_num(r['q3'])}" if r.get("q1") is not None else "–"
        note = textwrap.shorten(r.get("note") or "", 50, placeholder="…")
        out.append([r["label"], _num(r["median"]), iqr, r.get("unit") or "", str(r.get("windows", 0)),
                    _num(r.get("confidence")), note])
    return out


def render_pdf(path: Path, facts: dict[str, Any], overview: list[dict[str, Any]], tracks: list[dict[str, Any]],
               figs: dict[int, dict[str, Any]]) -> None:
    """Write the PDF (see :func:`workers.report.write_report` for what the arguments hold)."""
    from matplotlib.backends.backend_pdf import PdfPages

    plt = _plt()
    with PdfPages(path, metadata={"Title": f"gait analysis: {facts['file']}",
                                  "Creator": f"gaitline {facts['gaitline_version']}"}) as pdf:
        p = _Page(f"Gait analysis of {facts['file']}")
        p.text(f"Written by gaitline {facts['gaitline_version']} on {facts['written']}. Parameters are measurements "
               "of walking, not identifications; a gallery match is a similarity score against a threshold.",
               colour="#666", gap=0.01)
        p.text("The recording", size=12, weight="bold")
        calib = ("calibrated (ground plane in metres)" if facts["calibrated"] else
                 "not calibrated: metres, step width, progression and foot angle are not measurable")
        facts_rows = [["file", facts["path"]], ["SHA-256", facts["sha256"]], ["size", f"{facts['size_mb']} MB"],
                      ["duration", f"{facts['duration_s']} s ({facts['frames']} frames at {facts['fps']} fps)"],
                      ["camera", f"{calib}; network {facts['network']}"],
                      ["model", f"{facts['model']} (version {facts['model_version']}); threshold "
                                f"{_num(facts['threshold'], 3)} ({facts['threshold_source']})"],
                      ["pose", "BlazePose keypoints on each track" if facts["pose"] else "not run (--no-pose)"],
                      ["gallery", facts["gallery"] or "none given"],
                      ["gaitline", f"{facts['gaitline_version']}; analysis took {facts['seconds']} s"]]
        p.table(["", ""], [[k, textwrap.shorten(v, 95, placeholder="…")] for k, v in facts_rows], [0.14, 0.86])
        p.text("Tracks", size=12, weight="bold")
        rows = []
        for t in overview[:40]:
            m = t.get("match")
            match = f"{m['name']} ({m['similarity']:.3f}, {'accepted' if m['accepted'] else 'below'})" if m else "–"
            rows.append([str(t["track_id"]), f"{t['frame_start']}–{t['frame_end']}", str(t["windows"]),
                         _num(t["quality"]), t.get("view") or "–", match,
                         "on the next pages" if t["shown"] else "not detailed"])
        p.table(["track", "frames", "windows", "quality", "view", "gallery match", ""], rows,
                [0.07, 0.14, 0.08, 0.08, 0.09, 0.34, 0.2])
        if len(overview) > 40:
            p.text(f"… and {len(overview) - 40} more tracks (report.json lists them all).", colour="#666")
        pdf.savefig(p.fig)
        plt.close(p.fig)
        for t in tracks:
            tid = t["track_id"]
            p = _Page(f"Track {tid}")
            desc = f"Frames {t['frame_start']}–{t['frame_end']} ({t['duration_s']} s), {t['windows']} windows"
            if t.get("pose"):
                pz = t["pose"]
                how = (f"{_num(pz.get('view_angle_deg'), 0)}° between the walking line and the line of sight"
                       if pz.get("view_source") == "calibration" else
                       f"shoulder/hip breadth ratio {_num(pz.get('breadth_ratio'))}")
                desc += (f"; view over the whole track: {pz['view']} ({how}); legs found on {pz['frames_with_legs']} "
                         f"of {pz['frames']} frames")
            p.text(desc + ".")
            p.image(figs[tid]["thumbnails"]())
            if t.get("match"):
                m = t["match"]
                p.text(f"Gallery: best match {m['name']}, similarity {m['similarity']:.3f} against the threshold "
                       f"{_num(facts['threshold'], 3)}: {'accepted' if m['accepted'] else 'not a match'}.",
                       weight="bold")
            p.text("Parameters (median and interquartile range over the track's windows)", size=11, weight="bold")
            p.table(["parameter", "median", "IQR", "unit", "windows", "conf.", "note"], _param_rows(t["rows"]),
                    [0.27, 0.08, 0.12, 0.08, 0.07, 0.06, 0.32], size=6.5)
            pdf.savefig(p.fig)
            plt.close(p.fig)
            p = _Page(f"Track {tid}: plots")
            p.image(figs[tid]["over_time"]())
            if figs[tid]["angles"] is not None:
                p.image(figs[tid]["angles"]())
            p.image(figs[tid]["ground"](), width=0.5)
            pdf.savefig(p.fig)
            plt.close(p.fig)
