"""A clip an operator would upload, and its walkers enrolled as the index would (clip-search tests)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gait.model.registry import embed_windows, get_embedder
from store.db import Store
from streams.clients import send_records
from streams.settings import KafkaSettings
from streams.topics import GALLERY
from tests.factories import gallery_entry, sighting
from workers.analyze import collect_windows, network_for, probe_video

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def vtest_clip(dest: Path, frames: int) -> Path:
    """The first ``frames`` frames of vtest.avi, re-encoded (a clip an operator would upload)."""
    cap = cv2.VideoCapture(str(VTEST))
    out = cv2.VideoWriter(str(dest), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (768, 576))  # type: ignore[attr-defined]
    for _ in range(frames):
        ok, img = cap.read()
        assert ok
        out.write(img)
    out.release()
    cap.release()
    return dest


def enrol_longest_tracks(clip: Path, store: Store, kafka: KafkaSettings, camera_id: str, n: int = 3,
                         evidence: bool = False, **sighting_fields: Any) -> tuple[dict[int, int], Any]:
    """Enrol the ``n`` longest tracks of ``clip`` as identities ``p-track<id>`` (the mean vector of
    their windows, on the gallery topic), each with one stored sighting ``w<id>`` (with the gait
    energy image of its first window as evidence when asked). Returns each track's window count,
    longest first, and the embedder."""
    fps, total = probe_video(clip)
    by_track, _ = collect_windows(network_for(clip, fps), total)
    longest = sorted(by_track, key=lambda t: -len(by_track[t]))[:n]
    emb = get_embedder("default", embed_from="auto")  # what the agents send: the fitted projection
    entries = []
    for tid in longest:
        v = embed_windows(emb, [w.silhouettes for w in by_track[tid]]).mean(axis=0)
        now = time.time()
        entries.append(gallery_entry(v, identity_id=f"p-track{tid}", model=emb.name, model_version=emb.version,
                                     n_sightings=len(by_track[tid]), created_at=now, last_camera_id=camera_id,
                                     last_seen=now))
        extra = dict(sighting_fields)
        if evidence:
            gei = (by_track[tid][0].silhouettes.astype(np.float32).mean(axis=0) * 255).astype(np.uint8)  # [64, 44]
            extra["evidence_png"] = cv2.imencode(".png", gei)[1].tobytes()
        store.add_sightings([sighting(sighting_id=f"w{tid}", identity_id=f"p-track{tid}", camera_id=camera_id,
                                      track_id=tid, model=emb.name, **extra)])
    send_records(kafka, GALLERY.full_name(kafka.namespace), [(e.identity_id.encode(), e.to_bytes()) for e in entries])
    return {tid: len(by_track[tid]) for tid in longest}, emb
