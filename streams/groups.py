"""Consumer-group ids: every stage, replay, the demo and the benches name a stage's group here."""

from __future__ import annotations

from streams.settings import KafkaSettings


def group_id(stage: str, settings: KafkaSettings) -> str:
    """The consumer-group id of ``stage`` under the settings' namespace (namespaced like the topics)."""
    return f"{settings.namespace}.gaitline-{stage}" if settings.namespace else f"gaitline-{stage}"
