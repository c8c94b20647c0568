"""Every topic gaitline uses, declared once: name, key, partitions, retention, schema."""

from __future__ import annotations

from dataclasses import dataclass

from streams.schemas import DeadLetter, Embedding, GalleryEntry, Message, Sighting, TrackletWindow

_DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """A topic's declaration. ``name`` is the base name; a namespace may prefix it."""

    name: str
    key: str
    schema: type[Message]
    partitions: int
    retention_ms: int | None
    compacted: bool = False

    def full_name(self, namespace: str = "") -> str:
        """The topic's name on the broker; ``namespace`` isolates demos and tests."""
        return f"{namespace}.{self.name}" if namespace else self.name

    def configs(self, replication_factor: int = 1) -> dict[str, str]:
        """Topic-level broker configs for creation (and for verifying an existing topic).

        With ``replication_factor`` 3 or more, a write needs two in-sync replicas (``acks=all``
        then survives one broker lost without losing an acknowledged record)."""
        out = {"cleanup.policy": "compact" if self.compacted else "delete",
               "min.insync.replicas": str(2 if replication_factor >= 3 else 1)}
        if self.retention_ms is not None:
            out["retention.ms"] = str(self.retention_ms)
        if self.compacted:
            # a forgotten identity's tombstone must not linger for the default day
            out["delete.retention.ms"] = str(3600 * 1000)
            out["min.compaction.lag.ms"] = "0"
        return out


TRACKLETS = TopicSpec("tracklets.v1", "camera_id/track_id", TrackletWindow, partitions=6,
                      retention_ms=1 * _DAY_MS)
EMBEDDINGS = TopicSpec("embeddings.v1", "region", Embedding, partitions=6, retention_ms=7 * _DAY_MS)
SIGHTINGS = TopicSpec("sightings.v1", "identity_id", Sighting, partitions=6, retention_ms=30 * _DAY_MS)
GALLERY = TopicSpec("gallery.v1", "identity_id", GalleryEntry, partitions=1, retention_ms=None,
                    compacted=True)
DEADLETTER = TopicSpec("deadletter.v1", "source key", DeadLetter, partitions=1, retention_ms=14 * _DAY_MS)

ALL_TOPICS: tuple[TopicSpec, ...] = (TRACKLETS, EMBEDDINGS, SIGHTINGS, GALLERY, DEADLETTER)
