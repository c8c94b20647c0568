"""``helm/gaitline/values.schema.json``: the chart's values, typed, with the settings models' choices and bounds.

Helm validates the values against it on every ``install``, ``upgrade``, ``template`` and ``lint``: an
unknown key (a typo) or a choice the code would refuse is an error before anything reaches a cluster.
Where a value feeds a setting (``embed.device`` is ``GAITLINE_EMBED_DEVICE``), its type, choices and
bounds are read from that setting's pydantic model, so the two cannot drift apart.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_settings import BaseSettings

from api.settings import ApiSettings
from index.settings import IndexSettings
from streams.settings import KafkaSettings
from workers.embed.settings import EmbedSettings
from workers.frames.settings import FramesSettings

Schema = dict[str, Any]
_KEEP = ("type", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "anyOf")


def setting(model: type[BaseSettings], field: str, description: str | None = None) -> Schema:
    """The JSON schema of ``model.field`` (type, choices, bounds), with the variable it sets."""
    prop = model.model_json_schema()["properties"][field]
    out = {k: v for k, v in prop.items() if k in _KEEP}
    if "anyOf" in out:  # Optional[X]: the chart passes "" for unset
        out["anyOf"] = [s for s in out["anyOf"] if s.get("type") != "null"] + [{"type": "string", "maxLength": 0}]
    prefix = model.model_config.get("env_prefix", "")
    out["description"] = description or f"{prefix}{field.upper()}"
    return out


def obj(properties: dict[str, Schema], description: str = "", required: tuple[str, ...] = ()) -> Schema:
    """A closed object: only these keys."""
    out: Schema = {"type": "object", "additionalProperties": False, "properties": properties}
    if description:
        out["description"] = description
    if required:
        out["required"] = list(required)
    return out


def string(description: str = "", enum: tuple[str, ...] = ()) -> Schema:
    """A string, optionally one of ``enum``."""
    out: Schema = {"type": "string"}
    if enum:
        out["enum"] = list(enum)
    if description:
        out["description"] = description
    return out


def integer(minimum: int = 0, maximum: int | None = None, description: str = "") -> Schema:
    """An integer within bounds."""
    out: Schema = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        out["maximum"] = maximum
    if description:
        out["description"] = description
    return out


BOOL: Schema = {"type": "boolean"}
PORT = integer(1, 65535)
MAP: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
K8S_OBJECT: Schema = {"type": "object", "description": "passed to Kubernetes as it is"}
K8S_LIST: Schema = {"type": "array", "items": {"type": "object"}, "description": "passed to Kubernetes as it is"}
PEERS: Schema = {"type": "array", "items": {"type": "object"}, "description": "NetworkPolicyPeer list"}


def placement() -> dict[str, Schema]:
    """nodeSelector, tolerations, affinity."""
    return {"nodeSelector": MAP, "tolerations": K8S_LIST, "affinity": K8S_OBJECT}


def stage(extra: dict[str, Schema], metrics: Schema) -> Schema:
    """A stage's values: its own plus metrics port, resources and placement."""
    return obj({**extra, "metricsPort": metrics, "resources": K8S_OBJECT, **placement()})


def autoscaling(description: str) -> Schema:
    """A stage's autoscaling block."""
    return obj({"enabled": BOOL, "minReplicas": integer(1), "maxReplicas": integer(1),
                "lagThreshold": integer(1, description="records waiting per replica"),
                "cpuUtilization": integer(1, 100, "the HPA's target where KEDA is absent")}, description)


