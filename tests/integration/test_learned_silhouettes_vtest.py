"""Learned silhouettes on real video: the model shipped in the mediapipe wheel cuts whole walkers."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gait.vision.segment import SegmentConfig, Segmenter

pytestmark = pytest.mark.integration

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def _frames(n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(VTEST))
    out = []
    while len(out) < n:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(frame)
    cap.release()
    return out


def test_learned_cuts_are_upright_people_where_motion_found_them() -> None:
    frames = _frames(160)
    learned = Segmenter(SegmentConfig(silhouettes="learned"), frames[0].shape[:2])
    motion = Segmenter(SegmentConfig(), frames[0].shape[:2])
    cuts, boxes = [], []
    for i, frame in enumerate(frames):
        dets, base = learned(frame), motion(frame)
        if i >= 100:  # the background models have settled
            cuts += [d for d in dets if d.score >= 0.5]
            boxes += [d for d in base if d.score >= 0.5]
    assert len(cuts) >= 100 and len(boxes) >= 100  # several walkers in each of 60 frames
    aspect = np.median([d.box[3] / d.box[2] for d in cuts])
    fill = np.median([float(d.mask.mean()) for d in cuts])
    assert 1.6 <= aspect <= 4.5, aspect  # upright walkers, not squat blobs or slivers
    assert 0.35 <= fill <= 0.85, fill  # a body inside its box, not a filled rectangle nor specks
    # the learned cut keeps the whole body the background model found (it is not smaller)
    assert np.median([d.box[3] for d in cuts]) >= 0.9 * np.median([d.box[3] for d in boxes])
