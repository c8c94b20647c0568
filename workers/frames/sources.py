"""Frame sources: video files, image folders, RTSP/HTTP streams and simulated cameras.

Every source yields :class:`Frame` objects in order, with a timestamp from the source (files:
``start_time`` plus the container's position; live streams: the wall clock). File sources end
cleanly; live sources reconnect with exponential backoff and a watchdog that notices a stream
which stays open but stops delivering frames. Corrupt frames are skipped and counted.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from configs.schema import Camera
from sim.source import SimSource
from workers.exceptions import FrameSizeError, SourceError, UnsupportedSourceError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".ts", ".wmv")
LIVE_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://")


@dataclass(frozen=True)
class SourceSettings:
    """Source knobs (the frames worker fills them from its settings).

    Attributes:
        reconnect_initial_s: first wait before reconnecting a lost live stream.
        reconnect_max_s: the longest wait between reconnect attempts (backoff doubles up to it).
        stall_timeout_s: a live stream that delivers no frame for this long is reconnected.
        min_side / max_side: frame sides outside this range are rejected as absurd.
        max_consecutive_bad: a file with this many unreadable frames in a row has ended.
    """

    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    stall_timeout_s: float = 10.0
    min_side: int = 16
    max_side: int = 8192
    max_consecutive_bad: int = 25


@dataclass
class Frame:
    """One decoded frame.

    Attributes:
        index: frame number (files: position in the file; live: derived from the wall clock,
            so window ids stay unique across restarts).
        timestamp: seconds since the epoch.
        image: ``[h, w, 3]`` BGR uint8.
        truth: simulator ground truth, a list of ``(truth_id, (x, y, w, h))``; None elsewhere.
    """

    index: int
    timestamp: float
    image: np.ndarray
    truth: list[tuple[str, tuple[int, int, int, int]]] | None = None


@dataclass
class SourceCounters:
    """What a source has had to put up with."""

    skipped: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0

    def skip(self, reason: str) -> None:
        """Count one skipped frame for ``reason``."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def check_size(image: Any, settings: SourceSettings, where: str) -> None:
    """Raise :class:`FrameSizeError` when ``image`` is not a plausible ``[h, w, 3]`` frame."""
    shape = getattr(image, "shape", None)
    if shape is None or len(shape) not in (2, 3) or 0 in shape:
        raise FrameSizeError(f"{where}: frame has no pixels (shape {shape})")
    h, w = int(shape[0]), int(shape[1])
    if not (settings.min_side <= h <= settings.max_side and settings.min_side <= w <= settings.max_side):
        raise FrameSizeError(f"{where}: frame size {w}x{h} is outside "
                             f"{settings.min_side}..{settings.max_side} px per side")


def _as_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)  # [h, w, 3]
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class FrameSource:
    """Base class: :meth:`frames` yields frames until the source ends or ``stop`` is set."""

    live = False

    def __init__(self, camera: Camera, location: str, settings: SourceSettings) -> None:
        """Args: camera: its config; location: resolved path or URL; settings: source knobs."""
        self.camera = camera
        self.location = location
        self.settings = settings
        self.counters = SourceCounters()
        self.shape: tuple[int, int] | None = None  # (h, w) fixed by the first good frame
        self.fps = camera.fps

    def _accept(self, image: np.ndarray | None) -> np.ndarray | None:
        """Validate one decoded image; the first fixes the size, later odd ones are skipped."""
        if image is None or getattr(image, "size", 0) == 0:
            self.counters.skip("corrupt")
            return None
        if self.shape is None:
            check_size(image, self.settings, f"camera {self.camera.id} ({self.location})")
            self.shape = (int(image.shape[0]), int(image.shape[1]))
        elif (int(image.shape[0]), int(image.shape[1])) != self.shape:
            self.counters.skip("size_changed")
            return None
        return _as_bgr(image)

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        """Yield frames in order until the source ends or ``stop`` is set."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the underlying reader."""


class VideoFileSource(FrameSource):
    """A video file read with OpenCV's FFmpeg backend; ends at the end of the file."""

    def __init__(self, camera: Camera, location: str, settings: SourceSettings) -> None:
        super().__init__(camera, location, settings)
        if not Path(location).is_file():
            raise SourceError(f"camera {camera.id}: video file {location} does not exist")
        self.cap = cv2.VideoCapture(location, cv2.CAP_FFMPEG)
        if not self.cap.isOpened():
            raise SourceError(f"camera {camera.id}: cannot open video file {location} "
                              "(not a video, or a codec FFmpeg lacks)")
        self.total = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.start = camera.start_time if camera.start_time is not None else time.time()

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        """Yield every readable frame; unreadable ones in the middle are skipped and counted."""
        index = -1
        bad = 0
        while not stop.is_set():
            ok = self.cap.grab()
            index += 1
            if not ok:
                # A failed grab before the container's end is a corrupt frame, not the end.
                if self.total and index < self.total - 1 and bad < self.settings.max_consecutive_bad:
                    bad += 1
                    self.counters.skip("corrupt")
                    continue
                return
            ok, image = self.cap.retrieve()
            img = self._accept(image if ok else None)
            if img is None:
                bad += 1
                if bad > self.settings.max_consecutive_bad:
                    return
                continue
            bad = 0
            yield Frame(index=index, timestamp=self.start + index / self.fps, image=img)

    def close(self) -> None:
        """Release the capture."""
        self.cap.release()


