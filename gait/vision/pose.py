"""Body keypoints of a tracked walker: BlazePose on a crop around each box, smoothed over the track.

MediaPipe's BlazePose (``pose_landmark_full.tflite`` and its person detector ship inside the
``mediapipe==0.10.14`` wheel: nothing is downloaded) finds 33 keypoints in a crop. Like the
selfie segmentation in :mod:`gait.vision.learned` it is made for close-ups and finds nobody on a
whole wide scene, so it runs on a square crop around each tracked box. The window boxes are
already the whole body (the learned silhouette's bounding box), so the crop is centred on the
box with a margin, not :func:`gait.vision.learned.person_crop`'s reach above a legs-only blob.

Keypoints are ``[n, 33, 3]`` float32: x, y in frame pixels and the model's visibility (0..1);
a frame where the model found nobody is all NaN. :func:`smooth_track` removes the per-frame
jitter with a one-euro filter (little lag on fast limbs, strong smoothing when still).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

N_KEYPOINTS = 33
# BlazePose landmark indices used by the gait parameters
NOSE = 0
SHOULDER_L, SHOULDER_R = 11, 12
HIP_L, HIP_R = 23, 24
KNEE_L, KNEE_R = 25, 26
ANKLE_L, ANKLE_R = 27, 28
HEEL_L, HEEL_R = 29, 30
TOE_L, TOE_R = 31, 32  # "foot index": the tip of the foot
# pairs drawn on contact sheets and report thumbnails
SKELETON = ((SHOULDER_L, SHOULDER_R), (SHOULDER_L, HIP_L), (SHOULDER_R, HIP_R), (HIP_L, HIP_R),
            (HIP_L, KNEE_L), (KNEE_L, ANKLE_L), (ANKLE_L, HEEL_L), (HEEL_L, TOE_L), (ANKLE_L, TOE_L),
            (HIP_R, KNEE_R), (KNEE_R, ANKLE_R), (ANKLE_R, HEEL_R), (HEEL_R, TOE_R), (ANKLE_R, TOE_R))
MARGIN = 1.3  # crop side as a multiple of the box's longer side: room for a swinging foot or arm
MIN_CROP_PX = 24  # a box smaller than this is too small for the model to see limbs


def pose_crop(box: tuple[int, int, int, int], frame_shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """A square region ``(x0, y0, x1, y1)`` centred on a whole-body ``box`` (x, y, w, h), clipped to
    the frame ``(height, width)``."""
    H, W = frame_shape
    x, y, w, h = box
    half = MARGIN * max(w, h) / 2
    cx, cy = x + w / 2, y + h / 2
    return (max(0, int(cx - half)), max(0, int(cy - half)), min(W, int(cx + half) + 1), min(H, int(cy + half) + 1))


class PoseEstimator:
    """BlazePose keypoints of one person per call; one instance per thread (the graph is stateful)."""

    def __init__(self, min_confidence: float = 0.3) -> None:
        """Args: min_confidence: the person detector's score below which a crop has nobody."""
        import mediapipe as mp  # loads TensorFlow Lite: only where pose is asked for

        # static_image_mode: every crop is detected afresh, so crops of different tracks can share
        # one estimator; model_complexity=1 is the "full" landmark model the wheel ships
        self._pose: Any = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1,
                                                 min_detection_confidence=min_confidence)

    def crop(self, image: np.ndarray) -> np.ndarray:
        """Keypoints ``[33, 3]`` (x, y in ``image`` pixels, visibility) of the person in a BGR crop
        ``[h, w, 3]``; all NaN when the model finds nobody."""
        h, w = image.shape[:2]
        out = np.full((N_KEYPOINTS, 3), np.nan, np.float32)
        if min(h, w) < MIN_CROP_PX:
            return out
        res = self._pose.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        if res.pose_landmarks is None:
            return out
        for i, lm in enumerate(res.pose_landmarks.landmark):
            out[i] = (lm.x * w, lm.y * h, lm.visibility)
        return out

    def __call__(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """Keypoints ``[33, 3]`` in ``frame`` pixels of the person in ``box`` (x, y, w, h)."""
        x0, y0, x1, y1 = pose_crop(box, frame.shape[:2])
        kp = self.crop(frame[y0:y1, x0:x1])
        kp[:, 0] += x0
        kp[:, 1] += y0
        return kp

    def close(self) -> None:
        """Release the interpreter."""
        self._pose.close()


def one_euro(x: np.ndarray, t: np.ndarray, min_cutoff: float = 1.5, beta: float = 0.02,
             d_cutoff: float = 1.0) -> np.ndarray:
    """One-euro filter (Casiez et al. 2012) along axis 0 of ``x`` ``[n, ...]`` sampled at ``t`` ``[n]`` s.

    The cutoff rises with the signal's speed: a still joint is smoothed hard, a swinging foot
    keeps its swing. NaN samples are skipped (the filter holds its state across them) and stay NaN.

    Args:
        x: samples; any trailing shape.
        t: sample times in seconds, increasing.
        min_cutoff: cutoff frequency (Hz) at rest.
        beta: how fast the cutoff rises with speed (per unit of ``x`` per second).
        d_cutoff: cutoff (Hz) of the speed estimate.
    """
    x = np.asarray(x, np.float64)
    out = np.full_like(x, np.nan)
    prev = np.full(x.shape[1:], np.nan)
    dprev = np.zeros(x.shape[1:])
    tprev = np.full(x.shape[1:], np.nan)

    def alpha(cutoff: np.ndarray | float, dt: np.ndarray) -> np.ndarray:
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    for i in range(len(x)):
        xi = x[i]
        ok = np.isfinite(xi)
        first = ok & ~np.isfinite(prev)
        go = ok & np.isfinite(prev)
        dt = np.where(go, np.maximum(t[i] - np.nan_to_num(tprev), 1e-3), 1.0)
        dx = np.where(go, (xi - np.nan_to_num(prev)) / dt, 0.0)
        dhat = np.where(go, dprev + alpha(d_cutoff, dt) * (dx - dprev), dprev)
        cutoff = min_cutoff + beta * np.abs(dhat)
        xhat = np.where(go, np.nan_to_num(prev) + alpha(cutoff, dt) * (np.nan_to_num(xi) - np.nan_to_num(prev)),
                        np.where(first, xi, prev))
        out[i] = np.where(ok, xhat, np.nan)
        prev = np.where(ok, xhat, prev)
        dprev = np.where(ok, dhat, dprev)
        tprev = np.where(ok, t[i], tprev)
    return out


# left/right partners whose labels the model swaps on side views, where one leg hides the other
_LEFT = np.array([HIP_L, KNEE_L, ANKLE_L, HEEL_L, TOE_L])
_RIGHT = np.array([HIP_R, KNEE_R, ANKLE_R, HEEL_R, TOE_R])


def fix_swaps(keypoints: np.ndarray) -> np.ndarray:
    """Undo the model's left/right leg swaps: seen from the side, BlazePose now and then labels the
    near leg as the far one for a frame or a few. A frame's legs are swapped back when the swapped
    labels lie clearly closer to the previous frame's legs (knees, ankles, heels, toes) than the
    given ones. ``[n, 33, 3]`` in, a corrected copy out."""
    kp = np.array(keypoints, copy=True)
    prev: np.ndarray | None = None
    for i in range(len(kp)):
        cur = kp[i, :, :2]
        if not np.isfinite(cur[_LEFT[1:]]).all() or not np.isfinite(cur[_RIGHT[1:]]).all():
            continue
        if prev is not None:
            same = np.linalg.norm(cur[_LEFT[1:]] - prev[_LEFT[1:]], axis=1).sum() + np.linalg.norm(
                cur[_RIGHT[1:]] - prev[_RIGHT[1:]], axis=1).sum()
            swap = np.linalg.norm(cur[_RIGHT[1:]] - prev[_LEFT[1:]], axis=1).sum() + np.linalg.norm(
                cur[_LEFT[1:]] - prev[_RIGHT[1:]], axis=1).sum()
            if swap < 0.6 * same:
                kp[i, np.r_[_LEFT, _RIGHT]] = kp[i, np.r_[_RIGHT, _LEFT]]
        prev = kp[i, :, :2].copy()
    return kp


def smooth_track(keypoints: np.ndarray, timestamps: np.ndarray, min_visibility: float = 0.3) -> np.ndarray:
    """Keypoints ``[n, 33, 3]`` of one track, leg swaps undone (:func:`fix_swaps`) and smoothed over
    time; a point the model barely saw (visibility < ``min_visibility``) is dropped (NaN) before
    smoothing, its visibility kept.

    The cutoff scales with the person's size in pixels (median shoulder-to-ankle height), so a
    far walker and a near one are smoothed alike.
    """
    kp = fix_swaps(np.asarray(keypoints, np.float64))  # [n, 33, 3]
    xy = kp[..., :2].copy()  # [n, 33, 2]
    xy[kp[..., 2] < min_visibility] = np.nan
    tall = np.abs(kp[:, ANKLE_L, 1] - kp[:, SHOULDER_L, 1])  # [n] px, NaN where unseen
    tall = tall[np.isfinite(tall)]
    height = float(np.median(tall)) if len(tall) else 0.0
    beta = 0.02 * 100.0 / height if height > 1 else 0.02
    out = kp.copy()
    out[..., :2] = one_euro(xy, np.asarray(timestamps, np.float64), beta=beta)
    return out.astype(np.float32)
