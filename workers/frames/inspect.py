"""Look at what the frames worker sees (``gaitline inspect VIDEO``).

Runs the frames stage on one video (no Kafka) and writes, for a person to look at:

* ``annotated.mp4``: every frame with boxes, track ids and each track's recent foot path
  (weak detections thin and grey, confirmed tracks coloured by id);
* ``contact_sheet.png``: a frame with all track paths, then one row per track: a colour crop
  of the walker and silhouettes (64x44) sampled along the track;
* ``summary.json``: tracks, frames per track, windows, re-links.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from configs.exceptions import ConfigError
from configs.schema import Camera, load_network
from gait.vision.pretreatment import HEIGHT, WIDTH, pretreat
from gait.vision.segment import Detection
from streams.schemas import TrackletWindow
from workers.frames.cameras import CameraWorker
from workers.frames.settings import FramesSettings
from workers.frames.sources import Frame, open_source
from workers.frames.tracker import Track

_SHEET_SILS = 16


def _colour(track_id: int) -> tuple[int, int, int]:
    hue = (track_id * 47) % 180
    bgr = cv2.cvtColor(np.array([[[hue, 220, 255]]], dtype=np.uint8), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


class _Recorder:
    """Collects what the inspection shows while the worker runs."""

    def __init__(self, writer: cv2.VideoWriter | None) -> None:
        self.writer = writer
        self.paths: dict[int, list[tuple[int, int]]] = defaultdict(list)
        self.sils: dict[int, list[np.ndarray]] = defaultdict(list)
        self.crops: dict[int, np.ndarray] = {}
        self.frames_seen: dict[int, int] = defaultdict(int)
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.background: np.ndarray | None = None

    def __call__(self, frame: Frame, dets: list[Detection], tracks: list[Track]) -> None:
        img = frame.image.copy() if self.writer is not None else None
        if self.background is None or frame.index == 200:
            self.background = frame.image.copy()
        for t in tracks:
            d = t.detection
            if d is None:
                continue
            self.frames_seen[t.id] += 1
            self.first.setdefault(t.id, frame.index)
            self.last[t.id] = frame.index
            self.paths[t.id].append((int(d.foot[0]), int(d.foot[1])))
            s = pretreat(d.mask)
            if s is not None:
                self.sils[t.id].append(s)
            x, y, w, h = d.box
            if self.frames_seen[t.id] == 12 or t.id not in self.crops:
                self.crops[t.id] = frame.image[y:y + h, x:x + w].copy()
        if img is None or self.writer is None:
            return
        for d in dets:
            x, y, w, h = d.box
            cv2.rectangle(img, (x, y), (x + w, y + h), (128, 128, 128), 1)
        for t in tracks:
            c = _colour(t.id)
            if t.detection is not None:
                x, y, w, h = t.detection.box
                cv2.rectangle(img, (x, y), (x + w, y + h), c, 2)
                cv2.putText(img, str(t.id), (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, c, 2)
            pts = self.paths[t.id][-40:]
            for a, b in zip(pts, pts[1:], strict=False):
                cv2.line(img, a, b, c, 1)
        cv2.putText(img, f"frame {frame.index}", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
        self.writer.write(img)

    def sheet(self, min_frames: int) -> np.ndarray:
        """The contact sheet ``[H, W, 3]``: the scene with paths, then one row per track."""
        bg = self.background if self.background is not None else np.zeros((288, 384, 3), np.uint8)
        scene = bg.copy()
        ids = [i for i in sorted(self.frames_seen, key=lambda k: self.first[k])
               if self.frames_seen[i] >= min_frames]
        for tid in ids:
            c = _colour(tid)
            pts = self.paths[tid]
            for a, b in zip(pts, pts[1:], strict=False):
                cv2.line(scene, a, b, c, 2)
            cv2.putText(scene, str(tid), pts[0], cv2.FONT_HERSHEY_SIMPLEX, 0.6, c, 2)
        row_w = 70 + _SHEET_SILS * (WIDTH + 2)
        scale = row_w / scene.shape[1]
        rows = [cv2.resize(scene, (row_w, int(scene.shape[0] * scale)))]
        for tid in ids:
            row = np.zeros((HEIGHT + 4, row_w, 3), np.uint8)  # [68, W, 3]
            crop = self.crops.get(tid)
            if crop is not None and crop.size:
                ch = HEIGHT
                cw = max(1, min(40, int(crop.shape[1] * ch / max(crop.shape[0], 1))))
                row[2:2 + ch, 2:2 + cw] = cv2.resize(crop, (cw, ch))
            cv2.putText(row, str(tid), (44, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, _colour(tid), 2)
            cv2.putText(row, str(self.frames_seen[tid]), (44, 44), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                        (200, 200, 200), 1)
            sils = self.sils.get(tid, [])
            if sils:
                pick = np.linspace(0, len(sils) - 1, min(_SHEET_SILS, len(sils))).astype(int)
                for k, i in enumerate(pick):
                    x0 = 70 + k * (WIDTH + 2)
                    row[2:2 + HEIGHT, x0:x0 + WIDTH] = (sils[i] * 255)[..., None]
            rows.append(row)
        return np.vstack(rows)


def inspect_video(video: Path, out: Path = Path("inspect-out"), network: str | None = None,
                  camera: str | None = None, max_frames: int = 0, write_video: bool = True,
                  min_track_frames: int = 10) -> dict[str, Any]:
    """Write an annotated video and a contact sheet (boxes, track ids, silhouettes per track).

    Args:
        video: the video file.
        out: output folder (created).
        network, camera: optional calibration source; without them the camera is uncalibrated
            and its fps is read from the file.
        max_frames: frame limit, 0 for all.
        write_video: whether to write the annotated video (the sheet is always written).
        min_track_frames: shortest track shown on the sheet.
    """
    if not video.is_file():
        raise ConfigError(f"no such video file: {video}")
    if camera is not None and network is not None:
        loaded = load_network(network)
        cam = loaded.network.camera(camera).model_copy(update={"source": str(video.resolve())})
    else:
        cap = cv2.VideoCapture(str(video))
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0) or 25.0
        cap.release()
        cam = Camera(id="inspect", source=str(video.resolve()), region="inspect", fps=min(fps, 240.0))
    out.mkdir(parents=True, exist_ok=True)
    settings = FramesSettings()
    cv2.setNumThreads(settings.opencv_threads)
    source = open_source(cam, video.parent, settings.source_settings())
    writer = None
    if write_video:
        cap = cv2.VideoCapture(str(video))
        size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        cap.release()
        writer = cv2.VideoWriter(str(out / "annotated.mp4"), cv2.VideoWriter.fourcc(*"mp4v"), cam.fps, size)
    rec = _Recorder(writer)
    windows: list[TrackletWindow] = []
    stop = threading.Event()

    def observe(frame: Frame, dets: list[Detection], tracks: list[Track]) -> None:
        rec(frame, dets, tracks)
        if max_frames and frame.index + 1 >= max_frames:
            stop.set()

    worker = CameraWorker(cam, source, settings, windows.append, None, observe)
    worker.run(stop)
    if writer is not None:
        writer.release()
    cv2.imwrite(str(out / "contact_sheet.png"), rec.sheet(min_track_frames))
    summary = {"frames": worker.frames, "windows": len(windows), "tracks": len(rec.frames_seen),
               "relinks": worker.tracker.relinks,
               "track_frames": {str(k): v for k, v in sorted(rec.frames_seen.items())},
               "windows_per_track": {str(k): sum(w.track_id == k for w in windows) for k in rec.frames_seen}}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
