"""The frames stage as a library: cameras in, per-track silhouette windows out.

Per camera: decode → background subtraction and refinement (:mod:`gait.vision.segment`) →
multi-object tracking (:mod:`workers.frames.tracker`) → 64x44 pretreatment (:mod:`gait.vision.pretreatment`)
→ windows of ``window`` frames every ``stride`` frames with foot points, quality and gait
parameters (:mod:`gait.vision.gait_parameters`) → ``sink(window)``. One thread per camera (OpenCV releases
the GIL while it decodes and segments); the sink is called under a lock, so it need not be
thread-safe, and it may block: that is the backpressure that keeps memory bounded.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import cv2
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from configs.schema import Camera, LoadedNetwork, Network
from gait.vision.segment import Detection, SegmentConfig, Segmenter
from streams.exceptions import ConfigError, GaitlineError
from streams.schemas import TrackletWindow
from workers.metrics import FramesMetrics
from workers.frames.sources import Frame, FrameSource, SourceSettings, open_source
from workers.frames.tracker import Track, Tracker, TrackerConfig
from workers.frames.windows import WindowBuilder

log = logging.getLogger(__name__)


class FramesError(GaitlineError):
    """A camera of the frames stage failed."""


class FramesSettings(BaseSettings):
    """Settings of the frames stage; each can be set by the environment variable named."""

    model_config = SettingsConfigDict(env_prefix="GAITLINE_FRAMES_", extra="forbid")

    window: int = Field(30, ge=4, le=1024, description="GAITLINE_FRAMES_WINDOW: frames per window")
    stride: int = Field(15, ge=1, le=1024,
                        description="GAITLINE_FRAMES_STRIDE: frames between the starts of two windows")
    min_quality: float = Field(0.7, ge=0, le=1, description="GAITLINE_FRAMES_MIN_QUALITY: windows whose "
                               "share of plausible silhouettes is lower are dropped and counted")
    max_gap_frames: int = Field(3, ge=0, description="GAITLINE_FRAMES_MAX_GAP_FRAMES: a track unseen "
                                "for longer restarts its window (gait needs consecutive frames)")
    bgsub: Literal["mog2", "knn"] = Field("mog2", description="GAITLINE_FRAMES_BGSUB: background model")
    scale: float = Field(0.4, gt=0.05, le=1, description="GAITLINE_FRAMES_SCALE: resolution factor "
                         "the background model runs at")
    history: int = Field(300, ge=10, description="GAITLINE_FRAMES_HISTORY: background model memory, frames")
    var_threshold: float = Field(16.0, gt=0, description="GAITLINE_FRAMES_VAR_THRESHOLD: MOG2 threshold")
    min_height_px: int = Field(36, ge=8, description="GAITLINE_FRAMES_MIN_HEIGHT_PX: smallest person, "
                               "full-resolution pixels")
    refine: bool = Field(True, description="GAITLINE_FRAMES_REFINE: refine silhouettes at full "
                         "resolution inside each box")
    hog: bool = Field(False, description="GAITLINE_FRAMES_HOG: confirm boxes with OpenCV's HOG people "
                      "detector (slower)")
    min_hits: int = Field(3, ge=1, description="GAITLINE_FRAMES_MIN_HITS: frames that confirm a track")
    max_lost_s: float = Field(1.5, ge=0, description="GAITLINE_FRAMES_MAX_LOST_S: seconds a track "
                              "coasts through an occlusion before it ends")
    relink_s: float = Field(3.0, ge=0, description="GAITLINE_FRAMES_RELINK_S: seconds in which a new "
                            "track may continue a lost one's id")
    gate_m: float = Field(1.2, gt=0, description="GAITLINE_FRAMES_GATE_M: association gate, metres "
                          "(calibrated cameras)")
    gate_rel: float = Field(0.6, gt=0, description="GAITLINE_FRAMES_GATE_REL: association gate as a "
                            "share of the box height (uncalibrated cameras)")
    colour_gate: float = Field(0.6, gt=0, le=1, description="GAITLINE_FRAMES_COLOUR_GATE: how differently "
                               "dressed (Bhattacharyya distance) a detection may be from a track's walker "
                               "and still be them; 1 = tell walkers apart by motion only")
    reconnect_initial_s: float = Field(0.5, gt=0, description="GAITLINE_FRAMES_RECONNECT_INITIAL_S: "
                                       "first reconnect delay of a lost live stream")
    reconnect_max_s: float = Field(30.0, gt=0, description="GAITLINE_FRAMES_RECONNECT_MAX_S: longest "
                                   "reconnect delay (exponential backoff)")
    stall_timeout_s: float = Field(10.0, gt=0, description="GAITLINE_FRAMES_STALL_TIMEOUT_S: a live "
                                   "stream silent this long is reconnected (watchdog)")
    opencv_threads: int = Field(1, ge=0, description="GAITLINE_FRAMES_OPENCV_THREADS: OpenCV worker "
                                "threads (1: cameras run in parallel instead)")

    def segment_config(self) -> SegmentConfig:
        """The segmenter's knobs."""
        return SegmentConfig(method=self.bgsub, scale=self.scale, history=self.history,
                             var_threshold=self.var_threshold, min_height_px=self.min_height_px,
                             refine=self.refine, hog=self.hog)

    def tracker_config(self, fps: float) -> TrackerConfig:
        """The tracker's knobs for a camera at ``fps``."""
        return TrackerConfig(fps=fps, gate_m=self.gate_m, gate_rel=self.gate_rel, min_hits=self.min_hits,
                             max_lost_s=self.max_lost_s, relink_s=self.relink_s, colour_gate=self.colour_gate)

    def source_settings(self) -> SourceSettings:
        """The sources' knobs."""
        return SourceSettings(reconnect_initial_s=self.reconnect_initial_s,
                              reconnect_max_s=self.reconnect_max_s, stall_timeout_s=self.stall_timeout_s)