class ImageDirSource(FrameSource):
    """A folder of images, read in name order at the camera's fps."""

    def __init__(self, camera: Camera, location: str, settings: SourceSettings) -> None:
        super().__init__(camera, location, settings)
        self.files = sorted(p for p in Path(location).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceError(f"camera {camera.id}: image folder {location} holds no images "
                              f"({', '.join(IMAGE_SUFFIXES)})")
        self.start = camera.start_time if camera.start_time is not None else time.time()

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        """Yield each readable image; unreadable files are skipped and counted."""
        for index, path in enumerate(self.files):
            if stop.is_set():
                return
            img = self._accept(cv2.imread(str(path), cv2.IMREAD_COLOR))
            if img is not None:
                yield Frame(index=index, timestamp=self.start + index / self.fps, image=img)


class StreamSource(FrameSource):
    """A live RTSP/HTTP stream: reconnects with exponential backoff; a watchdog catches stalls.

    A reader thread per connection decodes into a queue of two; if the pipeline falls behind,
    the oldest frame is dropped (a live camera cannot be slowed down) and counted.
    """

    live = True

    def __init__(self, camera: Camera, location: str, settings: SourceSettings,
                 on_reconnect: Any = None) -> None:
        super().__init__(camera, location, settings)
        self.on_reconnect = on_reconnect

    def _open(self) -> cv2.VideoCapture | None:
        ms = int(self.settings.stall_timeout_s * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        cap = cv2.VideoCapture(self.location, cv2.CAP_FFMPEG, params)
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def _reader(self, cap: cv2.VideoCapture, out: queue.Queue[np.ndarray | None],
                quit_: threading.Event) -> None:
        while not quit_.is_set():
            ok, image = cap.read()
            if not ok:
                break
            if out.full():
                with contextlib.suppress(queue.Empty):
                    out.get_nowait()
                    self.counters.skip("lagging")
            out.put(image)
        out.put(None)
        cap.release()

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        """Yield frames forever (until ``stop``), reconnecting whenever the stream is lost."""
        delay = self.settings.reconnect_initial_s
        first = True
        while not stop.is_set():
            cap = self._open()
            if cap is None:
                if stop.wait(delay):
                    return
                delay = min(delay * 2, self.settings.reconnect_max_s)
                continue
            if not first:
                self.counters.reconnects += 1
                if self.on_reconnect is not None:
                    self.on_reconnect()
            first = False
            q: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=2)
            quit_ = threading.Event()
            threading.Thread(target=self._reader, args=(cap, q, quit_), daemon=True,
                             name=f"rtsp-{self.camera.id}").start()
            got_any = False
            while not stop.is_set():
                try:
                    image = q.get(timeout=self.settings.stall_timeout_s)
                except queue.Empty:
                    self.counters.skip("stalled")  # the watchdog: reconnect a silent stream
                    break
                if image is None:
                    break
                img = self._accept(image)
                if img is None:
                    continue
                if not got_any:
                    got_any = True
                    delay = self.settings.reconnect_initial_s  # a healthy connection resets backoff
                now = time.time()
                yield Frame(index=int(now * self.fps), timestamp=now, image=img)
            quit_.set()
            if stop.wait(delay):
                return
            delay = min(delay * 2, self.settings.reconnect_max_s)


def open_source(camera: Camera, base: Path, settings: SourceSettings | None = None,
                on_reconnect: Any = None) -> FrameSource:
    """Open the source a camera names.

    Args:
        camera: the camera config.
        base: folder that relative file paths resolve against (the network file's folder).
        settings: source knobs; defaults when None.
        on_reconnect: called with no arguments after each reconnect of a live stream.

    Raises:
        UnsupportedSourceError: unknown URL scheme or file type.
        SourceError: the file or folder is missing or unreadable.
    """
    settings = settings or SourceSettings()
    src = camera.source
    if src.startswith("sim://"):
        return SimFrameSource(camera, src, settings, base)
    if src.lower().startswith(LIVE_SCHEMES):
        return StreamSource(camera, src, settings, on_reconnect)
    if "://" in src and not src.startswith("file://"):
        scheme = src.split("://", 1)[0]
        raise UnsupportedSourceError(
            f"camera {camera.id}: unsupported source scheme {scheme!r} in {src!r} "
            "(use a file path, file://, rtsp://, http(s)://, rtmp:// or sim://)")
    location = camera.source_path(base)
    p = Path(location)
    if p.is_dir():
        return ImageDirSource(camera, location, settings)
    if p.suffix.lower() not in VIDEO_SUFFIXES:
        raise UnsupportedSourceError(
            f"camera {camera.id}: {location} is not a video file or image folder "
            f"(video suffixes: {', '.join(VIDEO_SUFFIXES)})")
    return VideoFileSource(camera, location, settings)


class SimFrameSource(FrameSource):
    """A simulated camera (``sim://<city>/<camera>``) read through :mod:`sim.source`, with truth."""

    def __init__(self, camera: Camera, location: str, settings: SourceSettings, base: Path) -> None:
        super().__init__(camera, location, settings)
        self.sim: Any = SimSource.open(location, base=base)
        self.live = "pace=realtime" in location

    def frames(self, stop: threading.Event) -> Iterator[Frame]:
        """Yield the simulator's frames with their ground-truth boxes."""
        for f in self.sim:
            if stop.is_set():
                return
            img = self._accept(f.image)
            if img is not None:
                yield Frame(index=int(f.index), timestamp=float(f.timestamp), image=img,
                            truth=[(str(t), (int(b[0]), int(b[1]), int(b[2]), int(b[3]))) for t, b in f.truth])

    def close(self) -> None:
        """Close the simulator's reader."""
        self.sim.close()
