"""Rebuild the gallery from the compacted ``gallery.v1`` topic (the gallery's log)."""

from __future__ import annotations

import logging

from kafka import KafkaConsumer, TopicPartition

from index.gallery import AnnConfig, Gallery
from streams.exceptions import SchemaError
from streams.schemas import GalleryEntry
from streams.settings import KafkaSettings
from streams.topics import GALLERY

log = logging.getLogger(__name__)


def replay_gallery(kafka: KafkaSettings, ann: AnnConfig | None = None,
                   ) -> tuple[Gallery | None, dict[str, tuple[str, float]]]:
    """Read ``gallery.v1`` from the beginning to its current end.

    Returns the gallery (None when the topic is empty) and each identity's last camera and time.

    The latest record per identity wins; a tombstone (null value) removes the identity.
    """
    topic = GALLERY.full_name(kafka.namespace)
    consumer = KafkaConsumer(client_id="gaitline-gallery-replay", enable_auto_commit=False,
                             **kafka.kafka_python_kwargs())
    gallery: Gallery | None = None
    last_seen: dict[str, tuple[str, float]] = {}
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return None, last_seen
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for batch in consumer.poll(timeout_ms=1000).values():
                for msg in batch:
                    ident = msg.key.decode() if msg.key else ""
                    if msg.value is None:  # a tombstone: the identity was forgotten
                        if gallery is not None:
                            gallery.remove(ident)
                        last_seen.pop(ident, None)
                        continue
                    try:
                        entry = GalleryEntry.from_bytes(msg.value)
                    except SchemaError as exc:
                        log.warning("skipping bad gallery record at offset %s: %s", msg.offset, exc)
                        continue
                    if gallery is None:
                        gallery = Gallery(entry.dim, entry.model, entry.model_version, ann)
                    elif (entry.model, entry.model_version) != (gallery.model, gallery.model_version):
                        log.warning("gallery record for %s at offset %s is from model %s %s, not %s %s: "
                                    "skipped", ident, msg.offset, entry.model, entry.model_version,
                                    gallery.model, gallery.model_version)
                        continue
                    gallery.put(entry.identity_id, entry.vector, entry.n_sightings, entry.created_at)
                    if entry.last_camera_id is not None and entry.last_seen is not None:
                        last_seen[entry.identity_id] = (entry.last_camera_id, entry.last_seen)
    finally:
        consumer.close()
    if gallery is not None:
        log.info("gallery replayed: %d identities from %s", len(gallery), topic)
    return gallery, last_seen
