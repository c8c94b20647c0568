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
        self.denied = Counter("gaitline_api_denied_total", "Requests refused: no or unknown token, or role",
                              ["reason"], registry=registry)
