"""The optional key-frame crop (``GAITLINE_FRAMES_KEYFRAME_CROP``): a small JPEG of the person in the
window's middle frame, kept with the sighting as evidence next to the gait energy image.

Unlike the gait energy image it shows a face and clothes, so it is off by default; where it is on it
falls under the same retention and forget rules as the sighting (docs/operations.md, privacy).
"""

from __future__ import annotations

import cv2
import numpy as np

MAX_HEIGHT_PX = 128  # enough to tell who was matched, small enough for a few KB on the wire
_MARGIN = 0.08  # of the box on each side: limbs outside a tight box stay in the picture
_JPEG_OPTIONS = [cv2.IMWRITE_JPEG_QUALITY, 80]


def crop_person(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """The person's box in ``image`` ``[h, w, 3]`` (BGR) with a small margin, at most 128 px tall;
    None when the box lies outside the image."""
    x, y, w, h = box
    mx, my = int(round(_MARGIN * w)), int(round(_MARGIN * h))
    x0, y0 = max(0, x - mx), max(0, y - my)
    x1, y1 = min(image.shape[1], x + w + mx), min(image.shape[0], y + h + my)
    if x1 <= x0 or y1 <= y0:
        return None
    crop = image[y0:y1, x0:x1]  # [ch, cw, 3], a view into the frame
    if crop.shape[0] <= MAX_HEIGHT_PX:
        return crop.copy()  # a copy: the window outlives the frame, whose buffer a source may reuse
    scale = MAX_HEIGHT_PX / crop.shape[0]
    return cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), MAX_HEIGHT_PX), interpolation=cv2.INTER_AREA)


def keyframe_jpeg(crop: np.ndarray) -> bytes:
    """A crop from :func:`crop_person` as JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", crop, _JPEG_OPTIONS)
    if not ok:  # only for an array OpenCV cannot hold: a programming error
        raise ValueError(f"cannot encode a {crop.shape} crop as JPEG")
    return buf.tobytes()
