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

import cv2

from configs.exceptions import ConfigError
from configs.schema import Camera, LoadedNetwork, Network
from gait.vision.segment import Detection, Segmenter
from gaitline.logs import coordinates
from streams.schemas import TrackletWindow
from workers.exceptions import FramesError
from workers.frames.metrics import FramesMetrics
from workers.frames.pose_stage import PoseStage
from workers.frames.settings import FramesSettings
from workers.frames.sources import Frame, FrameSource, open_source
from workers.frames.tracker import Track, Tracker
from workers.frames.windows import WindowBuilder

log = logging.getLogger(__name__)


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
        first_id = settings.track_id_base
        if first_id is None:
            first_id = int(time.time() * 10) if source.live else 0  # live ids stay unique across restarts
        self.tracker = Tracker(settings.tracker_config(camera.fps), self.h, first_id=first_id)
        self.pose = PoseStage(settings.window, settings.max_gap_frames) if settings.pose else None
        if self.pose is not None:
            emit = self.pose.wrap(emit)
        self.builder = WindowBuilder(camera, settings.window, settings.stride, settings.min_quality,
                                     settings.max_gap_frames, emit, self._dropped, settings.min_window,
                                     keyframe_crop=settings.keyframe_crop)
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
                if self.pose is not None:  # before the builder, which may emit a window ending here
                    self.pose.add(frame.image, frame.timestamp, tracks)
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
            self.builder.flush(self.tracker.ground)
            if self.pose is not None:
                self.pose.close()
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
    bind_stop = getattr(sink, "bind_stop", None)
    if bind_stop is not None:
        bind_stop(stop)  # a sink waiting for an absent broker (the publisher) gives up once the run stops

    def emit(window: TrackletWindow) -> None:
        with lock:
            sink(window)  # the publisher counts what it publishes (gaitline_frames_windows_published_total)

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
            log.exception("camera %s failed", w.camera.id, extra=coordinates(camera=w.camera.id))
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


__all__ = ["CameraWorker", "FramesStats", "cameras_for_replica", "run_cameras"]
