"""The optional body keypoints of a window (``GAITLINE_FRAMES_POSE``): 12 joints per frame in 3 bytes each.

The gait parameters need only the trunk and the legs: shoulders, hips, knees, ankles, heels and
toes of BlazePose's 33 keypoints (:data:`JOINTS`). Each is stored per frame relative to that
frame's box (which the window carries anyway) as two bytes, ``u = (x - box_x) / box_w`` and
``v = (y - box_y) / box_h`` quantised over [-0.25, 1.25] (a swinging foot leaves a tight box),
and one byte of visibility; a joint the model did not find is all zero. A 30-frame window carries
1,080 bytes (1,440 as base64 in the JSON header); a 100 px walker's joints keep ~0.6 px.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from streams.codec import bytes_from_json, bytes_to_json

# BlazePose indices: shoulders, hips, knees, ankles, heels, toes (left, right each)
JOINTS = (11, 12, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32)
N_KEYPOINTS = 33  # BlazePose's layout, what decode returns
LO, HI = -0.25, 1.25  # the box-relative range the coordinates are quantised over
MAX_FRAMES = 512  # streams.schemas.MAX_WINDOW_FRAMES (not imported: schemas imports this module)
MAX_BYTES = MAX_FRAMES * len(JOINTS) * 3


def _from_json(value: object) -> bytes:
    data = bytes_from_json(value, "pose data", MAX_BYTES)
    if len(data) % (len(JOINTS) * 3):
        raise ValueError(f"pose data of {len(data)} bytes is not whole frames of {len(JOINTS)} joints x 3")
    return data


PoseBytes = Annotated[bytes, PlainSerializer(bytes_to_json, return_type=str,
                                             when_used="json"), BeforeValidator(_from_json)]


class WindowPose(BaseModel):
    """A window's keypoints: ``data`` is ``frames x 12 joints x (u, v, visibility)`` bytes."""

    model_config = ConfigDict(extra="forbid")

    layout: Literal["blazepose-12"] = Field("blazepose-12", description="which joints, in which order")
    data: PoseBytes = Field(description="per frame and joint: u, v, visibility as uint8 (module docstring)")

    @property
    def frames(self) -> int:
        """How many frames the data covers."""
        return len(self.data) // (len(JOINTS) * 3)


def encode(keypoints: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> WindowPose:
    """Pack keypoints ``[n, 33, 3]`` (frame pixels, visibility; NaN = not found) against the
    window's boxes ``[n]`` (x, y, w, h)."""
    kp = np.asarray(keypoints, np.float64)[:, JOINTS]  # [n, 12, 3]
    b = np.asarray(boxes, np.float64)  # [n, 4]
    wh = np.maximum(b[:, 2:4], 1.0)[:, None, :]  # [n, 1, 2]
    rel = (kp[..., :2] - b[:, None, 0:2]) / wh  # [n, 12, 2]
    q = np.clip(np.round((rel - LO) / (HI - LO) * 255), 0, 255)
    vis = np.clip(np.round(np.nan_to_num(kp[..., 2]) * 255), 1, 255)  # 0 is kept for "not found"
    found = np.asarray(np.isfinite(rel).all(axis=-1))  # [n, 12]
    out = np.where(found[..., None], np.concatenate([q, vis[..., None]], axis=-1), 0).astype(np.uint8)
    return WindowPose(data=out.tobytes())


def decode(pose: WindowPose, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """Keypoints ``[n, 33, 3]`` in frame pixels (NaN where not found or not carried) of a window's
    pose and boxes."""
    n = pose.frames
    if len(boxes) != n:
        raise ValueError(f"pose covers {n} frames, the window {len(boxes)}")
    q = np.frombuffer(pose.data, np.uint8).reshape(n, len(JOINTS), 3).astype(np.float64)
    b = np.asarray(boxes, np.float64)
    wh = np.maximum(b[:, 2:4], 1.0)[:, None, :]
    xy = (q[..., :2] / 255 * (HI - LO) + LO) * wh + b[:, None, 0:2]
    out = np.full((n, N_KEYPOINTS, 3), np.nan, np.float32)
    found = np.asarray(q[..., 2] > 0)  # [n, 12]
    out[:, JOINTS, :2] = np.where(found[..., None], xy, np.nan)
    out[:, JOINTS, 2] = np.where(found, q[..., 2] / 255, 0.0)
    return out