@dataclass
class FramesStats:
    """What a run did, in total and per camera.

    Attributes:
        frames: frames processed. windows: windows passed to the sink.
        windows_dropped: windows dropped for low quality. tracks: confirmed tracks.
        skipped_frames: corrupt, resized, lagging or stalled frames skipped by the sources.
        per_camera: the same counts per camera id, plus ``relinks``, ``lighting_changes``,
            ``reconnects``, ``fps`` (wall clock) and ``error`` (None when it ran fine).
        cpu_seconds: user + system CPU time of the whole process during the run.
        wall_seconds: wall-clock duration of the run.
    """

    frames: int = 0
    windows: int = 0
    windows_dropped: int = 0
    tracks: int = 0
    skipped_frames: int = 0
    per_camera: dict[str, dict] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0


class CameraWorker:
    """One camera's pipeline; :meth:`run` processes its source until it ends or ``stop`` is set."""

    def __init__(self, camera: Camera, source: FrameSource, settings: FramesSettings,
                 emit: Callable[[TrackletWindow], None], metrics: FramesMetrics | None = None,
                 observer: Callable[[Frame, list[Detection], list[Track]], None] | None = None) -> None:
        """Args: camera: config; source: its opened source; settings: knobs; emit: window sink;
        observer: called after each frame with its detections and confirmed tracks (inspect)."""
        self.camera = camera
        self.observer = observer
        self.source = source
        self.settings = settings
        self.metrics = metrics
        self.h = camera.homography_matrix()
        self.segmenter: Segmenter | None = None
        first_id = int(time.time() * 10) if source.live else 0  # live ids stay unique across restarts
        self.tracker = Tracker(settings.tracker_config(camera.fps), self.h, first_id=first_id)
        self.builder = WindowBuilder(camera, settings.window, settings.stride, settings.min_quality,
                                     settings.max_gap_frames, emit, self._dropped)
        self.frames = 0
        self.error: str | None = None
        self.started = time.monotonic()

    def _dropped(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.windows_dropped.labels(self.camera.id, reason).inc()

    def run(self, stop: threading.Event, realtime: bool = False) -> None:
        """Process frames until the source ends or ``stop`` is set, then flush complete windows."""
        cam = self.camera.id
        m = self.metrics
        pace_start: float | None = None
        first_index = 0
        last_fps_t, last_fps_n = time.monotonic(), 0
        it = self.source.frames(stop)
        try:
            while True:
                t0 = time.perf_counter()
                frame = next(it, None)
                if frame is None:
                    break
                t1 = time.perf_counter()
                if self.segmenter is None:
                    self.segmenter = Segmenter(self.settings.segment_config(), frame.image.shape[:2])
                dets = self.segmenter(frame.image)
                tracks = self.tracker.update(dets, frame.timestamp)
                self.builder.add(frame, tracks, self.tracker.ground)
                if self.observer is not None:
                    self.observer(frame, dets, tracks)
                self.frames += 1
                if m is not None:
                    m.decode_seconds.labels(cam).observe(t1 - t0)
                    m.segment_seconds.labels(cam).observe(time.perf_counter() - t1)
                    m.frames.labels(cam).inc()
                    m.active_tracks.labels(cam).set(len(tracks))
                    now = time.monotonic()
                    if now - last_fps_t >= 5.0:
                        m.fps.labels(cam).set((self.frames - last_fps_n) / (now - last_fps_t))
                        last_fps_t, last_fps_n = now, self.frames
                if realtime and not self.source.live:
                    if pace_start is None:
                        pace_start, first_index = time.monotonic(), frame.index
                    due = pace_start + (frame.index - first_index + 1) / self.camera.fps
                    if stop.wait(max(0.0, due - time.monotonic())):
                        break
        finally:
            self.source.close()
            self.builder.flush()
            if m is not None:
                for reason, n in self.source.counters.skipped.items():
                    m.frames_skipped.labels(cam, reason).inc(n)

    def stats(self) -> dict:
        """Per-camera counts for :class:`FramesStats`."""
        wall = max(time.monotonic() - self.started, 1e-9)
        return {"frames": self.frames, "windows": self.builder.windows, "windows_dropped": self.builder.dropped,
                "tracks": len(self.tracker.confirmed_ids),
                "skipped_frames": sum(self.source.counters.skipped.values()),
                "skipped_by_reason": dict(self.source.counters.skipped),
                "reconnects": self.source.counters.reconnects, "relinks": self.tracker.relinks,
                "lighting_changes": self.segmenter.lighting_changes if self.segmenter else 0,
                "fps": self.frames / wall, "error": self.error}


def run_cameras(loaded: LoadedNetwork, camera_ids: list[str], settings: FramesSettings,
                sink: Callable[[TrackletWindow], None], stop: threading.Event,
                metrics: FramesMetrics | None = None, realtime: bool = False) -> FramesStats:
    """Run the frames stage for some cameras of a network until their sources end or ``stop``.

    Args:
        loaded: the validated network (relative sources resolve against its folder).
        camera_ids: the cameras this process serves (see :func:`cameras_for_replica`).
        settings: stage settings.
        sink: called once per window, from camera threads but never concurrently; it may block.
        stop: set it to end the run; complete windows are flushed before returning.
        metrics: Prometheus metrics to update, or None.
        realtime: pace file sources at their camera's fps (live sources are real time anyway).

    Returns:
        Counts for the run. Raises :class:`GaitlineError` when a source cannot be opened
        (before any camera starts) or when a camera failed while running.
    """
    if not camera_ids:
        raise ConfigError("no cameras to run")
    cv2.setNumThreads(settings.opencv_threads)
    lock = threading.Lock()

    def emit(window: TrackletWindow) -> None:
        with lock:
            sink(window)
            if metrics is not None:
                metrics.windows.labels(window.camera_id).inc()

    workers: list[CameraWorker] = []
    try:
        for cid in camera_ids:
            cam = loaded.network.camera(cid)
            on_rc = (lambda c=cid: metrics.reconnects.labels(c).inc()) if metrics is not None else None
            src = open_source(cam, loaded.base, settings.source_settings(), on_reconnect=on_rc)
            workers.append(CameraWorker(cam, src, settings, emit, metrics))
    except BaseException:
        for w in workers:
            w.source.close()
        raise
    cpu0, wall0 = time.process_time(), time.monotonic()

    def guarded(w: CameraWorker) -> None:
        try:
            w.run(stop, realtime)
        except Exception as exc:  # noqa: BLE001 - one camera's failure must not stop the others
            log.exception("camera %s failed", w.camera.id)
            w.error = f"{type(exc).__name__}: {exc}"

    if len(workers) == 1:
        guarded(workers[0])  # no thread: simpler stacks, identical behaviour
    else:
        threads = [threading.Thread(target=guarded, args=(w,), name=f"frames-{w.camera.id}", daemon=True)
                   for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    stats = FramesStats(cpu_seconds=time.process_time() - cpu0, wall_seconds=time.monotonic() - wall0)
    for w in workers:
        s = w.stats()
        stats.per_camera[w.camera.id] = s
        stats.frames += s["frames"]
        stats.windows += s["windows"]
        stats.windows_dropped += s["windows_dropped"]
        stats.tracks += s["tracks"]
        stats.skipped_frames += s["skipped_frames"]
    errors = [f"{w.camera.id}: {w.error}" for w in workers if w.error]
    if errors:
        raise FramesError(f"{len(errors)} camera(s) failed: " + "; ".join(errors))
    return stats


def cameras_for_replica(network: Network, ordinal: int, replicas: int) -> list[str]:
    """The cameras replica ``ordinal`` of ``replicas`` owns (a StatefulSet's stable shard).

    Rendezvous hashing: each camera goes to the replica with the highest hash of
    (camera, replica), so the assignment depends only on ids, and scaling from n to n+1
    replicas moves only about 1/(n+1) of the cameras.

    Raises:
        ConfigError: when ``replicas`` < 1 or ``ordinal`` is outside ``0..replicas-1``.
    """
    if replicas < 1 or not 0 <= ordinal < replicas:
        raise ConfigError(f"replica ordinal {ordinal} is outside 0..{replicas - 1}")

    def owner(cid: str) -> int:
        return max(range(replicas), key=lambda r: hashlib.blake2b(f"{cid}#{r}".encode(), digest_size=8).digest())

    return [c.id for c in network.cameras if owner(c.id) == ordinal]


__all__ = ["FramesError", "FramesSettings", "FramesStats", "cameras_for_replica", "run_cameras"]
