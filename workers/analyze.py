"""The portable mode (``gaitline analyze VIDEO``): one recording on a laptop, no Kafka.

frames stage in-process (:func:`workers.frames.cameras.run_cameras` on a one-camera network) →
windows collected per track → gait model → per track: gait parameters (cadence, speed,
step and stride length) over time as PNG plots, with pose (on by default) the keypoint
parameters (joint-angle ranges, step width, asymmetry, double support) and a joint-angle plot,
a JSON report, and with ``--gallery`` the
best match in a local gallery file; ``--enrol NAME`` adds a track to that gallery.

Gallery file (``.npz``): ``names`` [m] str, ``vectors`` [m, dim] float32 (unit norm),
``model`` and ``model_version`` (str). A gallery is only matched with the model that wrote
it: vectors of different models are not comparable.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from gaitline.errors import GaitlineError
from streams.schemas import TrackletWindow
from workers.exceptions import AnalyzeError


def probe_video(video: Path) -> tuple[float, int]:
    """(fps, frame count) of a readable video; :class:`AnalyzeError` otherwise."""
    import cv2

    if not video.is_file():
        raise AnalyzeError(f"video {video} does not exist")
    cap = cv2.VideoCapture(str(video))
    try:
        ok = cap.isOpened() and cap.read()[0]
        if not ok:
            raise AnalyzeError(f"video {video} cannot be decoded (not a video OpenCV can read)")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()
    return (fps if 0 < fps <= 240 else 25.0), count


def network_for(video: Path, fps: float) -> Any:
    """A one-camera network; a shipped network's calibration is reused when it names this file."""
    from configs.schema import NETWORKS_DIR, Camera, LoadedNetwork, Network, load_network

    real = video.resolve()
    for cfg in sorted(NETWORKS_DIR.glob("*.yaml")):
        try:
            loaded = load_network(cfg)
        except GaitlineError:
            continue
        for cam in loaded.network.cameras:
            if "://" not in cam.source and Path(cam.source_path(loaded.base)).resolve() == real:
                net = Network(name=f"analyze-{loaded.network.name}", cameras=[cam.model_copy()])
                return LoadedNetwork(network=net, path=loaded.path)
    cam = Camera(id="video", source=str(real), region="portable", fps=fps)
    return LoadedNetwork(network=Network(name="analyze", cameras=[cam]), path=real)


def collect_windows(loaded: Any, total: int) -> tuple[dict[int, list[TrackletWindow]], Any]:
    """Run the frames stage over the video with a progress bar; windows grouped by track."""
    from prometheus_client import CollectorRegistry
    from tqdm import tqdm

    from workers.frames.cameras import run_cameras
    from workers.frames.metrics import FramesMetrics
    from workers.frames.settings import FramesSettings

    by_track: dict[int, list[TrackletWindow]] = {}

    def sink(w: TrackletWindow) -> None:
        by_track.setdefault(w.track_id, []).append(w)

    registry = CollectorRegistry()
    metrics = FramesMetrics(registry)
    cam_id = loaded.network.cameras[0].id
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["stats"] = run_cameras(loaded, [cam_id], FramesSettings(), sink, threading.Event(), metrics)
        except BaseException as exc:  # handed to the main thread, which raises it
            result["error"] = exc

    th = threading.Thread(target=run, name="analyze-frames", daemon=True)
    th.start()
    with tqdm(total=total or None, unit="frame", desc="frames", disable=None) as bar:
        while th.is_alive():
            th.join(0.25)
            done = registry.get_sample_value("gaitline_frames_frames_total", {"camera": cam_id}) or 0
            bar.update(int(done) - bar.n)
    if "error" in result:
        raise result["error"]
    return by_track, result["stats"]


def _embed_tracks(by_track: dict[int, list[TrackletWindow]], model: str) -> tuple[dict[int, np.ndarray], Any]:
    """One unit vector per track: the mean of its windows' embeddings, renormalised."""
    from gait.model.registry import embed_windows, get_embedder

    # learned models embed as the agents do (fitted projection, else BNNeck): centred cosines
    # make --threshold meaningful
    kwargs = {} if model in ("baseline", "trivial") else {"embed_from": "auto"}
    emb = get_embedder(model, **kwargs)
    vecs = {}
    for tid, ws in by_track.items():
        v = embed_windows(emb, [w.silhouettes for w in ws])  # [k, dim]
        m = v.mean(axis=0)
        vecs[tid] = (m / max(float(np.linalg.norm(m)), 1e-12)).astype(np.float32)
    return vecs, emb


