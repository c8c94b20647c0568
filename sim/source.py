"""The ``sim://`` camera source: read a simulated city camera as if it were live.

URL: ``sim://<city folder>/<camera id>[?pace=realtime|fast][&loop=1][&clock=sim|wall]``

* ``<city folder>`` is what ``gaitline sim city --out`` wrote. ``sim:///abs/city/cam1`` is an
  absolute path; ``sim://./cam1`` or ``sim://city/cam1`` are relative to ``base`` (the network
  YAML's folder, i.e. ``LoadedNetwork.base``) or, without ``base``, to the working directory.
* ``pace=realtime`` sleeps so frames arrive at the camera's fps (a live camera);
  ``pace=fast`` (default) yields as fast as the reader takes them.
* ``loop=1`` restarts at the end, shifting timestamps on by the video's duration.
* ``clock=sim`` (default) stamps frames with the city's clock (``start_time + i / fps``, the
  same clock as the ground truth and the network's ``start_time``); ``clock=wall`` stamps
  them with ``time.time()`` at delivery, like a real RTSP camera.

API (what a frames worker needs)::

    src = SimSource.open("sim://./cam1?pace=realtime", base=loaded.base)
    src.camera_id, src.fps, src.width, src.height, src.start_time
    for frame in src:                      # SimFrame(index, timestamp, image, truth)
        frame.image                        # [h, w, 3] uint8 BGR
        frame.truth                        # tuple of (person_id, (x, y, w, h)) boxes
    src.close()                            # also a context manager

Raises :class:`sim.SimError` (a ``GaitlineError``) for a malformed URL or a missing camera.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from sim.exceptions import SimError
from sim.truth import read_truth


@dataclass(frozen=True)
class SimFrame:
    """One frame: index, timestamp (epoch s), BGR image ``[h, w, 3]`` and ground-truth boxes."""

    index: int
    timestamp: float
    image: np.ndarray
    truth: tuple[tuple[str, tuple[int, int, int, int]], ...]


@dataclass(frozen=True)
class SimUrl:
    """A parsed ``sim://`` URL."""

    city: Path
    camera_id: str
    pace: str
    loop: bool
    clock: str


def parse_url(url: str, base: Path | None = None) -> SimUrl:
    """Parse ``url`` (see the module docstring); relative city folders resolve against ``base``."""
    parts = urlsplit(url)
    if parts.scheme != "sim":
        raise SimError(f"not a sim:// URL: {url!r}")
    raw = parts.netloc + parts.path
    if not raw.strip("/"):
        raise SimError(f"sim URL {url!r} must name <city folder>/<camera id>")
    p = Path(raw)
    if not p.is_absolute():
        p = (base or Path.cwd()) / p
    q = parse_qs(parts.query)
    pace = q.get("pace", ["fast"])[0]
    clock = q.get("clock", ["sim"])[0]
    if pace not in ("fast", "realtime"):
        raise SimError(f"sim URL {url!r}: pace must be 'fast' or 'realtime', not {pace!r}")
    if clock not in ("sim", "wall"):
        raise SimError(f"sim URL {url!r}: clock must be 'sim' or 'wall', not {clock!r}")
    return SimUrl(city=p.parent, camera_id=p.name, pace=pace, loop=q.get("loop", ["0"])[0] in ("1", "true"),
                  clock=clock)


class SimSource:
    """A simulated camera read frame by frame (video + ground truth, in lockstep)."""

    def __init__(self, spec: SimUrl) -> None:
        self.spec = spec
        meta_path = spec.city / "city.json"
        if not meta_path.is_file():
            raise SimError(f"sim source: {spec.city} is not a simulated city (no city.json)")
        meta = json.loads(meta_path.read_text())
        cams = {c["id"]: c for c in meta["cameras"]}
        if spec.camera_id not in cams:
            raise SimError(f"sim source: no camera {spec.camera_id!r} in {spec.city} (known: {', '.join(cams)})")
        self.camera_id = spec.camera_id
        self.fps = float(meta["fps"])
        self.start_time = float(meta["start_time"])
        self.width = int(cams[spec.camera_id]["width"])
        self.height = int(cams[spec.camera_id]["height"])
        self.video_path = spec.city / "video" / f"{spec.camera_id}.avi"
        if not self.video_path.is_file():
            raise SimError(f"sim source: video {self.video_path} is missing")
        with (spec.city / "truth" / f"{spec.camera_id}.jsonl").open() as fh:
            self.n_frames = sum(1 for _ in fh)
        self._cap: cv2.VideoCapture | None = None

    @classmethod
    def open(cls, url: str, base: Path | None = None) -> SimSource:
        """Open a ``sim://`` URL; ``base`` is the folder relative city paths resolve against."""
        return cls(parse_url(url, base))

    def __iter__(self) -> Iterator[SimFrame]:
        """Frames in order, paced as the URL asks; loops forever with ``loop=1``."""
        lap = 0
        t_origin = time.monotonic()
        period = 1.0 / self.fps
        delivered = 0
        while True:
            self._cap = cv2.VideoCapture(str(self.video_path))
            truth = read_truth(self.spec.city, self.camera_id)
            n = 0
            for ft in truth:
                ok, img = self._cap.read()
                if not ok:
                    break
                if self.spec.pace == "realtime":
                    wait = t_origin + delivered * period - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                ts = time.time() if self.spec.clock == "wall" else ft.t + lap * self.n_frames / self.fps
                yield SimFrame(index=delivered, timestamp=ts, image=img,
                               truth=tuple((p.id, p.box) for p in ft.people))
                delivered += 1
                n += 1
            self._cap.release()
            self._cap = None
            if not self.spec.loop or n == 0:
                return
            lap += 1

    def close(self) -> None:
        """Release the video."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> SimSource:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

