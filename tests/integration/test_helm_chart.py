"""The Helm chart lints, renders and validates for its three values profiles (real helm, offline schemas).

Profiles (`helm/gaitline/ci/`): a small CPU-only cluster with KEDA and the prometheus-operator, a GPU
cluster with Strimzi as well, and a plain cluster with none of them. Every rendered Kubernetes object is
validated strictly against the Kubernetes JSON schemas that `kubernetes-validate` ships, every KEDA,
prometheus-operator and Strimzi object against its CRD's schema (tests/data/chart/crds). Then what an SRE
relies on: readable Secrets, restricted pods, autoscalers that own the replica count, capability guards.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from gaitline.deploy.topics import configs as topic_configs
from streams.topics import ALL_TOPICS, TRACKLETS

from .conftest import _USED

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "gaitline"
CRDS = ROOT / "tests" / "data" / "chart" / "crds"
KUBE = "1.30.0"
OPERATORS = ("keda.sh/v1alpha1/ScaledObject", "keda.sh/v1alpha1/TriggerAuthentication",
             "monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PrometheusRule",
             "kafka.strimzi.io/v1beta2/KafkaTopic")
# profile -> the CRDs its cluster has
PROFILES: dict[str, tuple[str, ...]] = {"small-cpu": OPERATORS[:4], "gpu-cluster": OPERATORS, "no-operators": ()}


def helm() -> str:
    cached = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gaitline" / "bin" / "helm"
    found = shutil.which("helm") or (str(cached) if cached.exists() else None)
    if not found:
        pytest.fail("helm is missing: scripts/setup.sh builds it with `go install`")
    return found


def _args(values: dict | None, profile: str | None, api_versions: Iterable[str], tmp: Path | None) -> list[str]:
    args = ["--kube-version", KUBE]
    if profile:
        args += ["-f", str(CHART / "ci" / f"{profile}-values.yaml")]
    if values is not None:
        assert tmp is not None
        extra = tmp / "extra-values.yaml"
        extra.write_text(yaml.safe_dump(values))
        args += ["-f", str(extra)]
    for api in api_versions:
        args += ["--api-versions", api]
    return args


def render_text(values: dict | None = None, profile: str | None = None, api_versions: Iterable[str] = (),
                namespace: str = "vision", check: bool = True) -> subprocess.CompletedProcess[str]:
    """``helm template city`` of the chart with a profile and/or extra values."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [helm(), "template", "city", str(CHART), "-n", namespace,
               *_args(values, profile, api_versions, Path(tmp))]
        out = subprocess.run(cmd, capture_output=True, text=True)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def render(values: dict | None = None, profile: str | None = None, api_versions: Iterable[str] = (),
           namespace: str = "vision") -> list[dict[str, Any]]:
    """The rendered objects."""
    return [d for d in yaml.safe_load_all(render_text(values, profile, api_versions, namespace).stdout) if d]