def load_gallery(path: Path) -> dict[str, Any]:
    """Read a gallery file; an absent file is an empty gallery."""
    if not path.exists():
        return {"names": [], "vectors": np.zeros((0, 0), np.float32), "model": None, "model_version": None}
    try:
        with np.load(path, allow_pickle=False) as z:
            return {"names": [str(n) for n in z["names"]], "vectors": np.asarray(z["vectors"], np.float32),
                    "model": str(z["model"]), "model_version": str(z["model_version"])}
    except (OSError, ValueError, KeyError) as exc:
        raise AnalyzeError(f"gallery {path} is not a gaitline gallery file: {exc}") from exc


def save_gallery(path: Path, gal: dict[str, Any]) -> None:
    """Write a gallery atomically (.npz; see the module docstring)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(tmp, names=np.asarray(gal["names"], dtype=str), vectors=np.asarray(gal["vectors"], np.float32),
             model=np.asarray(gal["model"]), model_version=np.asarray(gal["model_version"]))
    os.replace(tmp, path)


def _summary(ws: list[TrackletWindow], fps: float) -> dict[str, Any]:
    keys = ("cadence_spm", "speed_mps", "step_length_m", "stride_length_m")
    # t_s: the window's middle, seconds from the start of the video
    per = [{"t_s": round((w.frame_start + w.frame_end) / 2 / fps, 2), **w.gait.model_dump()} for w in ws]
    med = {}
    for k in keys:
        vals = [p[k] for p in per if p[k] is not None]
        med[k] = round(float(np.median(vals)), 3) if vals else None
    return {"median": med, "per_window": per}


def _plot(tid: int, ws: list[TrackletWindow], path: Path, fps: float) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and laptops in the field
    import matplotlib.pyplot as plt

    t = [(w.frame_start + w.frame_end) / 2 / fps for w in ws]  # seconds from the video start

    def series(name: str) -> list[float]:
        return [np.nan if getattr(w.gait, name) is None else float(getattr(w.gait, name)) for w in ws]

    fig, ax = plt.subplots(2, 2, figsize=(9, 6.5))
    ax[0, 0].plot(t, series("cadence_spm"), "o-")
    ax[0, 0].set(title="cadence", xlabel="video time (s)", ylabel="steps/min")
    ax[0, 1].plot(t, series("speed_mps"), "o-", color="tab:green")
    ax[0, 1].set(title="speed", xlabel="video time (s)", ylabel="m/s")
    ax[1, 0].plot(t, series("step_length_m"), "o-", label="step")
    ax[1, 0].plot(t, series("stride_length_m"), "s-", label="stride")
    ax[1, 0].set(title="step / stride length", xlabel="video time (s)", ylabel="m")
    ax[1, 0].legend()
    pts = np.concatenate([np.asarray(w.foot_points, dtype=float) for w in ws])  # [frames, 2]
    ax[1, 1].plot(pts[:, 0], pts[:, 1], ".-", markersize=2)
    ground = ws[0].ground_plane
    ax[1, 1].set(title="foot trajectory", xlabel="x (m)" if ground else "x (px)",
                 ylabel="y (m)" if ground else "y (px)")
    if not ground:
        ax[1, 1].invert_yaxis()
    fig.suptitle(f"track {tid}: {len(ws)} windows")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def match_threshold(model: str, given: float | None) -> tuple[float, str]:
    """The gallery-match threshold and where it came from: ``given``, else the one calibrated into the
    model's checkpoint, as the identity service reads it (:func:`index.matcher.threshold_for`)."""
    if given is not None:
        return given, "given with --threshold"
    from gait.model.calibration import calibrated_threshold
    from index.matcher import threshold_for

    calibrated = calibrated_threshold(model) is not None
    return threshold_for(model), ("calibrated into the model's checkpoint" if calibrated
                                  else "the identity service's default: the model has no calibration")


