"""Frame sources: image folders, bad input, live-stream reconnect and watchdog.

A real video file: tests/integration/test_frames_vtest.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from configs.schema import Camera
from gaitline.errors import GaitlineError
from workers.exceptions import FrameSizeError, SourceError, UnsupportedSourceError
from workers.frames.sources import (
    ImageDirSource,
    SourceSettings,
    StreamSource,
    check_size,
    open_source,
)


def _cam(source: str, **kw: object) -> Camera:
    return Camera(id="c1", source=source, region="r", fps=10, **kw)


@pytest.mark.parametrize("source", ["ftp://host/x.avi", "kafka://topic", "s3://bucket/v.mp4"])
def test_unsupported_scheme_is_a_clear_gaitline_error(source: str) -> None:
    with pytest.raises(UnsupportedSourceError, match="unsupported source scheme") as info:
        open_source(_cam(source), Path("/"))
    assert isinstance(info.value, GaitlineError)


def test_missing_or_odd_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        open_source(_cam(str(tmp_path / "nope.mp4")), tmp_path)
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(UnsupportedSourceError, match="not a video file"):
        open_source(_cam("notes.txt"), tmp_path)
    (tmp_path / "fake.avi").write_bytes(b"\x00" * 100)
    with pytest.raises(SourceError, match="cannot open"):
        open_source(_cam("fake.avi"), tmp_path)


def test_image_dir_skips_corrupt_and_resized_frames(tmp_path: Path) -> None:
    for i in range(4):
        cv2.imwrite(str(tmp_path / f"f{i:03d}.png"), np.full((48, 64, 3), 40 * i, np.uint8))
    (tmp_path / "f001.png").write_bytes(b"garbage, not a png")
    cv2.imwrite(str(tmp_path / "f002.png"), np.zeros((32, 32, 3), np.uint8))
    src = open_source(_cam(str(tmp_path)), tmp_path)
    assert isinstance(src, ImageDirSource)
    frames = list(src.frames(threading.Event()))
    assert [f.index for f in frames] == [0, 3]
    assert src.counters.skipped == {"corrupt": 1, "size_changed": 1}


def test_absurd_frame_sizes_rejected() -> None:
    s = SourceSettings()
    with pytest.raises(FrameSizeError, match="no pixels"):
        check_size(np.zeros((0, 10, 3), np.uint8), s, "cam")
    with pytest.raises(FrameSizeError, match="outside"):
        check_size(np.zeros((4, 4, 3), np.uint8), s, "cam")
    with pytest.raises(FrameSizeError, match="outside"):
        check_size(np.zeros((10000, 20, 1), np.uint8), s, "cam")
    check_size(np.zeros((576, 768, 3), np.uint8), s, "cam")


def test_first_frame_of_absurd_size_fails_the_source(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    src = open_source(_cam(str(tmp_path)), tmp_path)
    with pytest.raises(FrameSizeError):
        list(src.frames(threading.Event()))


class _FakeCap:
    """A capture that delivers ``n`` frames, then stalls (blocks) or drops the connection."""

    def __init__(self, n: int, stall: bool) -> None:
        self.n, self.stall = n, stall

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.n <= 0:
            if self.stall:
                time.sleep(0.5)
                return True, np.zeros((48, 64, 3), np.uint8)
            return False, None
        self.n -= 1
        return True, np.zeros((48, 64, 3), np.uint8)

    def release(self) -> None:
        pass


@pytest.mark.parametrize("stall", [False, True])
def test_stream_reconnects_with_backoff_and_watchdog(stall: bool) -> None:
    settings = SourceSettings(reconnect_initial_s=0.01, reconnect_max_s=0.05, stall_timeout_s=0.15)
    reconnects = []
    src = StreamSource(_cam("rtsp://127.0.0.1:1/x"), "rtsp://127.0.0.1:1/x", settings,
                       on_reconnect=lambda: reconnects.append(1))
    opened = []
    src._open = lambda: opened.append(1) or _FakeCap(3, stall)  # type: ignore[method-assign]
    stop = threading.Event()
    got = []
    for f in src.frames(stop):
        got.append(f)
        if len(got) == 9:
            stop.set()
    assert len(got) >= 9 and len(opened) >= 3
    assert src.counters.reconnects == len(reconnects) >= 2
    if stall:
        assert src.counters.skipped.get("stalled", 0) >= 2


def test_unreachable_stream_backs_off_until_stopped() -> None:
    settings = SourceSettings(reconnect_initial_s=0.01, reconnect_max_s=0.04, stall_timeout_s=0.2)
    src = StreamSource(_cam("rtsp://x"), "rtsp://x", settings)
    calls = []
    src._open = lambda: calls.append(time.monotonic()) and None  # type: ignore[method-assign]
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    assert list(src.frames(stop)) == []
    gaps = np.diff(calls)
    assert len(calls) >= 4 and gaps[-1] >= 0.035  # the delay grew to the cap
