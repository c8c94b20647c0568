"""Every metric a stage declares follows gaitline.metrics' naming rule, as Prometheus exposes it.

Each container is built on a fresh registry and every labelled metric gets one child, so the
families carry the samples a scrape would see: a counter's ``<name>_total``, a histogram's
``_bucket``/``_count``/``_sum``. (That alerts and the dashboard name only declared metrics:
test_monitoring_files.py.)
"""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics import MetricWrapperBase

from api.metrics import ApiMetrics
from gaitline.metrics import FORBIDDEN_LABELS, NAME_RULE, STAGES, UNITS
from index.metrics import IndexMetrics
from workers.embed.metrics import EmbedMetrics
from workers.frames.metrics import FramesMetrics
from workers.track.metrics import TrackMetrics

# each stage's container, in data-path order
CONTAINERS: dict[str, type] = {"frames": FramesMetrics, "embed": EmbedMetrics, "index": IndexMetrics,
                               "track": TrackMetrics, "api": ApiMetrics}
# what each kind of family exposes beside its name (prometheus_client drops a counter's _total from the family)
SUFFIXES = {"counter": {"_total", "_created"}, "gauge": {""}, "histogram": {"_bucket", "_count", "_sum", "_created"}}


def exposed(container: type) -> CollectorRegistry:
    """A fresh registry holding ``container``'s metrics, each labelled one with a child (label values ``x``)."""
    registry = CollectorRegistry()
    metrics = container(registry)
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase) and metric._labelnames:
            metric.labels(*("x" for _ in metric._labelnames))
    return registry


def declared_names() -> set[str]:
    """Every sample name the stages expose (``_total``, ``_bucket``, ... included, ``_created`` not)."""
    return {s.name for container in CONTAINERS.values() for family in exposed(container).collect()
            for s in family.samples if not s.name.endswith("_created")}


def test_every_stage_has_a_container() -> None:
    assert tuple(CONTAINERS) == STAGES


def problems(stage: str, container: type) -> list[str]:
    """What breaks the naming rule in ``container``, declared by ``stage`` (empty when nothing does)."""
    found: list[str] = []
    families = list(exposed(container).collect())
    attributes = [m for m in vars(container(CollectorRegistry())).values() if isinstance(m, MetricWrapperBase)]
    if not families or len(families) != len(attributes):
        found.append(f"{container.__name__}: {len(attributes)} metrics, {len(families)} registered")
    units = tuple(f"_{u}" for u in UNITS)
    for family in families:
        if family.type not in SUFFIXES:
            found.append(f"{family.name}: {family.type} is not a counter, gauge or histogram")
            continue
        full = family.name + "_total" if family.type == "counter" else family.name
        if not NAME_RULE.fullmatch(full):
            found.append(f"{full} breaks gaitline_<stage>_<what>_<unit>")
        if full.split("_")[1:2] != [stage]:
            found.append(f"{full} is declared by the {stage} stage")
        if family.type == "counter" and f"{family.name}_total" not in {s.name for s in family.samples}:
            found.append(f"{full}: no _total sample")
        if family.type != "counter" and not full.endswith(units):
            found.append(f"{full}: a {family.type} ends with a unit from {UNITS}")
        found += [f"{s.name}: not a {family.type}'s sample" for s in family.samples
                  if s.name.removeprefix(family.name) not in SUFFIXES[family.type]]
        personal = FORBIDDEN_LABELS & set().union(*(s.labels for s in family.samples))
        if personal:
            found.append(f"{full} is labelled by {sorted(personal)}")
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_names_follow_the_rule(stage: str) -> None:
    assert problems(stage, CONTAINERS[stage]) == []


class _Sloppy:
    """A container with one mistake per metric."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.fps = Gauge("gaitline_frames_fps", "no unit", registry=registry)
        self.seen = Counter("gaitline_frames_people_total", "a person's label", ["identity"], registry=registry)
        self.elsewhere = Counter("gaitline_embed_windows_total", "another stage's name", registry=registry)
        self.gauged = Gauge("gaitline_frames_queued_total", "a gauge that reads like a counter", registry=registry)
        self.unregistered = Gauge("gaitline_frames_lost_seconds", "not in the registry", registry=None)


def test_the_check_finds_each_mistake() -> None:
    found = problems("frames", _Sloppy)
    assert any("5 metrics, 4 registered" in p for p in found)
    assert any(p.startswith("gaitline_frames_fps breaks") for p in found)
    assert any(p.startswith("gaitline_frames_fps: a gauge ends with a unit") for p in found)
    assert any("gaitline_frames_people_total is labelled by ['identity']" in p for p in found)
    assert any(p.startswith("gaitline_embed_windows_total is declared by the frames stage") for p in found)
    assert any(p.startswith("gaitline_frames_queued_total: a gauge ends with a unit") for p in found)
    assert len(found) == 6, found


def test_the_rule_refuses_what_it_should() -> None:
    for bad in ("gaitline_frames_fps", "gaitline_embed_batch_size", "gaitline_index_gallery_rebuilds",
                "gaitline_frames_total", "gaitline_video_frames_total", "frames_frames_total",
                "gaitline_frames_Frames_total", "gaitline_frames__frames_total"):
        assert not NAME_RULE.fullmatch(bad), bad
    assert NAME_RULE.fullmatch("gaitline_frames_rate_frames_per_second")
    assert NAME_RULE.fullmatch("gaitline_index_gallery_rebuilding_builds")
