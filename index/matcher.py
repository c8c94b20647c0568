"""The identity service stage: ``embeddings.v1`` -> ``sightings.v1`` and ``gallery.v1``.

Open-set matching: a window whose best gallery score reaches the threshold is that
identity; otherwise a new identity is enrolled ("a profile created spontaneously"). Windows
of a track already identified keep the track's identity, since the tracker has already
told us they are the same walker; their vectors still refine the identity's gallery entry.

Biometric data is kept no longer than it is needed: an identity not seen for
``retention_days`` of stream time (the newest window time seen, so a replayed archive ages
as it plays) is removed and tombstoned on ``gallery.v1``; a tombstone written by
``gaitline forget`` removes the identity from the running gallery too.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from prometheus_client import CollectorRegistry

from configs.schema import load_network
from index.gallery import Gallery
from index.gating import TransitGate
from index.replay import replay_gallery
from streams.faust_app import make_app
from streams.schemas import Embedding, GalleryEntry, Sighting
from streams.settings import KafkaSettings
from streams.topics import EMBEDDINGS, GALLERY, SIGHTINGS
from workers.metrics import IndexMetrics
from workers.settings import IndexSettings
from streams.agents import Output, Record, attach_batch_agent, dead_letter_output, decode_all, run_worker

STAGE = "index"
_MEMORY = 20_000

MODEL_THRESHOLDS: dict[str, float] = {
    # median same-track similarity 0.93 vs 0.87 across tracks on vtest.avi: the baseline is weak
    "gei-baseline": 0.93,
    # `gaitline eval threshold --dataset <seed 13, current generator> --model default --far 0.0001`:
    # 30-frame windows of 50 held-out simulated people through the fitted projection (square
    # roots of the frames' max, mean and std); strangers' cosine median 0.011, p99.9 0.58, p99.99
    # 0.68 (0.677); the same person across views and clothes: median 0.46 (17 % of same-person
    # pairs above 0.68; 16.5 % with the projection before the square roots). The strangers' p99.99, not
    # p99.9: a track is several windows, each compared with every identity in the gallery, so a
    # per-pair rate of 1e-3 adds up to a false merge for one track in ten or so, and a false merge
    # tells a control room wrong places. Simulated cities (`demo --city` + `eval mtmc`), IDF1 at
    # 0.68: 0.619 (seed 3) and 0.631 (seed 5), as with the projections of the frames' max and mean
    # and of their max alone, and 0.383 on the 30-person city of seed 7 (max alone 0.364); the previous
    # strips projection at 0.70 scored 0.695 / 0.692 / 0.372: with 10 walkers one merge moves
    # IDF1 by 0.08, and at 30 the tracker, not the model, limits it (MOTA 0.50).
    "default": 0.68,
    # the same checkpoint's BNNeck features (GAITLINE_EMBED_EMBED_FROM=bnneck), same rule: strangers'
    # median 0.13, p99.9 0.70, p99.99 0.78; same person median 0.48. City IDF1 at 0.78: 0.619 / 0.628.
    "default+bnneck": 0.78,
    # medium with its projection (fitted on seed 21), the default's rule: strangers' median 0.06,
    # p99.9 0.64, p99.99 0.74; same person median 0.43. Not checked on the city.
    "medium": 0.74,
    # the GPU-trained sizes' BNNeck features (the strangers' p99.9 on seed 13, current generator):
    # medium p99.5 0.68, p99.9 0.75, same person median 0.54; large p99.5 0.53, p99.9 0.61,
    # same person median 0.40. Not checked on the city.
    "medium+bnneck": 0.75,
    "large+bnneck": 0.61,
}
DEFAULT_THRESHOLD = 0.80


class IdentityMatcher:
    """The index stage's handler; keeps the gallery and a bounded memory of tracks and windows."""

    def __init__(self, settings: IndexSettings, gallery: Gallery | None = None,
                 metrics: IndexMetrics | None = None, gate: TransitGate | None = None,
                 last_seen: dict[str, tuple[str, float]] | None = None) -> None:
        self.settings = settings
        self.gallery = gallery
        self.metrics = metrics
        self.gate = gate or TransitGate(None)
        self.last_seen: dict[str, tuple[str, float]] = last_seen or {}
        self._tracks: OrderedDict[tuple[str, int], str] = OrderedDict()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._watermark = max((t for _, t in self.last_seen.values()), default=0.0)  # newest window end seen
        self._next_expiry = 0.0
        # the embeddings agent and the gallery-log agent run in executor threads: one at a time here
        self._lock = threading.Lock()

    def __call__(self, records: list[Record]) -> list[Output]:
        """Handle one batch of raw ``embeddings.v1`` records."""
        with self._lock:
            outputs = self._handle(records)
            if self.settings.retention_days and self._watermark >= self._next_expiry:
                outputs.extend(self.expire(self._watermark - self.settings.retention_days * 86400))
                self._next_expiry = self._watermark + 60.0
            return outputs

    def forget(self, identity_id: str, why: str = "forgotten") -> bool:
        """Remove ``identity_id`` from the gallery and from every track and time memory."""
        removed = self.gallery.remove(identity_id) if self.gallery is not None else False
        self.last_seen.pop(identity_id, None)
        for key in [k for k, v in self._tracks.items() if v == identity_id]:
            del self._tracks[key]
        if removed and self.metrics:
            self.metrics.removed.labels(why).inc()
        return removed

    def expire(self, older_than: float) -> list[Output]:
        """Remove identities last seen before ``older_than`` and tombstone them on ``gallery.v1``."""
        stale = [i for i, (_, t) in self.last_seen.items() if t < older_than]
        outs = []
        for identity in stale:
            self.forget(identity, "expired")
            outs.append(Output(GALLERY, identity.encode(), None))
        return outs

    def on_gallery_log(self, records: list[Record]) -> list[Output]:
        """Handle ``gallery.v1`` records: a tombstone (``gaitline forget``) removes the identity."""
        with self._lock:
            for rec in records:
                if rec.value is None and rec.key:
                    self.forget(rec.key.decode("utf-8", "replace"))
        return []

    def _handle(self, records: list[Record]) -> list[Output]:
        decoded, outputs = decode_all(records, Embedding, STAGE, self.metrics.deadlettered if self.metrics else None)
        for rec, emb in decoded:
            if self.gallery is None:
                self.gallery = Gallery(emb.dim, emb.model, emb.model_version, self.settings.ann())
            if self.gallery.model is None:  # replayed from entries written before versions were recorded
                self.gallery.model, self.gallery.model_version = emb.model, emb.model_version
            if emb.dim != self.gallery.dim:
                outputs.append(self._dead(rec, f"embedding dim {emb.dim} != gallery dim {self.gallery.dim}",
                                          "dim"))
                continue
            if (emb.model, emb.model_version) != (self.gallery.model, self.gallery.model_version):
                # matching a new model's vector against an old model's gallery gives wrong identities
                # silently; park it until the gallery is rebuilt for the new model
                outputs.append(self._dead(
                    rec, f"embedding from model {emb.model} {emb.model_version}, but the gallery holds "
                         f"{self.gallery.model} {self.gallery.model_version}: vectors of different models "
                         "do not compare (re-embed, or start the new model in a new namespace)", "model"))
                continue
            if emb.window_id in self._seen:
                continue  # redelivered after a rebalance: already matched and published
            self._watermark = max(self._watermark, emb.t_end)
            _remember(self._seen, emb.window_id, None)
            outputs.extend(self._match(emb))
        if self.metrics and self.gallery is not None:
            self.metrics.gallery_size.set(len(self.gallery))
            self.metrics.gallery_rebuilds.set(self.gallery.rebuilds)
            self.metrics.gallery_rebuilding.set(int(self.gallery.rebuilding))
            self.metrics.gallery_rebuild_seconds.set(self.gallery.last_rebuild_s)
        return outputs

    def _match(self, emb: Embedding) -> list[Output]:
        assert self.gallery is not None  # set by the caller before matching
        now = time.time()
        started = time.perf_counter()
        track_key = (emb.camera_id, emb.track_id)
        identity = self._tracks.get(track_key)
        if identity is not None and identity in self.gallery:
            score = self.gallery.score(identity, emb.vector)
        else:
            identity, score = self._best_feasible(emb)
        if self.metrics:
            self.metrics.search_seconds.observe(time.perf_counter() - started)
            self.metrics.queries.inc()
        enrolled = identity is None or (track_key not in self._tracks and score < self.threshold(emb.model))
        if enrolled:
            identity = self.gallery.enrol(emb.vector, now)
            score = 1.0
            vector = self.gallery.vectors[identity]
            if self.metrics:
                self.metrics.enrolled.inc()
        else:
            assert identity is not None
            vector = self.gallery.update(identity, emb.vector, self.settings.update_rate)
            if self.metrics:
                self.metrics.matched.inc()
        self.last_seen[identity] = (emb.camera_id, emb.t_end)
        _remember(self._tracks, track_key, identity)
        sighting = Sighting(sighting_id=emb.window_id, identity_id=identity, camera_id=emb.camera_id,
                            track_id=emb.track_id, region=emb.region, t_start=emb.t_start, t_end=emb.t_end,
                            x=emb.foot_point[0], y=emb.foot_point[1], box=emb.box, ground_plane=emb.ground_plane,
                            score=score, enrolled=enrolled, model=emb.model, gait=emb.gait,
                            truth_id=emb.truth_id)
        entry = GalleryEntry(identity_id=identity, op="enrol" if enrolled else "update", model=emb.model,
                             model_version=emb.model_version, dim=self.gallery.dim,
                             n_sightings=self.gallery.counts[identity],
                             created_at=self.gallery.created[identity], updated_at=now,
                             last_camera_id=emb.camera_id, last_seen=emb.t_end, vector=vector)
        key = identity.encode()
        return [Output(SIGHTINGS, key, sighting.to_bytes()), Output(GALLERY, key, entry.to_bytes())]

    def _best_feasible(self, emb: Embedding) -> tuple[str | None, float]:
        """The most similar identity that could have walked to this camera by now."""
        assert self.gallery is not None
        for identity, score in self.gallery.search(emb.vector, k=self.settings.candidates):
            last_camera, last_t = self.last_seen.get(identity, (None, None))
            if self.gate.feasible(last_camera, last_t, emb.camera_id, emb.t_start):
                return identity, score
            if self.metrics:
                self.metrics.gated.inc()
        return None, -1.0

    def threshold(self, model: str) -> float:
        """The open-set threshold: the setting if given, else the model's calibrated value."""
        if self.settings.match_threshold is not None:
            return self.settings.match_threshold
        return MODEL_THRESHOLDS.get(model, DEFAULT_THRESHOLD)

    def _dead(self, rec: Record, reason: str, kind: str) -> Output:
        if self.metrics:
            self.metrics.deadlettered.labels(kind).inc()
        return dead_letter_output(STAGE, rec, reason)


def _remember(memory: OrderedDict, key: object, value: object) -> None:  # type: ignore[type-arg]
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > _MEMORY:
        memory.popitem(last=False)


def run(kafka: KafkaSettings, settings: IndexSettings) -> None:
    """Replay the gallery from ``gallery.v1``, then match embeddings until SIGTERM."""
    registry = CollectorRegistry()
    metrics = IndexMetrics(registry)
    gallery, last_seen = replay_gallery(kafka, settings.ann())
    network = load_network(settings.network).network if settings.network else None
    matcher = IdentityMatcher(settings, gallery, metrics, TransitGate(network, settings.open_world_s), last_seen)
    app = make_app(STAGE, kafka)
    attach_batch_agent(app, kafka, EMBEDDINGS, matcher, max_batch=64, max_wait_s=0.05, lag=metrics.consumer_lag)
    # the gallery's own log: its tombstones (from `gaitline forget`) remove identities while running
    attach_batch_agent(app, kafka, GALLERY, matcher.on_gallery_log, max_batch=500, max_wait_s=0.5)
    run_worker(app, registry, settings.metrics_port)
