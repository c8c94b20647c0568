"""``gaitline bench frames``: frames-stage throughput per CPU core and bytes per window.

Runs the whole frames stage on a video (decode → background subtraction → refinement →
tracking → pretreatment → windows → ``to_bytes()``, exactly what the Kafka producer sends)
and divides the frames by the CPU seconds (user + system, all threads) it used, so the
figure does not depend on how many cores happen to be free. Side by side, in the same run: the
cost of decoding alone and of decoding with a full-resolution MOG2 on the same video; the
design's figure is the stage's frames per core as a multiple of the latter
(``vs_decode_plus_full_res_bgsub``). With ``--compare`` (the default) the stage runs again with
the other silhouette cutter (``mog2`` or ``learned``), so both are measured on the same frames.
The result is kept in ``bench/results/frames.json``.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import typer
import zstandard

from bench.results import OUT_OPTION, SAVE_OPTION, save_result
from configs.schema import Camera, LoadedNetwork, Network, load_network
from streams.schemas import TrackletWindow
from workers.frames.cameras import FramesStats, run_cameras
from workers.frames.settings import FramesSettings

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
_BATCH = 16  # windows per producer batch when estimating the compressed wire size


def _camera_for(video: Path, network: str | None) -> LoadedNetwork:
    """A one-camera network for ``video``, calibrated when ``network`` has a camera on that file."""
    if network:
        loaded = load_network(network)
        for cam in loaded.network.cameras:
            if Path(cam.source_path(loaded.base)).resolve() == video.resolve():
                return LoadedNetwork(network=loaded.network.model_copy(update={"cameras": [cam]}),
                                     path=loaded.path)
    cap = cv2.VideoCapture(str(video))
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0) or 25.0
    cap.release()
    cam = Camera(id="bench", source=str(video.resolve()), region="bench", fps=min(fps, 240.0))
    return LoadedNetwork(network=Network(name="bench", cameras=[cam]), path=video.resolve())


def _decode_only(video: Path, max_frames: int) -> tuple[int, float]:
    cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    n, t0 = 0, time.process_time()
    while (not max_frames or n < max_frames) and cap.read()[0]:
        n += 1
    cap.release()
    return n, time.process_time() - t0


def _decode_bgsub(video: Path, max_frames: int) -> tuple[int, float]:
    cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    mog = cv2.createBackgroundSubtractorMOG2(detectShadows=True)
    n, t0 = 0, time.process_time()
    while not max_frames or n < max_frames:
        ok, img = cap.read()
        if not ok:
            break
        mog.apply(img)
        n += 1
    cap.release()
    return n, time.process_time() - t0


def _run_stage(loaded: LoadedNetwork, settings: FramesSettings, max_frames: int,
               ) -> tuple[FramesStats, list[int], list[bytes]]:
    """The frames stage over the network's one camera: its statistics and each window as sent."""
    sizes: list[int] = []
    msgs: list[bytes] = []
    stop = threading.Event()

    def sink(window: TrackletWindow) -> None:
        data = window.to_bytes()  # the producer's serialisation is part of the stage's cost
        sizes.append(len(data))
        msgs.append(data)
        if max_frames and window.frame_end + 1 >= max_frames:
            stop.set()

    stats = run_cameras(loaded, [loaded.network.cameras[0].id], settings, sink, stop)
    return stats, sizes, msgs


def frames(
    video: Path = typer.Option(VTEST, "--video", help="video file to run the frames stage on"),
    json_out: bool = typer.Option(False, "--json", help="print only the JSON object"),
    network: str = typer.Option("vtest", help="network whose camera calibrates this video, if any"),
    max_frames: int = typer.Option(0, help="stop after this many frames (0: the whole video)"),
    threads: int = typer.Option(1, help="OpenCV threads (fps per core is the same either way)"),
    compare: bool = typer.Option(True, "--compare/--no-compare",
                                 help="also run the stage with the other silhouette cutter (mog2 / learned)"),
    out: Path | None = OUT_OPTION,
    save: bool = SAVE_OPTION,
) -> None:
    """Measure the frames stage; the last line printed is one JSON object.

    Args:
        video: the video. json_out: print only the JSON. network: calibration source.
        max_frames: frame limit. threads: OpenCV worker threads.
        out: result file instead of bench/results/frames.json. save: False writes no file.
    """
    loaded = _camera_for(video, network)
    settings = FramesSettings(opencv_threads=threads)
    cv2.setNumThreads(threads)
    stats, sizes, msgs = _run_stage(loaded, settings, max_frames)
    cpu = max(stats.cpu_seconds, 1e-9)
    n_dec, cpu_dec = _decode_only(video, max_frames or stats.frames)
    n_bg, cpu_bg = _decode_bgsub(video, max_frames or stats.frames)
    zc = zstandard.ZstdCompressor(level=3)  # what a zstd-compressing producer does per batch
    wire = [len(zc.compress(b"".join(msgs[i:i + _BATCH]))) for i in range(0, len(msgs), _BATCH)]
    baseline_fps = n_bg / max(cpu_bg, 1e-9)  # a bare decode + full-resolution MOG2, same frames
    result = {
        "video": str(video),
        "frames": stats.frames,
        "cpu_seconds": round(cpu, 3),
        "wall_seconds": round(stats.wall_seconds, 3),
        "fps_per_core": round(stats.frames / cpu, 1),
        "bytes_per_window": round(float(np.mean(sizes)), 1) if sizes else None,
        "bytes_per_window_max": max(sizes) if sizes else None,
        "wire_bytes_per_window_zstd_batch": round(sum(wire) / len(msgs), 1) if msgs else None,
        "windows": stats.windows,
        "windows_dropped": stats.windows_dropped,
        "tracks": stats.tracks,
        "decode_only_fps": round(n_dec / max(cpu_dec, 1e-9), 1),
        "bgsub_only_fps": round(n_bg / max(cpu_bg - cpu_dec * n_bg / max(n_dec, 1), 1e-9), 1),
        "decode_plus_full_res_bgsub_fps": round(baseline_fps, 1),
        "vs_decode_plus_full_res_bgsub": round(stats.frames / cpu / max(baseline_fps, 1e-9), 2),
        "target_vs_decode_plus_full_res_bgsub": 3.0,
        "settings": {"window": settings.window, "stride": settings.stride, "scale": settings.scale,
                     "bgsub": settings.bgsub, "refine": settings.refine,
                     "silhouettes": settings.silhouettes, "opencv_threads": threads},
    }
    if compare:
        # the other silhouette cutter on the same frames, in the same run (gait/vision/learned.py)
        other = "learned" if settings.silhouettes == "mog2" else "mog2"
        o_stats, o_sizes, _ = _run_stage(loaded, settings.model_copy(update={"silhouettes": other}), max_frames)
        o_cpu = max(o_stats.cpu_seconds, 1e-9)
        result["compared"] = {
            "silhouettes": other, "frames": o_stats.frames, "fps_per_core": round(o_stats.frames / o_cpu, 1),
            "windows": o_stats.windows, "windows_dropped": o_stats.windows_dropped, "tracks": o_stats.tracks,
            "bytes_per_window": round(float(np.mean(o_sizes)), 1) if o_sizes else None,
            "cpu_ms_per_frame_more_than_ours": round((o_cpu / max(o_stats.frames, 1) - cpu / max(stats.frames, 1))
                                                     * 1000, 2),
        }
    if not json_out:
        for k, v in result.items():
            if k != "settings":
                typer.echo(f"{k:>34}: {v}")
    save_result("frames", result, out, save)
    typer.echo(json.dumps(result))
