"""Search by a probe clip: who in this recording has been seen before, and where?

The clip goes through the same frames stage and model as the pipeline (``gaitline analyze``'s
path, no Kafka), and every window is matched against the identity service's gallery the way the
index matches a live window: cosine similarity to each identity's mean vector, accepted at the
model's calibrated threshold. A track's answer is the identity most of its windows accept
(ties: the higher mean similarity), with the share of windows that agree, so an operator sees
how sure the match is. The gallery comes from a :data:`GallerySource` (in production a replay
of the compacted ``gallery.v1`` topic; see :func:`kafka_gallery`).
"""

from __future__ import annotations

import functools
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.gallery import Gallery
from streams.exceptions import GaitlineError

GallerySource = Callable[[], Gallery | None]


class ProbeError(GaitlineError):
    """The clip cannot be searched (unreadable, no walker, or no comparable gallery)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ProbeSettings:
    max_bytes: int = 50 * 2**20  # a clip, not an archive
    top_k: int = 3
    threshold: float | None = None  # None = the model's calibrated threshold (index.service)


def kafka_gallery(kafka: Any) -> GallerySource:
    """A source that replays ``gallery.v1`` on each search (always current; cost grows with the gallery)."""
    from index.replay import replay_gallery

    return lambda: replay_gallery(kafka)[0]


@functools.lru_cache(maxsize=4)
def _load_embedder(base: str, source: str) -> Any:
    """The model behind a gallery, loaded once per process (checkpoints do not change under it)."""
    from gait.embedders import get_embedder

    return get_embedder(base, **({"embed_from": source} if source else {}))


def _embedder_for(gallery: Gallery) -> Any:
    name = gallery.model or ""
    base, _, source = name.partition("+")
    try:
        emb = _load_embedder(base, source)
    except GaitlineError as exc:
        raise ProbeError(f"the gallery was built with model {name!r}, which this server cannot load: {exc}",
                         status=409) from exc
    if gallery.model_version and emb.version != gallery.model_version:
        raise ProbeError(f"the gallery holds model {name} version {gallery.model_version}, this server has "
                         f"version {emb.version}: vectors of different versions do not compare", status=409)
    return emb


def search_clip(data: bytes, gallery_source: GallerySource, settings: ProbeSettings) -> dict[str, Any]:
    """Match the walkers of a clip (video file bytes) against the gallery."""
    from index.service import DEFAULT_THRESHOLD, MODEL_THRESHOLDS
    from workers.analyze import AnalyzeError, collect_windows, network_for, probe_video

    if not data:
        raise ProbeError("the request body must be the clip (a video file OpenCV can read)")
    if len(data) > settings.max_bytes:
        raise ProbeError(f"the clip is {len(data) / 2**20:.1f} MB; the limit is {settings.max_bytes / 2**20:.0f} MB",
                         status=413)
    gallery = gallery_source()
    if gallery is None or len(gallery) == 0:
        raise ProbeError("the gallery is empty: nobody has been enrolled yet", status=404)
    emb = _embedder_for(gallery)
    threshold = settings.threshold or MODEL_THRESHOLDS.get(gallery.model or "", DEFAULT_THRESHOLD)
    with tempfile.TemporaryDirectory(prefix="gaitline-probe-") as tmp:
        clip = Path(tmp) / "clip.avi"
        clip.write_bytes(data)
        try:
            fps, total = probe_video(clip)
            by_track, stats = collect_windows(network_for(clip, fps), total)
        except AnalyzeError as exc:
            raise ProbeError(str(exc).replace(str(clip), "the clip")) from exc
    tracks = []
    for tid, ws in sorted(by_track.items(), key=lambda kv: -len(kv[1])):
        vecs = emb.embed(np.stack([w.silhouettes for w in ws]))  # [k, dim]
        votes: Counter[str] = Counter()
        scores: dict[str, list[float]] = defaultdict(list)
        for v in vecs:
            found = gallery.search(v, k=settings.top_k)  # best first
            for ident, score in found:
                scores[ident].append(score)
            if found and found[0][1] >= threshold:
                votes[found[0][0]] += 1
        ranked = sorted(scores, key=lambda i: (-votes[i], -float(np.mean(scores[i]))))
        tracks.append({
            "track": tid, "windows": len(ws),
            "match": ranked[0] if ranked and votes[ranked[0]] > 0 else None,
            "candidates": [{"identity": i, "windows_accepted": votes[i], "share": round(votes[i] / len(ws), 3),
                            "mean_similarity": round(float(np.mean(scores[i])), 4),
                            "best_similarity": round(float(np.max(scores[i])), 4)} for i in ranked[:settings.top_k]],
        })
    return {"frames": stats.frames, "windows": stats.windows, "model": gallery.model, "threshold": threshold,
            "gallery_size": len(gallery), "tracks": tracks}
