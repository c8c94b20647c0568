"""``helm/gaitline/files/dashboard.json``: the Grafana dashboard, as code (grafana-foundation-sdk).

One dashboard for one release at a time: the ``$namespace`` and ``$release`` variables select it (two
releases are never summed together), ``$camera`` narrows the frames panels. Every query selects on the
``namespace``, ``release`` and ``stage`` labels the chart's ServiceMonitor puts on its targets. Rows
follow the data path: cameras, embedding, identities, store, control room. ``tests/unit/test_monitoring_files.py``
checks that every query names only registered metrics and that every registered metric is on a panel or
in an alert; ``tests/integration/test_helm_dashboard.py`` parses every query with promtool.
"""

from __future__ import annotations

import json

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh, VariableSort

DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
SEL = 'namespace="$namespace",release="$release"'
CAM = f'{SEL},camera=~"$camera"'
RATE = "$__rate_interval"
STAGES = "frames|embed|index|track|api"


def _q(expr: str, legend: str = "") -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).datasource(DS)
    return query.legend_format(legend) if legend else query


def p95(metric: str, sel: str = SEL, by: str = "", q: float = 0.95) -> str:
    """The ``q`` quantile of histogram ``metric`` (``_bucket`` is added), optionally per label ``by``."""
    group = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{{{sel}}}[{RATE}])))"


def series(title: str, unit: str, *queries: prometheus.Dataquery, description: str = "",
           width: int = 8) -> timeseries.Panel:
    """A time-series panel."""
    panel = timeseries.Panel().title(title).unit(unit).datasource(DS).height(8).span(width)
    for query in queries:
        panel = panel.with_target(query)
    return panel.description(description) if description else panel


def single(title: str, unit: str, query: prometheus.Dataquery, description: str) -> stat.Panel:
    """A single-number panel."""
    return (stat.Panel().title(title).unit(unit).datasource(DS).height(4).span(4).with_target(query)
            .description(description))


def variables(d: db.Dashboard) -> db.Dashboard:
    """datasource, namespace, release, camera."""
    d = d.with_variable(db.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
    for name, query, multi in (
        ("namespace", f'label_values(up{{stage=~"{STAGES}"}}, namespace)', False),
        ("release", f'label_values(up{{namespace="$namespace",stage=~"{STAGES}"}}, release)', False),
        # the cameras the network declares (a camera that never delivered a frame is listed too)
        ("camera", f"label_values(gaitline:frames_camera_configured:info{{{SEL}}}, camera)", True),
    ):
        var = (db.QueryVariable(name).label(name).query(query).datasource(DS)
               .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC))
        if multi:
            var = var.multi(True).include_all(True).all_value(".*")
        d = d.with_variable(var)
    return d


