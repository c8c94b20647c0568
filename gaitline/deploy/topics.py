"""``helm/gaitline/files/topics.yaml``: the topic declaration of ``streams/topics.py``, for the chart."""

from __future__ import annotations

import yaml

from streams.topics import ALL_TOPICS, EMBEDDINGS, SIGHTINGS, TRACKLETS, TopicSpec

STAGE_INPUTS: dict[str, TopicSpec] = {"embed": TRACKLETS, "index": EMBEDDINGS, "track": SIGHTINGS}
"""The topic each consumer-group stage reads (its group is ``gaitline-<stage>``, see ``streams.groups``):
KEDA scales a stage on its group's lag there, and never beyond that topic's partitions."""

HEADER = "# Generated from streams/topics.py by `.venv/bin/python -m gaitline.deploy`: do not edit.\n"


def configs(spec: TopicSpec, replication_factor: int) -> dict[str, str]:
    """``spec``'s broker configs for topics with ``replication_factor`` replicas (``min.insync.replicas``
    depends on it where ``TopicSpec.configs`` takes it)."""
    try:
        return spec.configs(replication_factor=replication_factor)  # type: ignore[call-arg]
    except TypeError:
        return spec.configs()


def render() -> str:
    """The file's text: every declared topic with its broker configs (``config`` for one replica,
    ``configReplicated`` for three or more), and each stage's input topic."""
    data = {
        "topics": [{"name": t.name, "key": t.key, "partitions": t.partitions, "compacted": t.compacted,
                    "config": configs(t, 1), "configReplicated": configs(t, 3)} for t in ALL_TOPICS],
        "stages": {stage: {"group": f"gaitline-{stage}", "topic": t.name, "partitions": t.partitions}
                   for stage, t in STAGE_INPUTS.items()},
    }
    return HEADER + yaml.safe_dump(data, sort_keys=False)
