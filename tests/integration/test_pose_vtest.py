"""BlazePose on real walkers: crops of vtest.avi around the boxes the frames stage finds."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from gait.vision import pose as bp
from gait.vision.pose import PoseEstimator
from gait.vision.segment import Segmenter
from workers.frames.settings import FramesSettings


def test_blazepose_finds_plausible_keypoints_on_real_crops(vtest_video: Path) -> None:
    cap = cv2.VideoCapture(str(vtest_video))
    seg = None
    est = PoseEstimator()
    found, upright, inside, crops = 0, 0, 0, 0
    try:
        for i in range(141):
            ok, frame = cap.read()
            assert ok
            if seg is None:
                seg = Segmenter(FramesSettings().segment_config(), frame.shape[:2])
            dets = seg(frame)  # the background model needs the early frames to learn
            if i < 100 or i % 20:
                continue
            for d in dets:
                x, y, w, h = d.box
                if h < 60:  # a person large enough to show limbs
                    continue
                crops += 1
                kp = est(frame, d.box)
                legs = kp[[bp.HIP_L, bp.HIP_R, bp.ANKLE_L, bp.ANKLE_R, bp.SHOULDER_L, bp.SHOULDER_R]]
                if not np.isfinite(legs).all() or float(np.mean(kp[23:29, 2])) < 0.5:
                    continue
                found += 1
                sh = kp[[bp.SHOULDER_L, bp.SHOULDER_R], 1].mean()
                hip = kp[[bp.HIP_L, bp.HIP_R], 1].mean()
                ank = kp[[bp.ANKLE_L, bp.ANKLE_R], 1].mean()
                upright += bool(sh < hip < ank and (ank - sh) > 0.5 * h)
                # hips and ankles lie in (or just around) the walker's box
                pts = kp[[bp.HIP_L, bp.HIP_R, bp.ANKLE_L, bp.ANKLE_R], :2]
                inside += bool(((pts[:, 0] > x - 0.3 * w) & (pts[:, 0] < x + 1.3 * w)
                                & (pts[:, 1] > y) & (pts[:, 1] < y + 1.15 * h)).all())
    finally:
        cap.release()
        est.close()
    assert crops >= 8, crops
    assert found >= 0.6 * crops, (found, crops)
    assert upright >= 0.9 * found and inside >= 0.9 * found, (upright, inside, found)