def schema() -> Schema:
    """The whole values schema."""
    port = setting(EmbedSettings, "metrics_port")
    port.pop("description")
    return {
        "$schema": "https://json-schema.org/draft-07/schema#",
        "title": "gaitline chart values",
        **obj({
            "image": obj({"repository": string(), "tag": string("empty = the chart's appVersion"),
                          "pullPolicy": string(enum=("Always", "IfNotPresent", "Never")),
                          "pullSecrets": {"type": "array", "items": {"type": "string"}}}),
            "kafka": obj({
                "bootstrap": setting(KafkaSettings, "bootstrap"),
                "namespace": setting(KafkaSettings, "namespace"),
                "securityProtocol": setting(KafkaSettings, "security_protocol"),
                "saslMechanism": setting(KafkaSettings, "sasl_mechanism"),
                "credentialsSecret": string("Secret with keys username and password"),
                "tls": obj({"caSecret": string("Secret with key ca.crt"),
                            "clientCertSecret": string("kubernetes.io/tls Secret")}),
            }),
            "topics": obj({"create": string("how the declared topics are created", ("job", "strimzi", "none")),
                           "replicas": integer(1, 32767, "replication factor"),
                           "strimziCluster": string("the strimzi.io/cluster label")}),
            "store": obj({"urlSecret": string("Secret with key url"),
                          "migrate": {**BOOL, "description": "a pre-install/pre-upgrade hook Job runs "
                                      "`gaitline store upgrade` (the stages then never alter the schema)"}}),
            "network": {"type": "object", "required": ["cameras"],
                        "description": "the camera network, in the configs/ schema (checked by the frames workers)",
                        "properties": {"cameras": {"type": "array", "minItems": 1, "items": {
                            "type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}}},
            "logging": obj({"format": string("GAITLINE_LOG_FORMAT", ("text", "json")),
                            "level": string("GAITLINE_LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"))}),
            "serviceAccount": obj({"create": BOOL, "name": string(), "annotations": MAP}),
            "podSecurityContext": K8S_OBJECT,
            "containerSecurityContext": K8S_OBJECT,
            **placement(),
            "frames": stage({"replicas": integer(1), "keyframeCrop": setting(FramesSettings, "keyframe_crop")}, port),
            "embed": stage({
                "replicas": integer(1),
                "model": setting(EmbedSettings, "model"),
                "device": setting(EmbedSettings, "device"),
                "precision": setting(EmbedSettings, "precision"),
                "compile": {"enum": ["auto", True, False], "description": "GAITLINE_EMBED_COMPILE; auto: CUDA only"},
                "cpuRuntime": setting(EmbedSettings, "cpu_runtime"),
                "maxBatch": setting(EmbedSettings, "max_batch"),
                "maxWaitS": setting(EmbedSettings, "max_wait_s"),
                "allocator": string("GAITLINE_ALLOCATOR", ("keep", "system")),
                "gpu": obj({"enabled": BOOL, "count": integer(1), "runtimeClassName": string(),
                            "nodeSelector": MAP, "tolerations": K8S_LIST}),
                "autoscaling": autoscaling("lag on tracklets.v1 (KEDA), else CPU (HPA)"),
            }, port),
            "index": stage({
                "matchThreshold": {"anyOf": [{"type": "number"}, {"type": "string", "maxLength": 0}],
                                   "description": "GAITLINE_INDEX_MATCH_THRESHOLD; empty = the model's value"},
                "annMinIdentities": setting(IndexSettings, "ann_min_identities"),
                "annKind": setting(IndexSettings, "ann_kind"),
                "annNprobe": setting(IndexSettings, "ann_nprobe"),
                "annEfSearch": setting(IndexSettings, "ann_ef_search"),
            }, port),
            "track": stage({"replicas": integer(1),
                            "autoscaling": autoscaling("lag on sightings.v1 (KEDA), else CPU (HPA)")}, port),
            "api": stage({
                "enabled": BOOL, "replicas": integer(1), "port": PORT, "tokensSecret": string("key tokens.json"),
                "probeSearch": BOOL,
                "webhook": obj({"url": setting(ApiSettings, "webhook_url"),
                                "timeoutSeconds": setting(ApiSettings, "webhook_timeout_s")}),
                "oidc": obj({"issuer": setting(ApiSettings, "oidc_issuer"),
                             "audience": setting(ApiSettings, "oidc_audience"),
                             "jwks": setting(ApiSettings, "oidc_jwks"),
                             "roleClaim": setting(ApiSettings, "oidc_role_claim"),
                             "userClaim": setting(ApiSettings, "oidc_user_claim")}),
                "ingress": obj({"enabled": BOOL, "className": string(), "host": string(), "annotations": MAP,
                                "tlsSecret": string("kubernetes.io/tls Secret")}),
            }, port),
            "retention": obj({"days": {"type": "number", "exclusiveMinimum": 0}}),
            "podDisruptionBudget": obj({"enabled": BOOL, "maxUnavailable": integer(1)}),
            "networkPolicy": obj({
                "enabled": BOOL,
                "api": obj({"from": PEERS}),
                "metrics": obj({"from": PEERS}),
                **{k: obj({"to": PEERS, "ports": {"type": "array", "items": PORT}})
                   for k in ("kafka", "store", "cameras", "apiOutbound")},
            }),
            "monitoring": obj({
                "serviceMonitor": obj({"enabled": BOOL, "interval": string(), "labels": MAP}),
                "prometheusRule": obj({"enabled": BOOL, "labels": MAP}),
                "rulesConfigMap": BOOL,
                "grafanaDashboard": obj({"enabled": BOOL, "labels": MAP}),
                "runbookBaseUrl": string(),
                "brokerLag": BOOL,
                "thresholds": obj({k: {"type": "number", "exclusiveMinimum": 0} for k in
                                   ("lagRecords", "deadLettersPerSecond", "endToEndP95Seconds", "apiP95Seconds")}),
            }),
            "terminationGracePeriodSeconds": integer(1),
        }),
    }


def render() -> str:
    """The file's text."""
    return json.dumps(schema(), indent=2) + "\n"
