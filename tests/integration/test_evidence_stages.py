"""Evidence through the real stages: windows the frames stage cuts from the real vtest.avi (key-frame crop
on) go through the embed, index and track processes on the real broker, and every sighting lands in
the store with a gait energy image that looks like a person and the key-frame crop of that person."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from configs.schema import load_network
from store.db import Store
from streams.clients import send_records
from streams.schemas import TrackletWindow
from streams.settings import KafkaSettings
from streams.topics import TRACKLETS
from workers.demo import StageProcs, wait_drained
from workers.frames.cameras import run_cameras
from workers.frames.settings import FramesSettings

from .test_stages import _stage_env

pytestmark = pytest.mark.integration


def _vtest_windows(last_frame: int = 120) -> list[TrackletWindow]:
    wins: list[TrackletWindow] = []
    stop = threading.Event()

    def sink(w: TrackletWindow) -> None:
        wins.append(w)
        if w.frame_end >= last_frame:
            stop.set()

    run_cameras(load_network("vtest"), ["vtest"], FramesSettings(keyframe_crop=True), sink, stop)
    return wins


def _write_sheet(evidence: list) -> Path:
    """The GEIs and key frames side by side, to look at: $GAITLINE_TEST_ARTEFACTS/evidence-stages.png."""
    tiles = []
    for ev in evidence:
        gei = cv2.imdecode(np.frombuffer(ev.gei_png, np.uint8), cv2.IMREAD_GRAYSCALE)
        key = cv2.imdecode(np.frombuffer(ev.keyframe_jpeg, np.uint8), cv2.IMREAD_COLOR)
        tiles.append(np.concatenate([cv2.cvtColor(cv2.resize(gei, (88, 128)), cv2.COLOR_GRAY2BGR),
                                     cv2.resize(key, (88, 128))], axis=1))
    sheet = np.concatenate(tiles, axis=1)  # one row: a handful of windows
    out = Path(os.environ.get("GAITLINE_TEST_ARTEFACTS") or "/tmp/gaitline-artefacts")  # noqa: S108 -- test artefacts
    out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out / "evidence-stages.png"), sheet)
    return out / "evidence-stages.png"


def test_real_windows_end_in_the_store_with_a_person_shaped_gei_and_their_key_frame(
        kafka: KafkaSettings, sqlite_url: str, tmp_path: Path) -> None:
    windows = _vtest_windows()
    assert len(windows) >= 5 and all(w.keyframe_jpeg for w in windows)
    procs = StageProcs(tmp_path)
    for stage in ("embed", "index", "track"):
        procs.start(stage, _stage_env(kafka, sqlite_url))
    try:
        send_records(kafka, TRACKLETS.full_name(kafka.namespace),
                     [(f"{w.camera_id}/{w.track_id}".encode(), w.to_bytes()) for w in windows])
        wait_drained(kafka, procs, timeout_s=180)
    finally:
        procs.stop()

    store = Store(sqlite_url)
    rows = store.all_sightings()
    assert sorted(r.sighting_id for r in rows) == sorted(w.window_id for w in windows)
    evidence = store.evidence([r.sighting_id for r in rows])
    assert set(evidence) == {r.sighting_id for r in rows}  # every sighting keeps its evidence
    geis, aspects = [], []
    for sid, ev in evidence.items():
        gei = cv2.imdecode(np.frombuffer(ev.gei_png, np.uint8), cv2.IMREAD_UNCHANGED)
        assert gei is not None and gei.shape == (64, 44) and gei.dtype == np.uint8, sid
        geis.append(gei.astype(np.float64))
        assert ev.keyframe_jpeg is not None
        crop = cv2.imdecode(np.frombuffer(ev.keyframe_jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert crop is not None and crop.ndim == 3, sid
        aspects.append(crop.shape[0] / crop.shape[1])
    # upright people (a window of two walking side by side, which the frames stage cuts at times, is wider)
    assert np.median(aspects) > 1.5
    _write_sheet(list(evidence.values()))
    mean = np.mean(geis, axis=0)  # [64, 44]
    # a person: the body's middle column band is bright, the left and right edges are dark, and so is
    # the space beside the head
    middle, edges = mean[8:56, 16:28].mean(), np.concatenate([mean[:, :5], mean[:, -5:]], axis=1).mean()
    assert middle > 170 and edges < 30 and middle > 5 * edges
    assert mean[2:10, 20:24].mean() > 2 * mean[2:10, :8].mean()  # a head above the shoulders' line
    # and nearly every single GEI is brighter in its middle than at its edges
    assert np.mean([g[8:56, 16:28].mean() > 2 * g[:, np.r_[0:5, 39:44]].mean() for g in geis]) >= 0.8
    store.close()
