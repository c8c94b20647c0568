"""The identity service's handler: ``embeddings.v1`` -> ``sightings.v1`` and ``gallery.v1`` (run by :mod:`index.stage`).

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
from dataclasses import dataclass, field

from index.gallery import Gallery
from index.gating import TransitGate
from index.metrics import IndexMetrics
from index.settings import IndexSettings
from streams.agents import Output, Record, dead_letter_output, decode_all
from streams.exceptions import SchemaError
from streams.schemas import Embedding, GalleryEntry, Sighting
from streams.topics import GALLERY, SIGHTINGS

STAGE = "index"
_MEMORY = 20_000

# a model without a calibrated threshold (a checkpoint fitted elsewhere, never calibrated) leans
# towards splitting one walker in two rather than merging two walkers: a false merge tells a
# control room wrong places, a split only more identities
DEFAULT_THRESHOLD = 0.80


@dataclass
class DecisionLog:
    """Identity decisions already published on ``sightings.v1`` (read back at start, :func:`index.replay.
    recent_decisions`): which identity each window got, and the identity of each recent track.

    A window read again after a crash (its embedding was not committed) keeps the decision it got
    the first time and does not update the gallery twice; a track that was being followed keeps its
    identity instead of enrolling a second one."""

    windows: dict[str, str] = field(default_factory=dict)  # window id -> identity id
    tracks: dict[tuple[str, int], str] = field(default_factory=dict)  # (camera, track) -> identity, oldest first


class IdentityMatcher:
    """The index stage's handler; keeps the gallery and a bounded memory of tracks and windows."""

    def __init__(self, settings: IndexSettings, gallery: Gallery | None = None,
                 metrics: IndexMetrics | None = None, gate: TransitGate | None = None,
                 last_seen: dict[str, tuple[str, float]] | None = None,
                 decisions: DecisionLog | None = None) -> None:
        self.settings = settings
        self.gallery = gallery
        self.metrics = metrics
        self.gate = gate or TransitGate(None)
        self.last_seen: dict[str, tuple[str, float]] = last_seen or {}
        self._tracks: OrderedDict[tuple[str, int], str] = OrderedDict()
        self._seen: OrderedDict[str, str | None] = OrderedDict()  # window id -> the identity it was given
        for wid, ident in (decisions.windows.items() if decisions else ()):
            _remember(self._seen, wid, ident)
        for key, ident in (decisions.tracks.items() if decisions else ()):
            if self.gallery is not None and ident in self.gallery:
                _remember(self._tracks, key, ident)
        self._watermark = max((t for _, t in self.last_seen.values()), default=0.0)  # newest window end seen
        self._next_expiry = 0.0
        self._rebuilds_counted = 0  # builds of this process's gallery already on the counter
        # the embeddings agent and the gallery-log agent run in executor threads: one at a time here
        self._lock = threading.Lock()
        self._thresholds: dict[str, float] = {}  # model -> open-set threshold

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
        """Handle ``gallery.v1`` records: a tombstone (``gaitline forget``) removes the identity.

        An identity this index still held is tombstoned again, by the index, after it is gone from
        memory: an update it decided before the tombstone reached it, but published after the
        tombstone, would otherwise be the key's last record, win compaction and bring the person
        back at the next replay. Its own second tombstone finds nothing to remove, so this stops there.
        """
        outputs: list[Output] = []
        with self._lock:
            for rec in records:
                if rec.value is None and rec.key and self.forget(rec.key.decode("utf-8", "replace")):
                    outputs.append(Output(GALLERY, rec.key, None))
        return outputs

    def on_gallery_entries(self, records: list[Record]) -> list[Output]:
        """Apply every ``gallery.v1`` record, whoever wrote it (each index instance follows the whole log).

        A tombstone is :meth:`on_gallery_log`'s; an entry another instance wrote (its identity unknown
        here, or with more sightings than this instance has counted) replaces the local vector, so an
        identity enrolled in another instance's regions is matched here too. This instance's own
        entries come back with the count it already has and are skipped.
        """
        outputs: list[Output] = []
        for rec in records:
            if rec.value is None:
                outputs.extend(self.on_gallery_log([rec]))
                continue
            try:
                entry = GalleryEntry.from_bytes(rec.value)
            except SchemaError:
                continue
            with self._lock:
                g = self.gallery
                if g is None:
                    self.gallery = g = Gallery(entry.dim, entry.model, entry.model_version, self.settings.ann())
                if (entry.model, entry.model_version) != (g.model, g.model_version) or entry.dim != g.dim:
                    continue
                if entry.identity_id in g and entry.n_sightings <= g.counts[entry.identity_id]:
                    continue  # our own entry coming back, or an older one
                g.put(entry.identity_id, entry.vector, entry.n_sightings, entry.created_at)
                if entry.last_camera_id is not None and entry.last_seen is not None:
                    self.last_seen[entry.identity_id] = (entry.last_camera_id, entry.last_seen)
                    self._watermark = max(self._watermark, entry.last_seen)
        return outputs

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
                # redelivered (a rebalance, or read again after a crash): already decided and published
                if self.metrics:
                    self.metrics.redelivered.inc()
                continue
            self._watermark = max(self._watermark, emb.t_end)
            identity, out = self._match(emb)
            _remember(self._seen, emb.window_id, identity)
            outputs.extend(out)
        if self.metrics and self.gallery is not None:
            self.metrics.gallery_size.set(len(self.gallery))
            self.metrics.gallery_rebuilds.inc(max(0, self.gallery.rebuilds - self._rebuilds_counted))
            self._rebuilds_counted = max(self._rebuilds_counted, self.gallery.rebuilds)
            self.metrics.gallery_rebuilding.set(int(self.gallery.rebuilding))
            self.metrics.gallery_rebuild_seconds.set(self.gallery.last_rebuild_s)
        return outputs

    def _match(self, emb: Embedding) -> tuple[str, list[Output]]:
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
                            truth_id=emb.truth_id, evidence_png=emb.evidence_png, keyframe_jpeg=emb.keyframe_jpeg)
        entry = GalleryEntry(identity_id=identity, op="enrol" if enrolled else "update", model=emb.model,
                             model_version=emb.model_version, dim=self.gallery.dim,
                             n_sightings=self.gallery.counts[identity],
                             created_at=self.gallery.created[identity], updated_at=now,
                             last_camera_id=emb.camera_id, last_seen=emb.t_end, vector=vector)
        key = identity.encode()
        return identity, [Output(SIGHTINGS, key, sighting.to_bytes()), Output(GALLERY, key, entry.to_bytes())]

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
        if model not in self._thresholds:
            # reading the calibration loads the checkpoint (tens of ms): once per model, not per new track
            self._thresholds[model] = threshold_for(model, self.settings.match_threshold)
        return self._thresholds[model]

    def _dead(self, rec: Record, reason: str, kind: str) -> Output:
        if self.metrics:
            self.metrics.deadlettered.labels(kind).inc()
        return dead_letter_output(STAGE, rec, reason)


def threshold_for(model: str, override: float | None = None) -> float:
    """The open-set threshold for vectors of embedder ``model``: ``override`` when given, else the
    value calibrated for that model and written into its checkpoint (``gaitline eval threshold
    --write``), else :data:`DEFAULT_THRESHOLD`."""
    if override is not None:
        return override
    from gait.model.calibration import calibrated_threshold

    calibrated = calibrated_threshold(model)
    return DEFAULT_THRESHOLD if calibrated is None else calibrated


def _remember(memory: OrderedDict, key: object, value: object) -> None:  # type: ignore[type-arg]
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > _MEMORY:
        memory.popitem(last=False)
