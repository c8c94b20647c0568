"""Search by a probe clip: who in this recording has been seen before, and where?

The clip goes through the same frames stage and model as the pipeline (``gaitline analyze``'s
path, no Kafka), and every window is matched against the identity service's gallery the way the
index matches a live window: cosine similarity to each identity's mean vector, accepted at the
model's calibrated threshold. A track's answer is the identity most of its windows accept
(ties: the higher mean similarity), with the share of windows that agree, so an operator sees
how sure the match is. The gallery comes from a :data:`GallerySource` (in production a follower of
the compacted ``gallery.v1`` topic, which reads only what was appended since the last search;
see :func:`kafka_gallery`).
"""

from __future__ import annotations

import functools
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from api.exceptions import ProbeError
from gaitline.errors import GaitlineError
from index.gallery import Gallery
from streams.exceptions import BrokerError

# the gallery as of now, held for the duration of the block (None: nothing enrolled yet)
GallerySource = Callable[[], AbstractContextManager[Gallery | None]]


@dataclass(frozen=True)
class ProbeSettings:
    max_bytes: int = 50 * 2**20  # a clip, not an archive
    top_k: int = 3
    threshold: float | None = None  # None = the model's calibrated threshold (index.matcher)


def kafka_gallery(kafka: Any) -> GallerySource:
    """A source that follows ``gallery.v1``: the first search replays it, later ones read what is new."""
    from index.replay import GalleryFollower

    return GalleryFollower(kafka, client_id="gaitline-api-gallery").current


@functools.lru_cache(maxsize=4)
def _load_embedder(base: str, source: str) -> Any:
    """The model behind a gallery, loaded once per process (checkpoints do not change under it)."""
    from gait.model.registry import get_embedder

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
    from gait.model.registry import embed_windows
    from index.matcher import threshold_for
    from workers.analyze import collect_windows, network_for, probe_video
    from workers.exceptions import AnalyzeError

    if not data:
        raise ProbeError("the request body must be the clip (a video file OpenCV can read)")
    if len(data) > settings.max_bytes:
        raise ProbeError(f"the clip is {len(data) / 2**20:.1f} MB; the limit is {settings.max_bytes / 2**20:.0f} MB",
                         status=413)
    with _open(gallery_source) as gallery:
        if gallery is None or len(gallery) == 0:
            raise ProbeError("the gallery is empty: nobody has been enrolled yet", status=404)
        emb = _embedder_for(gallery)
        model = gallery.model
    threshold = threshold_for(model or "", settings.threshold or None)
    with tempfile.TemporaryDirectory(prefix="gaitline-probe-") as tmp:  # the slow part, without the gallery lock
        clip = Path(tmp) / "clip.avi"
        clip.write_bytes(data)
        try:
            fps, total = probe_video(clip)
            by_track, stats = collect_windows(network_for(clip, fps), total)
        except AnalyzeError as exc:
            raise ProbeError(str(exc).replace(str(clip), "the clip")) from exc
    vectors = {tid: embed_windows(emb, [w.silhouettes for w in ws]) for tid, ws in by_track.items()}  # [k, dim]
    with _open(gallery_source) as gallery:  # as of now: enrolments and forgets since the first look count
        if gallery is None or len(gallery) == 0:
            raise ProbeError("the gallery is empty: nobody has been enrolled yet", status=404)
        tracks = [_match_track(tid, vectors[tid], gallery, threshold, settings.top_k)
                  for tid in sorted(by_track, key=lambda t: -len(by_track[t]))]
        size = len(gallery)
    return {"frames": stats.frames, "windows": stats.windows, "model": model, "threshold": threshold,
            "gallery_size": size, "tracks": tracks}


@contextmanager
def _open(source: GallerySource) -> Iterator[Gallery | None]:
    try:
        with source() as gallery:
            yield gallery
    except BrokerError as exc:
        raise ProbeError(f"the gallery log (gallery.v1) cannot be read: {exc}", status=503) from exc


def _match_track(tid: int, vecs: np.ndarray, gallery: Gallery, threshold: float, top_k: int) -> dict[str, Any]:
    """One track's answer: the identity most of its windows accept, and the runners-up."""
    votes: Counter[str] = Counter()
    scores: dict[str, list[float]] = defaultdict(list)
    for v in vecs:
        found = gallery.search(v, k=top_k)  # best first
        for ident, score in found:
            scores[ident].append(score)
        if found and found[0][1] >= threshold:
            votes[found[0][0]] += 1
    ranked = sorted(scores, key=lambda i: (-votes[i], -float(np.mean(scores[i]))))
    n = len(vecs)
    return {
        "track": tid, "windows": n,
        "match": ranked[0] if ranked and votes[ranked[0]] > 0 else None,
        "candidates": [{"identity": i, "windows_accepted": votes[i], "share": round(votes[i] / n, 3),
                        "mean_similarity": round(float(np.mean(scores[i])), 4),
                        "best_similarity": round(float(np.max(scores[i])), 4)} for i in ranked[:top_k]],
    }
