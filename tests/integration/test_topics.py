"""Topics are created with, or checked against, their declaration (streams/topics.py) on the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

from streams.admin import ensure_topics
from streams.exceptions import TopicMismatchError
from streams.settings import KafkaSettings
from streams.topics import GALLERY

pytestmark = pytest.mark.integration


def _configs(bootstrap: str, topic: str) -> dict[str, str]:
    admin = KafkaAdminClient(bootstrap_servers=[bootstrap])
    try:
        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        return {e[0]: e[1] for r in res for *_, entries in r.resources for e in entries}
    finally:
        admin.close()


def test_created_topics_carry_their_declaration_and_a_gallery_made_by_auto_creation_is_refused(kafka_broker):
    fresh = KafkaSettings(bootstrap=kafka_broker.bootstrap, namespace=f"t{uuid.uuid4().hex[:10]}")
    ensure_topics(fresh, partitions=2)
    gallery = _configs(fresh.bootstrap, GALLERY.full_name(fresh.namespace))
    assert gallery["cleanup.policy"] == "compact"
    ensure_topics(fresh, partitions=2)  # a second start finds them as declared

    # what broker auto-creation (or a hand-made topic) gives: no compaction, the default retention
    other = KafkaSettings(bootstrap=kafka_broker.bootstrap, namespace=f"t{uuid.uuid4().hex[:10]}")
    admin = KafkaAdminClient(bootstrap_servers=[other.bootstrap])
    admin.create_topics([NewTopic(GALLERY.full_name(other.namespace), 1, 1)])
    admin.close()
    with pytest.raises(TopicMismatchError, match=r"gallery\.v1 has cleanup\.policy=delete, declared compact"):
        ensure_topics(other, partitions=2)
    with pytest.raises(TopicMismatchError, match="replication factor 1, required 3"):
        ensure_topics(KafkaSettings(bootstrap=fresh.bootstrap, namespace=fresh.namespace, replication_factor=3),
                      partitions=2)
    with pytest.raises(TopicMismatchError, match="has 2 partitions, declared 4"):
        ensure_topics(fresh, partitions=4)

    # a stage started against the bad topic says so in one line and exits 2, before it consumes anything
    env = {**os.environ, "GAITLINE_KAFKA_BOOTSTRAP": other.bootstrap, "GAITLINE_KAFKA_NAMESPACE": other.namespace,
           "GAITLINE_TRACK_STORE_URL": "sqlite:///:memory:", "GAITLINE_TRACK_METRICS_PORT": "0"}
    res = subprocess.run([sys.executable, "-m", "gaitline", "worker", "track"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2, res.stderr[-2000:]
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error: topics on") and "cleanup.policy=delete" in last
