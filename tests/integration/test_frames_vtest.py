"""The frames stage on the real vtest.avi (no Kafka): the file source, windows, speeds, strides, two cameras."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from configs.schema import Camera, LoadedNetwork, Network, load_network
from streams.schemas import TrackletWindow
from workers.frames.cameras import run_cameras
from workers.frames.settings import FramesSettings
from workers.frames.sources import VideoFileSource, open_source

pytestmark = pytest.mark.integration

VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


def _cam(source: str, **kw: object) -> Camera:
    return Camera(id="c1", source=source, region="r", fps=10, **kw)


def test_video_file_frames_and_timestamps() -> None:
    src = open_source(_cam(VTEST, start_time=1000.0), Path("/"))
    assert isinstance(src, VideoFileSource)
    stop = threading.Event()
    got = []
    for f in src.frames(stop):
        got.append(f)
        if len(got) == 5:
            break
    src.close()
    assert [f.index for f in got] == [0, 1, 2, 3, 4]
    assert got[3].timestamp == pytest.approx(1000.3)
    assert got[0].image.shape == (576, 768, 3)


@pytest.fixture(scope="module")
def vtest_windows() -> tuple[list[TrackletWindow], object]:
    loaded = load_network("vtest")
    wins: list[TrackletWindow] = []
    stop = threading.Event()

    def sink(w: TrackletWindow) -> None:
        wins.append(w)
        if w.frame_end >= 260:
            stop.set()

    stats = run_cameras(loaded, ["vtest"], FramesSettings(), sink, stop)
    return wins, stats


def test_vtest_produces_plausible_windows(vtest_windows) -> None:
    wins, stats = vtest_windows
    assert stats.frames >= 200 and stats.windows == len(wins) >= 15
    assert stats.tracks >= 4 and stats.per_camera["vtest"]["error"] is None
    assert len({w.window_id for w in wins}) == len(wins)
    settings = FramesSettings()
    assert sum(len(w.silhouettes) == settings.window for w in wins) >= 0.8 * len(wins)  # most walk a whole window
    for w in wins:
        n = len(w.silhouettes)  # a track ending early has a shorter window, never under min_window
        assert settings.min_window <= n <= settings.window and w.silhouettes.shape[1:] == (64, 44)
        assert w.quality >= 0.7
        assert w.ground_plane and w.frame_end - w.frame_start >= n - 1
        assert np.median([b[3] / b[2] for b in w.boxes]) > 1.3  # upright people
        assert np.all(np.diff(w.timestamps) > 0)


def test_windows_are_people_shaped_and_small_on_the_wire(vtest_windows) -> None:
    wins, _ = vtest_windows
    fill = np.mean([w.silhouettes[w.silhouettes.reshape(len(w.silhouettes), -1).any(1)].mean() for w in wins])
    assert 0.15 < fill < 0.6  # a body covers part of its 64x44 frame, not all or nothing
    sizes = [len(w.to_bytes()) for w in wins]
    assert np.mean(sizes) < 3300
    back = TrackletWindow.from_bytes(wins[0].to_bytes())
    np.testing.assert_array_equal(back.silhouettes, wins[0].silhouettes)


def test_walking_speeds_are_human(vtest_windows) -> None:
    wins, _ = vtest_windows
    speeds = [w.gait.speed_mps for w in wins if w.gait.speed_mps is not None]
    assert len(speeds) >= len(wins) // 2
    assert 0.3 < float(np.median(speeds)) < 2.2


def test_stride_restarts_windows_every_15_frames(vtest_windows) -> None:
    wins, _ = vtest_windows
    by_track: dict[int, list[int]] = {}
    for w in wins:
        by_track.setdefault(w.track_id, []).append(w.frame_start)
    long = max(by_track.values(), key=len)
    assert len(long) >= 3
    assert min(np.diff(sorted(long))) >= 15


def test_two_cameras_in_one_process_share_a_serialised_sink(tmp_path: Path) -> None:
    src = VTEST
    net = Network(name="n", cameras=[Camera(id=c, source=src, region="r", fps=10) for c in ("a", "b")])
    loaded = LoadedNetwork(network=net, path=tmp_path / "n.yaml")
    busy = threading.Lock()
    seen: list[str] = []
    stop = threading.Event()

    def sink(w: TrackletWindow) -> None:
        assert busy.acquire(blocking=False), "sink called concurrently"
        seen.append(w.camera_id)
        busy.release()
        if len(seen) >= 12:
            stop.set()

    stats = run_cameras(loaded, ["a", "b"], FramesSettings(), sink, stop)
    assert set(seen) == {"a", "b"} and set(stats.per_camera) == {"a", "b"}
    assert stats.windows == len(seen)