def analyze_recording(video: Path, gallery: Path | None = None, out: Path = Path("analysis"),
                      enrol: str | None = None, model: str = "default", track: int | None = None,
                      threshold: float | None = None, pose: bool = True, report_format: str | None = None,
                      report_out: Path | None = None) -> dict[str, Any]:
    """Analyse one recording and write ``out/report.json`` and one plot per track; returns the report.

    Args:
        video: the recording (any file OpenCV decodes).
        gallery: local gallery file (.npz) to match tracks against (and to enrol into).
        out: folder for the report and the plots.
        enrol: add a track to ``gallery`` under this name.
        model: embedder name.
        track: the track to enrol (default: the one with most windows).
        threshold: cosine similarity of track means needed to call a gallery match (None: the
            model's calibrated threshold, see :func:`match_threshold`).
        pose: run the pose model on each track for the keypoint parameters (joint angles, step
            width, asymmetry, double support; see :mod:`workers.analyze_pose`) and their plot.
        report_format: also write the analyst's report, ``html`` or ``pdf`` (:mod:`workers.report`).
        report_out: where (default ``out/report.<format>``).
    """
    if enrol is not None and gallery is None:
        raise AnalyzeError("--enrol needs --gallery FILE (where to add the track)")
    if report_format is not None and report_format not in ("html", "pdf"):
        raise AnalyzeError(f"--report must be html or pdf (got {report_format!r})")
    threshold, threshold_source = match_threshold(model, threshold)
    fps, total = probe_video(video)
    gal = load_gallery(gallery) if gallery else None
    t_start = time.monotonic()
    loaded = network_for(video, fps)
    by_track, stats = collect_windows(loaded, total)
    vecs, emb = _embed_tracks(by_track, model) if by_track else ({}, None)
    poses: dict[int, Any] = {}
    if pose and by_track:
        from workers.analyze_pose import track_keypoints

        poses = track_keypoints(video, by_track)
    if gal is not None and gal["names"] and emb is not None and (gal["model"], gal["vectors"].shape[1]) != (
            emb.name, emb.dim):
        raise AnalyzeError(f"gallery {gallery} was built with model {gal['model']!r} "
                           f"({gal['vectors'].shape[1]}-d); re-run with --model {gal['model']}")
    out.mkdir(parents=True, exist_ok=True)
    tracks = []
    for tid in sorted(by_track, key=lambda k: -len(by_track[k])):
        ws = sorted(by_track[tid], key=lambda w: w.frame_start)
        plot = f"track_{tid}.png"
        _plot(tid, ws, out / plot, fps)
        entry: dict[str, Any] = {"track_id": tid, "windows": len(ws), "frame_start": ws[0].frame_start,
                                 "frame_end": ws[-1].frame_end, "quality": round(float(np.mean(
                                     [w.quality for w in ws])), 3), "plot": plot, **_summary(ws, fps)}
        if tid in poses:
            from workers.analyze_pose import plot_pose, pose_summary

            entry["pose"] = pose_summary(poses[tid], ws, loaded.network.cameras[0].homography_matrix())
            entry["pose_plot"] = f"track_{tid}_pose.png"
            plot_pose(tid, poses[tid], out / entry["pose_plot"], fps)
        if gal is not None and gal["names"]:
            sims = gal["vectors"] @ vecs[tid]  # [m]
            best = int(np.argmax(sims))
            entry["match"] = {"name": gal["names"][best], "similarity": round(float(sims[best]), 4),
                              "accepted": bool(sims[best] >= threshold)}
        tracks.append(entry)
    enrolled = None
    if enrol is not None and gallery is not None and gal is not None:
        if not by_track or emb is None:
            raise AnalyzeError(f"no track long enough to enrol in {video}")
        tid = track if track is not None else tracks[0]["track_id"]
        if tid not in vecs:
            raise AnalyzeError(f"--track {tid} is not a track of this video (tracks: {sorted(vecs)})")
        vectors = gal["vectors"] if gal["names"] else np.zeros((0, emb.dim), np.float32)
        gal.update(names=[*gal["names"], enrol], vectors=np.vstack([vectors, vecs[tid][None]]),
                   model=emb.name, model_version=emb.version)
        save_gallery(gallery, gal)
        enrolled = {"name": enrol, "track_id": tid, "gallery_size": len(gal["names"])}
    report = {"video": str(video.resolve()), "network": loaded.network.name,
              "calibrated": loaded.network.cameras[0].homography is not None, "fps": fps,
              "frames": stats.frames, "windows": stats.windows, "windows_dropped": stats.windows_dropped,
              "model": getattr(emb, "name", model), "model_version": getattr(emb, "version", None),
              "gallery": str(gallery) if gallery else None, "threshold": threshold,
              "threshold_source": threshold_source, "enrolled": enrolled,
              "pose": bool(pose),
              "seconds": round(time.monotonic() - t_start, 1), "tracks": tracks}
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    if report_format is not None:
        from workers.report import write_report

        report["report_file"] = str(write_report(
            report_format, report_out or out / f"report.{report_format}", video, report,  # type: ignore[arg-type]
            by_track, poses, loaded.network.cameras[0].homography_matrix()))
    return report
