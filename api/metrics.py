"""The control-room API's metrics (naming rule: :mod:`gaitline.metrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from gaitline.metrics import LATENCY_BUCKETS


class ApiMetrics:
    """The control-room API (``/metrics`` on its own port). Routes are templates, never identity ids."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("gaitline_api_requests_total", "API requests answered", ["route", "code"],
                                registry=registry)
        self.request_seconds = Histogram("gaitline_api_request_seconds", "Time to answer one API request",
                                         ["route"], buckets=LATENCY_BUCKETS, registry=registry)
        self.denied = Counter("gaitline_api_denied_total", "Requests refused: no, unknown, expired, revoked or "
                              "invalid token, or role", ["reason"], registry=registry)
        self.watchlist_hits = Counter("gaitline_api_watchlist_hits_total", "Sightings of a watched identity that "
                                      "raised an alert (once over all replicas)", registry=registry)
        self.webhook_failures = Counter("gaitline_api_webhook_failures_total", "Watchlist alerts the webhook did "
                                        "not accept (refused, unreachable or too slow)", registry=registry)
