"""Rebuild the gallery from the compacted ``gallery.v1`` topic (the gallery's log)."""

from __future__ import annotations

import logging

from kafka import KafkaConsumer, TopicPartition

from index.gallery import Gallery
from streams.exceptions import SchemaError
from streams.schemas import GalleryEntry
from streams.settings import KafkaSettings
from streams.topics import GALLERY

log = logging.getLogger(__name__)


def replay_gallery(kafka: KafkaSettings) -> Gallery | None:
    """Read ``gallery.v1`` from the beginning to its current end; None when it is empty.

    The latest record per identity wins; a tombstone (null value) removes the identity.
    """
    topic = GALLERY.full_name(kafka.namespace)
    consumer = KafkaConsumer(client_id="gaitline-gallery-replay", enable_auto_commit=False,
                             **kafka.kafka_python_kwargs())
    gallery: Gallery | None = None
    pending_removals: set[str] = set()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return None
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for batch in consumer.poll(timeout_ms=1000).values():
                for msg in batch:
                    ident = msg.key.decode() if msg.key else ""
                    if msg.value is None:
                        if gallery is not None:
                            gallery.remove(ident)
                        pending_removals.add(ident)
                        continue
                    try:
                        entry = GalleryEntry.from_bytes(msg.value)
                    except SchemaError as exc:
                        log.warning("skipping bad gallery record at offset %s: %s", msg.offset, exc)
                        continue
                    gallery = gallery or Gallery(entry.dim)
                    pending_removals.discard(ident)
                    gallery.put(entry.identity_id, entry.vector, entry.n_sightings, entry.created_at)
    finally:
        consumer.close()
    if gallery is not None:
        log.info("gallery replayed: %d identities from %s", len(gallery), topic)
    return gallery