def build() -> db.Dashboard:
    """The dashboard."""
    d = (db.Dashboard("gaitline pipeline").uid("gaitline-pipeline").tags(["gaitline"]).refresh("30s")
         .time("now-1h", "now").timezone("browser").editable())
    d = variables(d)
    d = d.with_row(db.Row("Health"))
    d = d.with_panel(single("Stages up", "short", _q(f'sum(up{{{SEL},stage=~"{STAGES}"}})'),
                            "Targets answering on /metrics, all stages"))
    d = d.with_panel(single(
        "Cameras silent", "short",
        _q(f"count(gaitline:frames_camera_configured:info{{{SEL}}} unless on (camera) "
           f"(sum by (camera) (rate(gaitline_frames_frames_total{{{SEL}}}[5m])) > 0)) or vector(0)"),
        "Declared cameras that delivered no frame in 5 minutes (GaitlineCameraSilent)"))
    d = d.with_panel(single("Sightings stored /s", "ops",
                            _q(f"sum(rate(gaitline_track_sightings_stored_total{{{SEL}}}[{RATE}]))"),
                            "What reaches the store, end of the pipeline"))
    d = d.with_panel(single("End-to-end p95", "s", _q(p95("gaitline_track_end_to_end_seconds")),
                            "Window closed to sighting stored (GaitlineEndToEndSlow)"))
    d = d.with_panel(single("Gallery", "short", _q(f"sum(gaitline_index_gallery_identities{{{SEL}}})"),
                            "Identities the index holds"))
    d = d.with_panel(single("Dead letters /s", "ops",
                            _q(f'sum(rate({{__name__=~"gaitline_(embed|index|track)_deadlettered_total",{SEL}}}'
                               f"[{RATE}])) or vector(0)"),
                            "All stages (GaitlineDeadLetters)"))
    d = d.with_panel(series("Targets up by stage", "short", _q(f'sum by (stage) (up{{{SEL},stage=~"{STAGES}"}})',
                                                              "{{stage}}"), width=24))

    d = d.with_row(db.Row("Cameras (frames)"))
    d = d.with_panel(series("Frames per second by camera", "fps",
                            _q(f"sum by (camera) (gaitline_frames_rate_frames_per_second{{{CAM}}})", "{{camera}}")))
    d = d.with_panel(series(
        "Windows published / dropped", "ops",
        _q(f"sum by (camera) (rate(gaitline_frames_windows_published_total{{{CAM}}}[{RATE}]))", "{{camera}}"),
        _q(f"sum by (camera, reason) (rate(gaitline_frames_windows_dropped_total{{{CAM}}}[{RATE}]))",
           "{{camera}} dropped: {{reason}}"),
        description="Dropped: low-quality silhouettes (GaitlineWindowsMostlyDropped)"))
    d = d.with_panel(series("Active tracks", "short",
                            _q(f"sum by (camera) (gaitline_frames_active_tracks{{{CAM}}})", "{{camera}}")))
    d = d.with_panel(series(
        "Decode / segment p95", "s",
        _q(p95("gaitline_frames_decode_seconds", CAM, "camera"), "{{camera}} decode"),
        _q(p95("gaitline_frames_segment_seconds", CAM, "camera"), "{{camera}} segment and track")))
    d = d.with_panel(series(
        "Frames skipped, source reconnects", "short",
        _q(f"sum by (camera, reason) (increase(gaitline_frames_frames_skipped_total{{{CAM}}}[{RATE}]))",
           "{{camera}} skipped: {{reason}}"),
        _q(f"sum by (camera) (increase(gaitline_frames_reconnects_total{{{CAM}}}[{RATE}]))",
           "{{camera}} reconnects"),
        description="Corrupt or truncated frames; stream reconnects (GaitlineCameraReconnecting)"))
    d = d.with_panel(series(
        "Window size p95, publish latency p95", "short",
        _q(p95("gaitline_frames_window_bytes"), "bytes per window"),
        _q(p95("gaitline_frames_publish_seconds"), "send-to-ack seconds"),
        description="Encoded windows on tracklets.v1 (target: 3 KB or less); Kafka acknowledgement time"))

    d = d.with_row(db.Row("Embedding (embed)"))
    d = d.with_panel(series("Windows embedded per second", "ops",
                            _q(f"sum by (model) (rate(gaitline_embed_windows_total{{{SEL}}}[{RATE}]))", "{{model}}")))
    d = d.with_panel(series(
        "Inference p95 per batch, batch size", "s",
        _q(p95("gaitline_embed_inference_seconds"), "inference p95"),
        _q(p95("gaitline_embed_batch_windows", q=0.5), "windows per batch (median)")))
    d = d.with_panel(series("Model in use", "short",
                            _q(f"max by (model, version, device, precision) (gaitline_embed_model_info{{{SEL}}})",
                               "{{model}} {{version}} on {{device}} ({{precision}})"),
                            description="One line per model and device the agents run: two lines = a mixed rollout"))
    d = d.with_panel(series(
        "Consumer lag per stage", "short",
        _q(f'sum by (stage) ({{__name__=~"gaitline_(embed|index|track)_consumer_lag_records",{SEL}}})',
           "{{stage}} (workers)"),
        _q('sum by (consumergroup) (kafka_consumergroup_lag{consumergroup=~"(.+\\\\.)?gaitline-(embed|index|track)"})',
           "{{consumergroup}} (broker)"),
        description="As the workers report it, and as the broker counts it (kafka-exporter): the broker's "
                    "stays when workers die", width=16))
    d = d.with_panel(series(
        "Dead letters by stage and reason", "ops",
        _q(f'sum by (stage, reason) (rate({{__name__=~"gaitline_(embed|index|track)_deadlettered_total",{SEL}}}'
           f"[{RATE}]))", "{{stage}}: {{reason}}")))

    d = d.with_panel(series(
        "Batch retries by stage", "short",
        _q(f'sum by (stage) (increase({{__name__=~"gaitline_(embed|index|track)_batch_retries_total",{SEL}}}'
           f"[{RATE}]))", "{{stage}}"),
        description="A batch retried after a transient failure (broker, store); steady retries precede lag",
        width=24))

    d = d.with_row(db.Row("Identities (index)"))
    d = d.with_panel(series(
        "Matches per second", "ops",
        _q(f"sum(rate(gaitline_index_queries_total{{{SEL}}}[{RATE}]))", "embeddings matched"),
        _q(f"sum(rate(gaitline_index_matched_total{{{SEL}}}[{RATE}]))", "to a known identity"),
        _q(f"sum(rate(gaitline_index_enrolled_total{{{SEL}}}[{RATE}]))", "new identities"),
        _q(f"sum(rate(gaitline_index_gated_total{{{SEL}}}[{RATE}]))", "candidates refused by the topology"),
        _q(f"sum(rate(gaitline_index_embeddings_redelivered_total{{{SEL}}}[{RATE}]))",
           "redelivered, already decided (not matched twice)")))
    d = d.with_panel(series(
        "Gallery size, identities removed", "short",
        _q(f"sum(gaitline_index_gallery_identities{{{SEL}}})", "identities"),
        _q(f"sum by (why) (increase(gaitline_index_removed_total{{{SEL}}}[{RATE}]))", "removed: {{why}}")))
    d = d.with_panel(series(
        "Gallery rebuilds", "short",
        _q(f"sum(increase(gaitline_index_gallery_rebuilds_total{{{SEL}}}[{RATE}]))", "builds"),
        _q(f"max(gaitline_index_gallery_rebuilding_builds{{{SEL}}})", "running"),
        _q(f"max(gaitline_index_gallery_rebuild_seconds{{{SEL}}})", "last build, seconds"),
        description="Approximate index builds (GaitlineGalleryRebuildStuck)"))
    d = d.with_panel(series("Search p99 per query", "s", _q(p95("gaitline_index_search_seconds", q=0.99), "p99")))

    d = d.with_row(db.Row("Store (track)"))
    d = d.with_panel(series(
        "Sightings", "ops",
        _q(f"sum(rate(gaitline_track_sightings_stored_total{{{SEL}}}[{RATE}]))", "stored"),
        _q(f"sum(rate(gaitline_track_sightings_duplicate_total{{{SEL}}}[{RATE}]))", "redelivered, already stored"),
        _q(f"sum(rate(gaitline_track_sightings_expired_total{{{SEL}}}[{RATE}]))", "expired (retention)")))
    d = d.with_panel(series("Store write p95 per batch", "s",
                            _q(p95("gaitline_track_store_write_seconds"), "p95"),
                            description="GaitlineStoreWritesSlow"))
    d = d.with_panel(series(
        "Store write errors", "ops",
        _q(f"sum by (kind) (rate(gaitline_track_store_errors_total{{{SEL}}}[{RATE}]))", "{{kind}}"),
        description="unavailable: the batch waits and is retried (GaitlineStoreUnavailable); refused: the row "
                    "is dead-lettered"))
    d = d.with_panel(series(
        "End to end", "s",
        _q(p95("gaitline_track_end_to_end_seconds", q=0.5), "p50"),
        _q(p95("gaitline_track_end_to_end_seconds"), "p95"),
        description="Window closed to sighting stored (target p95 0.5 s)"))

    d = d.with_row(db.Row("Control room (api)"))
    d = d.with_panel(series(
        "Answers by route and code", "reqps",
        _q(f"sum by (route, code) (rate(gaitline_api_requests_total{{{SEL}}}[{RATE}]))", "{{route}} {{code}}")))
    d = d.with_panel(series("Answer p95 by route", "s",
                            _q(p95("gaitline_api_request_seconds", by="route"), "{{route}}")))
    d = d.with_panel(series(
        "Refused requests", "reqps",
        _q(f"sum by (reason) (rate(gaitline_api_denied_total{{{SEL}}}[{RATE}]))", "{{reason}}"),
        description="No token, an unknown, expired, revoked or invalid one, a missing role (GaitlineApiDenied)"))
    d = d.with_panel(series(
        "Watchlist alerts", "ops",
        _q(f"sum(rate(gaitline_api_watchlist_hits_total{{{SEL}}}[{RATE}]))", "alerts"),
        _q(f"sum(rate(gaitline_api_webhook_failures_total{{{SEL}}}[{RATE}]))", "webhook failures"),
        description="Sightings of a watched person that raised an alert (counted once over the replicas), and "
                    "alerts the webhook (GAITLINE_API_WEBHOOK_URL) did not take"))
    return d


def numbered(model: dict) -> dict:
    """``model`` with what Grafana wants unique filled in: panel ids in order, query refIds A, B, ... per panel."""
    for i, panel in enumerate(model["panels"], start=1):
        panel["id"] = i
        if panel.get("options") is None:
            panel.pop("options", None)
        for j, target in enumerate(panel.get("targets") or []):
            target["refId"] = chr(ord("A") + j)
    return model


def render() -> str:
    """The file's text (JSON, keys sorted, so a change reads as a small diff)."""
    model = json.loads(json.dumps(build().build(), cls=JSONEncoder))
    return json.dumps(numbered(model), indent=1, sort_keys=True) + "\n"