def _find(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _pod_specs(docs: list[dict]) -> list[tuple[str, dict]]:
    out = []
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            out.append((d["metadata"]["name"], d["spec"]["template"]["spec"]))
        elif d["kind"] == "Pod":
            out.append((d["metadata"]["name"], d["spec"]))
    return out


# --- validation against schemas ---------------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """The CRD schema with unknown fields refused (the API server would prune them silently)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out \
                and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def crd_schemas() -> dict[tuple[str, str], jsonschema.protocols.Validator]:
    """``{(apiVersion, kind): validator}`` of every served version of the vendored CRDs, strict.

    OpenAPI v3 schemas are draft-4-like; their patterns are Go's (RE2), so the schemas themselves are not
    checked against Python's idea of a regex (prometheus-operator's ``(?i)`` mid-pattern would fail it)."""
    out = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
                out[key] = jsonschema.Draft4Validator(_strict(version["schema"]["openAPIV3Schema"]))
    return out


def invalid(docs: list[dict]) -> list[str]:
    """What fails validation (empty when everything passes)."""
    crds = crd_schemas()
    problems = []
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        key = (doc["apiVersion"], doc["kind"])
        try:
            if key in crds:
                crds[key].validate(doc)
            else:
                kubernetes_validate.validate(doc, KUBE, strict=True)
        except jsonschema.ValidationError as exc:
            problems.append(f"{where}: {'.'.join(map(str, exc.absolute_path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{where}: no schema for {doc['apiVersion']} {doc['kind']}")
    return problems


@pytest.mark.parametrize("profile", list(PROFILES))
def test_profile_lints(profile: str) -> None:
    # (helm lint has no --api-versions: it lints the capability-guarded branches as a cluster without the CRDs)
    out = subprocess.run([helm(), "lint", "--strict", str(CHART), *_args(None, profile, (), None)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("profile", list(PROFILES))
def test_profile_renders_valid_objects(profile: str) -> None:
    version = subprocess.run([helm(), "version", "--short"], capture_output=True, text=True).stdout.strip()
    _USED.append(f"real helm {version}; kubernetes-validate {kubernetes_validate.__version__} schemas {KUBE}")
    docs = render(profile=profile, api_versions=PROFILES[profile])
    assert len(docs) > 20
    assert invalid(docs) == []


def test_the_validation_sees_a_mistake() -> None:
    docs = render(profile="small-cpu", api_versions=PROFILES["small-cpu"])
    broken = copy.deepcopy(docs)
    _find(broken, "ScaledObject", "city-gaitline-embed")["spec"]["maxReplicas"] = 4    # KEDA calls it maxReplicaCount
    sts = _find(broken, "StatefulSet", "city-gaitline-frames")
    sts["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFS"] = True
    found = invalid(broken)
    assert any(p.startswith("ScaledObject/city-gaitline-embed") for p in found), found
    assert any(p.startswith("StatefulSet/city-gaitline-frames") for p in found), found


# --- what the objects must say ------------------------------------------------------------------------


def test_every_stage_runs_restricted_with_readable_secrets() -> None:
    docs = render(profile="small-cpu", api_versions=PROFILES["small-cpu"])
    pods = _pod_specs(docs)
    assert {n for n, _ in pods} >= {f"city-gaitline-{s}" for s in ("frames", "embed", "index", "track", "api")}
    for name, spec in pods:
        sc = spec["securityContext"]
        assert sc["runAsNonRoot"] and sc["runAsUser"] == 10001 and sc["fsGroup"] == 10001, name
        assert sc["seccompProfile"]["type"] == "RuntimeDefault" and spec["automountServiceAccountToken"] is False
        for c in spec["containers"]:
            csc = c["securityContext"]
            assert csc["readOnlyRootFilesystem"] and not csc["allowPrivilegeEscalation"], name
            assert csc["capabilities"]["drop"] == ["ALL"], name
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts or c["name"] == "test", name     # the one writable path
        for vol in spec.get("volumes", []):
            if "secret" in vol:
                # group-readable for fsGroup 10001: 0400 for root was unreadable by uid 10001
                assert vol["secret"]["defaultMode"] == 0o440, (name, vol)
        if name not in ("city-gaitline-topics", "city-gaitline-store-migrate", "city-gaitline-test"):
            assert spec["serviceAccountName"] == "city-gaitline", name
    sa = _find(docs, "ServiceAccount", "city-gaitline")
    assert sa["automountServiceAccountToken"] is False
    api = _find(docs, "Deployment", "city-gaitline-api")["spec"]["template"]["spec"]
    container = api["containers"][0]
    assert container["args"][:2] == ["api", "serve"] and container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["GAITLINE_KAFKA_SSL_CAFILE"] == "/etc/gaitline/kafka/ca/ca.crt"
    assert {"name": "kafka-ca", "mountPath": "/etc/gaitline/kafka/ca", "readOnly": True} in container["volumeMounts"]


def test_pdbs_network_policies_and_ingress() -> None:
    docs = render(profile="small-cpu", api_versions=PROFILES["small-cpu"])
    pdbs = {d["metadata"]["name"] for d in docs if d["kind"] == "PodDisruptionBudget"}
    assert pdbs == {f"city-gaitline-{s}" for s in ("frames", "embed", "index", "track", "api")}
    api = _find(docs, "NetworkPolicy", "city-gaitline-api")["spec"]
    http = next(r for r in api["ingress"] if r["ports"][0]["port"] == 8080)
    assert {"ipBlock": {"cidr": "10.20.0.0/24"}} in http["from"]
    embed = _find(docs, "NetworkPolicy", "city-gaitline-embed")["spec"]
    assert set(embed["policyTypes"]) == {"Ingress", "Egress"}
    assert [r["ports"] for r in embed["egress"]][1] == [{"port": 9093, "protocol": "TCP"}]  # Kafka only (after DNS)
    assert not any(p["port"] == 5432 for r in embed["egress"] for p in r["ports"])          # no store for embed
    track = _find(docs, "NetworkPolicy", "city-gaitline-track")["spec"]
    assert any(p["port"] == 5432 for r in track["egress"] for p in r["ports"])
    ingress = _find(docs, "Ingress", "city-gaitline-api")["spec"]
    assert ingress["tls"] == [{"hosts": ["gaitline.town.example"], "secretName": "gaitline-town-tls"}]
    migrate = _find(docs, "NetworkPolicy", "city-gaitline-store-migrate")["spec"]
    assert any(p["port"] == 5432 for r in migrate["egress"] for p in r["ports"])  # the migration reaches the store


def test_the_store_is_migrated_before_the_release_s_pods_start() -> None:
    docs = render(profile="small-cpu", api_versions=PROFILES["small-cpu"])
    job = _find(docs, "Job", "city-gaitline-store-migrate")
    notes = job["metadata"]["annotations"]
    assert notes["helm.sh/hook"] == "pre-install,pre-upgrade" and int(notes["helm.sh/hook-weight"]) < 0
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["store", "upgrade"]
    url = next(e for e in container["env"] if e["name"] == "GAITLINE_STORE_URL")
    assert url["valueFrom"]["secretKeyRef"]["key"] == "url"
    assert not any(d["kind"] == "Job" and d["metadata"]["name"].endswith("store-migrate")
                   for d in render({"store": {"migrate": False}}))


def test_keda_owns_the_replicas_and_can_read_a_secured_cluster() -> None:
    docs = render(profile="small-cpu", api_versions=PROFILES["small-cpu"])
    embed = _find(docs, "Deployment", "city-gaitline-embed")
    assert "replicas" not in embed["spec"], "the autoscaler owns the count: a replicas field resets it on upgrade"
    so = _find(docs, "ScaledObject", "city-gaitline-embed")["spec"]
    assert so["maxReplicaCount"] == 4 and so["maxReplicaCount"] <= TRACKLETS.partitions
    trigger = so["triggers"][0]
    assert trigger["metadata"]["topic"] == "tracklets.v1" and trigger["metadata"]["consumerGroup"] == "gaitline-embed"
    assert trigger["metadata"]["sasl"] == "scram_sha512" and trigger["metadata"]["tls"] == "enable"
    auth = _find(docs, "TriggerAuthentication", trigger["authenticationRef"]["name"])["spec"]["secretTargetRef"]
    assert {(a["parameter"], a["name"]) for a in auth} == {("username", "gaitline-kafka-login"),
                                                          ("password", "gaitline-kafka-login"),
                                                          ("ca", "kafka-cluster-ca")}
    index = _find(docs, "Deployment", "city-gaitline-index")["spec"]
    assert index["replicas"] == 1 and index["strategy"]["type"] == "Recreate"   # never two galleries
    assert not any(d["kind"] == "HorizontalPodAutoscaler" for d in docs)


def test_replicas_are_capped_at_the_partitions(tmp_path: Path) -> None:
    out = render_text({"embed": {"autoscaling": {"maxReplicas": TRACKLETS.partitions + 1}}},
                      api_versions=OPERATORS, check=False)
    assert out.returncode != 0 and "above tracklets.v1's 6 partitions" in out.stderr


def test_gpu_profile_places_the_agents_on_gpu_nodes() -> None:
    docs = render(profile="gpu-cluster", api_versions=PROFILES["gpu-cluster"])
    spec = _find(docs, "Deployment", "city-gaitline-embed")["spec"]["template"]["spec"]
    assert spec["runtimeClassName"] == "nvidia" and spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    limits = spec["containers"][0]["resources"]["limits"]
    assert limits == {"memory": "16Gi", "nvidia.com/gpu": 1}      # one limits map, both in it
    assert "runtimeClassName" not in _find(docs, "Deployment", "city-gaitline-index")["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["GAITLINE_KAFKA_SSL_CERTFILE"] == "/etc/gaitline/kafka/client/tls.crt"
    assert _find(docs, "ScaledObject", "city-gaitline-track")["spec"]["triggers"][0]["metadata"]["topic"] \
        == "sightings.v1"
    topics = {d["spec"]["topicName"]: d for d in docs if d["kind"] == "KafkaTopic"}
    assert set(topics) == {t.name for t in ALL_TOPICS}                            # from streams/topics.py
    for t in ALL_TOPICS:
        assert topics[t.name]["spec"]["partitions"] == t.partitions
        assert topics[t.name]["spec"]["config"] == topic_configs(t, 3)
        assert topics[t.name]["metadata"]["labels"]["strimzi.io/cluster"] == "city"
    # Strimzi makes the topics: the only hook Job left is the store's migration
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Job"] == ["city-gaitline-store-migrate"]


def test_without_operators_nothing_needs_a_crd() -> None:
    docs = render(profile="no-operators")
    kinds = {d["kind"] for d in docs}
    assert not kinds & {"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule", "KafkaTopic"}
    hpa = _find(docs, "HorizontalPodAutoscaler", "city-gaitline-embed")["spec"]
    assert hpa["minReplicas"] == 2 and hpa["maxReplicas"] == 6
    assert "replicas" not in _find(docs, "Deployment", "city-gaitline-embed")["spec"]
    assert _find(docs, "Deployment", "city-gaitline-track")["spec"]["replicas"] == 2
    rules = yaml.safe_load(_find(docs, "ConfigMap", "city-gaitline-rules")["data"]["gaitline-rules.yaml"])
    assert any(r.get("alert") == "GaitlineCameraSilent" for g in rules["groups"] for r in g["rules"])
    job = _find(docs, "Job", "city-gaitline-topics")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["kafka", "topics"]
    assert {"name": "GAITLINE_KAFKA_REPLICATION_FACTOR", "value": "3"} in container["env"]
    strimzi = render_text({"topics": {"create": "strimzi"}}, check=False)
    assert strimzi.returncode != 0 and "no kafka.strimzi.io/v1beta2 KafkaTopic CRD" in strimzi.stderr


def test_helm_test_and_notes() -> None:
    docs = render(profile="small-cpu", api_versions=PROFILES["small-cpu"])
    test = _find(docs, "Pod", "city-gaitline-test")
    assert test["metadata"]["annotations"]["helm.sh/hook"] == "test"
    urls = test["spec"]["containers"][0]["args"][1:]
    assert "http://city-gaitline-api:8080/readyz" in urls and len(urls) == 5
    # `helm template` leaves NOTES.txt out: render a copy of the chart where it has another name
    with tempfile.TemporaryDirectory() as tmp:
        chart = Path(tmp) / "gaitline"
        shutil.copytree(CHART, chart)
        (chart / "templates" / "NOTES.txt").rename(chart / "notes.txt")
        (chart / "templates" / "notes-preview.yaml").write_text(
            'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\ndata:\n  notes: |\n'
            '{{ tpl (.Files.Get "notes.txt") . | indent 4 }}\n')
        out = subprocess.run([helm(), "template", "city", str(chart), "-n", "vision", "--show-only",
                              "templates/notes-preview.yaml", *_args(None, "no-operators", (), None)],
                             capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    notes = yaml.safe_load(out.stdout)["data"]["notes"]
    assert "helm test city" in notes and "LEFT OUT: the ServiceMonitor" in notes
    assert "CPU HorizontalPodAutoscaler" in notes


def test_the_values_schema_refuses_typos_and_bad_choices() -> None:
    for values, said in (({"embed": {"devise": "cuda"}}, "devise"), ({"embed": {"device": "gpu"}}, "device"),
                         ({"kafka": {"securityProtocol": "TLS"}}, "securityProtocol"),
                         ({"embed": {"maxBatch": 100000}}, "maxBatch")):
        out = render_text(values, check=False)
        assert out.returncode != 0 and said in out.stderr, (values, out.stderr)


def _env(docs: list[dict], kind: str, name: str) -> dict[str, Any]:
    container = _find(docs, kind, name)["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_the_control_room_shows_the_deployed_network_and_takes_its_webhook_and_idp() -> None:
    docs = render()
    api = _find(docs, "Deployment", "city-gaitline-api")["spec"]["template"]["spec"]
    env = _env(docs, "Deployment", "city-gaitline-api")
    # the site map is the network the frames stage runs, not the shipped example
    assert env["GAITLINE_API_NETWORK"] == "/etc/gaitline/network/network.yaml"
    assert {"name": "network", "configMap": {"name": "city-gaitline-network"}} in api["volumes"]
    assert not {k for k in env if k.startswith(("GAITLINE_API_WEBHOOK", "GAITLINE_API_OIDC"))}
    # CPU pods pick their own runtime and compile nothing unless asked
    embed = _env(docs, "Deployment", "city-gaitline-embed")
    assert "GAITLINE_EMBED_COMPILE" not in embed and embed["GAITLINE_EMBED_CPU_RUNTIME"] == "auto"
    assert _env(docs, "StatefulSet", "city-gaitline-frames")["GAITLINE_FRAMES_KEYFRAME_CROP"] == "false"

    idp = {"issuer": "https://idp.example", "audience": "gaitline", "jwks": "https://idp.example/jwks"}
    env = _env(render({"api": {"webhook": {"url": "https://hooks.example/gl"}, "oidc": idp}}),
               "Deployment", "city-gaitline-api")
    assert env["GAITLINE_API_WEBHOOK_URL"] == "https://hooks.example/gl"
    assert env["GAITLINE_API_WEBHOOK_TIMEOUT_S"] == "5"
    assert (env["GAITLINE_API_OIDC_ISSUER"], env["GAITLINE_API_OIDC_AUDIENCE"], env["GAITLINE_API_OIDC_JWKS"]) == \
        (idp["issuer"], idp["audience"], idp["jwks"])
    assert env["GAITLINE_API_OIDC_ROLE_CLAIM"] == "roles"
    # the network policy lets the API reach them (port 443 unless told), and only when they are set
    def api_egress_ports(docs: list[dict]) -> set[int]:
        pol = _find(docs, "NetworkPolicy", "city-gaitline-api")["spec"]["egress"]
        return {p["port"] for rule in pol for p in rule.get("ports", [])}
    assert 443 not in api_egress_ports(render())
    assert 443 in api_egress_ports(render({"api": {"webhook": {"url": "https://hooks.example/gl"}}}))
    assert 8443 in api_egress_ports(render({"api": {"oidc": idp}, "networkPolicy": {"apiOutbound": {"ports": [8443]}}}))
    # an issuer without an audience would accept any of its tokens: refused at render time
    out = render_text({"api": {"oidc": {"issuer": "https://idp.example"}}}, check=False)
    assert out.returncode != 0 and "api.oidc.audience is required" in out.stderr
    out = render_text({"embed": {"cpuRuntime": "fast"}}, check=False)
    assert out.returncode != 0 and "cpuRuntime" in out.stderr
