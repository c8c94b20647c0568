"""The analyst's report of one recording (``gaitline analyze VIDEO --report html|pdf``).

One document per recording: what the recording was (file name, SHA-256, duration, the gaitline
version and the model), then per track its parameters with their spread (median and interquartile
range over the track's windows), the plots over time and over the gait cycle (joint angles, left
against right), the foot trajectory on the ground, a strip of the track's silhouettes, and its
gallery match when a gallery was given.

HTML: a jinja2 template (``templates/report.html.j2``) with the figures inlined as PNG data URLs,
so the file travels alone. PDF: the same content laid out on A4 pages by matplotlib's PDF backend
(:mod:`workers.report.pdf`); no browser or system library is needed.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from streams.schemas import TrackletWindow

Format = Literal["html", "pdf"]
FORMATS = ("html", "pdf")

# (key, label, unit) of the silhouette parameters every window carries
SILHOUETTE = (("cadence_spm", "cadence (silhouette)", "steps/min"), ("speed_mps", "speed", "m/s"),
              ("step_length_m", "step length", "m"), ("stride_length_m", "stride length", "m"))
POSE_LABELS = {
    "cadence_spm": "cadence (keypoints)", "cadence_disagreement_pct": "cadence: keypoints vs silhouette",
    "step_length_legs": "step length in leg lengths", "step_time_asymmetry_pct": "step time asymmetry",
    "step_length_asymmetry_pct": "step length asymmetry", "double_support_share": "double support",
    "step_width_m": "step width (dynamic base)", "progression_deviation_m": "progression line deviation",
    "foot_angle_deg": "foot angle (toe-out)",
    **{f"{j}_{s}_range_deg": f"{j} {'dorsiflexion' if j == 'ankle' else 'flexion'} range, {s}"
       for j in ("hip", "knee", "ankle") for s in ("left", "right")},
}


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _spread(values: list[float]) -> dict[str, float | int | None]:
    import numpy as np

    if not values:
        return {"median": None, "q1": None, "q3": None, "windows": 0}
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return {"median": float(med), "q1": float(q1), "q3": float(q3), "windows": len(values)}


def parameter_rows(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """A track's parameters as table rows: label, unit, median, q1, q3, windows, confidence, note."""
    rows = []
    for key, label, unit in SILHOUETTE:
        vals = [float(p[key]) for p in entry["per_window"] if p.get(key) is not None]
        s = _spread(vals)
        rows.append({"family": "silhouette", "name": key, "label": label, "unit": unit, **s, "confidence": None,
                     "note": None if vals else ("needs a calibrated camera" if key != "cadence_spm"
                                                else "no steps seen")})
    for key, m in (entry.get("pose") or {}).get("params", {}).items():
        ow = m.get("over_windows") or {}
        # the spread over windows where there is one, else the whole track's value alone
        med = ow.get("median") if ow.get("windows") else m.get("value")
        rows.append({"family": "pose", "name": key, "label": POSE_LABELS.get(key, key), "unit": m.get("unit"),
                     "median": med, "q1": ow.get("q1") if ow.get("windows") else None,
                     "q3": ow.get("q3") if ow.get("windows") else None, "windows": ow.get("windows", 0),
                     # the confidence is the whole track's: not shown beside the windows' spread alone
                     "whole": m.get("value"), "confidence": m.get("confidence") if m.get("value") is not None
                     or not ow.get("windows") else None,
                     # windows may measure what the whole track cannot (a turn, a stretch out of view)
                     "note": None if not m.get("reason") else
                     f"whole track: {m['reason']}" if ow.get("windows") else m["reason"]})
    return rows


def recording_facts(video: Path, report: dict[str, Any]) -> dict[str, Any]:
    """What the recording was and what read it."""
    import gaitline

    fps = float(report["fps"])
    return {"file": video.name, "path": str(video.resolve()), "sha256": sha256(video),
            "size_mb": round(video.stat().st_size / 1e6, 2), "frames": report["frames"], "fps": round(fps, 2),
            "duration_s": round(report["frames"] / fps, 1) if fps else None,
            "gaitline_version": gaitline.__version__, "model": report.get("model"),
            "model_version": report.get("model_version"), "threshold": report.get("threshold"),
            "threshold_source": report.get("threshold_source"), "calibrated": report.get("calibrated"),
            "network": report.get("network"), "pose": report.get("pose"), "gallery": report.get("gallery"),
            "written": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "seconds": report.get("seconds")}


def build_figures(report: dict[str, Any], by_track: dict[int, list[TrackletWindow]], poses: dict[int, Any],
                  homography: Any) -> dict[int, dict[str, Any]]:
    """Per track id the report's figures (see :mod:`workers.report.figures`), each as a function that
    draws it when called: a recording of many tracks never holds all its figures open at once."""
    from functools import partial

    from workers.report import figures

    fps = float(report["fps"])
    out: dict[int, dict[str, Any]] = {}
    for entry in report["tracks"]:
        tid = entry["track_id"]
        ws = sorted(by_track[tid], key=lambda w: w.frame_start)
        tp = poses.get(tid)
        out[tid] = {"thumbnails": partial(figures.thumbnail_strip, ws),
                    "over_time": partial(figures.silhouette_over_time, ws, fps),
                    "ground": partial(figures.ground_track, ws, tp, homography),
                    "angles": partial(figures.joint_angles, tp, fps, homography) if tp is not None else None}
    return out


def write_report(fmt: Format, path: Path, video: Path, report: dict[str, Any],
                 by_track: dict[int, list[TrackletWindow]], poses: dict[int, Any], homography: Any = None,
                 max_tracks: int = 12) -> Path:
    """Write the recording's report as HTML or PDF.

    Args:
        fmt: ``html`` or ``pdf``.
        path: the file to write.
        video: the recording.
        report: what :func:`workers.analyze.analyze_recording` wrote to ``report.json``.
        by_track: the windows of each track.
        poses: the keypoints of each track where pose ran (:class:`workers.analyze_pose.TrackPose`).
        homography: the camera's image->ground ``[3, 3]``, or None.
        max_tracks: the longest tracks only (a crowded recording has dozens of fragments; the
            rest are listed in the overview).
    """
    facts = recording_facts(video, report)
    shown = dict(report, tracks=report["tracks"][:max_tracks])
    figs = build_figures(shown, by_track, poses, homography)
    tracks = [{**e, "rows": parameter_rows(e), "duration_s": round((e["frame_end"] - e["frame_start"] + 1)
                                                                  / float(report["fps"]), 1)}
              for e in shown["tracks"]]
    overview = [{"track_id": e["track_id"], "windows": e["windows"], "frame_start": e["frame_start"],
                 "frame_end": e["frame_end"], "quality": e["quality"], "view": (e.get("pose") or {}).get("view"),
                 "match": e.get("match"), "shown": i < max_tracks} for i, e in enumerate(report["tracks"])]
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        from workers.report.html import render_html

        path.write_text(render_html(facts, overview, tracks, figs), encoding="utf-8")
    else:
        from workers.report.pdf import render_pdf

        render_pdf(path, facts, overview, tracks, figs)
    return path
