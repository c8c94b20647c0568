"""Rebuild the gallery from the compacted ``gallery.v1`` topic (the gallery's log), and keep it current."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from index.gallery import AnnConfig, Gallery
from index.matcher import STAGE, DecisionLog
from streams.clients import Received, TopicTail, first_uncommitted_ms, read_since
from streams.exceptions import SchemaError
from streams.groups import group_id
from streams.schemas import GalleryEntry, Sighting
from streams.settings import KafkaSettings
from streams.topics import EMBEDDINGS, GALLERY, SIGHTINGS

log = logging.getLogger(__name__)


class GalleryLog:
    """The gallery as ``gallery.v1`` says it is: records are applied in log order.

    The latest record per identity wins; a tombstone (null value) removes the identity; a record
    from another model or model version than the first one read is skipped (its vectors do not
    compare), as is a record that does not decode.
    """

    def __init__(self, ann: AnnConfig | None = None) -> None:
        self.ann = ann
        self.gallery: Gallery | None = None
        self.last_seen: dict[str, tuple[str, float]] = {}  # identity -> (camera, time)

    def apply(self, key: bytes | None, value: bytes | None, offset: int) -> None:
        ident = key.decode() if key else ""
        if value is None:  # a tombstone: the identity was forgotten
            if self.gallery is not None:
                self.gallery.remove(ident)
            self.last_seen.pop(ident, None)
            return
        try:
            entry = GalleryEntry.from_bytes(value)
        except SchemaError as exc:
            log.warning("skipping bad gallery record at offset %s: %s", offset, exc)
            return
        if self.gallery is None:
            self.gallery = Gallery(entry.dim, entry.model, entry.model_version, self.ann)
        elif (entry.model, entry.model_version) != (self.gallery.model, self.gallery.model_version):
            log.warning("gallery record for %s at offset %s is from model %s %s, not %s %s: skipped", ident, offset,
                        entry.model, entry.model_version, self.gallery.model, self.gallery.model_version)
            return
        self.gallery.put(entry.identity_id, entry.vector, entry.n_sightings, entry.created_at)
        if entry.last_camera_id is not None and entry.last_seen is not None:
            self.last_seen[entry.identity_id] = (entry.last_camera_id, entry.last_seen)


class GalleryFollower:
    """A gallery that follows ``gallery.v1``: each :meth:`current` reads only what was appended since the last.

    The first call replays the log from the beginning; later calls cost the records written in
    between (enrolments, updates, tombstones from ``gaitline forget``), not the whole gallery.
    Thread-safe: readers share one gallery under a lock, held while they use it.
    """

    def __init__(self, kafka: KafkaSettings, ann: AnnConfig | None = None, client_id: str = "gaitline-gallery-follow",
                 consumer: Any = None, **options: Any) -> None:
        self.topic = GALLERY.full_name(kafka.namespace)
        self.log = GalleryLog(ann)
        self._lock = threading.Lock()
        self._tail = TopicTail(kafka, self.topic, client_id, consumer, **options)  # options: kafka-python's

    def catch_up(self) -> None:
        """Read the log up to its end as of now (call under the lock, or before sharing the follower)."""
        for rec in self._tail.to_end():
            self.log.apply(rec.key, rec.value, rec.offset)

    def poll(self, timeout_ms: int = 500) -> list[Received]:
        """What was appended since the last read (waits up to ``timeout_ms``), *not* applied to :attr:`log`:
        the index applies it to its own gallery, under its own rules (:meth:`IdentityMatcher.on_gallery_entries`)."""
        return self._tail.poll(timeout_ms)

    @contextmanager
    def current(self) -> Iterator[Gallery | None]:
        """The gallery as of now; other readers wait until the block ends (the gallery is not copied)."""
        with self._lock:
            self.catch_up()
            yield self.log.gallery

    def close(self) -> None:
        """Close the connection to the broker."""
        self._tail.close()


def replay_gallery(kafka: KafkaSettings, ann: AnnConfig | None = None,
                   ) -> tuple[Gallery | None, dict[str, tuple[str, float]]]:
    """Read ``gallery.v1`` from the beginning to its current end.

    Returns the gallery (None when the topic is empty) and each identity's last camera and time.
    """
    follower = GalleryFollower(kafka, ann, client_id="gaitline-gallery-replay")
    try:
        follower.catch_up()
    finally:
        follower.close()
    gallery = follower.log.gallery
    if gallery is not None:
        log.info("gallery replayed: %d identities from %s", len(gallery), follower.topic)
    return gallery, follower.log.last_seen


def recent_decisions(kafka: KafkaSettings, lookback_s: float, limit: int = 200_000) -> DecisionLog:
    """The identity decisions the index published on ``sightings.v1`` recently: from ``lookback_s``
    ago, or from when the oldest embedding the index group has not committed was written if that is
    earlier (every window it will read again was decided after that). At most ``limit`` records."""
    since_ms = int((time.time() - lookback_s) * 1000)
    oldest = first_uncommitted_ms(kafka, group_id(STAGE, kafka), EMBEDDINGS.full_name(kafka.namespace),
                                  "gaitline-index-decisions")
    if oldest is not None:
        since_ms = min(since_ms, oldest - 60_000)  # a minute of slack for clocks between hosts
    out = DecisionLog()
    for rec in read_since(kafka, SIGHTINGS.full_name(kafka.namespace), since_ms, "gaitline-index-decisions",
                          limit=limit):
        try:
            s = Sighting.from_bytes(rec.value)
        except SchemaError:
            continue
        out.windows[s.sighting_id] = s.identity_id
        out.tracks.pop((s.camera_id, s.track_id), None)
        out.tracks[(s.camera_id, s.track_id)] = s.identity_id
    log.info("decision log: %d windows, %d tracks since %s", len(out.windows), len(out.tracks),
             time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since_ms / 1000)))
    return out
